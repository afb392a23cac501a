"""`ecrtool inspect` and `ecrtool digest`: what an image or index in ECR or any registry is, without Docker."""

from __future__ import annotations

import click

from ecrtool.cli.app import app
from ecrtool.cli.options import global_options


@click.command(
    epilog="Examples:\n\n  ecrtool inspect trees:viruses\n\n"
    "  ecrtool inspect trees:multi --platforms\n\n"
    "  ecrtool inspect trees:signed --referrers -o json\n\n"
    "  ecrtool inspect docker.io/library/busybox:1.36 --config\n\n"
    "  ecrtool inspect public.ecr.aws/docker/library/alpine:3 --raw | sha256sum\n\n"
    "Replaces: aws ecr batch-get-image ... | jq -r '.images[0].imageManifest' | jq ...; crane manifest, "
    "crane config; aws ecr describe-images (whose size for an index is its largest child's)."
)
@click.argument("ref")
@click.option(
    "--platforms",
    is_flag=True,
    help="Show each platform's image in full (created, entrypoint, command, labels), not only as a table row.",
)
@click.option(
    "--config",
    "show_config",
    is_flag=True,
    help="Print the image config as stored; for an index, a JSON object of each platform's config.",
)
@click.option("--raw", is_flag=True, help="Print the manifest's exact bytes (their sha256 is the digest).")
@click.option("--referrers", is_flag=True, help="Show the OCI referrers (signatures, SBOMs, attestations) as a tree.")
@global_options
@click.pass_context
def inspect(ctx: click.Context, ref: str, platforms: bool, show_config: bool, raw: bool, referrers: bool) -> None:
    """Show the image REF: its digest, media type, size, created time, entrypoint and labels, and for a
    multi-platform image (an index) each platform's digest and size.

    REF is an ECR reference as `ecrtool pull` takes it (REPO:TAG, REPO@sha256:..., a full ECR reference,
    public.ecr.aws/ALIAS/REPO:TAG) or any registry's (ghcr.io/owner/image:tag, docker.io/library/busybox:1.36),
    read with the credentials `ecrtool copy` would use for it. A platform's size is its config and layers
    summed, what a pull of that platform fetches; an index's is its platforms' sizes summed. -o json has
    every platform in full.
    """
    if raw and show_config:
        raise click.UsageError("--raw and --config print one document each: give one of them")
    from ecrtool.model import tls

    tls.prepare()  # the registries' certificates load while the service's modules do
    from ecrtool.cli.render_inspect import inspected
    from ecrtool.service.inspect import Inspections

    a = app(ctx, Inspections)
    result = a.service.inspect(ref, referrers=referrers)
    inspected(a.render, result, platforms=platforms, config=show_config, raw=raw)


@click.command(
    epilog="Examples:\n\n  ecrtool digest trees:viruses\n\n"
    "  ecrtool digest ghcr.io/owner/app:1 -o json\n\n"
    "Replaces: aws ecr describe-images --image-ids imageTag=... --query 'imageDetails[0].imageDigest' "
    "--output text; crane digest."
)
@click.argument("ref")
@global_options
@click.pass_context
def digest(ctx: click.Context, ref: str) -> None:
    """Print the digest of the image REF (ECR or any registry, as `ecrtool inspect` takes it): one line.

    The registry is asked with one HEAD request where it answers one with the digest; -o json prints the
    reference as read and its digest.
    """
    from ecrtool.model import tls

    tls.prepare()
    from ecrtool.cli.render_inspect import digest_line
    from ecrtool.service.inspect import Inspections

    a = app(ctx, Inspections)
    digest_line(a.render, a.service.digest(ref))
