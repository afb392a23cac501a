"""`ecrtool doctor`: check every link from this shell to the registry, each with its fix."""

from __future__ import annotations

import click

from ecrtool.cli.app import app
from ecrtool.cli.options import global_options
from ecrtool.model.errors import EXIT_FAILURE


@click.command(
    epilog="Examples:\n\n  ecrtool doctor --region ca-west-1\n\n  ecrtool doctor -o json\n\n"
    "  ecrtool doctor --can-pull 123456789012.dkr.ecr.ca-west-1.amazonaws.com/shared/app:1\n\n"
    "Exit code 1 when any check fails. Replaces: aws sts get-caller-identity; docker version;"
    " ls -l /var/run/docker.sock; cat ~/.docker/config.json; curl https://REGISTRY/v2/ …",
)
@click.option(
    "--can-pull",
    "can_pull",
    metavar="REF",
    help="Only say whether this caller may pull REF (another account's image too), and which statement decides.",
)
@global_options
@click.pass_context
def doctor(ctx: click.Context, can_pull: str | None) -> None:
    """Check credentials, region, ECR permission, the Docker engine and config, the helper and the registry.

    Each check prints ✓ or ✗, and for ✗ the fix. Checks that need what a failed one would have found
    are skipped (–). With --can-pull REF: whether the caller (STS) may pull REF under its repository's
    policy, exit 1 when not.
    """
    if can_pull is not None:
        from ecrtool.cli.render_policy import pull_check
        from ecrtool.service.grants import Grants

        checked = app(ctx, Grants)
        check = checked.service.can_pull(can_pull)
        pull_check(checked.render, check)
        if check.verdict.allowed is not True:
            ctx.exit(EXIT_FAILURE)
        return
    from ecrtool.service.setup import Setup

    a = app(ctx, Setup)
    report = a.service.doctor()
    a.render.doctor(report)
    if not report.ok:
        ctx.exit(EXIT_FAILURE)
