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
    "  ecrtool prune trees --not-pulled-for 90d --protect-in-use --yes   # unused 90 days, not run by ECS/Lambda\n\n"
    "  kubectl get pods -A -o jsonpath='{..image}' > pods.txt\n"
    "  ecrtool prune trees --not-pulled-for 90d --protect-in-use --protect-file pods.txt\n\n"
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
    "--not-pulled-for",
    metavar="DURATION",
    help="Select images not pulled for DURATION (never pulled: pushed longer ago), by ECR's lastRecordedPullTime; "
    "with other flags, only what they select and nobody pulled for DURATION.",
)
@click.option(
    "--protect-in-use",
    is_flag=True,
    help="Keep images ECS (ACTIVE task definitions, services, running tasks) and Lambda (every version) use, "
    "and what they need.",
)
@click.option(
    "--protect-file",
    "protect_files",
    multiple=True,
    metavar="FILE",
    help="Keep the images FILE names (references, one or more a line, e.g. kubectl's output); repeat for more.",
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
    not_pulled_for: str | None,
    protect_in_use: bool,
    protect_files: tuple[str, ...],
    yes: bool,
) -> None:
    """Select images of REPO to delete, and delete them with --yes.

    Selected: tagged images beyond the newest N by push time (--keep), untagged images (--untagged),
    images pushed longer ago than DURATION (--older-than), as an ECR lifecycle policy of those rules
    would, and images nobody pulled for DURATION (--not-pulled-for). Archived images are seen too. A
    multi-platform image and its signatures are one thing: an index's children and an image's referrers
    (signatures, SBOMs, attestations) go with it and stay with it, so nothing a kept or in-use image
    needs is ever deleted. Deletes by digest, 100 a call, indexes before their children. Just before
    each call the batch is read again (DescribeImages by id, which never counts as a pull): an image
    tagged or pulled since it was selected is spared, not deleted, and reported with what goes with it.

    Planning never updates a pull time: it reads with DescribeImages only, never BatchGetImage or a
    manifest GET (either counts as a pull), unless ECR lists your principal among its pull-time update
    exclusions (aws ecr register-pull-time-update-exclusion); only then are image indexes' manifests
    read to know their children. Without that, an untagged manifest stays while any image index stays.

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
        not_pulled_for=not_pulled_for,
        protect_in_use=protect_in_use,
        protect_files=protect_files,
    )
    cleanup(a.render, result)
    if result.failures:
        raise click.exceptions.Exit(1)
