"""Manifests, the one model every command reads them through: which media types there are, a manifest's
exact bytes and digest, and what it names (blobs, children with their platforms, subject); and an image as
ECR's BatchGetImage answers it, as a retag and a push see it.

Two ways in, one parser: `parse_manifest` is strict (a copy, an inspect or a sync must not move what it
cannot read) and `read_manifest` forgives anything (prune, images and scan read what ECR stores, and text
that is no manifest simply names nothing). `parse_index` and `manifest_links` are views of the latter.

Pure functions over a manifest's exact bytes; the bytes themselves are never re-serialised, so a copy or a
retag keeps the digest.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from ecrtool.model.errors import RegistryError

DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
INDEXES = frozenset({DOCKER_MANIFEST_LIST, OCI_INDEX})
# what a copy asks a registry for (and BatchGetImage's acceptedMediaTypes), in the order it prefers them:
# never a conversion of what was pushed
ACCEPTED = (OCI_INDEX, DOCKER_MANIFEST_LIST, OCI_MANIFEST, DOCKER_MANIFEST)
# layers a registry never holds (Windows base layers): they stay where their urls point
_FOREIGN = (
    "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
    "application/vnd.oci.image.layer.nondistributable",
)


@dataclass(frozen=True)
class Descriptor:
    """A blob or manifest a manifest points at: its digest, size and media type (artifactType for a referrer);
    for an index's child, the platform it is for ("linux/arm64/v8"; None for an entry that is no platform's
    image: buildx's attestations, an unknown/unknown entry). The platform is read from the index and is no
    part of the descriptor's identity."""

    digest: str
    size: int
    media_type: str = ""
    artifact_type: str | None = None
    platform: str | None = field(default=None, compare=False)


@dataclass(frozen=True)
class Manifest:
    """A manifest's exact bytes, its media type and digest, and what it names."""

    data: bytes
    media_type: str
    digest: str
    blobs: tuple[Descriptor, ...] = ()
    children: tuple[Descriptor, ...] = ()
    subject: Descriptor | None = None
    config: Descriptor | None = None  # an image manifest's config (also among its blobs)
    # what a referrer is (a signature, an SBOM): its artifactType, else its config's media type
    artifact_type: str | None = None

    @property
    def is_index(self) -> bool:
        return self.media_type in INDEXES

    @property
    def platforms(self) -> tuple[str, ...]:
        """The platforms an index's children are for, in order, once each (none for an image manifest)."""
        return tuple(dict.fromkeys(child.platform for child in self.children if child.platform))


def is_index(media_type: str | None) -> bool:
    return media_type in INDEXES


def digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def platform_of(entry: dict[str, Any]) -> str | None:
    """The platform an index entry is for, "os/architecture[/variant]"; None for an attestation manifest (it
    describes the image, it is not one) or an entry without a real platform."""
    platform = entry.get("platform")
    annotations = entry.get("annotations")
    if isinstance(annotations, dict) and "vnd.docker.reference.type" in annotations:
        return None
    if not isinstance(platform, dict):
        return None
    parts = [str(platform.get(key) or "") for key in ("os", "architecture", "variant")]
    if not parts[0] or not parts[1] or parts[:2] == ["unknown", "unknown"]:
        return None
    return "/".join(part for part in parts if part)


def _descriptor(item: Any, strict: bool) -> Descriptor | None:
    if not isinstance(item, dict) or not isinstance(item.get("digest"), str):
        if strict:
            raise ValueError("a descriptor without a digest")
        return None
    artifact = item.get("artifactType")
    try:
        size = int(item.get("size") or 0)
    except (ValueError, TypeError):
        if strict:
            raise
        size = 0
    return Descriptor(
        digest=item["digest"],
        size=size,
        media_type=str(item.get("mediaType") or ""),
        artifact_type=str(artifact) if artifact else None,
        platform=platform_of(item),
    )


def _descriptors(items: Any, strict: bool) -> tuple[Descriptor, ...]:
    if not items:
        return ()
    if not isinstance(items, list):
        if strict:
            raise ValueError(f"a list of descriptors that is a {type(items).__name__}")
        return ()
    found = (_descriptor(item, strict) for item in items)
    return tuple(item for item in found if item is not None)


