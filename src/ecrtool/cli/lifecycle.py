"""`ecrtool lifecycle show|set|preview`: a repository's ECR lifecycle policy, checked before it is put,
and what it would expire now, with prune's own selection."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

from ecrtool.cli.app import app
from ecrtool.cli.options import global_options

F = TypeVar("F", bound=Callable[..., Any])

_POLICY_OPTIONS = [
    click.option(
        "--file",
        "file",
        metavar="FILE",
        help="The policy as ECR's JSON (put-lifecycle-policy's lifecyclePolicyText).",
    ),
    click.option("--keep", type=int, metavar="N", help="Rule: keep the newest N tagged images (of --tag-prefix's)."),
    click.option(
        "--tag-prefix",
        "tag_prefixes",
        multiple=True,
        metavar="P",
        help="Only tags starting with P count for --keep (repeat: each prefix keeps its own newest N).",
    ),
    click.option(
        "--untagged-older-than",
        metavar="DURATION",
        help="Rule: expire untagged images pushed longer ago than DURATION, whole days (7d, 2w).",
    ),
    click.option(
        "--archive-after",
        metavar="DURATION",
        help="Rule: move to archive the images not pulled for DURATION (never pulled: pushed over DURATION ago) "
        "that no --keep rule counts, whole days (90d).",
    ),
    click.option(
        "--expire-archived-after",
        metavar="DURATION",
        help="Rule: expire images archived longer ago than DURATION, whole days (365d).",
    ),
]


def policy_options(func: F) -> F:
    for option in reversed(_POLICY_OPTIONS):
        func = option(func)
    return func


@click.group(
    epilog="Examples:\n\n  ecrtool lifecycle show trees\n\n"
    "  ecrtool lifecycle set trees --keep 30 --untagged-older-than 7d\n\n"
    "  ecrtool lifecycle set trees --archive-after 90d --expire-archived-after 365d\n\n"
    "  ecrtool lifecycle preview trees                # what the repository's own policy expires now\n\n"
    "Replaces: aws ecr get-lifecycle-policy / put-lifecycle-policy, and a day's wait for ECR to act\n"
    "(or start-lifecycle-policy-preview and polling get-lifecycle-policy-preview)."
)
def lifecycle() -> None:
    """Show, set and preview a repository's ECR lifecycle policy."""


@lifecycle.command(
    epilog="Examples:\n\n  ecrtool lifecycle show trees\n\n  ecrtool lifecycle show trees -o json\n\n"
    "Replaces: aws ecr get-lifecycle-policy --repository-name trees"
)
@click.argument("repo")
@global_options
@click.pass_context
def show(ctx: click.Context, repo: str) -> None:
    """Print REPO's lifecycle policy (ECR's JSON); a note when it has none (exit 0)."""
    from ecrtool.cli.render_cleanup import policy
    from ecrtool.service.prune import Cleanup

    a = app(ctx, Cleanup)
    policy(a.render, a.service.lifecycle_show(repo))


@lifecycle.command(
    "set",
    epilog="Examples:\n\n  ecrtool lifecycle set trees --keep 30\n\n"
    "  ecrtool lifecycle set trees --tag-prefix release- --keep 10 --untagged-older-than 14d\n\n"
    "  ecrtool lifecycle set trees --file policy.json\n\n"
    "Replaces: aws ecr put-lifecycle-policy --repository-name trees --lifecycle-policy-text file://policy.json",
)
@click.argument("repo")
@policy_options
@global_options
@click.pass_context
def set_(
    ctx: click.Context,
    repo: str,
    file: str | None,
    keep: int | None,
    tag_prefixes: tuple[str, ...],
    untagged_older_than: str | None,
    archive_after: str | None,
    expire_archived_after: str | None,
) -> None:
    """Put a lifecycle policy on REPO, from --file or built from the flags, checked against ECR's rules
    first (unique priorities, an `any` rule last, countType and countNumber consistent, storageClass and
    transitions as ECR takes them, 30,720 characters at most). ECR applies it within a day; `ecrtool
    lifecycle preview` shows now what it expires and archives."""
    from ecrtool.cli.render_cleanup import policy
    from ecrtool.service.prune import Cleanup

    a = app(ctx, Cleanup)
    result = a.service.lifecycle_set(
        repo,
        file=file,
        keep=keep,
        tag_prefixes=tag_prefixes,
        untagged_older_than=untagged_older_than,
        archive_after=archive_after,
        expire_archived_after=expire_archived_after,
    )
    policy(a.render, result, was_set=True)


@lifecycle.command(
    epilog="Examples:\n\n  ecrtool lifecycle preview trees\n\n"
    "  ecrtool lifecycle preview trees --file policy.json -o json\n\n"
    "  ecrtool lifecycle preview trees --keep 30 --untagged-older-than 7d\n\n"
    "Replaces: aws ecr start-lifecycle-policy-preview, then polling aws ecr get-lifecycle-policy-preview"
)
@click.argument("repo")
@policy_options
@global_options
@click.pass_context
def preview(
    ctx: click.Context,
    repo: str,
    file: str | None,
    keep: int | None,
    tag_prefixes: tuple[str, ...],
    untagged_older_than: str | None,
    archive_after: str | None,
    expire_archived_after: str | None,
) -> None:
    """What a lifecycle policy (--file's, the flags', else REPO's own) would expire in REPO now, at once,
    and what its transition rules would move to archive.

    Every rule is evaluated as ECR does: by priority, standard rules over ACTIVE images and archive rules
    over ARCHIVED ones, sinceImagePulled from the last recorded pull (the push when never pulled),
    sinceImageTransitioned from the move to archive. The selection is prune's: an index's children and an
    image's signatures go with it and stay with it. Nothing is deleted or moved; `ecrtool prune` deletes.
    """
    from ecrtool.cli.render_cleanup import cleanup
    from ecrtool.service.prune import Cleanup

    a = app(ctx, Cleanup)
    result = a.service.lifecycle_preview(
        repo,
        file=file,
        keep=keep,
        tag_prefixes=tag_prefixes,
        untagged_older_than=untagged_older_than,
        archive_after=archive_after,
        expire_archived_after=expire_archived_after,
    )
    cleanup(a.render, result, preview=True)
