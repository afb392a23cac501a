"""Image manifests as ECR stores them: the exact text, its digest and media type, and the image config
it names (what says whether a local image is the one a tag already holds)."""

from __future__ import annotations

import json
from dataclasses import dataclass


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
