"""The registry's ECR face: what a client of ACCOUNT.dkr.ecr.REGION.amazonaws.com sees, in front of the
stack's one docker-registry.

Each account and region is a registry of its own: its repositories live under ACCOUNT/REGION/ in the
docker-registry, which only the bridge reaches (with a password of its own). Here each request is
checked as ECR checks it, then passed on with its names rewritten both ways:

- basic auth, user AWS and a password from GetAuthorizationToken for this account and region
  (tokens.py); without credentials ECR's 401 and its challenge, with others its 403 DENIED;
- a repository the ECR API does not have is ECR's `name unknown`;
- a tag of an immutable repository cannot move to another image: ECR's `tag invalid`;
- manifest PUTs share ECR's PutImage rate with the API (throttle.py): over it, 429 TOOMANYREQUESTS;
- the OCI 1.1 referrers API, which the docker-registry lacks, is answered here (referrers.py), and a
  manifest PUT with a subject is answered with its `OCI-Subject`.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import http.client
import json
import re
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol

from . import body as request_body
from .referrers import Referrers
from .s3 import Layers
from .throttle import MESSAGE as RATE_EXCEEDED
from .throttle import Throttle
from .tokens import EXPIRED, Tokens

_PATH = re.compile(
    r"^/v2/(?P<name>[a-z0-9]+(?:[._/-][a-z0-9]+)*?)/(?P<kind>blobs|manifests|tags|referrers)(?P<rest>/.*)?$"
)
_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
# request headers not passed to the docker-registry (hop-by-hop, and the two set here)
_DROPPED = {"connection", "keep-alive", "te", "trailer", "upgrade", "proxy-authorization", "authorization", "host"}
_MANIFEST_LIMIT = 4 * 1024 * 1024  # ECR's largest manifest
_READ_RETRIES = 5


@dataclass(frozen=True)
class Scope:
    """One of the stack's registries: an account in a region."""

    account: str
    region: str

    @property
    def host(self) -> str:
        return f"{self.account}.dkr.ecr.{self.region}.amazonaws.com"

    def internal(self, repository: str) -> str:
        """The docker-registry's name for REPOSITORY of this registry."""
        return f"{self.account}/{self.region}/{repository}"


def split_internal(name: str) -> tuple[Scope, str] | None:
    account, _, rest = name.partition("/")
    region, _, repository = rest.partition("/")
    if not (account.isdigit() and region and repository):
        return None
    return Scope(account, region), repository


class Repositories(Protocol):
    def exists(self, scope: Scope, repository: str, push: str = "") -> bool: ...  # PUSH: may create it

    def immutable(self, scope: Scope, repository: str) -> bool: ...

    def blob_mounting(self, scope: Scope) -> bool: ...


class CrossAccount(Protocol):
    """Another account's token at this registry (access.py)."""

    def holder(self, password: str, scope: Scope) -> str | None: ...

    def registry_refusal(self, header: str, scope: Scope, repository: str, command: str, kind: str) -> str | None: ...


class Request(Protocol):
    """What the face needs of the request handler (http.server's BaseHTTPRequestHandler)."""

    command: str
    path: str
    headers: Any
    wfile: Any
    close_connection: bool

    def body(self) -> Iterator[bytes]: ...

    def send_response(self, code: int, message: str | None = None) -> None: ...

    def send_header(self, keyword: str, value: str) -> None: ...

    def end_headers(self) -> None: ...


