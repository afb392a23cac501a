"""`ecrtool images` and `ecrtool repos`: every page of DescribeImages and DescribeRepositories."""

from __future__ import annotations

import click

from ecrtool.cli.app import app
from ecrtool.cli.options import global_options


@click.command(
    epilog="Examples:\n\n  ecrtool images trees\n\n"
    "  ecrtool images trees --untagged\n\n"
    "  ecrtool images trees --untagged --older-than 30d -q   # digests only\n\n"
    "  ecrtool images trees --archived\n\n"
    "  ecrtool images trees --not-pulled-for 90d\n\n"
    "  ecrtool images trees -o json\n\n"
    "Replaces: aws ecr describe-images --repository-name trees [--filter tagStatus=UNTAGGED,imageStatus=ANY],"
    " and | jq 'select(.imagePushedAt < ...)' or 'select(.lastRecordedPullTime < ...)'"
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
@click.option(
    "--archived",
    is_flag=True,
    help="Only images in ECR's archive storage class: ARCHIVED, or ACTIVATING (being restored). `ecrtool restore"
    " REF` brings one back.",
)
@click.option(
    "--not-pulled-for",
    metavar="DURATION",
    help="Only images whose last recorded pull (ECR's lastRecordedPullTime; for one never pulled, its push) is"
    " longer ago than DURATION: 90d, 12w. ECR refreshes that time at least once a day.",
)
@global_options
@click.pass_context
def images(
    ctx: click.Context,
    repo: str,
    untagged: bool,
    older_than: str | None,
    archived: bool,
    not_pulled_for: str | None,
) -> None:
    """List the images in REPO: tags, digest, size, pushed at, last pull, status (newest first); a
    multi-platform image once, with its platforms. Archived images are listed too (STATUS ARCHIVED, or
    ACTIVATING while restored; they cannot be pulled until restored). Under the table, on stderr: how many
    images and their total size, each manifest counted once (-o json and -q print the images alone)."""
    from ecrtool.model.durations import parse_duration
    from ecrtool.model.listing import ImageFilter
    from ecrtool.service.repos import Repositories

    span = parse_duration(older_than, "--older-than") if older_than is not None else None
    unused = parse_duration(not_pulled_for, "--not-pulled-for") if not_pulled_for is not None else None
    wanted = ImageFilter(untagged=untagged, older_than=span, archived=archived, not_pulled_for=unused)
    a = app(ctx, Repositories)
    a.render.image_listing(repo, a.service.images(repo, wanted))


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
