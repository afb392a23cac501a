"""ecrtool's own registry v2 client: manifests, blobs, mounts, uploads and referrers, for `ecrtool copy`.

Built on the standard library's http.client, as the signed ECR client is, rather than on a registry
library: what a copy needs is a dozen requests, the libraries at hand (oras, docker-py's
distribution calls) either pull in requests and urllib3 (start-up time every command would pay for
through the import graph) or hide the two things ECR needs done its way — a blob upload as ONE PUT
with a Content-Length (ECR mishandles chunked PATCH uploads) and Basic authentication on every request
— and none streams a blob from one registry into another without holding it.

One connection per thread and registry, kept alive; https trusting what botocore trusts (model/tls),
plain http for a registry on this machine; through the proxy HTTPS_PROXY/HTTP_PROXY name unless NO_PROXY
says otherwise (model/proxy), S3's redirects included. Authentication: Basic on every request when given
(ECR's AWS + token password), else the challenge's: Bearer or Basic. A Bearer token comes from the
challenge's realm: for a Docker config's identity token by the OAuth2 refresh-token POST (falling back to
the GET where the realm answers 404 or 405), else by the GET, with Basic credentials when there are some,
else anonymously. Failures become the project's errors, naming the side (source or destination) and the
registry.

What ECR does on the wire, met here: a token expired or revoked is answered 403 DENIED with no challenge
(renewed once, as a 401's); blobs are redirected to S3, which refuses a request carrying our Authorization
(up to five hops followed, credentials only to this registry, never from https down to http); throttling
is answered 429 or 503 (asked again after a pause, bounded). Whatever is asked for by digest is checked
against it: a manifest's bytes, and a blob's while it streams.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import random
import re
import threading
import time
from collections.abc import Callable
from http.client import HTTPConnection, HTTPException, HTTPResponse
from typing import Any, BinaryIO, Protocol, cast
from urllib.parse import SplitResult, quote, urlencode, urljoin, urlsplit

from ecrtool.model import proxy
from ecrtool.model.errors import AuthError, EcrToolError, NotFound, RegistryError
from ecrtool.model.manifests import ACCEPTED, OCI_INDEX, Descriptor, Manifest, digest_of, parse_manifest
from ecrtool.model.refs import is_loopback
from ecrtool.registry.probe import why

log = logging.getLogger("ecrtool.registry")

TIMEOUT = 60.0
BLOCK = 256 * 1024  # how much of a blob is read and sent at a time
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
HOPS = 5  # redirects followed for one request, as browsers and curl's defaults bound them
_BUSY = frozenset({429, 503})  # ECR's TOOMANYREQUESTS, and a registry or its balancer overloaded
ATTEMPTS = 5  # of one request a failing registry (503) keeps refusing
# of one request a throttling registry (429) keeps refusing: ECR paces PutImage per account and region
# (10 a second), so a copy of many images at once is refused for as long as its queue takes to drain
THROTTLED_ATTEMPTS = 60
TAGS_PAGE = 1000  # tags asked for a page
_TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]{0,127}")  # the distribution spec's tag
PAGES = 1000  # of referrers followed by their Link headers: a registry paging for ever is an error
PATIENCE = 60.0  # seconds one request waits in all for a busy registry before its refusal is reported
CLIENT_ID = "ecrtool"  # who asks a token service for a token, as its OAuth2 flow wants it named
_DROPPED = (ConnectionResetError, ConnectionAbortedError, BrokenPipeError)
Progress = Callable[[int], None]


class Readable(Protocol):
    """What a blob upload's body is read from: a source's stream, block by block."""

    def read(self, amount: int = -1, /) -> bytes: ...


class Cancelled(Exception):
    """The copy was interrupted: a blob being streamed stops at its next block."""


class RegistryRefusal(RegistryError):
    """The registry answered, and said no: its status and error code, for the caller to word."""

    def __init__(self, message: str, status: int, code: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code


class RegistryClient:
    """One registry, as one side (source or destination) of a copy sees it."""

    def __init__(
        self,
        host: str,
        *,
        side: str,
        basic: tuple[str, str] | None = None,
        preemptive: bool = False,
        renew: Callable[[tuple[str, str]], tuple[str, str]] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        refresh_token: str | None = None,
    ) -> None:
        self.host = host
        self.side = side
        # a Docker config's identitytoken: an OAuth2 refresh token, traded for a Bearer token at the realm and
        # never sent as a password (so no Basic credentials go with it)
        self._refresh_token = refresh_token
        self._basic = None if refresh_token else basic
        self._preemptive = preemptive and basic is not None  # ECR: Basic on every request
        # ECR: fresh credentials, given the refused ones, when the registry refuses ours (a cached token since
        # revoked); once a client
        self._renew = renew
        self._renewed = False
        self._sleep = sleep
        self._secure = not is_loopback(host)
        self._local = threading.local()
        self._tokens: dict[str, str] = {}  # repository -> the Bearer token its last challenge gave
        self._lock = threading.Lock()

    @property
    def label(self) -> str:
        return f"{self.side} registry {self.host}"

    # -- manifests ---------------------------------------------------------------------------------

    def get_manifest(self, repository: str, reference: str) -> Manifest | None:
        """The manifest REFERENCE (a tag or digest) names, its exact bytes; None when there is none."""
        reply, data = self._call("GET", f"/v2/{repository}/manifests/{reference}", repository, accept=ACCEPTED)
        if reply.status == 404:
            return None
        self._check(reply, data, f"reading the manifest {repository}:{reference}", (200,))
        found = parse_manifest(data, reply.getheader("Content-Type"), f"{self.host}/{repository}@{reference}")
        if ":" in reference:
            self._verify(reference, _digest(reference, data), f"the manifest {repository}@{reference}")
        return found

    def manifest_digest(self, repository: str, reference: str) -> str | None:
        """The digest of the manifest REFERENCE names (HEAD), None when there is none."""
        reply, data = self._call("HEAD", f"/v2/{repository}/manifests/{reference}", repository, accept=ACCEPTED)
        if reply.status == 404:
            return None
        self._check(reply, data, f"looking up {repository}:{reference}", (200,))
        digest = reply.getheader("Docker-Content-Digest")
        if digest:
            if ":" in reference:
                self._verify(reference, digest, f"the manifest {repository}@{reference}")
            return digest
        found = self.get_manifest(repository, reference)
        return found.digest if found else None

    def put_manifest(self, repository: str, reference: str, manifest: Manifest) -> bool:
        """PUT the manifest's exact bytes under REFERENCE; whether the registry took its subject (OCI-Subject)."""
        reply, data = self._call(
            "PUT",
            f"/v2/{repository}/manifests/{reference}",
            repository,
            body=manifest.data,
            headers={"Content-Type": manifest.media_type},
        )
        self._check(reply, data, f"writing the manifest {repository}:{reference}", (200, 201))
        return bool(reply.getheader("OCI-Subject"))

    # -- blobs -------------------------------------------------------------------------------------

    def has_blob(self, repository: str, digest: str) -> bool:
        reply, data = self._call("HEAD", f"/v2/{repository}/blobs/{digest}", repository)
        if reply.status == 404:
            return False
        self._check(reply, data, f"looking up the blob {digest} in {repository}", (200,))
        return True

    def start_upload(self, repository: str, *, mount: str | None = None, source: str | None = None) -> str | None:
        """An upload session's location; None when MOUNT (a digest) was mounted from the repository SOURCE."""
        query = "?" + urlencode({"mount": mount, "from": source}) if mount and source else ""
        reply, data = self._call(
            "POST", f"/v2/{repository}/blobs/uploads/{query}", repository, headers={"Content-Length": "0"}
        )
        if mount and reply.status == 201:
            return None
        self._check(reply, data, f"starting an upload to {repository}", (202,))
        location = reply.getheader("Location")
        if not location:
            raise RegistryError(f"{self.label} started an upload to {repository} without saying where: try again")
        return location

    def open_blob(self, repository: str, digest: str, *, check: bool = True) -> tuple[BinaryIO, int | None]:
        """The blob's content as a stream (read it through, then close it) and its length when sent; with
        CHECK, its last block is held back unless the bytes match DIGEST. A copy leaves the check to its
        upload (`finish_upload`), which checks the same bytes: each byte is hashed once, not twice."""
        path = f"/v2/{repository}/blobs/{digest}"
        reply, data = self._call("GET", path, repository, stream=True)
        reply = self._follow(reply, f"{'https' if self._secure else 'http'}://{self.host}{path}", repository)
        if reply.status != 200:
            data = reply.read()
            reply.close()
            if reply.status == 404:
                raise NotFound(f"{self.label} has no blob {digest} in {repository}")
            self._check(reply, data, f"reading the blob {digest} of {repository}", (200,))
        header = reply.getheader("Content-Length")
        length = int(header) if header and header.isdigit() else None
        def cut_short(done: int) -> RegistryError:
            return self._unreachable(ConnectionError(f"the blob {digest} ended after {done} of {length} bytes"))

        what = f"{self.label}'s blob {digest} of {repository}"
        stream = _Digested(reply, digest if check else None, length, what, cut_short)
        return cast(BinaryIO, stream), length

    def finish_upload(
        self,
        repository: str,
        location: str,
        digest: str,
        body: Readable,
        size: int,
        reopen: Callable[[], Readable] | None = None,
    ) -> None:
        """PUT the whole blob at LOCATION in one request with its length, streamed from BODY. A streamed body
        cannot be sent twice: when the registry refuses the token (ECR's 403 DENIED for one that expired
        mid-copy, or a 401), the token is renewed and the blob sent again from REOPEN's fresh stream."""
        parts = urlsplit(location)
        path = (parts.path or "/") + "?" + (parts.query + "&" if parts.query else "") + urlencode({"digest": digest})
        headers = {"Content-Type": "application/octet-stream", "Content-Length": str(size)}
        while True:
            sent_with = self._authorization(repository)
            # the last block is held back unless the bytes match DIGEST: a wrong blob's upload is never completed
            checked = _Digested(body, digest, size, f"the blob {digest} sent to {self.label}")
            reply, data = self._call("PUT", path, repository, body=checked, headers=headers)
            if reopen is None or not self._renewed_after(reply, data, repository, sent_with):
                break
            body, reopen = reopen(), None  # once
        self._check(reply, data, f"uploading the blob {digest} to {repository}", (201, 204))

    def _renewed_after(self, reply: HTTPResponse, data: bytes, repository: str, sent_with: str | None) -> bool:
        """Whether REPLY refused the token the request went with, and a fresh one is now held. ECR's 403
        DENIED also answers a policy's refusal ("… is not authorized to perform …"), which no fresh token
        changes: only its words for a token it no longer takes are renewed here."""
        code, message = _error_of(data)
        if reply.status == 403 and code == "DENIED" and "authorization token" in message.lower():
            return self._answer("Basic" if self._preemptive else "", repository, sent_with)
        if reply.status == 401:
            return self._answer(reply.getheader("WWW-Authenticate") or "", repository, sent_with)
        return False

    # -- tags --------------------------------------------------------------------------------------

    def tags(self, repository: str) -> list[str]:
        """Every tag of REPOSITORY, following each page's Link header (as Docker Hub and the distribution
        registry page them); NotFound when the registry knows no such repository. A listed name that is no
        tag (one that would change a request's path or query, or no destination would take) is left out."""
        path = f"/v2/{repository}/tags/list?n={TAGS_PAGE}"
        doing = f"listing the tags of {repository}"
        found: list[str] = []
        asked: set[str] = set()
        while True:
            asked.add(path)
            reply, data = self._call("GET", path, repository)
            self._check(reply, data, doing, (200,))
            try:
                tags = json.loads(data).get("tags") or []
            except (ValueError, AttributeError):
                tags = None
            if not isinstance(tags, list):
                raise RegistryError(f"{self.label} answered {doing} with no tag list: report it to its operator")
            found.extend(tag for tag in tags if isinstance(tag, str) and _TAG.fullmatch(tag))
            following = self._next_page(reply, path, asked, doing)
            if following is None:
                return found
            path = following

    # -- referrers ---------------------------------------------------------------------------------

    def referrers(self, repository: str, digest: str) -> list[Descriptor] | None:
        """The manifests whose subject is DIGEST, by the referrers API, every page of it (each page's Link
        header names the next, as the OCI distribution spec says); None when the registry has no referrers
        API (404, the spec's answer for it: the caller falls back to the `sha256-<hex>` tag). Any other
        failure, a 5xx or a 429 still there after the pauses, is an error: the referrers are not known to be
        none."""
        path = f"/v2/{repository}/referrers/{digest}"
        doing = f"listing the referrers of {digest} in {repository}"
        found: list[Descriptor] = []
        asked: set[str] = set()
        while True:
            asked.add(path)
            reply, data = self._call("GET", path, repository, accept=(OCI_INDEX,))
            if reply.status == 404 and len(asked) == 1:
                return None
            self._check(reply, data, doing, (200,))
            where = f"the referrers of {self.host}/{repository}@{digest}"
            page = parse_manifest(data, reply.getheader("Content-Type"), where)
            if not page.is_index:
                raise RegistryError(
                    f"{self.label} answered {doing} with a {page.media_type}, not an index: report it to its operator"
                )
            found.extend(page.children)
            following = self._next_page(reply, path, asked, doing)
            if following is None:
                return found
            path = following

    def _next_page(self, reply: HTTPResponse, path: str, asked: set[str], doing: str) -> str | None:
        """The path of the page after PATH that REPLY's Link header names; None on the last page. A next page
        on another registry, or one already ASKED (or too many pages), is an error."""
        following = next_link(reply.getheader("Link"))
        if following is None:
            return None
        url = redirect_target(f"{'https' if self._secure else 'http'}://{self.host}{path}", following, self.label)
        parts = urlsplit(url)
        if parts.netloc != self.host or (parts.scheme == "https") != self._secure:
            raise RegistryError(
                f"{self.label} sent the next page of {doing} to another registry, {url}: report it to its operator"
            )
        following = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        if following in asked or len(asked) >= PAGES:
            raise RegistryError(
                f"{self.label} kept paging {doing} ({len(asked)} pages, then {url}): report it to its operator"
            )
        return following

    # -- the exchange ------------------------------------------------------------------------------

    def _call(
        self,
        method: str,
        path: str,
        repository: str,
        *,
        body: bytes | Readable | None = None,
        headers: dict[str, str] | None = None,
        accept: tuple[str, ...] = (),
        stream: bool = False,
    ) -> tuple[HTTPResponse, bytes]:
        """One request, answering an authentication challenge (or ECR's 403 DENIED) once and a busy registry
        a few times; the reply and, unless STREAM, its body. A streamed body cannot be sent twice, so a
        request with one is sent once."""
        sent = dict(headers or {})
        if accept:
            sent["Accept"] = ", ".join(accept)
        if method in ("PUT", "POST") and body is not None and isinstance(body, bytes):
            sent["Content-Length"] = str(len(body))
        again = body is None or isinstance(body, bytes)
        refused = ""  # the first refusal, once its challenge was met (or its token renewed)
        attempt, waited = 1, 0.0
        while True:
            authorization = self._authorization(repository)
            if authorization:
                sent["Authorization"] = authorization
            reply = self._send(method, path, body, sent)
            if not again:
                break
            if reply.status in (401, 403):
                challenge = reply.getheader("WWW-Authenticate") or ""
                data = self._read(reply)
                code, _ = _error_of(data)
                # a HEAD's 403 carries no body to say DENIED: ECR's answer to a dead token is renewed there too
                denied = code == "DENIED" or (method == "HEAD" and not data)
                if reply.status == 403 and not denied:
                    return reply, data
                if refused:
                    return reply, data  # refused again with fresh credentials: the caller says what it was doing
                if reply.status == 403:
                    # ECR's answer to a token expired or revoked, without a challenge: renewed as a 401's
                    challenge = "Basic" if self._preemptive else ""
                if self._answer(challenge, repository, authorization):
                    refused = _detail(reply.status, data)
                    continue
                return reply, data
            if reply.status in _BUSY:
                pause = _pause(reply.getheader("Retry-After"), attempt, waited, throttled=reply.status == 429)
                if pause is not None:
                    self._read(reply)
                    log.debug("%s answered %s: asking again in %.1f s", self.host, reply.status, pause)
                    self._sleep(pause)
                    attempt, waited = attempt + 1, waited + pause
                    continue
            break
        if stream:
            return reply, b""
        return reply, self._read(reply)

    def _read(self, reply: HTTPResponse) -> bytes:
        try:
            return reply.read()
        except (OSError, HTTPException) as err:
            self._drop()
            raise self._unreachable(err) from err

    def _send(self, method: str, path: str, body: bytes | Readable | None, headers: dict[str, str]) -> HTTPResponse:
        for again in (False, True):
            conn = self._connection()
            reused = conn.sock is not None
            try:
                conn.request(method, quote(path, safe="/:?&=@%+,;"), body=body, headers=headers)
                return conn.getresponse()
            except (EcrToolError, Cancelled):
                self._drop()
                raise
            except (OSError, HTTPException) as err:
                self._drop()
                # a kept-alive connection the registry closed while idle: once more on a new one
                if (
                    again
                    or not reused
                    or not isinstance(err, _DROPPED)
                    or not (body is None or isinstance(body, bytes))
                ):
                    raise self._unreachable(err) from err
                log.debug("%s had closed the idle connection (%r): opening another", self.host, err)
        raise AssertionError("unreachable: the second attempt returns or raises")

    def _connection(self) -> HTTPConnection:
        conn: HTTPConnection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._open(self.host, self._secure)
            self._local.conn = conn
        return conn

    def _open(self, host: str, secure: bool) -> HTTPConnection:
        name, _, port = host.rpartition(":") if not host.endswith("]") else (host, "", "")
        if not name or not port.isdigit():
            name, port = host, ""
        number = int(port) if port else None
        # the environment's proxy (a CONNECT tunnel for https) and model/tls's trust, as every https call has
        return proxy.connection(secure, name.strip("[]"), number, timeout=TIMEOUT, blocksize=BLOCK)

    def _drop(self) -> None:
        conn: HTTPConnection | None = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    def _follow(self, reply: HTTPResponse, url: str, repository: str) -> HTTPResponse:
        """The reply REPLY (to URL) redirects to, HOPS at most, with credentials only for this registry."""
        for hop in range(HOPS + 1):
            location = reply.getheader("Location")
            if reply.status not in _REDIRECTS or not location:
                return reply
            if hop == HOPS:
                break  # one redirect more than HOPS: not followed
            self._read(reply)
            url = redirect_target(url, location, self.label)
            parts = urlsplit(url)
            target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
            if parts.netloc == self.host and (parts.scheme == "https") == self._secure:
                reply, _ = self._call("GET", target, repository, stream=True)
                continue
            # ECR serves layers from S3's signed URLs, which refuse a request also carrying our Authorization
            reply = self._foreign_get(parts.netloc, parts.scheme == "https", target)
        reply.close()
        raise RegistryError(f"{self.label} redirected more than {HOPS} times, last to {url}: report it to its operator")

    def _foreign_get(self, netloc: str, secure: bool, target: str) -> HTTPResponse:
        """GET TARGET from another host (the layer bucket), on this thread's kept connection to it when the last
        answer on it was read through, as a browser keeps one: a handshake per host, not per blob."""
        kept: dict[str, tuple[HTTPConnection, HTTPResponse]] = self._local.__dict__.setdefault("foreign", {})
        found = kept.pop(netloc, None)
        conn = None
        if found is not None:
            conn, last = found
            if conn.sock is None or not last.isclosed() or last.length:  # not read through: not to be reused
                conn.close()
                conn = None
        for fresh in (conn is None, True):
            if conn is None:
                conn = self._open(netloc, secure)
            try:
                conn.request("GET", target)
                reply = conn.getresponse()
            except (OSError, HTTPException) as err:
                conn.close()
                conn = None
                if fresh:  # a kept connection the host closed while idle is opened again, once
                    raise self._unreachable(err, netloc) from err
                continue
            kept[netloc] = (conn, reply)
            return reply
        raise AssertionError("unreachable: the fresh connection's exchange returns or raises")

    # -- authentication ----------------------------------------------------------------------------

    def _renewed_basic(self, refused: str | None) -> bool:
        """Whether there are credentials to try instead of REFUSED: renewed by another thread already, or
        now (once per client: a fresh token refused as well is the caller's error to report)."""
        if self._renew is None:
            return False
        with self._lock:
            if self._basic is not None and _basic(*self._basic) != refused:
                return True
            if self._renewed:
                return False
            self._renewed = True
            log.debug("%s refused the token: asking for a fresh one", self.host)
            if self._basic is not None:
                self._basic = self._renew(self._basic)
        return True

    def _authorization(self, repository: str) -> str | None:
        if self._preemptive and self._basic:
            return _basic(*self._basic)
        with self._lock:
            token = self._tokens.get(repository) or self._tokens.get("")
        return token

    def _answer(self, challenge: str, repository: str, refused: str | None = None) -> bool:
        """Meet a 401's challenge: a Bearer token from the realm, or Basic credentials; False when it cannot be met.
        REFUSED is the Authorization the request was sent with."""
        scheme, _, rest = challenge.partition(" ")
        if scheme.lower() == "basic":
            if self._preemptive:
                return self._renewed_basic(refused)
            if not self._basic:
                return False
            with self._lock:
                self._tokens[""] = _basic(*self._basic)
            return True
        if scheme.lower() != "bearer":
            return False
        params = _challenge_params(rest)
        realm = params.pop("realm", "")
        if not realm.startswith(("https://", "http://")):
            return False
        wanted = {key: value for key, value in params.items() if key in ("service", "scope")}
        parts = urlsplit(realm)
        reply, data = (None, b"")
        if self._refresh_token:
            # the token spec's OAuth2 flow for a refresh token (distribution's docs/spec/auth/oauth.md)
            form = urlencode({"grant_type": "refresh_token", "refresh_token": self._refresh_token, **wanted,
                              "client_id": CLIENT_ID})  # fmt: skip
            headers = {"Content-Type": "application/x-www-form-urlencoded"}
            path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
            reply, data = self._ask_realm(parts, "POST", path, form.encode(), headers)
        if reply is None or reply.status in (404, 405):
            # no OAuth2 at this realm: the token spec's GET, with Basic credentials when there are some
            query = urlencode(wanted)
            path = (parts.path or "/") + (f"?{parts.query}&" if parts.query else "?") + query
            headers = {"Authorization": _basic(*self._basic)} if self._basic else {}
            reply, data = self._ask_realm(parts, "GET", path, None, headers)
        if reply.status != 200:
            who = "with the credentials in your Docker config" if self._basic else "anonymously"
            if self._refresh_token:
                who = "for the identity token in your Docker config"
            raise AuthError(
                f"{self.label} gave no token for {repository} {who} ({reply.status}): log in with"
                f" `docker login {self.host}`, then copy again"
            )
        try:
            doc: Any = json.loads(data)
            token = str(doc.get("token") or doc.get("access_token") or "")
        except (ValueError, AttributeError):
            token = ""
        if not token:
            raise AuthError(f"{self.label}'s token service at {parts.netloc} answered without a token")
        with self._lock:
            self._tokens[repository] = f"Bearer {token}"
        return True

    def _ask_realm(
        self, parts: SplitResult, method: str, path: str, body: bytes | None, headers: dict[str, str]
    ) -> tuple[HTTPResponse, bytes]:
        conn = self._open(parts.netloc, parts.scheme == "https")
        try:
            conn.request(method, path, body=body, headers=headers)
            reply = conn.getresponse()
            return reply, reply.read()
        except (OSError, HTTPException) as err:
            raise self._unreachable(err, parts.netloc) from err
        finally:
            conn.close()

    # -- errors ------------------------------------------------------------------------------------

    def _check(self, reply: HTTPResponse, data: bytes, doing: str, ok: tuple[int, ...]) -> None:
        if reply.status in ok:
            return
        code, _ = _error_of(data)
        detail = _detail(reply.status, data)
        if reply.status in (401, 403) or code in ("UNAUTHORIZED", "DENIED"):
            raise AuthError(f"{self.label} refused {doing} ({detail}): check the credentials for it")
        if reply.status == 404 or code in ("NAME_UNKNOWN", "MANIFEST_UNKNOWN", "BLOB_UNKNOWN"):
            raise NotFound(f"{self.label}: {doing}: {detail}")
        if reply.status in _BUSY:
            detail += ", still after waiting: run the same copy again later, with fewer jobs (-j)"
        raise RegistryRefusal(f"{self.label} failed {doing}: {detail}", reply.status, code)

    def _verify(self, asked: str, found: str, what: str) -> None:
        if found != asked:
            raise RegistryError(
                f"{self.label} answered {what} with the digest {found}, not {asked}: it is not to be trusted"
                " for this image; copy from another registry or report it to its operator"
            )

    def _unreachable(self, err: BaseException, host: str | None = None) -> RegistryError:
        reason = why(err, host or self.host, TIMEOUT) if isinstance(err, OSError) else (str(err) or type(err).__name__)
        return RegistryError(
            f"{self.side} registry {host or self.host} stopped answering ({reason}): check that it is up and"
            " reachable, then run the same copy again (what arrived is not copied twice)"
        )


