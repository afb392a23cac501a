"""DescribeImages' subjectManifestDigest, which moto lacks: the image a referrer (a signature, an SBOM, an
attestation: a manifest with a `subject`) is about, as ECR names it in each referrer's imageDetails
(botocore's ECR model, ImageDetail.subjectManifestDigest).

Only untagged image manifests can be referrers worth naming here (an index has no subject ECR reports);
each is read once from the registry itself, not through the face, so no pull is recorded, and the answer
is kept by digest (a digest names its content, so its subject never changes).
"""

from __future__ import annotations

import json
from typing import Any

_INDEXES = ("application/vnd.oci.image.index.v1+json", "application/vnd.docker.distribution.manifest.list.v2+json")


class Subjects:
    def __init__(self) -> None:
        self._known: dict[str, str | None] = {}  # digest -> its subject's digest (None: it has none)

    def name(self, doc: dict[str, Any], registry: Any, repo: str) -> None:
        """Add subjectManifestDigest to each untagged image manifest of DOC (a DescribeImages answer of REPO,
        the registry's name for it) that has a subject, read from REGISTRY (registry.Registry)."""
        for detail in doc.get("imageDetails", []):
            digest = str(detail.get("imageDigest") or "")
            if detail.get("imageTags") or detail.get("imageManifestMediaType") in _INDEXES or not digest:
                continue
            if digest not in self._known:
                found = registry.manifest(repo, digest)
                self._known[digest] = _subject(found.body if found is not None else None)
            if self._known[digest]:
                detail["subjectManifestDigest"] = self._known[digest]


def _subject(body: bytes | None) -> str | None:
    try:
        subject = json.loads(body or b"").get("subject")
    except (ValueError, AttributeError):
        return None
    found = subject.get("digest") if isinstance(subject, dict) else None
    return found if isinstance(found, str) else None


SUBJECTS = Subjects()  # one cache for the bridge: a digest's subject is the same in every repository
