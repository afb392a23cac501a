"""`ecrtool prune`: delete what a repository no longer needs, never what a kept image needs."""

from __future__ import annotations

import click

from ecrtool.cli.app import app
from ecrtool.cli.options import global_options


@click.command(
    epilog="Examples:\n\n"
    "  ecrtool prune trees --keep 10                      # what would go: all but the newest 10 tagged images\n\n"
    "  ecrtool prune trees --keep 10 --untagged --yes     # delete them, and every untagged image\n\n"
    "  ecrtool prune trees --tag-prefix pr- --keep 5 --older-than 30d --keep-tag 'v*' --yes\n\n"
    "  ecrtool prune trees --older-than 2w -o json        # the selection as a JSON document\n\n"
    "Replaces: aws ecr describe-images ... | jq ... | aws ecr batch-delete-image ... (100 ids a call),\n"
    "or a lifecycle policy and a day's wait for ECR to apply it."
)
@click.argument("repo")
@click.option("--keep", type=int, metavar="N", help="Keep the newest N tagged images (of --tag-prefix's); older go.")
@click.option(
    "--untagged", is_flag=True, help="Select every untagged image (not the children or signatures of a kept image)."
)
@click.option(
    "--older-than", metavar="DURATION", help="Select images pushed longer ago than DURATION: 30d, 12h, 2w, 90m."
)
@click.option(
    "--tag-prefix",
    "tag_prefixes",
    multiple=True,
    metavar="P",
    help="Only images tagged P... count for --keep (or for --older-than alone); repeat: each prefix keeps its own N.",
)
@click.option(
    "--keep-tag",
    "keep_tags",
    multiple=True,
    metavar="PATTERN",
    help="Never select an image with a tag matching this glob (repeat for more), e.g. 'latest', 'v*'.",
)
@click.option("--yes", "-y", is_flag=True, help="Delete the selection. Without it nothing is deleted.")
@global_options
@click.pass_context
def prune(
    ctx: click.Context,
    repo: str,
    keep: int | None,
    untagged: bool,
    older_than: str | None,
    tag_prefixes: tuple[str, ...],
    keep_tags: tuple[str, ...],
    yes: bool,
) -> None:
    """Select images of REPO to delete, and delete them with --yes.

    Selected: tagged images beyond the newest N by push time (--keep), untagged images (--untagged) and
    images pushed longer ago than DURATION (--older-than), as an ECR lifecycle policy of those rules
    would. A multi-platform image and its signatures are one thing: an index's children and an image's
    referrers (signatures, SBOMs, attestations) go with it and stay with it, so nothing a kept image
    needs is ever deleted. Deletes by digest, 100 a call, indexes before their children. Just before
    each call the batch is read again (DescribeImages by id, which never counts as a pull): an image
    tagged or pulled since it was selected is spared, not deleted, and reported with what goes with it.

    Without --yes it prints what it would delete and deletes nothing (exit 0); with --yes, what went,
    the count and the bytes freed (exit 1 if any deletion failed).
    """
    from ecrtool.cli.render_cleanup import cleanup
    from ecrtool.service.prune import Cleanup

    a = app(ctx, Cleanup)
    result = a.service.prune(
        repo,
        keep=keep,
        untagged=untagged,
        older_than=older_than,
        tag_prefixes=tag_prefixes,
        keep_tags=keep_tags,
        yes=yes,
    )
    cleanup(a.render, result)
    if result.failures:
        raise click.exceptions.Exit(1)
