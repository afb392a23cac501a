"""`ecrtool delete`: aws ecr batch-delete-image, or aws ecr delete-repository [--force]."""

from __future__ import annotations

import sys

import click

from ecrtool.cli.app import app
from ecrtool.cli.options import global_options
from ecrtool.model.errors import InvalidInput, Refused


@click.command(
    epilog="Examples:\n\n  ecrtool delete trees --tag v1 --tag v2\n\n"
    "  ecrtool delete trees --digest sha256:...\n\n"
    "  ecrtool delete trees --force --yes       # the repository and all its images\n\n"
    "Replaces: aws ecr batch-delete-image ... / aws ecr delete-repository --force"
)
@click.argument("repo")
@click.option("--tag", "tags", multiple=True, metavar="TAG", help="Delete the image with this tag; repeat for more.")
@click.option("--digest", "digests", multiple=True, metavar="DIGEST", help="Delete the image with this digest.")
@click.option("--force", is_flag=True, help="Delete the repository even though it holds images.")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@global_options
@click.pass_context
def delete(
    ctx: click.Context, repo: str, tags: tuple[str, ...], digests: tuple[str, ...], force: bool, yes: bool
) -> None:
    """Delete images from REPO by --tag/--digest; with neither, delete the repository itself."""
    from ecrtool.service.repos import Repositories

    a = app(ctx, Repositories)
    if tags or digests:
        if force or yes:
            raise InvalidInput("--force and --yes apply to deleting the repository: drop them, or drop --tag/--digest")
        result = a.service.delete_images(repo, tags, digests)
        a.render.deleted_images(result)
        if result.failures:
            raise click.exceptions.Exit(1)
        return

    def confirm(name: str, count: int) -> bool:
        if yes:
            return True
        if not sys.stdin.isatty():
            raise Refused(f"refusing to delete repository {name!r} without a terminal to confirm on: pass --yes")
        extra = f" and its {count} image(s)" if count else ""
        return click.confirm(f"Delete repository {name}{extra}?", default=False, err=True)

    a.render.deleted_repository(a.service.delete_repository(repo, force=force, confirm=confirm))
