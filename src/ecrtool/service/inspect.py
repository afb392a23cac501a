"""`ecrtool inspect` and `ecrtool digest`: an image or index in ECR or any registry, read as copy reads a source.

The reference is read before anything is asked of AWS or a registry, and names its registry as `copy`'s
source does: an ECR repository (its token through the service's token machinery, as the identity the
config file names for that registry), the public gallery, or any other registry (the credentials Docker's
config holds for it, else anonymously). Everything comes through the same registry client as copy's:
the manifest, each platform's manifest and image config (read a few at once), and with --referrers the
OCI referrers API, or where a registry has none the `sha256-<hex>` tag that lists them (OCI 1.1's fallback).
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from ecrtool.model.errors import NotFound, RegistryError
from ecrtool.model.inspection import (
    CONFIG_LIMIT,
    IMAGE_CONFIGS,
    ImageConfig,
    ImageDigest,
    Inspection,
    PlatformImage,
    Referrer,
    parse_config,
)
from ecrtool.model.manifests import Descriptor, Manifest, referrers_tag
from ecrtool.model.refs import (
    ImageRef,
)
from ecrtool.registry.client import RegistryClient
from ecrtool.service.sources import parse_source, registry_client
from ecrtool.service.tokens import Tokens

JOBS = 8  # platform manifests and configs read at once
DEPTH = 8  # levels of referrers followed (a signature of an SBOM of an image is 2)


@dataclass(frozen=True)
class _Source:
    """An image's registry client, repository, what its manifest endpoint is asked for, how it is shown, and
    how to say why there is no such image."""

    client: RegistryClient
    repository: str
    wanted: str
    text: str
    explain: _Missing


class _Missing:
    """Why TEXT names nothing: for ECR, whether the repository or the tag is missing (ASK, called only then)."""

    def __init__(self, text: str, ask: Callable[[], str] | None = None) -> None:
        self.text, self.ask = text, ask

    def error(self) -> NotFound:
        detail = self.ask() if self.ask is not None else None
        reason = f": {detail}" if detail else ": check the repository and the tag or digest"
        return NotFound(f"image {self.text} not found{reason}")


class Inspections(Tokens):
    def inspect(self, reference: str, *, referrers: bool = False) -> Inspection:
        """The image or index REFERENCE names: its manifest, each platform's image and config, and with
        REFERRERS the referrers of it and of each platform's image, as trees."""
        src = self._source(reference)
        root = src.client.get_manifest(src.repository, src.wanted)
        if root is None:
            raise src.explain.error()
        if root.is_index:
            entries = [(child.digest, child.platform) for child in root.children]
            with ThreadPoolExecutor(max_workers=min(JOBS, len(entries) or 1), thread_name_prefix="inspect") as pool:
                found = list(pool.map(lambda entry: self._platform(src, *entry, referrers=referrers), entries))
            images = [image for image in found if image is not None]
            size = sum(image.size_bytes for image in images if image.platform is not None)
        else:
            image = self._image(src, root, None, referrers=referrers)
            images, size = [image], image.size_bytes
        tree = self._referrers(src, root.digest, {root.digest}, 1) if referrers else None
        return Inspection(
            reference=src.text,
            digest=root.digest,
            media_type=root.media_type,
            size_bytes=size,
            is_index=root.is_index,
            platforms=images,
            referrers=tree,
            manifest=root.data,
        )

    def digest(self, reference: str) -> ImageDigest:
        """The digest of the manifest REFERENCE names (one HEAD where the registry answers it)."""
        src = self._source(reference)
        found = src.client.manifest_digest(src.repository, src.wanted)
        if found is None:
            raise src.explain.error()
        return ImageDigest(src.text, found)

    # -- one platform ------------------------------------------------------------------------------

    def _platform(self, src: _Source, digest: str, platform: str | None, *, referrers: bool) -> PlatformImage | None:
        manifest = src.client.get_manifest(src.repository, digest)
        if manifest is None:
            raise NotFound(
                f"{src.text} names {digest}, which {src.client.label} does not hold in {src.repository}:"
                " the index is incomplete; push it again"
            )
        if manifest.is_index:
            return None  # an index inside an index: not a platform's image
        return self._image(src, manifest, platform, referrers=referrers)

    def _image(self, src: _Source, manifest: Manifest, platform: str | None, *, referrers: bool) -> PlatformImage:
        config_blob = manifest.config
        config_id = config_blob.digest if config_blob else None
        facts, raw = ImageConfig(), None
        if config_blob is not None and config_blob.media_type in IMAGE_CONFIGS:
            raw = self._config(src, config_blob)
            facts = parse_config(raw)
        tree = self._referrers(src, manifest.digest, {manifest.digest}, 1) if referrers else None
        return PlatformImage(
            platform=platform or facts.platform,
            digest=manifest.digest,
            media_type=manifest.media_type,
            size_bytes=sum(blob.size for blob in manifest.blobs),
            config_digest=config_id,
            layers=len(manifest.blobs) - (1 if config_blob is not None else 0),
            created=facts.created,
            entrypoint=facts.entrypoint,
            cmd=facts.cmd,
            labels=facts.labels,
            referrers=tree,
            config=raw,
        )

    def _config(self, src: _Source, blob: Descriptor) -> bytes:
        if blob.size > CONFIG_LIMIT:
            raise RegistryError(
                f"the image config {blob.digest} of {src.text} is {blob.size} bytes, more than an image config"
                f" holds ({CONFIG_LIMIT}): it is not read"
            )
        stream, _ = src.client.open_blob(src.repository, blob.digest)
        try:
            return stream.read()  # checked against its digest as it is read
        finally:
            stream.close()

    # -- referrers ---------------------------------------------------------------------------------

    def _referrers(self, src: _Source, digest: str, seen: set[str], depth: int) -> list[Referrer]:
        """The referrers of DIGEST, each with its own, DEPTH levels down at most; none is listed twice."""
        listed = src.client.referrers(src.repository, digest)
        if listed is None:  # no referrers API: the tag that lists them, where the pusher wrote one
            fallback = src.client.get_manifest(src.repository, referrers_tag(digest))
            listed = list(fallback.children) if fallback is not None and fallback.is_index else []
        tree: list[Referrer] = []
        for item in listed:
            if item.digest in seen:
                continue
            seen.add(item.digest)
            below = self._referrers(src, item.digest, seen, depth + 1) if depth < DEPTH else []
            tree.append(Referrer(item.digest, item.media_type, item.artifact_type, item.size, below))
        return tree

    # -- the reference -----------------------------------------------------------------------------

    def _source(self, text: str) -> _Source:
        """TEXT's registry client and repository, as copy's source: any registry's reference, the public
        gallery's, or an ECR repository's (REPO[:TAG], REPO@sha256:..., or a full ECR reference)."""
        ref = parse_source(text, self.settings)
        if isinstance(ref, ImageRef):
            client = registry_client(ref, "source")
            return _Source(client, ref.repository, ref.reference, str(ref), _Missing(str(ref)))
        speaker = self.speaker(ref)
        target = speaker._target(ref)
        client = self.registry_client(ref, "source", speaker)
        wanted = ref.digest or ref.tag or "latest"
        shown = f"{client.host}/{ref.repository}" + (f"@{wanted}" if ref.digest else f":{wanted}")
        return _Source(
            client,
            ref.repository,
            wanted,
            shown,
            _Missing(shown, lambda: str(speaker._explain_missing(target, ref, wanted))),
        )

