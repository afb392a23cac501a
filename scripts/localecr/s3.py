"""The S3 face: ECR's layer bucket for each region, where the registry's face redirects blob GETs.

ECR answers `GET /v2/NAME/blobs/DIGEST` with 307 to a presigned URL on
`prod-REGION-starport-layer-bucket.s3.REGION.amazonaws.com`, good for 20 minutes; S3 then serves the
bytes to whoever holds the URL, and refuses a request that also carries an Authorization header (the
registry's Basic one, if a client forwards it). Here the URL's query is SigV4's presigned shape, its
signature an HMAC of the method, host, path and query with the stack's secret; the bytes come from the
docker-registry's storage (a range through the registry itself) with their length.

The path is ACCOUNT/REPOSITORY/DIGEST under the region's bucket host: opaque to a client, as ECR's is.
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import http.client
import os
import re
import secrets
import threading
import time
import urllib.parse
from collections.abc import Callable
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from . import body as request_body
from .answer import Answer

DEFAULT_TTL = 1200  # ECR's presigned layer URLs last 20 minutes
MAX_TTL = 7 * 24 * 3600  # S3's longest presigned URL
_HOST = re.compile(r"^prod-(?P<region>[a-z0-9-]+)-starport-layer-bucket\.s3\.(?P=region)\.amazonaws\.com$")
_KEY = "ASIALOCALECRLAYERS01"
_ONE_AUTH = (
    "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature query string "
    "parameter or the Authorization header should be specified"
)
_SIGNED = ("X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Date", "X-Amz-Expires", "X-Amz-SignedHeaders")


def bucket_host(region: str) -> str:
    """ECR's layer bucket in REGION, as its redirects name it."""
    return f"prod-{region}-starport-layer-bucket.s3.{region}.amazonaws.com"


def region_of(host: str) -> str | None:
    """The region whose bucket HOST names; None for any other host."""
    match = _HOST.match(host)
    return match["region"] if match else None


def ttl_of(value: Any) -> int:
    """A URL lifetime in seconds (LOCAL_ECR_S3_URL_TTL, or the control's ttl); None or '' for ECR's 20 minutes."""
    if value in (None, ""):
        return DEFAULT_TTL
    ttl = int(value)
    if not 1 <= ttl <= MAX_TTL:
        raise ValueError(f"a presigned URL's lifetime must be 1..{MAX_TTL} seconds, not {ttl}")
    return ttl


