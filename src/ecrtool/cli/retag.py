"""`ecrtool retag`: more tags for an image already in ECR, without pulling or pushing a layer."""

from __future__ import annotations

import click

from ecrtool.cli.app import app
from ecrtool.cli.options import global_options


@click.command(
    epilog="Examples:\n\n  ecrtool retag trees:viruses stable v1.2\n\n"
    "  ecrtool retag trees@sha256:... release\n\n"
    "  ecrtool retag 123456789012.dkr.ecr.ca-west-1.amazonaws.com/trees:viruses stable\n\n"
    "Replaces: aws ecr batch-get-image ... --query 'images[0].imageManifest'; aws ecr put-image ..."
)
@click.argument("ref")
@click.argument("new_tags", nargs=-1, required=True, metavar="NEWTAG...")
@global_options
@click.pass_context
def retag(ctx: click.Context, ref: str, new_tags: tuple[str, ...]) -> None:
    """Give the image REF (REPO:TAG, REPO@sha256:... or a full reference) each NEWTAG in its repository.

    The manifest is stored again byte for byte, so every new tag has REF's digest; nothing is downloaded.
    A tag that already names the image is fine, in an immutable repository too.
    """
    from ecrtool.service.retag import Retagging

    a = app(ctx, Retagging)
    a.render.retagged(a.service.retag(ref, new_tags))
