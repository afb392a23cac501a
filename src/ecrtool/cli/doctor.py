"""`ecrtool doctor`: check every link from this shell to the registry, each with its fix."""

from __future__ import annotations

import click

from ecrtool.cli.app import app
from ecrtool.cli.options import global_options
from ecrtool.model.errors import EXIT_FAILURE


@click.command(
    epilog="Examples:\n\n  ecrtool doctor --region ca-west-1\n\n  ecrtool doctor -o json\n\n"
    "Exit code 1 when any check fails. Replaces: aws sts get-caller-identity; docker version;"
    " ls -l /var/run/docker.sock; cat ~/.docker/config.json; curl https://REGISTRY/v2/ …",
)
@global_options
@click.pass_context
def doctor(ctx: click.Context) -> None:
    """Check credentials, region, ECR permission, the Docker engine and config, the helper and the registry.

    Each check prints ✓ or ✗, and for ✗ the fix. Checks that need what a failed one would have found
    are skipped (–).
    """
    from ecrtool.service.setup import Setup

    a = app(ctx, Setup)
    report = a.service.doctor()
    a.render.doctor(report)
    if not report.ok:
        ctx.exit(EXIT_FAILURE)
