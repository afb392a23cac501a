"""Image indexes (multi-platform images): their media types, children and platforms, and a listing that
shows each index once.

ECR's DescribeImages lists an index as one image and each of its child manifests as an untagged image
of its own; people think of the index as the image, so a listing folds the children into it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from ecrtool.model.results import ImageInfo

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
INDEX_MEDIA_TYPES = frozenset({OCI_INDEX, DOCKER_MANIFEST_LIST})
# what BatchGetImage may answer with when asked for an index: the index itself, never a conversion
ACCEPTED_MEDIA_TYPES = (
    OCI_INDEX,
    DOCKER_MANIFEST_LIST,
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
)


@dataclass(frozen=True)
class IndexChild:
    """One manifest an index names, and the platform it is for: None for an entry that is no platform's
    image (buildx's attestations, an unknown/unknown entry)."""

    digest: str
    platform: str | None


def is_index(media_type: str | None) -> bool:
    return media_type in INDEX_MEDIA_TYPES


def parse_index(text: str) -> tuple[IndexChild, ...]:
    """The children of an index manifest; none when TEXT is no index (or no JSON at all)."""
    try:
        entries = json.loads(text).get("manifests")
    except (ValueError, AttributeError):
        return ()
    if not isinstance(entries, list):
        return ()
    return tuple(
        IndexChild(str(entry["digest"]), _platform(entry))
        for entry in entries
        if isinstance(entry, dict) and isinstance(entry.get("digest"), str)
    )


def _platform(entry: dict[str, object]) -> str | None:
    platform = entry.get("platform")
    annotations = entry.get("annotations")
    if isinstance(annotations, dict) and "vnd.docker.reference.type" in annotations:
        return None  # an attestation manifest: it describes the image, it is not one
    if not isinstance(platform, dict):
        return None
    parts = [str(platform.get(key) or "") for key in ("os", "architecture", "variant")]
    if not parts[0] or not parts[1] or parts[:2] == ["unknown", "unknown"]:
        return None
    return "/".join(part for part in parts if part)


def group_indexes(images: Sequence[ImageInfo], indexes: Mapping[str, Sequence[IndexChild]]) -> list[ImageInfo]:
    """IMAGES with each index in INDEXES (digest -> children) shown once: its platforms, and as its size the
    sum of its children's sizes when the listing has them (ECR's own figure for an index is not that).
    An untagged child of a listed index is left out; a tagged one stays, as people know it by its tag."""
    children = {child.digest for found in indexes.values() for child in found}
    sizes = {image.digest: image.size_bytes for image in images if image.digest in children}
    grouped: list[ImageInfo] = []
    for image in images:
        if image.digest in children and not image.tags:
            continue
        found = indexes.get(image.digest)
        if found is not None:
            known = [size for child in found if (size := sizes.get(child.digest)) is not None]
            platforms = tuple(dict.fromkeys(child.platform for child in found if child.platform))
            image = replace(image, platforms=platforms, size_bytes=sum(known) if known else image.size_bytes)
        grouped.append(image)
    return grouped
