"""`ecrtool archive` and `ecrtool restore`: images moved to ECR's archive storage class and back, and how
what they did reads (a line per image, failures on stderr; -o json for scripts)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from ecrtool.cli.app import app
from ecrtool.cli.options import global_options

if TYPE_CHECKING:
    from ecrtool.cli.render import Renderer
    from ecrtool.model.archive import StorageResult


@click.command(
    epilog="Examples:\n\n  ecrtool archive trees:v1\n\n"
    "  ecrtool archive trees:v1 trees@sha256:... birds:old -o json\n\n"
    "Exit codes: 0 every image is in the archive, 1 one was not found or not moved, 2 invalid input.\n\n"
    "Replaces: aws ecr update-image-storage-class --repository-name trees --image-id imageTag=v1"
    " --target-storage-class ARCHIVE"
)
@click.argument("refs", nargs=-1, metavar="REF...")
@global_options
@click.pass_context
def archive(ctx: click.Context, refs: tuple[str, ...]) -> None:
    """Move the images REF... (REPO:TAG, REPO@sha256:... or full references) to ECR's archive storage
    class: cheaper storage for images kept but not pulled. An archived image keeps its tags and is listed
    by `ecrtool images`, but cannot be pulled until `ecrtool restore` brings it back (ECR takes up to
    20 minutes). ECR bills an archived image for at least 90 days. An image already archived is left
    as it is."""
    from ecrtool.service.archive import Archives

    a = app(ctx, Archives)
    _finish(a.render, a.service.archive(refs))


@click.command(
    epilog="Examples:\n\n  ecrtool restore trees:v1\n\n"
    "  ecrtool restore trees:v1 --wait && ecrtool pull trees:v1\n\n"
    "  ecrtool restore trees@sha256:... --wait --timeout 45m -o json\n\n"
    "Exit codes: 0 every image is restored (or, without --wait, being restored), 1 one was not found, not"
    " restored or still restoring at the timeout, 2 invalid input.\n\n"
    "Replaces: aws ecr update-image-storage-class ... --target-storage-class STANDARD, then a loop over"
    " aws ecr describe-images --filter imageStatus=ACTIVATING"
)
@click.argument("refs", nargs=-1, metavar="REF...")
@click.option("--wait", is_flag=True, help="Wait until every image can be pulled again (ACTIVE).")
@click.option(
    "--timeout",
    metavar="DURATION",
    help="With --wait: how long to wait, e.g. 20m, 1h (default: 30m; ECR takes up to 20 minutes); then exit 1.",
)
@global_options
@click.pass_context
def restore(ctx: click.Context, refs: tuple[str, ...], wait: bool, timeout: str | None) -> None:
    """Bring the archived images REF... back to ECR's standard storage class, so they can be pulled again.
    ECR restores an image within about 20 minutes (ACTIVATING until then); with --wait this waits, one
    DescribeImages by id per image each poll (never counted as a pull). An image that is not archived is
    left as it is."""
    from datetime import timedelta

    from ecrtool.model.durations import parse_duration
    from ecrtool.model.errors import InvalidInput
    from ecrtool.service.archive import Archives

    if timeout is not None and not wait:
        raise InvalidInput("--timeout goes with --wait: add --wait, or drop --timeout")
    span = parse_duration(timeout, "--timeout") if timeout is not None else timedelta(minutes=30)
    a = app(ctx, Archives)
    _finish(a.render, a.service.restore(refs, wait=wait, timeout=span))


def _finish(render: Renderer, result: StorageResult) -> None:
    """The result, then exit 1 (one line on stderr) when any image failed."""
    from ecrtool.model.errors import EcrToolError

    stored(render, result)
    if result.failures:
        for failure in result.failures[:-1]:
            click.echo(f"ecrtool: error: {failure.message}", err=True)
        raise EcrToolError(result.failures[-1].message)


def stored(render: Renderer, result: StorageResult) -> None:
    """A line per image: what happened to it and what to do next."""
    if render.json:
        return render.emit_json(result)
    if render.quiet:
        for image in result.images:
            render.line(image.digest)
        return
    restoring = False
    for image in result.images:
        short = image.digest[:19]
        if result.action == "archive":
            done = "archived" if image.changed else "already archived"
            render.line(f"{done}: {image.reference} ({short})")
        elif image.after == "ACTIVE":
            waited = f" in {image.waited_seconds:g}s" if image.waited_seconds is not None else ""
            done = f"restored{waited}" if image.changed or image.waited_seconds is not None else "not archived"
            render.line(f"{done}: {image.reference} ({short})")
        else:
            restoring = True
            render.line(f"restoring: {image.reference} ({short}): {image.after}")
    if restoring and not result.waited:
        render.note("ECR takes up to 20 minutes: `ecrtool restore REF --wait` waits until the images can be pulled")
