"""`ecrtool sync SPEC`: the tags a spec selects, from any registry into ECR, what is there already skipped."""

from __future__ import annotations

import click

from ecrtool.cli.app import app
from ecrtool.cli.options import global_options

SPEC_HELP = """Copy the images the spec SPEC selects into ECR, skipping every tag whose digest a destination holds.

\b
SPEC is a YAML file (or TOML, named *.toml):
  images:
    - from: docker.io/library/nginx   # any registry's repository, ECR's too
      to: mirror/nginx                # an ECR repository, name or URI
      tags: ['^1\\.2[0-9]+$']          # regexes, each matching a whole tag
      semver: '>=1.25 <1.27'          # a range over tags that are versions
      newest: 3                       # the highest 3 versions of those selected
      platform: linux/amd64           # of an index, that platform's image alone
      referrers: true                 # signatures, SBOMs and attestations too
      create: true                    # create a missing repository (default)
      prefix: mirror/                 # instead of `to`: prefix + from's path
  defaults: {create: true}            # keys every entry takes unless it says otherwise
  jobs: 4                             # images at once
  rate: 10                            # manifests put a second, all destinations

Each selected tag's digest is looked up and each destination repository listed once before anything
moves: a sync run again, finished or interrupted, copies only what is missing. The images go JOBS at
once under one pace shared by every destination (ECR takes some 10 PutImage a second). An image that
fails is named and the others finish; the exit status is then 1.
"""


@click.command(
    help=SPEC_HELP,
    epilog="Examples:\n\n  ecrtool sync mirror.yaml --dry-run\n\n"
    "  ecrtool sync mirror.yaml -j 8 -o json\n\n"
    "Replaces: skopeo sync --src yaml ... (which creates no ECR repository and does not pace for ECR); "
    "a loop of docker pull/tag/push.",
)
@click.argument("spec", type=click.Path(dir_okay=False))
@click.option("--dry-run", is_flag=True, help="Print the plan (what would be copied, what is there) and copy nothing.")
@click.option("-j", "--jobs", type=int, default=None, help="Images copied at once (default: the spec's jobs, else 4).")
@click.option("--rate", type=float, default=None, help="Manifests put a second (default: the spec's rate, else 10).")
@global_options
@click.pass_context
def sync(ctx: click.Context, spec: str, dry_run: bool, jobs: int | None, rate: float | None) -> None:
    from ecrtool.model import tls

    tls.prepare()  # the registries' certificates load while the service's modules do
    from ecrtool.cli.render_sync import synced
    from ecrtool.model.errors import EcrToolError
    from ecrtool.service.sync import Syncs

    a = app(ctx, Syncs)
    with a.render.progress() as progress:
        result = a.service.sync(spec, dry_run=dry_run, jobs=jobs, rate=rate, progress=progress)
    synced(a.render, result)
    failed = result.failed
    if failed:
        names = "; ".join(f"{item.destination} ({item.error})" for item in failed)
        raise EcrToolError(f"sync: {len(failed)} of {len(result.items)} images failed: {names}")
