"""`ecrtool images` and `ecrtool repos`: every page of DescribeImages and DescribeRepositories."""

from __future__ import annotations

import click

from ecrtool.cli.app import app
from ecrtool.cli.options import global_options


@click.command(
    epilog="Examples:\n\n  ecrtool images trees\n\n  ecrtool images trees -o json\n\n"
    "Replaces: aws ecr describe-images --repository-name trees"
)
@click.argument("repo")
@global_options
@click.pass_context
def images(ctx: click.Context, repo: str) -> None:
    """List the images in REPO: tags, digest, size, pushed at (newest first); a multi-platform image once,
    with its platforms."""
    a = app(ctx)
    a.render.images(repo, a.service.images(repo))


@click.command(
    epilog="Examples:\n\n  ecrtool repos\n\n  ecrtool repos -q   # names only\n\n"
    "Replaces: aws ecr describe-repositories"
)
@global_options
@click.pass_context
def repos(ctx: click.Context) -> None:
    """List the repositories in the registry."""
    a = app(ctx)
    a.render.repositories(a.service.repositories())