class Face:
    def __init__(
        self, tokens: Tokens, repositories: Repositories, internal_port: int, internal_auth: Callable[[], str]
    ) -> None:
        self.tokens = tokens
        self.repositories = repositories
        self.layers: Layers | None = None  # the S3 face blob GETs are redirected to (not on a plain stack)
        self.referrers: Referrers | None = None  # the referrers API (referrers.py)
        self.throttle: Throttle | None = None  # the PutImage rate, shared with the API (throttle.py)
        self.images: Any = None  # pull times and storage classes (pulls.Images)
        self.access: CrossAccount | None = None  # what other accounts' tokens may do here (access.py)
        self.internal_port = internal_port
        self._internal_auth = internal_auth
        self._locks: dict[str, threading.Lock] = {}
        self._first_ranges: dict[str, str] = {}  # an upload's Range after its first PATCH (_patched)
        self._locks_guard = threading.Lock()

    def serve(self, request: Request, scope: Scope, public_base: str) -> None:
        """Answer one request to SCOPE's registry, which clients reach at PUBLIC_BASE (https://HOST)."""
        refusal = self._auth(request.headers.get("Authorization", ""), scope, public_base)
        if refusal is not None:
            return _send(request, *refusal)
        url = urllib.parse.urlsplit(request.path)
        if url.path in ("/v2", "/v2/"):
            return _send(request, 200, [("Content-Type", "application/json")], b"{}")
        match = _PATH.match(url.path)
        if match is None:
            return _send(request, *_error(404, "UNSUPPORTED", "The operation is unsupported."))
        repository = match["name"]
        header = request.headers.get("Authorization", "")
        denied = (
            self.access.registry_refusal(header, scope, repository, request.command, match["kind"])
            if self.access
            else None
        )
        if denied is not None:  # another account's token, which the repository's policy does not let in
            return _send(request, *_error(403, "DENIED", denied, detail=False))
        if not self.repositories.exists(scope, repository, push=f"{request.command} {match['kind']}"):
            message = (
                f"The repository with name '{repository}' does not exist in the registry with id '{scope.account}'"
            )
            return _send(request, *_error(404, "NAME_UNKNOWN", message))
        body: bytes | Iterator[bytes] | None = None
        reference = (match["rest"] or "").lstrip("/")
        referrers = self.referrers if self.referrers is not None and self.referrers.enabled else None
        pulls = self._pulls(request, scope, repository, reference) if match["kind"] == "manifests" else None
        if pulls is not None and pulls[0] is not None:
            return _send(request, *pulls[0])  # an archived image: ECR's 404
        if match["kind"] == "referrers" and referrers is not None:
            if request.command not in ("GET", "HEAD"):
                return _send(request, *_error(405, "UNSUPPORTED", "The operation is unsupported."))
            if not _DIGEST.match(reference):
                return _send(request, *_error(400, "DIGEST_INVALID", "provided digest did not match uploaded content"))
            found = referrers.answer(scope.internal(repository), url.path, reference, url.query)
            return _send(request, *found, head=request.command == "HEAD")
        rewrite: Callable[[int, list[tuple[str, str]]], tuple[int, list[tuple[str, str]]]] | None = None
        if match["kind"] == "manifests" and request.command == "PUT":
            body = b"".join(request.body())
            if len(body) > _MANIFEST_LIMIT:
                return _send(request, *_error(400, "MANIFEST_INVALID", "manifest too large"))
            wait = self.throttle.take(scope.account, scope.region) if self.throttle is not None else None
            if wait is not None:
                status, headers, data = _error(429, "TOOMANYREQUESTS", RATE_EXCEEDED, detail=False)
                return _send(request, status, [*headers, ("Retry-After", str(wait))], data)
            refusal = self._immutable_refusal(scope, repository, reference, body)
            if refusal is not None:
                return _send(request, *refusal)
            if self.images is not None:
                self.images.manifest_put(scope, repository, body)  # a push restores an archived image
        if (
            match["kind"] == "blobs"
            and request.command == "GET"
            and _DIGEST.match(reference)
            and self.layers is not None
            and public_base.startswith("https://")
            and self._internal_status("HEAD", f"/v2/{scope.internal(repository)}/blobs/{reference}") == 200
        ):
            # ECR's blobs come from S3: a presigned URL on the region's layer bucket (s3.py)
            where = self.layers.presign(scope.account, scope.region, repository, reference)
            return _send(request, 307, [("Location", where), ("Content-Type", "text/html; charset=utf-8")], b"")
        query = urllib.parse.parse_qsl(url.query, keep_blank_values=True)
        if (
            request.command == "POST"
            and any(k == "mount" for k, _ in query)
            and not self.repositories.blob_mounting(scope)
        ):
            # ECR mounts only with the registry's BLOB_MOUNTING setting ENABLED; otherwise the POST starts an
            # upload (202, Location), as a declined mount does. `from` names a repository of this registry only.
            query = [(k, v) for k, v in query if k not in ("mount", "from")]
        query = [(k, scope.internal(v) if k == "from" else v) for k, v in query]
        target = f"/v2/{scope.internal(repository)}/{match['kind']}{match['rest'] or ''}"
        if query:
            target += "?" + urllib.parse.urlencode(query)
        if request.command in ("PUT", "DELETE") and reference.startswith("uploads/"):
            with self._locks_guard:
                self._first_ranges.pop(reference, None)  # the upload ends
        linked = _linked_digests(request.command, match["kind"], query, body)
        if linked is not None:
            # What links a blob or a manifest into a repository: the docker-registry's filesystem storage
            # can lose or half-read a link that concurrent pushes write at once ("digest invalid", "blob
            # unknown"), which ECR never does. Manifests go one at a time per repository, each while none
            # of the blobs it names is being committed; a blob's commit holds only its own digest's lock
            # (a client that dies mid-body blocks no other blob).
            if isinstance(body, bytes) and match["kind"] == "manifests" and referrers is not None:
                rewrite = _with_subject(body)
            internal = scope.internal(repository)
            with contextlib.ExitStack() as held:
                if match["kind"] == "manifests":
                    held.enter_context(self._lock(internal))
                for digest in sorted(linked):
                    held.enter_context(self._lock(f"{internal}@{digest}"))
                return self._relay(request, scope, target, body, public_base, rewrite)
        if request.command == "PATCH" and match["kind"] == "blobs" and reference.startswith("uploads/"):
            return self._relay(request, scope, target, body, public_base, self._patched(reference))
        self._relay(request, scope, target, body, public_base, pulls[1] if pulls is not None else None)

    def _pulls(self, request: Request, scope: Scope, repository: str, reference: str) -> Any:
        """A manifest GET or HEAD: (ECR's refusal of an archived image, or None; what records a GET's pull)."""
        if self.images is None or request.command not in ("GET", "HEAD"):
            return None
        try:
            password = base64.b64decode(request.headers.get("Authorization", "").partition(" ")[2]).decode()
        except ValueError:
            password = ""
        principal = self.tokens.principal(password.partition(":")[2])
        resolve = lambda: self._head_digest(scope, repository, reference)  # noqa: E731
        return self.images.manifest_read(scope, repository, reference, request.command, principal, resolve)

    def _patched(self, upload: str) -> Callable[[int, list[tuple[str, str]]], tuple[int, list[tuple[str, str]]]]:
        """ECR's answer to a PATCH of UPLOAD: 201, not the spec's 202, and a Range that stays at the end of the
        first PATCH's bytes, though every PATCH's bytes are kept (aws/containers-roadmap#2831)."""

        def rewrite(status: int, headers: list[tuple[str, str]]) -> tuple[int, list[tuple[str, str]]]:
            if status != 202:
                return status, headers
            with self._locks_guard:
                if len(self._first_ranges) > 10000:
                    self._first_ranges.clear()  # uploads never finished
                found = next((v for k, v in headers if k.lower() == "range"), "")
                first = self._first_ranges.setdefault(upload, found)
            return 201, [(k, first if k.lower() == "range" else v) for k, v in headers]

        return rewrite

    def _lock(self, name: str) -> threading.Lock:  # a repository's, or one blob's in it (NAME@DIGEST)
        with self._locks_guard:
            return self._locks.setdefault(name, threading.Lock())

    # -- ECR's checks ------------------------------------------------------------------------------

    def _auth(self, header: str, scope: Scope, public_base: str) -> tuple[int, list[tuple[str, str]], bytes] | None:
        """None when the request may go on; else ECR's refusal: 401 with the Basic challenge when no
        credentials came, 403 DENIED without a challenge for any that did not open this registry (ECR
        gives an expired, revoked or foreign token the one "expired" text: soci-snapshotter#1148)."""
        kind, _, value = header.partition(" ")
        if kind.lower() != "basic" or not value:
            challenge = ("WWW-Authenticate", f'Basic realm="{public_base}/",service="ecr.amazonaws.com"')
            return 401, [challenge, ("Content-Type", "text/plain; charset=utf-8")], b"Not Authorized\n"
        try:
            user, _, password = base64.b64decode(value).decode().partition(":")
        except ValueError:
            user, password = "", ""
        if user != "AWS" or not self.tokens.check(password, scope.account, scope.region).ok:
            # another account's token opens the registry; its policies decide each repository (serve)
            if user != "AWS" or self.access is None or self.access.holder(password, scope) is None:
                return _error(403, "DENIED", EXPIRED, detail=False)
        return None

    def _immutable_refusal(
        self, scope: Scope, repository: str, reference: str, body: bytes
    ) -> tuple[int, list[tuple[str, str]], bytes] | None:
        if _DIGEST.match(reference) or not self.repositories.immutable(scope, repository):
            return None
        current = self._head_digest(scope, repository, reference)
        if current is None or current == "sha256:" + hashlib.sha256(body).hexdigest():
            return None  # a new tag, or the same image again
        message = (
            f"The image tag '{reference}' already exists in the '{repository}' repository and cannot be overwritten "
            "because the repository is immutable."
        )
        return _error(400, "TAG_INVALID", message)

    def _internal_status(self, method: str, path: str) -> int:
        conn = http.client.HTTPConnection("127.0.0.1", self.internal_port, timeout=30)
        try:
            conn.request(method, path, headers={"Authorization": self._internal_auth()})
            resp = conn.getresponse()
            resp.read()
            return resp.status
        finally:
            conn.close()

    def _head_digest(self, scope: Scope, repository: str, tag: str) -> str | None:
        conn = http.client.HTTPConnection("127.0.0.1", self.internal_port, timeout=30)
        try:
            accept = ", ".join(
                [
                    "application/vnd.docker.distribution.manifest.v2+json",
                    "application/vnd.docker.distribution.manifest.list.v2+json",
                    "application/vnd.oci.image.manifest.v1+json",
                    "application/vnd.oci.image.index.v1+json",
                ]
            )
            path = f"/v2/{scope.internal(repository)}/manifests/{urllib.parse.quote(tag)}"
            conn.request("HEAD", path, headers={"Authorization": self._internal_auth(), "Accept": accept})
            resp = conn.getresponse()
            resp.read()
            return resp.getheader("Docker-Content-Digest") if resp.status == 200 else None
        finally:
            conn.close()

    # -- passing on --------------------------------------------------------------------------------

    def _relay(
        self,
        request: Request,
        scope: Scope,
        target: str,
        body: bytes | Iterator[bytes] | None,
        public_base: str,
        rewrite: Callable[[int, list[tuple[str, str]]], tuple[int, list[tuple[str, str]]]] | None = None,
    ) -> None:
        headers: dict[str, str] = {}
        for key, value in request.headers.items():
            if key.lower() not in _DROPPED:  # a header sent more than once (Accept) as one list
                headers[key] = f"{headers[key]}, {value}" if key in headers else value
        headers["Authorization"] = self._internal_auth()
        headers["Connection"] = "close"
        if body is None:
            if request_body.chunked(request.headers):
                headers.pop("Transfer-Encoding", None)  # http.client sends an iterator chunked, as it came in
            body = request.body() if request_body.has_body(request.headers) else None
        else:
            headers.pop("Transfer-Encoding", None)
            headers["Content-Length"] = str(len(body)) if isinstance(body, bytes) else headers.get("Content-Length", "")
        conn = http.client.HTTPConnection("127.0.0.1", self.internal_port, timeout=300)
        try:
            conn.request(request.command, target, body=body, headers=headers)
            resp = conn.getresponse()
            for _ in range(_READ_RETRIES if body is None and request.command in ("GET", "HEAD") else 0):
                if resp.status < 500:
                    break
                # docker-registry's filesystem storage can be caught half-way through linking a blob that
                # concurrent pushes committed ("invalid checksum digest format"); ECR does not fail a read so
                resp.read()
                conn.close()
                time.sleep(0.05)
                conn = http.client.HTTPConnection("127.0.0.1", self.internal_port, timeout=300)
                conn.request(request.command, target, headers=headers)
                resp = conn.getresponse()
            prefix = f"{scope.account}/{scope.region}/"
            out = [(k, v) for k, v in resp.getheaders() if k.lower() not in ("connection", "transfer-encoding")]
            out = [(k, _public_location(v, prefix, public_base) if k.lower() == "location" else v) for k, v in out]
            status = resp.status
            if rewrite is not None:
                status, out = rewrite(status, out)
            if resp.status >= 400 or "/tags/list" in target:
                # small JSON documents that may name the repository: the client's names, not ours
                data = resp.read().replace(prefix.encode(), b"")
                out = [(k, str(len(data)) if k.lower() == "content-length" else v) for k, v in out]
                return _send(request, status, out, data, head=request.command == "HEAD")
            request.send_response(status)
            for key, value in out:
                request.send_header(key, value)
            request.end_headers()
            if request.command != "HEAD":
                sent = 0
                while block := resp.read(request_body.BLOCK):
                    request.wfile.write(block)
                    sent += len(block)
                length = resp.getheader("Content-Length")
                if length is not None and length.isdigit() and sent < int(length):
                    request.close_connection = True  # the registry went away mid-answer: end it, short
        finally:
            conn.close()


