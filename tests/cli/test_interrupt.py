"""Ctrl-C: exit 130 and exactly one line on stderr, whichever command is interrupted."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ecrtool.model.errors import EXIT_INTERRUPTED


def interrupted(reference: str) -> Iterator[dict[str, Any]]:
    yield {"status": "Preparing", "progressDetail": {}, "id": "0123456789ab"}
    raise KeyboardInterrupt


def test_ctrl_c_during_push_is_one_line_after_the_progress(invoke: Any, fake_docker: Any, trees: Any) -> None:
    fake_docker.add_image("viruses")
    fake_docker.push_script = interrupted
    result = invoke("push", "viruses", "--repo", "trees")
    assert result.exit_code == EXIT_INTERRUPTED
    # click alone would add an empty line before the message
    assert result.stderr.splitlines() == ["0123456789ab: Preparing", "ecrtool: error: interrupted"]
    assert result.stdout == ""


def test_ctrl_c_during_pull_is_one_line(invoke: Any, fake_docker: Any, trees: Any) -> None:
    fake_docker.pull_script = interrupted
    result = invoke("pull", "trees:v1", "-q")
    assert result.exit_code == EXIT_INTERRUPTED
    assert result.stderr == "ecrtool: error: interrupted\n"
