"""The scan's progress: a spinner on a terminal, a line per change otherwise, nothing with --quiet."""

from __future__ import annotations

import io

from ecrtool.cli.render import Renderer
from ecrtool.cli.render_scan import scan_progress
from ecrtool.model.findings import ScanEvent


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


EVENTS = [
    ScanEvent("trees:v1 (linux/arm64)", "IN_PROGRESS (scan started)", 0.0),
    ScanEvent("trees:v1 (linux/arm64)", "IN_PROGRESS (scan started)", 1.0),
    ScanEvent("trees:v1 [x]", "COMPLETE", 3.0),
]


def run(render: Renderer) -> None:
    with scan_progress(render) as progress:
        for event in EVENTS:
            if progress is not None:
                progress(event)


def test_a_terminal_gets_each_change_once_and_text_stays_text() -> None:
    err = Terminal()
    run(Renderer(err=err, out=io.StringIO()))
    shown = err.getvalue()
    assert shown.count("trees:v1 (linux/arm64): IN_PROGRESS (scan started)\n") == 1  # the spinner says the rest
    assert "trees:v1 [x]: COMPLETE" in shown  # brackets are no rich markup


def test_plain_lines_without_a_terminal_and_nothing_when_quiet() -> None:
    err = io.StringIO()
    run(Renderer(err=err, out=io.StringIO()))
    assert err.getvalue().splitlines() == [
        "trees:v1 (linux/arm64): IN_PROGRESS (scan started)",
        "trees:v1 [x]: COMPLETE",
    ]
    err = Terminal()
    run(Renderer(quiet=True, err=err, out=io.StringIO()))
    assert err.getvalue() == ""
