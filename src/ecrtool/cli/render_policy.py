"""How `grant`, `revoke`, `policy show` and `doctor --can-pull` read: the policy as a table of its
statements for people (ecrtool's own marked), the policy document itself with -o json.

The JSON of grant/revoke/policy show is ECR's policy document, exactly as it now stands (null when the
repository has none); doctor --can-pull's is
{"reference", "caller_account", "caller_arn", "registry_account", "allowed": true|false|null, "reason",
 "statement", "missing": [...], "grant_command"}.
"""

from __future__ import annotations

from ecrtool.cli.render import Renderer
from ecrtool.model.policy import rows
from ecrtool.service.grants import PolicyResult, PullCheck


def policy(render: Renderer, result: PolicyResult) -> None:
    if render.json:
        render.emit_json(result.document)
        return
    merged = result.merged
    if merged is not None:
        for sid in merged.added:
            render.note(f"{sid}: written")
        for sid in merged.removed:
            render.note(f"{sid}: removed")
        for sid in merged.unchanged:
            render.note(f"{sid}: already there, unchanged")
        if not merged.changed:
            render.note("the policy was already so: nothing sent to ECR")
        for name in merged.still_granting:
            render.note(f"statement {name}, not written by ecrtool, still grants that principal: left as it is")
    if result.document is None:
        render.line(f"{result.name}: no {result.scope} policy (only its own account's IAM policies give access)")
        return
    table = [
        [
            row.sid + (" *" if row.by_ecrtool else ""),
            row.effect,
            "\n".join(row.principals),
            "\n".join(row.actions),
            "\n".join(row.conditions),
        ]
        for row in rows(result.document)
    ]
    title = f"{result.scope} policy of {result.name} ({len(table)} statement(s); * written by ecrtool)"
    render.table(title, ["SID", "EFFECT", "PRINCIPAL", "ACTIONS", "CONDITION"], table)


def pull_check(render: Renderer, check: PullCheck) -> None:
    verdict = check.verdict
    if render.json:
        render.emit_json(
            {
                "reference": check.reference,
                "caller_account": check.caller_account,
                "caller_arn": check.caller_arn,
                "registry_account": check.registry_account,
                "allowed": verdict.allowed,
                "reason": verdict.reason,
                "statement": verdict.statement,
                "missing": list(verdict.missing),
                "grant_command": check.grant_command,
            }
        )
        return
    word = {True: "allowed", False: "denied", None: "undecided"}[verdict.allowed]
    render.line(f"pull of {check.reference} by {check.caller_arn}: {word}: {verdict.reason}")
    if check.grant_command and verdict.allowed is not True:
        render.line(f"the registry's owner (account {check.registry_account}) grants it with: {check.grant_command}")
