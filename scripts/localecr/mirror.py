"""Keeps moto's view of each ECR repository in step with the registry that really holds the images.

Pushes reach the registry, which tells the bridge through notifications; the bridge then records
the image in moto with PutImage under the registry's own digest. The registry names a repository
ACCOUNT/REGION/NAME (face.py); moto is asked as that account, in that region, about NAME. Notifications arrive after the
push has returned, so reads sync the repository first, and deletions made through the ECR API are
applied to the registry afterwards.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import threading
from collections import defaultdict
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

from botocore.exceptions import ClientError

from .face import split_internal
from .registry import Manifest, Registry

log = logging.getLogger("localecr.mirror")

# ECR's repository name rule; anything else never reaches the registry paths
_REPO_NAME = re.compile(r"^(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*$")


def _ecr_name(repo: str) -> bool:
    """Whether the registry repository REPO is one of an ECR registry's (ACCOUNT/REGION/NAME, NAME as ECR allows)."""
    found = split_internal(repo)
    return found is not None and bool(_REPO_NAME.match(found[1]))


class Answer(Protocol):
    status: int


A = TypeVar("A", bound=Answer)


class MissingLayers(Exception):
    """A PutImage names blobs the registry does not hold in that repository (ECR's
    LayersNotFoundException)."""

    def __init__(self, digests: list[str]) -> None:
        super().__init__("layers not found in the repository: " + ", ".join(digests))
        self.digests = digests


def _error_code(err: ClientError) -> str:
    return str(err.response.get("Error", {}).get("Code", ""))


def manifest_digest(body: bytes) -> str:
    """The digest the registry gives a manifest: sha256 of its exact bytes."""
    return "sha256:" + hashlib.sha256(body).hexdigest()


def image_size(body: bytes) -> int | None:
    """What ECR reports as imageSizeInBytes: the compressed size of the layers."""
    try:
        layers = json.loads(body).get("layers")
    except ValueError:
        return None
    return sum(int(layer.get("size", 0)) for layer in layers) if isinstance(layers, list) else None


def index_children(body: bytes) -> list[str]:
    """The digests of the manifests an image index (or manifest list) names; none for an image."""
    try:
        entries = json.loads(body).get("manifests")
    except (ValueError, AttributeError):
        return []
    if not isinstance(entries, list):
        return []
    return [str(entry["digest"]) for entry in entries if isinstance(entry, dict) and entry.get("digest")]


