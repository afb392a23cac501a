"""How `ecrtool replication` reads: rules as a table, a backfill's copies and a summary, each destination's
replica; JSON for scripts."""

from __future__ import annotations

import click

from ecrtool.cli.render import Renderer, human_size
from ecrtool.model.replication import BackfillResult, ReplicationConfig, ReplicationSet, StatusResult


def _rules_document(config: ReplicationConfig) -> dict[str, object]:
    return {
        "registryId": config.account,
        "region": config.region,
        "rules": [
            {"destinations": [str(d) for d in rule.destinations], "filters": list(rule.filters)}
            for rule in config.rules
        ],
    }


def shown(render: Renderer, config: ReplicationConfig) -> None:
    if render.json:
        return render.emit_json(_rules_document(config))
    if not config.rules:
        render.line(f"No replication rules in {config.account}'s registry in {config.region}.")
        render.note("Make one with: ecrtool replication set --to REGION[:ACCOUNT]")
        return
    rows = [
        [str(n), ", ".join(str(d) for d in rule.destinations), ", ".join(rule.filters) or "(every repository)"]
        for n, rule in enumerate(config.rules, 1)
    ]
    render.table(f"Replication of {config.account} in {config.region}", ["RULE", "TO", "REPOSITORIES"], rows)


def configured(render: Renderer, result: ReplicationSet) -> None:
    if render.json:
        doc = _rules_document(result.config)
        doc["policiesUpdated"] = result.policies_updated
        doc["policiesLeft"] = result.policies_left
        return render.emit_json(doc)
    for dest in result.policies_updated:
        render.note(f"Registry policy of {dest} now lets {result.config.account} replicate there")
    for dest in result.policies_left:
        render.note(
            f"{dest}: its owner's registry policy must allow {result.config.account} ecr:ReplicateImage and "
            "ecr:CreateRepository"
        )
    shown(render, result.config)
    render.note("ECR replicates pushes from now on; `ecrtool replication backfill` copies the images already there")


def backfilled(render: Renderer, result: BackfillResult) -> None:
    if render.json:
        return render.emit_json(
            {
                "copied": result.copied,
                "present": result.present,
                "failed": len(result.failed),
                "images": result.items,
            }
        )
    copied = [item for item in result.items if item.status == "copied"]
    blobs = sum(item.blobs_copied for item in copied)
    size = sum(item.bytes_copied for item in copied)
    render.line(
        f"{result.copied} copied ({blobs} blobs, {human_size(size)}), {result.present} already there, "
        f"{len(result.failed)} failed"
    )
    for item in result.failed:
        click.echo(f"failed: {item.repository}:{item.reference} -> {item.destination}: {item.error}", file=render.err)


def statuses(render: Renderer, result: StatusResult) -> None:
    if render.json:
        return render.emit_json(result)
    if render.quiet:
        return
    sep = "@" if result.reference.startswith("sha256:") else ":"
    render.line(f"{result.repository}{sep}{result.reference} {result.digest}")
    rows = [
        [
            replica.destination,
            {True: "yes", False: "no", None: "cannot ask"}[replica.present],
            replica.status or "-",
            replica.failure or "",
        ]
        for replica in result.replicas
    ]
    render.table("Destinations", ["DESTINATION", "HOLDS IT", "ECR SAYS", "FAILURE"], rows)