class Layers:
    """Presigns blob URLs for the registry's face and serves them."""

    def __init__(
        self,
        secret: bytes,
        internal_port: int,
        internal_auth: Callable[[], str],
        ttl: int,
        storage: Path | None = None,
    ) -> None:
        self._key = hmac.new(secret, b"local-ecr s3 face", hashlib.sha256).digest()
        self.internal_port = internal_port
        # the docker-registry's filesystem storage: a whole blob linked into its repository is read from
        # there, as S3 serves its objects, rather than through the registry's HTTP answer as well
        self.storage = storage
        self._internal_auth = internal_auth
        self._default_ttl = self.ttl = ttl
        self._lock = threading.Lock()

    def control(self, doc: dict[str, Any]) -> dict[str, Any]:
        """POST /_bridge/s3: {"ttl": SECONDS} for the URLs presigned from now on, {"reset": true} for `up`'s."""
        with self._lock:
            if doc.get("reset"):
                self.ttl = self._default_ttl
            if "ttl" in doc:
                self.ttl = ttl_of(doc["ttl"])
            return {"ttl": self.ttl}

    def presign(self, account: str, region: str, repository: str, digest: str, *, now: float | None = None) -> str:
        """The URL a blob GET is redirected to: GET of ACCOUNT's REPOSITORY's DIGEST, for `ttl` seconds."""
        moment = datetime.datetime.fromtimestamp(now or time.time(), datetime.timezone.utc)
        host = bucket_host(region)
        path = "/" + urllib.parse.quote(f"{account}/{repository}/{digest}")
        query = {
            "X-Amz-Algorithm": "AWS4-HMAC-SHA256",
            "X-Amz-Credential": f"{_KEY}/{moment:%Y%m%d}/{region}/s3/aws4_request",
            "X-Amz-Date": f"{moment:%Y%m%dT%H%M%SZ}",
            "X-Amz-Expires": str(self.ttl),
            "X-Amz-SignedHeaders": "host",
        }
        query["X-Amz-Signature"] = self._sign("GET", host, path, query)
        return f"https://{host}{path}?{urllib.parse.urlencode(query)}"

    def _sign(self, method: str, host: str, path: str, query: dict[str, str]) -> str:
        canonical = "\n".join([method, host, path, urllib.parse.urlencode(sorted(query.items()))])
        return hmac.new(self._key, canonical.encode(), hashlib.sha256).hexdigest()

    def serve(self, request: Any, region: str, send: Callable[[Answer], None]) -> None:
        """Answer REQUEST to REGION's bucket: the blob, or S3's refusal (given to SEND)."""
        refusal, blob = self._check(request, region)
        if refusal is not None:
            return send(refusal)
        assert blob is not None
        account, repository, digest = blob
        stored = None if request.headers.get("Range") else self._stored(account, region, repository, digest)
        if stored is not None:
            return self._send_file(request, stored, digest)
        headers = {"Authorization": self._internal_auth(), "Connection": "close"}
        if request.headers.get("Range"):
            headers["Range"] = request.headers["Range"]
        conn = http.client.HTTPConnection("127.0.0.1", self.internal_port, timeout=300)
        try:
            conn.request("GET", f"/v2/{account}/{region}/{repository}/blobs/{digest}", headers=headers)
            resp = conn.getresponse()
            if resp.status not in (200, 206):
                resp.read()
                return send(_error(404, "NoSuchKey", "The specified key does not exist."))
            request.send_response(resp.status)
            request.send_header("Content-Type", "application/octet-stream")
            request.send_header("Content-Length", resp.getheader("Content-Length", "0"))
            for name in ("Content-Range",):
                if resp.getheader(name):
                    request.send_header(name, resp.getheader(name, ""))
            _object_headers(request, digest)
            while block := resp.read(request_body.BLOCK):
                request.wfile.write(block)
        finally:
            conn.close()

    def _stored(self, account: str, region: str, repository: str, digest: str) -> Path | None:
        """The blob's file in the registry's storage when it is linked into the repository, else None."""
        algorithm, _, hexdigest = digest.partition(":")
        if self.storage is None or not re.fullmatch(r"[a-f0-9]{64}", hexdigest) or algorithm != "sha256":
            return None
        root = self.storage / "docker" / "registry" / "v2"
        link = root / "repositories" / account / region / repository / "_layers" / algorithm / hexdigest / "link"
        data = root / "blobs" / algorithm / hexdigest[:2] / hexdigest / "data"
        return data if link.is_file() and data.is_file() else None

    def _send_file(self, request: Any, path: Path, digest: str) -> None:
        with path.open("rb") as f:
            request.send_response(200)
            request.send_header("Content-Type", "application/octet-stream")
            request.send_header("Content-Length", str(os.fstat(f.fileno()).st_size))
            _object_headers(request, digest)
            while block := f.read(request_body.BLOCK):
                request.wfile.write(block)


    def _check(self, request: Any, region: str) -> tuple[Answer | None, tuple[str, str, str] | None]:
        url = urllib.parse.urlsplit(request.path)
        query = dict(urllib.parse.parse_qsl(url.query, keep_blank_values=True))
        if "X-Amz-Algorithm" in query and request.headers.get("Authorization"):
            # open-policy-agent/opa#6728: S3 refuses a presigned URL that also comes with the registry's header
            return _error(400, "InvalidArgument", _ONE_AUTH, [("ArgumentName", "Authorization")]), None
        if not all(name in query for name in (*_SIGNED, "X-Amz-Signature")):
            return _error(403, "AccessDenied", "Access Denied"), None
        signature = query.pop("X-Amz-Signature")
        host = bucket_host(region)
        # the method is signed too: the URL is for a GET, as ECR's are
        if not hmac.compare_digest(signature, self._sign(request.command, host, url.path, query)):
            message = (
                "The request signature we calculated does not match the signature you provided. "
                "Check your key and signing method."
            )
            return _error(403, "SignatureDoesNotMatch", message, [("AWSAccessKeyId", _KEY)]), None
        try:
            signed = datetime.datetime.strptime(query["X-Amz-Date"], "%Y%m%dT%H%M%SZ")
            signed = signed.replace(tzinfo=datetime.timezone.utc)
            expires = signed + datetime.timedelta(seconds=int(query["X-Amz-Expires"]))
        except ValueError:
            return _error(400, "AuthorizationQueryParametersError", "X-Amz-Date or X-Amz-Expires is invalid"), None
        now = datetime.datetime.now(datetime.timezone.utc)
        if now >= expires:
            extra = [
                ("X-Amz-Expires", query["X-Amz-Expires"]),
                ("Expires", f"{expires:%Y-%m-%dT%H:%M:%SZ}"),
                ("ServerTime", f"{now:%Y-%m-%dT%H:%M:%SZ}"),
            ]
            return _error(403, "AccessDenied", "Request has expired", extra), None
        account, _, rest = urllib.parse.unquote(url.path).lstrip("/").partition("/")
        repository, _, digest = rest.rpartition("/")
        return None, (account, repository, digest)


def _error(status: int, code: str, message: str, extra: list[tuple[str, str]] | None = None) -> Answer:
    """S3's XML error document."""
    fields = [("Code", code), ("Message", message), *(extra or [])]
    fields += [("RequestId", secrets.token_hex(8).upper()), ("HostId", secrets.token_urlsafe(48))]
    inner = "".join(f"<{name}>{escape(value)}</{name}>" for name, value in fields)
    body = f'<?xml version="1.0" encoding="UTF-8"?>\n<Error>{inner}</Error>'.encode()
    return Answer(status, [("Content-Type", "application/xml"), ("Server", "AmazonS3")], body)


def _object_headers(request: Any, digest: str) -> None:
    """S3's headers of an object's GET, after its type and length; the end of the headers."""
    request.send_header("Accept-Ranges", "bytes")
    request.send_header("ETag", f'"{digest.partition(":")[2][:32]}"')
    request.send_header("x-amz-request-id", secrets.token_hex(8).upper())
    request.send_header("Server", "AmazonS3")
    request.end_headers()
