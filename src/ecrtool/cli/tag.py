"""`ecrtool tag`: docker tag with the ECR name worked out."""

from __future__ import annotations

import click

from ecrtool.cli.app import app
from ecrtool.cli.options import global_options


@click.command(
    epilog="Example:\n\n  ecrtool tag viruses --repo trees\n\n"
    "Replaces: docker tag viruses ACCOUNT.dkr.ecr.REGION.amazonaws.com/trees:viruses"
)
@click.argument("image")
@click.option("--repo", metavar="REPO", help="Repository (default: the image's name).")
@click.option("--tag", "tags", multiple=True, metavar="TAG", help="Tag; repeat for more (default: see push).")
@global_options
@click.pass_context
def tag(ctx: click.Context, image: str, repo: str | None, tags: tuple[str, ...]) -> None:
    """Tag the local IMAGE with its ECR name(s) and print them."""
    from ecrtool.service.transfers import Transfers

    a = app(ctx, Transfers)
    a.render.tagged(a.service.tag(image, repo, tags))
