"""`ecrtool replication show|set|backfill|status`: ECR's own replication, configured, filled in with what it
never copies (images pushed before a rule, a destination added since) and checked per destination."""

from __future__ import annotations

import click

from ecrtool.cli.app import app
from ecrtool.cli.options import global_options


@click.group(
    epilog="Examples:\n\n  ecrtool replication set --to us-east-1 --to ca-west-1:210987654321 --filter prod/\n\n"
    "  ecrtool replication backfill                     # what the rules cover and the destinations lack\n\n"
    "  ecrtool replication status prod/api:1.4\n\n"
    "Replaces: aws ecr put-replication-configuration, put-registry-policy in each destination account, a\n"
    "copy script for the images pushed before the rule, and polling describe-image-replication-status."
)
def replication() -> None:
    """Configure ECR's replication, backfill what it never copies, and see where an image has arrived."""


@replication.command(
    epilog="Examples:\n\n  ecrtool replication show\n\n  ecrtool replication show --region us-east-1 -o json\n\n"
    "Replaces: aws ecr describe-registry"
)
@global_options
@click.pass_context
def show(ctx: click.Context) -> None:
    """Show this registry's replication rules: each rule's destinations and repository prefixes."""
    from ecrtool.cli.render_replication import shown
    from ecrtool.service.replication import Replications

    a = app(ctx, Replications)
    shown(a.render, a.service.show())


@replication.command(
    "set",
    epilog="Examples:\n\n  ecrtool replication set --to us-east-1\n\n"
    "  ecrtool replication set --to us-east-1 --to ca-west-1:210987654321 --filter prod/ --filter base/\n\n"
    "  ecrtool replication set --add --to eu-west-1 --filter mirror/\n\n"
    "Replaces: aws ecr put-replication-configuration --replication-configuration file://rules.json, and\n"
    "aws ecr put-registry-policy in the destination account.",
)
@click.option(
    "--to",
    "to",
    multiple=True,
    metavar="REGION[:ACCOUNT]",
    help="A destination: a region of this account, or REGION:ACCOUNT for another account's registry (repeat).",
)
@click.option(
    "--filter",
    "filters",
    multiple=True,
    metavar="PREFIX",
    help="Replicate only repositories whose names start with PREFIX (repeat; default: every repository).",
)
@click.option("--add", is_flag=True, help="Add the rule beside the registry's rules instead of replacing them.")
@click.option(
    "--skip-policy",
    is_flag=True,
    help="Leave another account's registry policy to its owner (it must allow ecr:ReplicateImage and"
    " ecr:CreateRepository to this account).",
)
@global_options
@click.pass_context
def set_rule(ctx: click.Context, to: tuple[str, ...], filters: tuple[str, ...], add: bool, skip_policy: bool) -> None:
    """Replicate this registry's pushes to --to destinations, as one ECR replication rule.

    A destination in another account gets a registry policy statement letting this account replicate
    there (merged into the policy it has), put as the profile the config file names for that registry.
    ECR copies only images pushed from now on: `ecrtool replication backfill` copies the others.
    """
    from ecrtool.cli.render_replication import configured
    from ecrtool.service.replication import Replications

    a = app(ctx, Replications)
    configured(a.render, a.service.configure(to, filters, add=add, skip_policy=skip_policy))


@replication.command(
    epilog="Examples:\n\n  ecrtool replication backfill\n\n  ecrtool replication backfill prod/api prod/web\n\n"
    "  ecrtool replication backfill --filter base/ -o json\n\n"
    "Replaces: a copy script per image, region and account (ECR replicates only new pushes:\n"
    "aws/containers-roadmap#1289)."
)
@click.argument("repos", nargs=-1, metavar="[REPO]...")
@click.option(
    "--filter", "filters", multiple=True, metavar="PREFIX", help="Only repositories whose names start with PREFIX."
)
@click.option("-j", "--jobs", type=int, default=4, show_default=True, help="Images to copy at once.")
@global_options
@click.pass_context
def backfill(ctx: click.Context, repos: tuple[str, ...], filters: tuple[str, ...], jobs: int) -> None:
    """Copy to each destination the tagged images the rules cover and it lacks, byte for byte with referrers.

    Without REPO, every repository a rule covers. A digest a destination already holds is skipped, so a
    second run copies nothing; a missing destination repository is created. Exit 1 names each image that
    failed, after the others are copied.
    """
    from ecrtool.model import tls

    tls.prepare()
    from ecrtool.cli.render_replication import backfilled
    from ecrtool.service.replication import Replications

    a = app(ctx, Replications)
    with a.render.progress() as progress:
        result = a.service.backfill(repos, filters, jobs=jobs, progress=progress)
    backfilled(a.render, result)
    if result.failed:
        ctx.exit(1)


@replication.command(
    epilog="Examples:\n\n  ecrtool replication status prod/api:1.4\n\n"
    "  until ecrtool replication status prod/api:1.4 -q; do sleep 10; done\n\n"
    "Replaces: aws ecr describe-image-replication-status, and describe-images in each destination."
)
@click.argument("ref")
@global_options
@click.pass_context
def status(ctx: click.Context, ref: str) -> None:
    """Say which replication destinations of REF's repository hold REF's digest (exit 1 while any lacks it)."""
    from ecrtool.cli.render_replication import statuses
    from ecrtool.service.replication import Replications

    a = app(ctx, Replications)
    result = a.service.status(ref)
    statuses(a.render, result)
    if not result.complete:
        ctx.exit(1)
