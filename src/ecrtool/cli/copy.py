"""`ecrtool copy`: an image from ECR or another registry into ECR, registry to registry, digests intact."""

from __future__ import annotations

import click

from ecrtool.cli.app import app
from ecrtool.cli.options import global_options


@click.command(
    epilog="Examples:\n\n  ecrtool copy trees:viruses --to-region us-east-1\n\n"
    "  ecrtool copy trees:viruses 210987654321.dkr.ecr.ca-west-1.amazonaws.com/trees --create\n\n"
    "  ecrtool copy trees:1.0 --to-account 210987654321 --to-region ca-west-1 --to-region us-east-1\n\n"
    "  ecrtool copy docker.io/library/busybox:1.36 mirror/busybox --create\n\n"
    "  ecrtool copy trees:signed trees-prod:signed --referrers\n\n"
    "Replaces: docker pull ...; docker tag ...; docker push ... (which loses image indexes and signatures)."
)
@click.argument("src")
@click.argument("dst", required=False)
@click.option(
    "--create",
    is_flag=True,
    help="Create a destination repository that does not exist, while the source is read (deleted again if the"
    " source is missing).",
)
@click.option("--referrers", is_flag=True, help="Copy the image's OCI referrers too (signatures, SBOMs, attestations).")
@click.option("-j", "--jobs", type=int, default=6, show_default=True, help="Blobs to copy at once.")
@click.option(
    "--to-region", "to_regions", multiple=True, metavar="REGION", help="Copy to this region; repeat for more."
)
@click.option(
    "--to-account", "to_accounts", multiple=True, metavar="ACCOUNT", help="Copy to this account; repeat for more."
)
@click.option("--repo", metavar="REPO", help="Destination repository with --to-region/--to-account (default: SRC's).")
@global_options
@click.pass_context
def copy(
    ctx: click.Context,
    src: str,
    dst: str | None,
    create: bool,
    referrers: bool,
    jobs: int,
    to_regions: tuple[str, ...],
    to_accounts: tuple[str, ...],
    repo: str | None,
) -> None:
    """Copy the image SRC to DST (an ECR reference; without a tag, SRC's), or to each --to-region x --to-account.

    SRC is an ECR reference as `ecrtool pull` takes it, or any registry's (localhost:5000/app:1,
    ghcr.io/owner/image:tag, docker.io/library/busybox:1.36). Image indexes, blobs and manifests move byte
    for byte, so the digest stays the same; what the destination already has is not sent again. No Docker
    engine is needed.
    """
    from ecrtool.model import tls

    tls.prepare()  # the registries' certificates load while the service's modules do
    from ecrtool.service.copy import Copies

    a = app(ctx, Copies)
    with a.render.progress() as progress:
        result = a.service.copy(
            src,
            dst,
            to_regions=to_regions,
            to_accounts=to_accounts,
            repo=repo,
            create=create,
            referrers=referrers,
            jobs=jobs,
            progress=progress,
        )
    a.render.copied(result)
