"""How `ecrtool inspect` and `ecrtool digest` read: the image as labelled lines, an index's platforms as a
table, referrers as a tree; as JSON for scripts; and --raw/--config as the registry's own bytes."""

from __future__ import annotations

import json
from collections.abc import Iterator

import click

from ecrtool.cli.formats import to_jsonable, when
from ecrtool.cli.render import Renderer, human_size
from ecrtool.model.errors import NotFound
from ecrtool.model.inspection import ImageDigest, Inspection, PlatformImage, Referrer

NOT_A_PLATFORM = "(attestation)"  # an index entry that is no platform's image


def inspected(render: Renderer, result: Inspection, *, platforms: bool, config: bool, raw: bool) -> None:
    if raw:
        # the exact bytes, nothing added: `ecrtool inspect REF --raw | sha256sum` is the digest
        return click.echo(result.manifest, file=render.out, nl=False)
    if config:
        return _configs(render, result)
    if render.json:
        return render.emit_json(document(result))
    width = 12
    render.line(f"{'Reference:':<{width}} {result.reference}")
    render.line(f"{'Digest:':<{width}} {result.digest}")
    render.line(f"{'Media type:':<{width}} {result.media_type}")
    if not result.is_index:
        image = result.platforms[0]
        for line in _image_lines(image, width):
            render.line(line)
    else:
        counted = [image for image in result.platforms if image.platform is not None]
        render.line(
            f"{'Size:':<{width}} {human_size(result.size_bytes)}"
            f" ({len(counted)} platform{'s' if len(counted) != 1 else ''}, each its config and layers)"
        )
        rows = [
            [image.platform or NOT_A_PLATFORM, image.digest, human_size(image.size_bytes), when(image.created)]
            for image in result.platforms
        ]
        render.line()
        render.table("Platforms", ["PLATFORM", "DIGEST", "SIZE", "CREATED"], rows)
        if platforms:
            for image in result.platforms:
                render.line()
                render.line(image.platform or NOT_A_PLATFORM)
                render.line(f"  {'Digest:':<{width}} {image.digest}")
                for line in _image_lines(image, width, platform=False):
                    render.line(f"  {line}")
    if result.referrers is not None:
        render.line()
        for line in _referrer_lines(result):
            render.line(line)


def digest_line(render: Renderer, result: ImageDigest) -> None:
    if render.json:
        return render.emit_json(result)
    render.line(result.digest)


def document(result: Inspection) -> dict[str, object]:
    """The JSON report: every field but the exact bytes (--raw and --config print those)."""
    doc: dict[str, object] = to_jsonable(result)
    doc.pop("manifest", None)
    for image in doc["platforms"]:  # type: ignore[attr-defined]
        image.pop("config", None)
    return doc


def _image_lines(image: PlatformImage, width: int, *, platform: bool = True) -> Iterator[str]:
    if platform:
        yield f"{'Platform:':<{width}} {image.platform or '-'}"
    layers = f"{image.layers} layer{'s' if image.layers != 1 else ''}"
    what = f"config and {layers}" if image.config_digest else layers
    yield f"{'Size:':<{width}} {human_size(image.size_bytes)} ({what})"
    yield f"{'Created:':<{width}} {when(image.created)}"
    if image.entrypoint is not None:
        yield f"{'Entrypoint:':<{width}} {json.dumps(image.entrypoint)}"
    if image.cmd is not None:
        yield f"{'Command:':<{width}} {json.dumps(image.cmd)}"
    labels = [f"{key}={value}" for key, value in sorted(image.labels.items())] or ["-"]
    for n, label in enumerate(labels):
        yield f"{'Labels:' if n == 0 else '':<{width}} {label}"


def _referrer_lines(result: Inspection) -> Iterator[str]:
    sections = [("Referrers:", result.referrers or [])]
    sections += [
        (f"Referrers of {image.platform or NOT_A_PLATFORM} ({image.digest}):", image.referrers)
        for image in result.platforms
        if result.is_index and image.referrers
    ]
    for n, (title, tree) in enumerate(sections):
        if n:
            yield ""
        yield title if tree or n else f"{title} none"
        yield from _tree(tree, "  ")


def _tree(items: list[Referrer], prefix: str) -> Iterator[str]:
    for n, item in enumerate(items):
        last = n == len(items) - 1
        kind = item.artifact_type or item.media_type
        yield f"{prefix}{'└── ' if last else '├── '}{item.digest}  {kind}  {human_size(item.size_bytes)}"
        yield from _tree(item.referrers, prefix + ("    " if last else "│   "))


def _configs(render: Renderer, result: Inspection) -> None:
    if not result.is_index:
        found = result.platforms[0].config
        if found is None:
            raise NotFound(f"{result.reference} is no runnable image ({result.media_type}): it has no image config")
        return click.echo(found, file=render.out, nl=False)  # as stored: its sha256 is the config's digest
    configs: dict[str, object] = {}
    for image in result.platforms:
        if image.platform is not None and image.config is not None:
            configs[image.platform] = json.loads(image.config)
    render.line(json.dumps(configs, indent=2))
