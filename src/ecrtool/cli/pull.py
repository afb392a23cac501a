"""`ecrtool pull`: authenticate and docker pull, by tag, digest or full reference."""

from __future__ import annotations

import click

from ecrtool.cli.app import app
from ecrtool.cli.options import global_options


@click.command(
    epilog="Examples:\n\n  ecrtool pull trees:viruses\n\n  ecrtool pull trees@sha256:...\n\n"
    "  ecrtool pull 123456789012.dkr.ecr.ca-west-1.amazonaws.com/trees:viruses\n\n"
    "Replaces: aws ecr get-login-password | docker login ...; docker pull ..."
)
@click.argument("ref")
@global_options
@click.pass_context
def pull(ctx: click.Context, ref: str) -> None:
    """Pull REF (REPO[:TAG], REPO@sha256:... or a full reference) and print the local reference."""
    from ecrtool.service.transfers import Transfers

    a = app(ctx, Transfers)
    with a.render.progress() as progress:
        result = a.service.pull(ref, progress=progress)
    a.render.pulled(result)
