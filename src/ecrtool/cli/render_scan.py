"""How `ecrtool scan` reads: the counts by severity and the worst findings as tables, every finding as JSON,
and the wait's progress on stderr (a rich spinner on a terminal, a line per change otherwise).

rich is imported only when a terminal shows the spinner or a table needs it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import click

from ecrtool.cli.formats import when
from ecrtool.cli.render import Renderer
from ecrtool.model.findings import SEVERITIES, ScanEvent, ScanProgress, ScanResult, worst

WORST_SHOWN = 20  # findings in the text table; -o json has them all


def scanned(render: Renderer, result: ScanResult) -> None:
    if render.json:
        return render.emit_json(_document(result))
    total = sum(result.counts.values())
    index = len(result.images) > 1 or any(image.platform for image in result.images)
    what = f"image index {result.digest}, {len(result.images)} platforms" if index else result.digest
    finished = [image.completed_at for image in result.images if image.completed_at]
    at = f" at {when(max(finished))}" if finished and not result.images[0].pending else ""
    found = f", {total} finding{'s' if total != 1 else ''}" if result.status in ("COMPLETE", "ACTIVE") else ""
    pending = [image for image in result.images if image.pending]
    started = " (started now)" if not index and any(image.started for image in pending) else ""
    render.line(f"Scan of {result.reference} ({what}): {result.status}{at}{found}{started}")
    for image in result.images if index and pending else []:
        render.line(f"  {image.platform}: {image.status}{' (started now)' if image.started else ''}")
    if pending:
        render.note(f"the scan goes on in ECR: `ecrtool scan {result.reference} --wait` waits for its findings")
        return
    if not total:
        return
    platforms = [image.platform or image.digest for image in result.images]
    if index:
        headers = ["SEVERITY", *platforms, "TOTAL"]
        rows = [
            [severity, *(str(image.counts.get(severity, 0)) for image in result.images), str(n)]
            for severity in SEVERITIES
            if (n := result.counts.get(severity, 0))
        ]
    else:
        headers = ["SEVERITY", "COUNT"]
        rows = [[severity, str(n)] for severity in SEVERITIES if (n := result.counts.get(severity, 0))]
    render.table("Findings", headers, rows)
    findings = result.findings
    if not findings:
        return
    shown = worst(findings, WORST_SHOWN)
    enhanced = any(finding.enhanced for finding in findings)
    headers = ["NAME", "SEVERITY", *(["PLATFORM"] if index else []), "PACKAGE", "URI"]
    headers += ["SOURCE"] if enhanced else []
    rows = [
        [
            finding.name,
            finding.severity,
            *([finding.platform or "-"] if index else []),
            finding.package or "-",
            finding.uri or "-",
            *(["inspector" if finding.enhanced else "basic"] if enhanced else []),
        ]
        for finding in shown
    ]
    more = f" ({len(shown)} of {len(findings)}; -o json lists them all)" if len(shown) < len(findings) else ""
    render.line()
    render.table(f"Worst findings{more}", headers, rows)


def _document(result: ScanResult) -> dict[str, Any]:
    """`-o json`: the scan's status and counts, each image's (each platform's) and every finding."""
    from ecrtool.cli.formats import to_jsonable

    return {
        "reference": result.reference,
        "repository": result.repository,
        "digest": result.digest,
        "media_type": result.media_type,
        "status": result.status,
        "fail_on": result.fail_on,
        "counts": result.counts,
        "images": [
            {
                "digest": image.digest,
                "platform": image.platform,
                "status": image.status,
                "description": image.description,
                "completed_at": to_jsonable(image.completed_at),
                "counts": image.counts,
            }
            for image in result.images
        ],
        "findings": to_jsonable(result.findings),
    }


@contextmanager
def scan_progress(render: Renderer) -> Iterator[ScanProgress | None]:
    """The wait's progress on stderr: nothing with --quiet; a spinner with the latest status on a terminal;
    otherwise one line each time an image's status changes."""
    if render.quiet:
        yield None
        return
    lines = _Lines(render)
    try:
        yield lines.update
    finally:
        lines.stop()


class _Lines:
    def __init__(self, render: Renderer) -> None:
        self.err = render.err
        self.live = render.err.isatty() and not render.json
        self.last: dict[str, str] = {}
        self.status: Any = None  # rich's spinner, made at the first event (bad input shows none)

    def update(self, event: ScanEvent) -> None:
        changed = self.last.get(event.subject) != event.status
        self.last[event.subject] = event.status
        if not self.live:
            if changed:
                click.echo(f"{event.subject}: {event.status}", file=self.err)
            return
        from rich.text import Text  # text, never markup: a reference may hold brackets

        if self.status is None:
            from rich.console import Console

            self.status = Console(file=self.err, markup=False, emoji=False).status(Text(""))
            self.status.start()
        if changed:
            self.status.console.print(Text(f"{event.subject}: {event.status}"))
        self.status.update(Text(f"waiting for the scan of {event.subject}: {event.status} ({event.waited:.0f}s)"))

    def stop(self) -> None:
        if self.status is not None:
            self.status.stop()