def _with_subject(body: bytes) -> Callable[[int, list[tuple[str, str]]], tuple[int, list[tuple[str, str]]]] | None:
    """For a manifest PUT whose manifest names a subject: the answer, once stored, says it (OCI-Subject),
    as a registry with the referrers API does (the distribution spec v1.1, "Pushing Manifests with Subject")."""
    try:
        doc = json.loads(body)
        subject = doc.get("subject", {}).get("digest") if isinstance(doc, dict) else None
    except (ValueError, AttributeError):
        return None
    if not isinstance(subject, str):
        return None

    def rewrite(status: int, headers: list[tuple[str, str]]) -> tuple[int, list[tuple[str, str]]]:
        return status, [*headers, ("OCI-Subject", subject)] if status == 201 else headers

    return rewrite


def _public_location(value: str, prefix: str, public_base: str) -> str:
    """A Location the docker-registry gave, as the client must follow it: its own host and names."""
    parts = urllib.parse.urlsplit(value)
    path = parts.path.replace(f"/v2/{prefix}", "/v2/", 1)
    return public_base + urllib.parse.urlunsplit(("", "", path, parts.query, ""))


def _error(status: int, code: str, message: str, *, detail: bool = True) -> tuple[int, list[tuple[str, str]], bytes]:
    """The registry's error document; ECR's DENIED has no detail."""
    error: dict[str, Any] = {"code": code, "message": message}
    if detail:
        error["detail"] = None
    body = json.dumps({"errors": [error]}).encode()
    return status, [("Content-Type", "application/json; charset=utf-8")], body


