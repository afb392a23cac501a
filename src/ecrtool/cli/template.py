"""`ecrtool template set|list|delete`: the registry's repository creation templates, which have ECR create a
repository on the first push to it (and for replication and pull through cache) with the template's settings."""

from __future__ import annotations

import click

from ecrtool.cli.app import app
from ecrtool.cli.options import global_options


@click.group(
    epilog="Examples:\n\n  ecrtool template set team --immutable --lifecycle-keep 30 --grant-pull 210987654321\n\n"
    "  ecrtool template list\n\n"
    "  ecrtool template delete team\n\n"
    "Replaces: aws ecr create-repository-creation-template / update-… / describe-… / delete-…, with the "
    "lifecycle and repository policy JSON written by hand."
)
def template() -> None:
    """Repository creation templates: what a repository ECR creates on push looks like."""


@template.command(
    "set",
    epilog="Examples:\n\n  ecrtool template set team --immutable --tag team=payments\n\n"
    "  ecrtool template set team/app --scan-on-push --lifecycle-keep 50 --grant-pull 210987654321\n\n"
    "  ecrtool template set ROOT --for create-on-push,replication   # every name no other template covers\n\n"
    "  ecrtool template set team --no-scan-on-push   # take the registry's scan-on-push filter team/* out\n\n"
    "A push to team/new, which does not exist, then creates it with these settings: no `ecrtool create` "
    "and no --create needed.",
)
@click.argument("prefix")
@click.option("--immutable", is_flag=True, help="Tags cannot be moved to another image (default: mutable).")
@click.option(
    "--scan-on-push/--no-scan-on-push",
    default=None,
    help="Scan each image on push: add the filter PREFIX/* to the registry's SCAN_ON_PUSH rule (ROOT: *); "
    "--no-scan-on-push takes that one filter out. Without either, the registry's scanning stays as it is.",
)
@click.option("--lifecycle-keep", type=int, metavar="N", help="A lifecycle policy keeping the newest N images.")
@click.option(
    "--grant-pull",
    multiple=True,
    metavar="ACCOUNT",
    help="A repository policy letting ACCOUNT pull (repeat for more accounts).",
)
@click.option(
    "--for",
    "for_",
    metavar="LIST",
    help="What the template applies to: create-on-push, replication, pull-through-cache, comma-separated "
    "(default: create-on-push).",
)
@click.option("--tag", "tags", multiple=True, metavar="KEY=VALUE", help="A resource tag of each new repository.")
@global_options
@click.pass_context
def set_(
    ctx: click.Context,
    prefix: str,
    immutable: bool,
    scan_on_push: bool | None,
    lifecycle_keep: int | None,
    grant_pull: tuple[str, ...],
    for_: str | None,
    tags: tuple[str, ...],
) -> None:
    """Create the template for PREFIX (team covers team/...; ROOT covers the rest), or replace it whole."""
    from ecrtool.cli.render_template import template_set
    from ecrtool.service.templates import Templates

    a = app(ctx, Templates)
    result = a.service.set(
        prefix, immutable=immutable, scan_on_push=scan_on_push, lifecycle_keep=lifecycle_keep,
        grant_pull=grant_pull, for_=for_, tags=tags,
    )  # fmt: skip
    template_set(a.render, result)


@template.command("list", epilog="Examples:\n\n  ecrtool template list\n\n  ecrtool template list -o json")
@global_options
@click.pass_context
def list_(ctx: click.Context) -> None:
    """List the registry's templates: prefix, what for, tag mutability, scan on push, lifecycle, pull grants, tags."""
    from ecrtool.cli.render_template import template_list
    from ecrtool.service.templates import Templates

    a = app(ctx, Templates)
    template_list(a.render, a.service.list())


@template.command(
    "delete",
    epilog="Examples:\n\n  ecrtool template delete team\n\n  ecrtool template delete ROOT\n\n"
    "  ecrtool template delete team --no-scan-on-push   # and the registry's scan-on-push filter team/*",
)
@click.argument("prefix")
@click.option(
    "--no-scan-on-push",
    is_flag=True,
    help="Also take the filter PREFIX/* (ROOT: *) out of the registry's SCAN_ON_PUSH rule; without it the "
    "registry's scanning stays as it is. Works when the template is already gone.",
)
@global_options
@click.pass_context
def delete(ctx: click.Context, prefix: str, no_scan_on_push: bool) -> None:
    """Delete PREFIX's template; repositories it created stay as they are."""
    from ecrtool.service.templates import Templates

    a = app(ctx, Templates)
    result = a.service.delete(prefix, no_scan_on_push=no_scan_on_push)
    if a.render.json:
        a.render.emit_json(
            {
                "deleted": result.prefix if result.deleted else None,
                "scan_on_push_filter": result.scan_filter,
                "scan_on_push_filter_removed": result.filter_removed,
                "scan_on_push_filter_kept": result.filter_kept,
            }
        )
        return
    if result.deleted:
        a.render.line(f"Deleted the creation template for {result.prefix}")
    if result.filter_removed:
        a.render.line(f"Removed the registry's scan-on-push filter {result.scan_filter}")
    if result.filter_kept:
        a.render.note(
            f"The registry's scan-on-push filter {result.scan_filter} stays (pushes it matches are still scanned): "
            f"`ecrtool template delete {result.prefix} --no-scan-on-push` removes it"
        )