class _Digested:
    """A blob's bytes as they are read, checked against DIGEST when the last of them (SIZE, or the end)
    is read: a mismatch raises instead of handing the last block on."""

    def __init__(
        self,
        stream: Readable,
        digest: str | None,
        size: int | None,
        what: str,
        cut_short: Callable[[int], BaseException] | None = None,
    ) -> None:
        self.stream, self.digest, self.size, self.what = stream, digest, size, what
        self.cut_short = cut_short  # what an end before SIZE means: its sender stopped answering
        algorithm, _, _ = (digest or "").partition(":")
        # no digest: not checked here (its reader checks); a digest of another algorithm than these is not
        # checked at all: registries use sha256
        self.hash = hashlib.new(algorithm) if algorithm in ("sha256", "sha512") else None
        self.done = 0

    def read(self, amount: int = -1, /) -> bytes:
        # HTTPResponse reads all of itself for None, but takes -1 for a length it never reaches
        data = self.stream.read(amount) if amount >= 0 else self.stream.read()
        self.done += len(data)
        if not data and amount != 0 and self.cut_short is not None and self.size is not None and self.done < self.size:
            raise self.cut_short(self.done)
        if self.hash is None:
            return data
        self.hash.update(data)
        if (not data and amount != 0) or (self.size is not None and self.done >= self.size and data):
            found = f"{self.hash.name}:{self.hash.hexdigest()}"
            self.hash = None
            if found != self.digest:
                raise RegistryError(
                    f"{self.what}: its {self.done} bytes have the digest {found}, not {self.digest};"
                    " nothing was written: run the same copy again, and if it recurs report the source"
                )
        return data

    def close(self) -> None:
        close = getattr(self.stream, "close", None)
        if close is not None:
            close()


