"""Manifests: which media types there are and what one names (blobs, children, subject), as a copy sees
them; and an image as ECR's BatchGetImage answers it, as a retag and a push see it.

Pure functions over a manifest's exact bytes; the bytes themselves are never re-serialised, so a copy or a
retag keeps the digest.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from ecrtool.model.errors import RegistryError

DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
INDEXES = frozenset({DOCKER_MANIFEST_LIST, OCI_INDEX})
# what a copy asks a registry for, in the order it prefers them: never a conversion of what was pushed
ACCEPTED = (OCI_INDEX, DOCKER_MANIFEST_LIST, OCI_MANIFEST, DOCKER_MANIFEST)
# layers a registry never holds (Windows base layers): they stay where their urls point
_FOREIGN = (
    "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
    "application/vnd.oci.image.layer.nondistributable",
)


@dataclass(frozen=True)
class Descriptor:
    """A blob or manifest a manifest points at: its digest, size and media type (artifactType for a referrer)."""

    digest: str
    size: int
    media_type: str = ""
    artifact_type: str | None = None


@dataclass(frozen=True)
class Manifest:
    """A manifest's exact bytes, its media type and digest, and what it names."""

    data: bytes
    media_type: str
    digest: str
    blobs: tuple[Descriptor, ...] = ()
    children: tuple[Descriptor, ...] = ()
    subject: Descriptor | None = None

    @property
    def is_index(self) -> bool:
        return self.media_type in INDEXES


def digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _descriptor(item: Any) -> Descriptor:
    if not isinstance(item, dict) or not isinstance(item.get("digest"), str):
        raise ValueError("a descriptor without a digest")
    artifact = item.get("artifactType")
    return Descriptor(
        digest=item["digest"],
        size=int(item.get("size") or 0),
        media_type=str(item.get("mediaType") or ""),
        artifact_type=str(artifact) if artifact else None,
    )


def parse_manifest(data: bytes, content_type: str | None, where: str) -> Manifest:
    """The manifest DATA as served with CONTENT_TYPE (its own mediaType when the header says nothing useful)."""
    try:
        doc = json.loads(data)
        if not isinstance(doc, dict):
            raise ValueError("not an object")
        media_type = (content_type or "").split(";")[0].strip()
        if media_type not in ACCEPTED:
            media_type = str(doc.get("mediaType") or "")
        if not media_type and "manifests" in doc:
            media_type = OCI_INDEX
        elif not media_type and "layers" in doc:
            media_type = OCI_MANIFEST
        if media_type not in ACCEPTED:
            raise RegistryError(
                f"{where} is a {media_type or 'manifest of unknown type'}: ecrtool copies Docker v2 and OCI"
                " manifests and indexes"
            )
        subject = _descriptor(doc["subject"]) if isinstance(doc.get("subject"), dict) else None
        if media_type in INDEXES:
            children = tuple(_descriptor(item) for item in doc.get("manifests") or [])
            return Manifest(data, media_type, digest_of(data), children=children, subject=subject)
        config = [_descriptor(doc["config"])] if isinstance(doc.get("config"), dict) else []
        layers = [_descriptor(item) for item in doc.get("layers") or []]
        blobs = tuple(item for item in config + layers if not item.media_type.startswith(_FOREIGN))
        return Manifest(data, media_type, digest_of(data), blobs=blobs, subject=subject)
    except (ValueError, TypeError, KeyError) as err:
        raise RegistryError(f"{where} is not a manifest ecrtool can read: {err}") from err


def referrers_tag(digest: str) -> str:
    """The tag that lists a manifest's referrers where a registry has no referrers API (OCI 1.1's fallback)."""
    return digest.replace(":", "-", 1)


def index_of(descriptors: list[Descriptor]) -> bytes:
    """An OCI index listing DESCRIPTORS: the referrers tag's content."""
    items = []
    for item in descriptors:
        entry: dict[str, Any] = {"mediaType": item.media_type, "digest": item.digest, "size": item.size}
        if item.artifact_type:
            entry["artifactType"] = item.artifact_type
        items.append(entry)
    return json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": items}, indent=2).encode()


@dataclass(frozen=True)
class StoredManifest:
    """One image as BatchGetImage answers it. TEXT is the manifest exactly as stored: putting it back
    unchanged (never through a JSON round trip) is what keeps the digest."""

    digest: str
    text: str
    media_type: str | None
    tag: str | None = None
    registry_id: str | None = None


def config_digest(text: str) -> str | None:
    """The digest of the image config an image manifest names; None for an index (or no JSON at all)."""
    try:
        config = json.loads(text).get("config")
    except (ValueError, AttributeError):
        return None
    digest = config.get("digest") if isinstance(config, dict) else None
    return digest if isinstance(digest, str) else None


def holds_image(manifest: StoredManifest, image_id: str) -> bool:
    """Whether MANIFEST is the local image IMAGE_ID: the engine names an image by its config's digest
    (its classic store) or by its manifest's or index's digest (the containerd store)."""
    return image_id in (manifest.digest, config_digest(manifest.text))
