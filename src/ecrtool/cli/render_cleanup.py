"""How `prune` and `lifecycle` results read: a table for people (plain lines when not on a terminal), a
stable JSON document for scripts, digests alone with --quiet.

The JSON document of a selection (prune, lifecycle preview):

    {"repository": "trees", "source": "flags", "dry_run": true, "examined": 12,
     "selected": 3, "selected_bytes": 123, "deleted": 0, "deleted_bytes": 0, "delete_calls": 0, "spared": 0,
     "in_use": 1, "links": "read" | "listing",
     "images": [{"digest": "sha256:...", "tags": ["v1"], "size_bytes": 41, "pushed_at": "2026-...",
                 "media_type": "...", "reason": "beyond the newest 5 tagged", "rule": 1,
                 "status": "selected" | "deleted" | "spared" | "failed", "action": "expire" | "transition",
                 "image_status": "ACTIVE" | "ARCHIVED" | "ACTIVATING", "last_pulled_at": "2026-..." | null}, ...],
     "failures": [{"digest": "sha256:...", "code": "ImageReferencedByManifestList", "reason": "..."}],
     "spared_images": [{"digest": "sha256:...", "reason": "tagged prod since it was selected"}],
     "in_use_images": [{"digest": "sha256:...", "where": "ECS task definition web:3 (ACTIVE)"}]}

`action` is "transition" only in a lifecycle preview of a rule moving images to archive. `links` "listing":
the manifests were not read (a read counts as a pull), so an index's children are not known and an untagged
manifest stays while any image index stays.

`spared_images` (prune --yes) lists the selected images read again before their delete and kept: tagged or
pulled since the listing, gone already, or going with one that was.

It goes out an image at a time: thousands never sit in memory as one document.
"""

from __future__ import annotations

import json
from typing import Any

import click

from ecrtool.cli.formats import when
from ecrtool.cli.render import Renderer, human_size
from ecrtool.model.cleanup import CleanupResult, LifecyclePolicyInfo, policy_document
from ecrtool.model.retention import Expiry


def short_digest(digest: str) -> str:
    return digest[: len("sha256:") + 12]


def cleanup(render: Renderer, result: CleanupResult, *, preview: bool = False) -> None:
    """A selection and, after a prune with --yes, what became of it; failures on stderr."""
    if render.json:
        _cleanup_json(render, result)
    elif render.quiet:
        for expiry in result.selected:
            if result.status(expiry.image.digest) in ("selected", "deleted"):
                render.line(expiry.image.digest)
    else:
        _cleanup_text(render, result, preview)
        _notes(render, result)
    for failure in result.failures:
        click.echo(
            f"ecrtool: failed to delete {failure.image.label()}: {failure.code}: {failure.reason}", file=render.err
        )


def _cleanup_text(render: Renderer, result: CleanupResult, preview: bool) -> None:
    count = len(result.selected)
    if not count:
        what = "expires" if preview else "to delete"
        render.line(f"{result.repository}: nothing {what} among its {result.examined} image(s) ({result.source})")
        return
    headers = ["TAGS", "DIGEST", "SIZE", "PUSHED AT", "WHY"]
    if not result.dry_run:
        headers.append("STATUS")
    rows = []
    for expiry in result.selected:
        image = expiry.image
        row = [", ".join(image.tags) or "<untagged>", short_digest(image.digest), human_size(image.size_bytes)]
        row += [when(image.pushed_at), f"archive: {expiry.reason}" if expiry.action == "transition" else expiry.reason]
        if not result.dry_run:
            status = result.status(image.digest)
            row.append(f"spared: {result.spared[image.digest]}" if status == "spared" else status)
        rows.append(row)
    moving = sum(1 for expiry in result.selected if expiry.action == "transition")
    verb = ("would expire or archive" if moving else "would expire") if preview else (
        "selected" if result.dry_run else "to delete")
    render.table(f"{result.repository}: {count} of {result.examined} image(s) {verb}", headers, rows)
    size = human_size(result.selected_bytes)
    if preview:
        archived = f", {moving} would move to archive" if moving else ""
        render.line(
            f"preview of {result.source}: {count - moving} image(s) ({size}) would expire{archived}; "
            "nothing was deleted"
        )
    elif result.dry_run:
        render.line(f"dry run: pass --yes to delete these {count} image(s) ({size}); nothing was deleted")
    else:
        failed = f"; {len(result.failures)} failed" if result.failures else ""
        spared = (
            f"; {len(result.spared)} spared (tagged or pulled since they were selected)" if result.spared else ""
        )
        render.line(
            f"deleted {len(result.deleted)} image(s), {human_size(result.deleted_bytes)} freed{failed}{spared}"
        )


