"""A small client for the stack's docker-registry (OCI distribution API over loopback HTTP), as the bridge
reaches it: with the registry's own password, under its own names (ACCOUNT/REGION/NAME)."""

from __future__ import annotations

import base64
import hashlib
import http.client
import json
import re
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

MANIFEST_TYPES = (
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.oci.image.index.v1+json",
)
_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")


class RegistryError(Exception):
    """The registry answered with an unexpected status."""

    def __init__(self, status: int, body: bytes, what: str) -> None:
        super().__init__(f"{what}: HTTP {status} {body[:300]!r}")
        self.status = status
        self.body = body


@dataclass(frozen=True)
class Manifest:
    body: bytes
    media_type: str
    digest: str


class Registry:
    """Basic-auth client for one registry; ``storage`` is its filesystem root, read for speed."""

    def __init__(self, port: int, password: str, storage: Path | None = None) -> None:
        self.port = port
        self.set_password(password)
        self._storage = storage

    def set_password(self, password: str) -> None:
        self._auth = "Basic " + base64.b64encode(f"AWS:{password}".encode()).decode()

    def auth_header(self) -> str:
        """The Authorization header the registry takes from the bridge."""
        return self._auth

    def _request(
        self, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None
    ) -> tuple[int, http.client.HTTPMessage, bytes]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            conn.request(method, path, body=body, headers={"Authorization": self._auth, **(headers or {})})
            resp = conn.getresponse()
            return resp.status, resp.headers, resp.read()
        finally:
            conn.close()

    def ping(self) -> bool:
        try:
            status, _, _ = self._request("GET", "/v2/")
        except OSError:
            return False
        return status == 200

    def tags(self, repo: str) -> list[str]:
        """Every tag of ``repo``; an unknown repository has none."""
        tags: list[str] = []
        path: str | None = f"/v2/{repo}/tags/list"
        while path:
            status, headers, body = self._request("GET", path)
            if status == 404:
                return tags
            if status != 200:
                raise RegistryError(status, body, f"tags of {repo}")
            tags.extend(json.loads(body).get("tags") or [])
            # distribution 2.8 answers in one page, later versions paginate with a Link header
            link = re.match(r"<([^>]+)>", headers.get("Link", ""))
            path = link.group(1) if link else None
        return tags

    def digest(self, repo: str, reference: str) -> str | None:
        status, headers, body = self._request(
            "HEAD", f"/v2/{repo}/manifests/{reference}", headers={"Accept": ",".join(MANIFEST_TYPES)}
        )
        if status == 404:
            return None
        if status != 200:
            raise RegistryError(status, body, f"HEAD {repo}:{reference}")
        return headers.get("Docker-Content-Digest")

    def tag_digests(self, repo: str, tags: list[str]) -> dict[str, str]:
        """Digest of each tag. Reads the registry's tag links on disk when it can: a HEAD costs a
        bcrypt check (about 3 ms), far too slow for a repository with thousands of tags."""
        found: dict[str, str] = {}
        for tag in tags:
            digest = self._linked_digest(repo, tag) or self.digest(repo, tag)
            if digest:
                found[tag] = digest
        return found

    def _linked_digest(self, repo: str, tag: str) -> str | None:
        if self._storage is None:
            return None
        link = self._storage / "docker/registry/v2/repositories" / repo / "_manifests/tags" / tag / "current/link"
        try:
            digest = link.read_text().strip()
        except OSError:
            return None
        return digest if _DIGEST.match(digest) else None

    def manifest_digests(self, repo: str) -> list[str]:
        """Every manifest of ``repo``, tagged or not: the registry's revision links on disk (a manifest
        deleted by digest loses its link); without the storage, the tagged ones only."""
        if self._storage is None:
            return sorted(set(self.tag_digests(repo, self.tags(repo)).values()))
        revisions = self._storage / "docker/registry/v2/repositories" / repo / "_manifests/revisions/sha256"
        try:
            names = [entry.name for entry in revisions.iterdir() if (entry / "link").is_file()]
        except OSError:
            return []
        return sorted(f"sha256:{name}" for name in names if _DIGEST.match(f"sha256:{name}"))

    def manifest(self, repo: str, reference: str) -> Manifest | None:
        status, headers, body = self._request(
            "GET", f"/v2/{repo}/manifests/{reference}", headers={"Accept": ",".join(MANIFEST_TYPES)}
        )
        if status == 404:
            return None
        if status != 200:
            raise RegistryError(status, body, f"GET {repo}:{reference}")
        media_type = headers.get("Content-Type", "").split(";")[0].strip()
        return Manifest(body, media_type, headers.get("Docker-Content-Digest", ""))

    def put_manifest(self, repo: str, reference: str, body: bytes, media_type: str) -> str:
        status, headers, answer = self._request(
            "PUT", f"/v2/{repo}/manifests/{reference}", body=body, headers={"Content-Type": media_type}
        )
        if status != 201:
            raise RegistryError(status, answer, f"PUT {repo}:{reference}")
        return headers.get("Docker-Content-Digest", "")

    def delete_manifest(self, repo: str, digest: str) -> bool:
        """Delete a manifest by digest; distribution drops every tag that pointed at it."""
        status, _, body = self._request("DELETE", f"/v2/{repo}/manifests/{digest}")
        if status == 404:
            return False
        if status != 202:
            raise RegistryError(status, body, f"DELETE {repo}@{digest}")
        return True

    def has_blob(self, repo: str, digest: str) -> bool:
        status, _, _ = self._request("HEAD", f"/v2/{repo}/blobs/{urllib.parse.quote(digest)}")
        return status == 200

    def upload_blob(self, repo: str, data: bytes) -> str:
        """Put DATA in ``repo`` as one blob (a monolithic upload: POST, then one PUT); returns its digest.

        A blob the repository already holds is not sent again, as docker push skips it."""
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        if self.has_blob(repo, digest):
            return digest
        status, headers, body = self._request("POST", f"/v2/{repo}/blobs/uploads/", body=b"")
        if status != 202:
            raise RegistryError(status, body, f"POST {repo} blob upload")
        # the Location is absolute or relative, and carries the upload's state in its query
        location = urllib.parse.urlsplit(headers.get("Location", ""))
        query = f"{location.query}&" if location.query else ""
        path = f"{location.path}?{query}digest={urllib.parse.quote(digest)}"
        status, _, body = self._request("PUT", path, body=data, headers={"Content-Type": "application/octet-stream"})
        if status != 201:
            raise RegistryError(status, body, f"PUT {repo} blob {digest}")
        return digest