def redirect_target(url: str, location: str, who: str) -> str:
    """Where LOCATION (a redirect's, maybe relative) sends a request made to URL; never from https to http."""
    target = urljoin(url, location)
    scheme = urlsplit(target).scheme
    if scheme not in ("https", "http") or (urlsplit(url).scheme == "https" and scheme != "https"):
        raise RegistryError(
            f"{who} redirected {url} to {target}, which would leave https: refused; report it to its operator"
        )
    return target


def next_link(header: str | None) -> str | None:
    """The URL a Link header gives as rel="next" (RFC 8288, as the referrers and tag lists page), if any."""
    for item in re.findall(r"<([^>]*)>([^<]*)", header or ""):
        target, params = item
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key.strip().lower() == "rel" and "next" in value.strip().strip('"').lower().split():
                return target
    return None


def _pause(retry_after: str | None, attempt: int, waited: float, *, throttled: bool = False) -> float | None:
    """Seconds to wait before the next attempt (its Retry-After, else doubling from half a second up to 8 s,
    with up to a quarter more so that threads refused together do not come back together); None when the
    attempts (ATTEMPTS, or THROTTLED_ATTEMPTS for a 429) or the PATIENCE are spent."""
    given = (retry_after or "").strip()
    base = float(given) if given.isdigit() else min(0.5 * 2 ** (attempt - 1), 8.0)
    pause = base + random.uniform(0, base / 4)
    if attempt >= (THROTTLED_ATTEMPTS if throttled else ATTEMPTS) or waited + pause > PATIENCE:
        return None
    return pause