def _notes(render: Renderer, result: CleanupResult) -> None:
    if result.in_use:
        render.note(f"kept {len(result.in_use)} image(s) in use, and what they need: "
                    + "; ".join(f"{short_digest(d)} ({where})" for d, where in list(result.in_use.items())[:3])
                    + (" ..." if len(result.in_use) > 3 else ""))
    if result.links == "listing":
        render.note(
            "the children of this repository's image indexes are not known: reading a manifest counts as a pull, "
            "so an untagged manifest stays while any index stays. To let ecrtool read them without touching pull "
            "times: aws ecr register-pull-time-update-exclusion --principal-arn <your role's ARN>"
        )


def _image_doc(expiry: Expiry, status: str) -> dict[str, Any]:
    image = expiry.image
    return {
        "digest": image.digest,
        "tags": list(image.tags),
        "size_bytes": image.size_bytes,
        "pushed_at": image.pushed_at.isoformat(),
        "media_type": image.media_type,
        "reason": expiry.reason,
        "rule": expiry.rule,
        "status": status,
        "action": expiry.action,
        "image_status": image.status,
        "last_pulled_at": image.last_pulled_at.isoformat() if image.last_pulled_at else None,
    }


def _cleanup_json(render: Renderer, result: CleanupResult) -> None:
    head = {
        "repository": result.repository,
        "source": result.source,
        "dry_run": result.dry_run,
        "examined": result.examined,
        "selected": len(result.selected),
        "selected_bytes": result.selected_bytes,
        "deleted": len(result.deleted),
        "deleted_bytes": result.deleted_bytes,
        "delete_calls": result.delete_calls,
        "spared": len(result.spared),
        "in_use": len(result.in_use),
        "links": result.links,
    }
    out = render.out
    click.echo(json.dumps(head, indent=2)[:-2] + ',\n  "images": [', file=out, nl=False)
    for n, expiry in enumerate(result.selected):
        text = json.dumps(_image_doc(expiry, result.status(expiry.image.digest)), indent=2)
        click.echo(("\n    " if n == 0 else ",\n    ") + text.replace("\n", "\n    "), file=out, nl=False)
    failures = [
        {"digest": f.image.digest or f.image.tag, "code": f.code, "reason": f.reason} for f in result.failures
    ]
    spared = [{"digest": digest, "reason": reason} for digest, reason in result.spared.items()]
    closing = "\n  ]" if result.selected else "]"
    click.echo(f'{closing},\n  "failures": ' + json.dumps(failures, indent=2).replace("\n", "\n  "), file=out, nl=False)
    in_use = [{"digest": digest, "where": where} for digest, where in result.in_use.items()]
    click.echo(',\n  "spared_images": ' + json.dumps(spared, indent=2).replace("\n", "\n  "), file=out, nl=False)
    click.echo(',\n  "in_use_images": ' + json.dumps(in_use, indent=2).replace("\n", "\n  ") + "\n}", file=out)


def policy(render: Renderer, info: LifecyclePolicyInfo, *, was_set: bool = False) -> None:
    """A repository's lifecycle policy: its JSON on stdout (for a file), a note about it on stderr."""
    if render.json:
        document = None if info.text is None else policy_document(info.text)
        evaluated = info.last_evaluated_at.isoformat() if info.last_evaluated_at else None
        render.emit_json({"repository": info.repository, "policy": document, "last_evaluated_at": evaluated})
        return
    if info.text is None:
        render.note(f"{info.repository} has no lifecycle policy: set one with `ecrtool lifecycle set {info.repository}"
                    " --keep N` or --file policy.json")  # fmt: skip
        return
    render.line(_pretty(info.text))
    for line in _explained(info.text):
        render.note(line)
    if was_set:
        render.note(
            f"set the lifecycle policy of {info.repository}: ECR applies it within a day;"
            f" `ecrtool lifecycle preview {info.repository}` shows now what it expires,"
            f" `ecrtool prune {info.repository} ...` deletes now"
        )
    elif info.last_evaluated_at:
        render.note(f"last evaluated by ECR: {when(info.last_evaluated_at)}")


def _explained(text: str) -> list[str]:
    """The policy's rules in words (none for a text ecrtool cannot read: it is shown as it is)."""
    from ecrtool.model.errors import InvalidInput
    from ecrtool.model.lifecycle import explain, parse_policy

    try:
        return explain(parse_policy(text))
    except InvalidInput:
        return []


def _pretty(text: str) -> str:
    document = policy_document(text)
    return text.strip() if isinstance(document, str) else json.dumps(document, indent=2)
