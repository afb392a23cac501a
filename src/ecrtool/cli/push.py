"""`ecrtool push`: find the registry, authenticate, tag and push, in one command."""

from __future__ import annotations

import click

from ecrtool.cli.app import app
from ecrtool.cli.options import global_options


@click.command(
    epilog="Examples:\n\n  ecrtool push viruses --repo trees          # -> trees:viruses\n\n"
    "  ecrtool push viruses:1.0 --repo trees      # -> trees:1.0\n\n"
    "  ecrtool push app --tag v2 --tag latest --create\n\n"
    "Replaces: aws ecr get-login-password | docker login ...; docker tag ...; docker push ..."
)
@click.argument("image")
@click.option("--repo", metavar="REPO", help="Repository to push to (default: the image's name).")
@click.option(
    "--tag",
    "tags",
    multiple=True,
    metavar="TAG",
    help="Tag to push; repeat for more (default: the image's tag, else its name when --repo is given, else latest).",
)
@click.option(
    "--create",
    is_flag=True,
    help="Create the repository if it does not exist (a creation template that covers it creates it on push).",
)
@global_options
@click.pass_context
def push(ctx: click.Context, image: str, repo: str | None, tags: tuple[str, ...], create: bool) -> None:
    """Push the local IMAGE to ECR and print every pushed reference and the digest.

    No prior login is needed: the registry token goes to the engine for this push only.
    """
    from dataclasses import replace

    from ecrtool.service.transfers import Transfers

    a = app(ctx, Transfers)
    with a.render.progress() as progress:
        result = a.service.push(image, repo, tags, create=create, progress=progress)
    prefix = a.service.created_by_template.get(result.repository)
    if prefix is not None and not a.render.json:
        a.render.note(
            f"Repository {result.repository} did not exist: ECR created it on this push, as the registry's "
            f"creation template for {prefix} says (`ecrtool template list`)"
        )
        result = replace(result, created_repository=False)  # said above, with what made it
    a.render.pushed(result)