class Mirror:
    """The in-memory record of what was put in moto (repo -> tag -> digest) and the sync rules."""

    def __init__(self, ecr_for: Callable[[str, str], Any], registry: Registry) -> None:
        # ecr_for(account, region): a boto3 ECR client aimed at moto directly, so these calls skip the stats
        self._ecr_for = ecr_for
        self.registry = registry
        self._tags: dict[str, dict[str, str]] = defaultdict(dict)
        self.sizes: dict[str, int] = {}
        self._manifests: dict[str, Manifest] = {}  # by digest: content-addressed, never stale
        self._locks: dict[str, threading.RLock] = defaultdict(threading.RLock)
        self._locks_guard = threading.Lock()

    def _ecr(self, repo: str) -> tuple[Any, str]:
        """The moto client for the registry repository REPO (ACCOUNT/REGION/NAME), and NAME."""
        found = split_internal(repo)
        assert found is not None, repo
        scope, name = found
        return self._ecr_for(scope.account, scope.region), name

    def _lock(self, repo: str) -> threading.RLock:
        with self._locks_guard:
            return self._locks[repo]

    # -- registry -> moto --------------------------------------------------------------------------

    def on_push(self, repo: str, tag: str, digest: str) -> None:
        """A registry notification: a manifest was pushed under a tag."""
        if not _ecr_name(repo) or self._tags[repo].get(tag) == digest:
            return  # checked before locking too: the bridge's own registry PUTs land here
        with self._lock(repo):
            if self._tags[repo].get(tag) != digest:
                self._record(repo, tag, digest, "push event")

    def sync(self, repo: str) -> None:
        """Record every registry tag moto has not seen yet (or that moved), before a read."""
        if not _ecr_name(repo):
            return
        with self._lock(repo):
            self._sync_locked(repo)

    def _sync_locked(self, repo: str) -> None:
        known = self._tags[repo]
        digests = self.registry.tag_digests(repo, self.registry.tags(repo))
        for tag, digest in digests.items():
            if known.get(tag) != digest and not self._record(repo, tag, digest, "sync"):
                return  # the repository is not in moto: nothing else will go in either

    def _manifest(self, repo: str, digest: str) -> Manifest | None:
        if digest not in self._manifests:
            manifest = self.registry.manifest(repo, digest)
            if manifest is None:
                return None
            self._manifests[digest] = manifest
        return self._manifests[digest]

    def _record(self, repo: str, tag: str, digest: str, why: str) -> bool:
        """PutImage one registry tag into moto; False when moto has no such repository."""
        manifest = self._manifest(repo, digest)
        if manifest is None:
            return True  # deleted since the tag was listed
        try:
            self._put_children(repo, manifest)
            self._put(repo, manifest, tag)
        except ClientError as err:
            if _error_code(err) == "RepositoryNotFoundException":
                log.info("push to %s, which is not an ECR repository: not recorded", repo)
                return False
            if _error_code(err) != "ImageAlreadyExistsException":
                raise
        self._remember(repo, tag, digest, manifest.body)
        log.info("recorded %s:%s -> %s (%s)", repo, tag, digest, why)
        return True

    def _remember(self, repo: str, tag: str | None, digest: str, body: bytes) -> None:
        """Note a tag moto now has; an image that just lost its last tag stays, untagged."""
        self.sizes.setdefault(digest, image_size(body) or 0)
        if not tag:
            return
        previous = self._tags[repo].get(tag)
        self._tags[repo][tag] = digest
        if previous and previous != digest and previous not in self._tags[repo].values():
            self._keep_untagged(repo, previous)

    def _put(self, repo: str, manifest: Manifest, tag: str | None) -> None:
        params: dict[str, Any] = {
            "repositoryName": repo,
            "imageManifest": manifest.body.decode(),
            "imageManifestMediaType": manifest.media_type,
            "imageDigest": manifest.digest,
        }
        if tag is not None:
            params["imageTag"] = tag
        client, params["repositoryName"] = self._ecr(repo)
        client.put_image(**params)

    def _put_children(self, repo: str, manifest: Manifest) -> None:
        """An index's child manifests, each as an untagged image, as ECR lists them after a multi-platform
        push. Their pushes by digest reach the bridge untagged, which it does not mirror on their own."""
        for digest in index_children(manifest.body):
            child = self._manifest(repo, digest)
            if child is None:
                continue  # deleted by digest since: nothing to record
            self.sizes.setdefault(digest, image_size(child.body) or 0)
            self._put_children(repo, child)  # an index of indexes
            self._keep_untagged(repo, digest)

    def _keep_untagged(self, repo: str, digest: str) -> None:
        # ECR keeps an image whose only tag moved to another push, untagged; moto drops it
        try:
            client, name = self._ecr(repo)
            client.describe_images(repositoryName=name, imageIds=[{"imageDigest": digest}])
            return
        except ClientError as err:
            if _error_code(err) != "ImageNotFoundException":
                raise
        manifest = self._manifest(repo, digest)
        if manifest is not None:
            self._put(repo, manifest, None)

    # -- moto -> registry --------------------------------------------------------------------------

    def listing(self, repo: str) -> dict[str, set[str]]:
        """digest -> tags of every image moto holds for ``repo`` (untagged ones map to no tags)."""
        images: dict[str, set[str]] = defaultdict(set)
        client, name = self._ecr(repo)
        for page in client.get_paginator("list_images").paginate(repositoryName=name):
            for image_id in page["imageIds"]:
                tags = images[image_id["imageDigest"]]
                if image_id.get("imageTag"):
                    tags.add(image_id["imageTag"])
        return dict(images)

    def delete_images(self, repo: str, forward: Callable[[], A]) -> A:
        """BatchDeleteImage: let moto delete, then make the registry match what moto kept."""
        with self._lock(repo):
            before = self._synced_listing(repo)
            answer = forward()
            if before is not None and answer.status == 200:
                self._apply(repo, before)
            return answer

    def delete_repository(self, repo: str, forward: Callable[[], A]) -> A:
        """DeleteRepository: synced first, so a just-pushed image counts for the not-empty check."""
        with self._lock(repo):
            before = self._synced_listing(repo)
            answer = forward()
            if before is not None and answer.status == 200:
                self._purge(repo, set(before))
            return answer

    def create_repository(self, repo: str, forward: Callable[[], A]) -> A:
        """CreateRepository: a new repository starts empty, whatever an earlier one left on disk."""
        with self._lock(repo):
            answer = forward()
            if answer.status == 200 and _ecr_name(repo):
                self._purge(repo, set())
            return answer

    def put_image(self, repo: str, tag: str | None, body: bytes, media_type: str, forward: Callable[[], A]) -> A:
        """PutImage (a retag, typically): moto first, then the same manifest into the registry."""
        if not _ecr_name(repo):
            return forward()
        with self._lock(repo):
            missing = self._missing_blobs(repo, body)
            if missing:
                raise MissingLayers(missing)
            answer = forward()
            if answer.status == 200:
                # remembered first, so the registry's notification of this PUT is a no-op
                self._remember(repo, tag, manifest_digest(body), body)
                self.registry.put_manifest(repo, tag or manifest_digest(body), body, media_type)
            return answer

    def _synced_listing(self, repo: str) -> dict[str, set[str]] | None:
        if not _ecr_name(repo):
            return None
        try:
            self._sync_locked(repo)
            return self.listing(repo)
        except ClientError:
            return None  # no such repository: moto gives the caller the proper error

    def _apply(self, repo: str, before: dict[str, set[str]]) -> None:
        after = self.listing(repo)
        self._tags[repo] = {tag: digest for digest, tags in after.items() for tag in tags}
        for digest, tags in before.items():
            if after.get(digest) == tags:
                continue
            if digest not in self.sizes:
                continue  # never in the registry (put straight into moto, as a benchmark seeds it)
            keep = sorted(after.get(digest, ()))
            manifest = self._manifest(repo, digest) if keep else None
            # distribution deletes by digest only, which drops every tag; the survivors go back
            self.registry.delete_manifest(repo, digest)
            if manifest is not None:
                for tag in keep:
                    self.registry.put_manifest(repo, tag, manifest.body, manifest.media_type)
            log.info("registry %s@%s: deleted, tags kept: %s", repo, digest, keep or "none")

    def _purge(self, repo: str, digests: set[str]) -> None:
        # distribution cannot delete a repository; deleting every manifest leaves it empty
        digests = digests | set(self.registry.tag_digests(repo, self.registry.tags(repo)).values())
        for digest in digests:
            self.registry.delete_manifest(repo, digest)
        self._tags.pop(repo, None)
        if digests:
            log.info("registry %s: deleted %d manifests", repo, len(digests))

    def _missing_blobs(self, repo: str, body: bytes) -> list[str]:
        """Blobs (or child manifests) a manifest refers to that the registry's ``repo`` lacks."""
        try:
            doc = json.loads(body)
        except ValueError:
            return []  # moto rejects it with ECR's own message
        missing = []
        for ref in [doc.get("config") or {}, *(doc.get("layers") or [])]:
            if ref.get("digest") and not self.registry.has_blob(repo, ref["digest"]):
                missing.append(ref["digest"])
        for ref in doc.get("manifests") or []:
            if ref.get("digest") and self.registry.digest(repo, ref["digest"]) is None:
                missing.append(ref["digest"])
        return missing