def _send(request: Request, status: int, headers: list[tuple[str, str]], body: bytes, *, head: bool = False) -> None:
    request.send_response(status)
    seen = set()
    for key, value in headers:
        seen.add(key.lower())
        request.send_header(key, value)
    if "content-length" not in seen:
        request.send_header("Content-Length", str(len(body)))
    if "docker-distribution-api-version" not in seen:
        request.send_header("Docker-Distribution-API-Version", "registry/2.0")
    request.end_headers()
    if not head and request.command != "HEAD":
        request.wfile.write(body)


def _linked_digests(command: str, kind: str, query: list[tuple[str, str]], body: object) -> set[str] | None:
    """The blobs a request links into its repository (a manifest's references, a committed or mounted blob's
    digest), or None for a request that links nothing."""
    if kind == "manifests" and command == "PUT":
        try:
            doc = json.loads(body) if isinstance(body, bytes) else {}
        except ValueError:
            doc = {}
        named = (
            [doc.get("config"), *(doc.get("layers") or []), *(doc.get("manifests") or [])]
            if isinstance(doc, dict)
            else []
        )
        return {str(d["digest"]) for d in named if isinstance(d, dict) and isinstance(d.get("digest"), str)}
    if kind == "blobs" and command in ("PUT", "POST"):
        wanted = dict(query)
        digest = wanted.get("digest") if command == "PUT" else wanted.get("mount")
        return {digest} if digest else None
    return None
