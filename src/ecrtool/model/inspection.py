"""What `ecrtool inspect` finds: an image or index, each platform's own image, an image config's facts
(created, entrypoint, command, labels, platform) and the referrers as a tree.

Pure data and one pure parser, of the image config (the JSON blob an image manifest's `config` names);
manifests themselves are parsed where every command parses them (model/manifests).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

# the config media types of a runnable image (an artifact's config is something else, and not read)
IMAGE_CONFIGS = frozenset(
    {"application/vnd.oci.image.config.v1+json", "application/vnd.docker.container.image.v1+json"}
)
CONFIG_LIMIT = 4 * 1024 * 1024  # bytes of a config read at most: a real one is a few kB


@dataclass(frozen=True)
class ImageConfig:
    """What an image config says about its image, as people ask for it."""

    platform: str | None = None  # os/architecture[/variant]
    created: datetime | None = None
    entrypoint: list[str] | None = None
    cmd: list[str] | None = None
    labels: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Referrer:
    """A manifest whose subject is another (a signature, an SBOM, an attestation), with its own referrers."""

    digest: str
    media_type: str
    artifact_type: str | None
    size_bytes: int
    referrers: list[Referrer] = field(default_factory=list)


@dataclass(frozen=True)
class PlatformImage:
    """One image an index names, or the image itself when REF names no index.

    SIZE_BYTES is its config and layers summed (what a pull of this platform fetches), not the index's
    largest child as DescribeImages reports for an index (aws/containers-roadmap#1596). PLATFORM is None for
    an entry that is no platform's image (buildx's attestation manifests, unknown/unknown)."""

    platform: str | None
    digest: str
    media_type: str
    size_bytes: int
    config_digest: str | None
    layers: int
    created: datetime | None = None
    entrypoint: list[str] | None = None
    cmd: list[str] | None = None
    labels: dict[str, str] = field(default_factory=dict)
    referrers: list[Referrer] | None = None  # None: not asked (--referrers)
    # the image config's exact bytes, for --config; never part of the JSON report
    config: bytes | None = field(default=None, repr=False, compare=False)


@dataclass(frozen=True)
class Inspection:
    """An image or index as REFERENCE names it: its digest, media type and size (an index's: its platform
    images' sizes summed), each platform's image, and with --referrers the referrers of the root."""

    reference: str
    digest: str
    media_type: str
    size_bytes: int
    is_index: bool
    platforms: list[PlatformImage]
    referrers: list[Referrer] | None = None
    # the manifest's exact bytes, for --raw; never part of the JSON report
    manifest: bytes = field(default=b"", repr=False, compare=False)


@dataclass(frozen=True)
class ImageDigest:
    """`ecrtool digest`: the reference as read, and the digest of the manifest it names."""

    reference: str
    digest: str


_FRACTION = re.compile(r"(\.\d{1,6})\d*")


def parse_created(text: object) -> datetime | None:
    """An image config's `created` (RFC 3339, nanoseconds as Go writes them); None when absent or unreadable."""
    if not isinstance(text, str) or not text:
        return None
    cleaned = _FRACTION.sub(r"\1", text.strip().replace("Z", "+00:00").replace("z", "+00:00"), count=1)
    try:
        moment = datetime.fromisoformat(cleaned)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _strings(value: object) -> list[str] | None:
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return list(value)
    return None


def parse_config(data: bytes) -> ImageConfig:
    """The facts of the image config DATA; an empty ImageConfig when it is no JSON object."""
    try:
        doc: Any = json.loads(data)
    except ValueError:
        return ImageConfig()
    if not isinstance(doc, dict):
        return ImageConfig()
    found = doc.get("config")
    runtime: dict[str, Any] = found if isinstance(found, dict) else {}
    parts = [str(doc.get(key) or "") for key in ("os", "architecture", "variant")]
    platform = "/".join(part for part in parts if part) if parts[0] and parts[1] else None
    labels = runtime.get("Labels")
    return ImageConfig(
        platform=platform,
        created=parse_created(doc.get("created")),
        entrypoint=_strings(runtime.get("Entrypoint")),
        cmd=_strings(runtime.get("Cmd")),
        labels={str(k): str(v) for k, v in labels.items()} if isinstance(labels, dict) else {},
    )
