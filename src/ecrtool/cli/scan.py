"""`ecrtool scan`: an image's vulnerability scan in ECR, started when it has none, and a gate on its findings."""

from __future__ import annotations

import click

from ecrtool.cli.app import app
from ecrtool.cli.options import global_options


@click.command(
    epilog="Examples:\n\n  ecrtool scan trees:viruses\n\n"
    "  ecrtool scan trees:viruses --fail-on high\n\n"
    "  ecrtool scan trees:viruses --fail-on high --max-age 6h\n\n"
    "  ecrtool scan trees@sha256:... --wait --timeout 20m -o json\n\n"
    "Exit codes: 0 no finding at or above --fail-on (or no gate), 1 a finding at or above it, a failed scan "
    "or the timeout, 2 invalid input.\n\n"
    "Replaces: aws ecr start-image-scan ...; aws ecr wait image-scan-complete ...; "
    "aws ecr describe-image-scan-findings ... | jq ... and a test of its output"
)
@click.argument("ref")
@click.option("--wait", is_flag=True, help="Wait until the scan is finished (--fail-on implies it).")
@click.option(
    "--timeout",
    metavar="DURATION",
    help="How long to wait for the scan, e.g. 90s, 10m, 1h (default: 10m); then exit 1.",
)
@click.option(
    "--fail-on",
    metavar="SEVERITY",
    help="Exit 1 when a finding is at SEVERITY or worse: LOW, MEDIUM, HIGH or CRITICAL (any case).",
)
@click.option(
    "--max-age",
    metavar="DURATION",
    help="With --fail-on: a finished scan older than this is not trusted; a new one is started and waited "
    "for (default: 24h; a duration as prune's --older-than takes: 12h, 2d).",
)
@global_options
@click.pass_context
def scan(
    ctx: click.Context, ref: str, wait: bool, timeout: str | None, fail_on: str | None, max_age: str | None
) -> None:
    """Scan the image REF (REPO:TAG, REPO@sha256:... or a full reference) in ECR and print its findings.

    A basic scan starts when the image has none; one already running, or run in the last 24 hours (ECR
    allows one a day), is used as it is; with --fail-on, only if it finished within --max-age
    (24h). Prints the counts by severity and the worst findings; -o json
    lists every finding. For a multi-platform image (an index), each platform's image is scanned and
    gated. Without --wait or --fail-on it prints the scan as it is now, even unfinished, and exits 0.
    UNDEFINED (no severity given by the CVE's source) is shown but never fails a gate.
    """
    from ecrtool.cli.render_scan import scan_progress, scanned
    from ecrtool.model.errors import EcrToolError
    from ecrtool.model.findings import gate_failure
    from ecrtool.service.scan import Scans

    a = app(ctx, Scans)
    with scan_progress(a.render) as progress:
        result = a.service.scan(ref, wait=wait, timeout=timeout, fail_on=fail_on, max_age=max_age, progress=progress)
    scanned(a.render, result)
    failure = gate_failure(result)
    if failure:
        raise EcrToolError(failure)
