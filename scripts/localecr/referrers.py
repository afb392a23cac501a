"""The OCI 1.1 referrers API on the registry's face: ``GET /v2/NAME/referrers/DIGEST``, as ECR serves it.

The answer is an OCI image index of the manifests in NAME whose ``subject`` is DIGEST (the distribution
spec v1.1, "Listing Referrers"): each entry's mediaType, digest, size, artifactType (the manifest's own, or
else its config's mediaType) and annotations. ``?artifactType=T`` keeps only those of type T and says so
in ``OCI-Filters-Applied: artifactType``. A long list comes a page at a time, each page's ``Link`` header
(rel="next") naming the next: pages follow the digests' order, and the next one starts after the last
digest given (``?last=``), as the registry's tag lists page.

The API is served, as ECR serves it; ``LOCAL_ECR_REFERRERS=0`` at ``up`` or ``POST /_bridge/referrers
{"enabled": false}`` turns it off, and then the face answers as the docker-registry does (404, no
OCI-Subject), for tests of a registry without it (the ``sha256-…`` tag fallback).

The docker-registry (distribution 2.8) keeps no index of subjects, nor any referrers API: every manifest
of the repository is read (the registry's own revision links, so untagged ones too: a signature is put
by digest) and what each names as its subject is kept by digest, which never goes stale.
"""

from __future__ import annotations

import json
import threading
import urllib.parse
from typing import Any

from .registry import Registry

INDEX = "application/vnd.oci.image.index.v1+json"
DEFAULT_PAGE = 100  # entries per page; ECR does not say its own
_Answer = tuple[int, list[tuple[str, str]], bytes]


class Referrers:
    def __init__(self, registry: Registry, enabled: bool, page_size: int = DEFAULT_PAGE) -> None:
        self.registry = registry
        self.initial = enabled
        self.enabled = enabled
        self.page_size = page_size
        self._subjects: dict[str, tuple[str, dict[str, Any]] | None] = {}  # digest -> (subject, entry)
        self._lock = threading.Lock()

    def control(self, doc: dict[str, Any]) -> dict[str, Any]:
        """``{"enabled": BOOL}``, ``{"page_size": N}`` (1..1000), ``{"reset": true}`` for ``up``'s."""
        if doc.get("reset"):
            self.page_size, self.enabled = DEFAULT_PAGE, self.initial
        if "enabled" in doc:
            self.enabled = bool(doc["enabled"])
        if "page_size" in doc:
            size = int(doc["page_size"])
            if not 1 <= size <= 1000:
                raise ValueError(f"page_size must be 1..1000, not {size}")
            self.page_size = size
        return {"enabled": self.enabled, "page_size": self.page_size}

    def answer(self, internal: str, public_path: str, subject: str, query: str) -> _Answer:
        """The page of INTERNAL's (the registry's name) referrers of SUBJECT that QUERY asks for;
        PUBLIC_PATH is the request's path as the client sent it (for the Link)."""
        params = dict(urllib.parse.parse_qsl(query))
        wanted = params.get("artifactType")
        entries = sorted(self.of(internal, subject), key=lambda e: str(e["digest"]))
        if wanted is not None:
            entries = [e for e in entries if e.get("artifactType") == wanted]
        last = params.get("last")
        if last:
            entries = [e for e in entries if str(e["digest"]) > last]
        page = entries[: self.page_size]
        headers = [("Content-Type", INDEX)]
        if wanted is not None:
            headers.append(("OCI-Filters-Applied", "artifactType"))
        if len(entries) > len(page):
            following = {k: v for k, v in params.items() if k == "artifactType"}
            following["last"] = str(page[-1]["digest"])
            headers.append(("Link", f'<{public_path}?{urllib.parse.urlencode(following)}>; rel="next"'))
        body = json.dumps({"schemaVersion": 2, "mediaType": INDEX, "manifests": page}).encode()
        return 200, headers, body

    def of(self, internal: str, subject: str) -> list[dict[str, Any]]:
        """The descriptors of INTERNAL's manifests whose subject is SUBJECT."""
        found = []
        for digest in self.registry.manifest_digests(internal):
            with self._lock:
                known = digest in self._subjects
                seen = self._subjects.get(digest)
            if not known:
                seen = self._read(internal, digest)
                with self._lock:
                    if len(self._subjects) > 100_000:
                        self._subjects.clear()
                    self._subjects[digest] = seen
            if seen is not None and seen[0] == subject:
                found.append(seen[1])
        return found

    def _read(self, internal: str, digest: str) -> tuple[str, dict[str, Any]] | None:
        manifest = self.registry.manifest(internal, digest)
        if manifest is None:
            return None
        return subject_of(manifest.body, manifest.media_type, digest)


def subject_of(body: bytes, media_type: str, digest: str) -> tuple[str, dict[str, Any]] | None:
    """The subject a manifest names and the manifest's referrers entry; None without a subject."""
    try:
        doc = json.loads(body)
    except ValueError:
        return None
    subject = doc.get("subject") if isinstance(doc, dict) else None
    if not isinstance(subject, dict) or not subject.get("digest"):
        return None
    entry: dict[str, Any] = {"mediaType": doc.get("mediaType") or media_type, "digest": digest, "size": len(body)}
    artifact = doc.get("artifactType") or (doc.get("config") or {}).get("mediaType")
    if artifact:
        entry["artifactType"] = artifact
    if doc.get("annotations"):
        entry["annotations"] = doc["annotations"]
    return str(subject["digest"]), entry
