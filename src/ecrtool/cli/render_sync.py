"""How `ecrtool sync` reads: the plan or its outcome as a table, a summary line, and JSON for scripts."""

from __future__ import annotations

from typing import Any

from ecrtool.cli.formats import to_jsonable
from ecrtool.cli.render import Renderer, human_size
from ecrtool.model.sync_spec import SyncResult

_SHOWN = {"planned": "copy", "skipped": "there", "copied": "copied", "failed": "failed"}


def document(result: SyncResult) -> dict[str, Any]:
    return {
        "spec": result.spec,
        "dry_run": result.dry_run,
        "copied": result.count("copied"),
        "skipped": result.count("skipped"),
        "failed": result.count("failed"),
        "planned": result.count("planned"),
        "created_repositories": result.created_repositories,
        "blobs_copied": sum(item.blobs_copied for item in result.items),
        "bytes_copied": sum(item.bytes_copied for item in result.items),
        "images": [to_jsonable(item) for item in result.items],
    }


def synced(render: Renderer, result: SyncResult) -> None:
    if render.json:
        return render.emit_json(document(result))
    for name in result.created_repositories:
        render.note(f"Created repository {name}")
    for item in result.items:
        digest = item.digest[:19] if item.digest else "-"
        render.line(f"{_SHOWN.get(item.status, item.status):<7} {item.destination}  {digest}  <- {item.source}")
    copied = sum(item.bytes_copied for item in result.items)
    if result.dry_run:
        summary = f"plan: {result.count('planned')} to copy, {result.count('skipped')} there already"
    else:
        summary = (
            f"{result.count('copied')} copied ({human_size(copied)} sent), {result.count('skipped')} there already"
        )
    if result.count("failed"):
        summary += f", {result.count('failed')} failed"
    render.note(summary)