def _digest(reference: str, data: bytes) -> str:
    """DATA's digest by REFERENCE's algorithm (REFERENCE itself when hashlib does not know it)."""
    algorithm, _, _ = reference.partition(":")
    if algorithm not in ("sha256", "sha512"):
        return reference
    return f"{algorithm}:{hashlib.new(algorithm, data).hexdigest()}" if algorithm != "sha256" else digest_of(data)


def _detail(status: int, data: bytes) -> str:
    """A refusal as its status, error code and message."""
    code, message = _error_of(data)
    return f"{status} {code}: {message}".strip().rstrip(":") if code or message else str(status)


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def _challenge_params(text: str) -> dict[str, str]:
    """realm="...",service="...",scope="..." as a dict (values may hold commas inside their quotes)."""
    found: dict[str, str] = {}
    rest = text.strip()
    while rest:
        key, sep, rest = rest.partition("=")
        if not sep:
            break
        rest = rest.lstrip()
        if rest.startswith('"'):
            value, _, rest = rest[1:].partition('"')
        else:
            value, _, rest = rest.partition(",")
        found[key.strip().strip(",").strip().lower()] = value
        rest = rest.lstrip().lstrip(",").lstrip()
    return found


def _error_of(data: bytes) -> tuple[str, str]:
    """The first error of a registry's JSON error body: its code and message."""
    try:
        errors = json.loads(data).get("errors") or []
        first = errors[0] if errors else {}
        return str(first.get("code") or ""), str(first.get("message") or "")
    except (ValueError, AttributeError, IndexError, TypeError):
        text = data.decode("utf-8", "replace").strip().splitlines()
        return "", text[0][:200] if text else ""
