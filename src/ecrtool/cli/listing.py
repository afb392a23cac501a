"""`ecrtool images` and `ecrtool repos`: every page of DescribeImages and DescribeRepositories."""

from __future__ import annotations

import click

from ecrtool.cli.app import app
from ecrtool.cli.options import global_options


@click.command(
    epilog="Examples:\n\n  ecrtool images trees\n\n"
    "  ecrtool images trees --untagged\n\n"
    "  ecrtool images trees --untagged --older-than 30d -q   # digests only\n\n"
    "  ecrtool images trees -o json\n\n"
    "Replaces: aws ecr describe-images --repository-name trees [--filter tagStatus=UNTAGGED],"
    " and | jq 'select(.imagePushedAt < ...)'"
)
@click.argument("repo")
@click.option(
    "--untagged",
    is_flag=True,
    help="Only images without a tag. An index's children are part of it, never listed; an untagged index is one"
    " row; a referrer (signature, SBOM, attestation) of an image still here is left out.",
)
@click.option(
    "--older-than",
    metavar="DURATION",
    help="Only images pushed longer ago than DURATION: 30d, 12h, 2w, 90m, 1d12h. With --untagged: both.",
)
@global_options
@click.pass_context
def images(ctx: click.Context, repo: str, untagged: bool, older_than: str | None) -> None:
    """List the images in REPO: tags, digest, size, pushed at (newest first); a multi-platform image once,
    with its platforms. Under the table, on stderr: how many images and their total size, each manifest
    counted once (-o json and -q print the images alone)."""
    from ecrtool.model.durations import parse_duration
    from ecrtool.model.listing import ImageFilter
    from ecrtool.service.repos import Repositories

    span = parse_duration(older_than, "--older-than") if older_than is not None else None
    a = app(ctx, Repositories)
    a.render.image_listing(repo, a.service.images(repo, ImageFilter(untagged=untagged, older_than=span)))


@click.command(
    epilog="Examples:\n\n  ecrtool repos\n\n  ecrtool repos -q   # names only\n\n"
    "Replaces: aws ecr describe-repositories"
)
@global_options
@click.pass_context
def repos(ctx: click.Context) -> None:
    """List the repositories in the registry."""
    from ecrtool.service.repos import Repositories

    a = app(ctx, Repositories)
    a.render.repositories(a.service.repositories())