def _media_type(doc: dict[str, Any], content_type: str | None) -> str:
    media_type = (content_type or "").split(";")[0].strip()
    if media_type not in ACCEPTED:
        media_type = str(doc.get("mediaType") or "")
    if not media_type and "manifests" in doc:
        media_type = OCI_INDEX
    elif not media_type and "layers" in doc:
        media_type = OCI_MANIFEST
    return media_type


def _config(doc: dict[str, Any], strict: bool) -> Descriptor | None:
    config = doc.get("config")
    return _descriptor(config, strict) if isinstance(config, dict) else None


def _blobs(doc: dict[str, Any], strict: bool) -> tuple[Descriptor, ...]:
    found = [_config(doc, strict), *_descriptors(doc.get("layers"), strict)]
    return tuple(item for item in found if item is not None and not item.media_type.startswith(_FOREIGN))


def _artifact_type(doc: dict[str, Any]) -> str | None:
    config = doc.get("config")
    value = doc.get("artifactType") or (config.get("mediaType") if isinstance(config, dict) else None)
    return str(value) if value else None


def parse_manifest(data: bytes, content_type: str | None, where: str) -> Manifest:
    """The manifest DATA as served with CONTENT_TYPE (its own mediaType when the header says nothing useful).
    Strict: anything it cannot read is a RegistryError naming WHERE."""
    try:
        doc = json.loads(data)
        if not isinstance(doc, dict):
            raise ValueError("not an object")
        media_type = _media_type(doc, content_type)
        if media_type not in ACCEPTED:
            raise RegistryError(
                f"{where} is a {media_type or 'manifest of unknown type'}: ecrtool copies Docker v2 and OCI"
                " manifests and indexes"
            )
        subject = _descriptor(doc["subject"], True) if isinstance(doc.get("subject"), dict) else None
        kind = _artifact_type(doc)
        if media_type in INDEXES:
            children = _descriptors(doc.get("manifests"), True)
            return Manifest(data, media_type, digest_of(data), children=children, subject=subject, artifact_type=kind)
        return Manifest(
            data,
            media_type,
            digest_of(data),
            blobs=_blobs(doc, True),
            subject=subject,
            config=_config(doc, True),
            artifact_type=kind,
        )
    except (ValueError, TypeError, KeyError) as err:
        raise RegistryError(f"{where} is not a manifest ecrtool can read: {err}") from err


def read_manifest(text: str | bytes, media_type: str | None = None) -> Manifest:
    """A manifest as ECR stores it, read forgivingly: never raises. Children are read from any document with
    a `manifests` list (and entries without a digest skipped); text that is no manifest names nothing, so a
    cleanup treats it as an image of its own, named by nothing it could break."""
    data = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text
    try:
        doc = json.loads(text)
    except ValueError:
        doc = None
    if not isinstance(doc, dict):
        return Manifest(data, media_type or "", digest_of(data))
    subject = _descriptor(doc.get("subject"), False)
    return Manifest(
        data,
        media_type or _media_type(doc, None),
        digest_of(data),
        blobs=_blobs(doc, False),
        children=_descriptors(doc.get("manifests"), False),
        subject=subject,
        config=_config(doc, False),
        artifact_type=_artifact_type(doc),
    )


def parse_index(text: str) -> tuple[Descriptor, ...]:
    """The children of an index manifest, each with its platform; none when TEXT is no index (or no JSON)."""
    return read_manifest(text).children


def manifest_links(text: str) -> tuple[tuple[str, ...], str | None]:
    """What a stored manifest names: an index's children (in order, once each) and its subject (the image a
    signature, SBOM or attestation is about). Nothing for text that is not a manifest."""
    manifest = read_manifest(text)
    children = tuple(dict.fromkeys(child.digest for child in manifest.children))
    return children, manifest.subject.digest if manifest.subject else None


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
    config = read_manifest(text).config
    return config.digest if config else None


def holds_image(manifest: StoredManifest, image_id: str) -> bool:
    """Whether MANIFEST is the local image IMAGE_ID: the engine names an image by its config's digest
    (its classic store) or by its manifest's or index's digest (the containerd store)."""
    return image_id in (manifest.digest, config_digest(manifest.text))
