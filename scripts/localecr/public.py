"""The public gallery's face: `public.ecr.aws` over TLS, read anonymously through its token flow.

ECR Public answers a registry request without a token with 401 and a Bearer challenge naming its token
endpoint (`realm="https://public.ecr.aws/token/"`, `service="public.ecr.aws"`); anyone may GET a pull
token there for a repository's scope, and with it read manifests, blobs and tags. Pushing needs an
`aws ecr-public get-login-password` login, which this face does not serve: a write is refused.

The gallery's repositories here are the first account's private ones in us-east-1 (ECR Public's region)
under `gallery/`: `public.ecr.aws/ALIAS/NAME` reads `ACCOUNT.dkr.ecr.us-east-1.amazonaws.com/gallery/ALIAS/NAME`,
so a test publishes an image by pushing it there, and no other repository is shown.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import http.client
import json
import re
import time
import urllib.parse
from collections.abc import Callable
from typing import Any

from . import body as request_body
from .answer import Answer

HOST = "public.ecr.aws"
REGION = "us-east-1"  # ECR Public's own region
TOKEN_LIFETIME = 3600
CHALLENGE = f'Bearer realm="https://{HOST}/token/",service="{HOST}",scope="aws"'
_PART = r"[a-z0-9]+(?:[._-][a-z0-9]+)*"
# ALIAS/NAME (a name of one part is no gallery repository), then what is read of it
_NAME = re.compile(rf"^/v2/(?P<name>{_PART}(?:/{_PART})+)/(?P<kind>manifests|blobs|tags)/(?P<rest>.+)$")
# what each kind of read may name: a manifest's tag or digest, a blob's digest, the tag list
_REST = {
    "manifests": re.compile(r"^(?:[A-Za-z0-9_][A-Za-z0-9._-]{0,127}|sha256:[a-f0-9]{64})$"),
    "blobs": re.compile(r"^sha256:[a-f0-9]{64}$"),
    "tags": re.compile(r"^list$"),
}
PREFIX = "gallery/"  # the private repositories the gallery shows: gallery/ALIAS/NAME
_DROPPED = ("connection", "transfer-encoding", "location", "docker-distribution-api-version")
_SCOPE = re.compile(rf"^repository:(?P<name>{_PART}(?:/{_PART})*):pull$")


class Gallery:
    """Anonymous pull tokens for the gallery, and its registry's read-only answers."""

    def __init__(self, secret: bytes, account: str, internal_port: int, internal_auth: Callable[[], str]) -> None:
        self._key = hmac.new(secret, b"local-ecr public gallery", hashlib.sha256).digest()
        self.account = account
        self.internal_port = internal_port
        self._internal_auth = internal_auth

    def serve(self, request: Any, send: Callable[[Answer], None]) -> None:
        url = urllib.parse.urlsplit(request.path)
        if url.path.rstrip("/") == "/token":
            return send(self._token(urllib.parse.parse_qs(url.query)))
        if url.path in ("/v2", "/v2/"):
            return send(self._refusal() if self._name_of(request) is None else _json(200, {}))
        match = _NAME.match(url.path)
        if match is None:
            return send(_error(404, "NAME_UNKNOWN", "The repository does not exist"))
        allowed = self._name_of(request)
        if allowed is None or allowed not in ("*", match["name"]):
            return send(self._refusal())
        if request.command not in ("GET", "HEAD"):
            # an anonymous token reads; pushing to the gallery needs an ECR Public login
            return send(_error(401, "DENIED", "Not Authorized", [("WWW-Authenticate", CHALLENGE)]))
        if not _REST[match["kind"]].match(match["rest"]):
            return send(_error(404, "NAME_UNKNOWN", "The repository does not exist"))
        target = f"/v2/{self.account}/{REGION}/{PREFIX}{match['name']}/{match['kind']}/{match['rest']}"
        if url.query:
            target += "?" + url.query
        self._relay(request, target, send)

    # -- tokens ------------------------------------------------------------------------------------

    def _token(self, query: dict[str, list[str]]) -> Answer:
        # the challenge's own scope ("aws") or none: a token that reads every repository, as ECR Public's does
        # (`curl https://public.ecr.aws/token/` is how people script it); else one repository's pull scope
        scopes = [s for s in query.get("scope") or [] if s != "aws"]
        names = [m["name"] for m in (_SCOPE.match(s) for s in scopes) if m]
        if len(names) != len(scopes) or len(names) > 1:
            return _json(400, {"errors": [{"code": "UNSUPPORTED", "message": "only a repository's pull scope"}]})
        body = json.dumps({"n": names[0] if names else "*", "e": int(time.time()) + TOKEN_LIFETIME},
                          separators=(",", ":")).encode()  # fmt: skip
        payload = base64.urlsafe_b64encode(body).decode().rstrip("=")
        signature = hmac.new(self._key, payload.encode(), hashlib.sha256).hexdigest()
        return _json(200, {"token": f"{payload}.{signature}"})

    def _name_of(self, request: Any) -> str | None:
        """The repository the request's Bearer token opens; None without a valid one."""
        kind, _, token = request.headers.get("Authorization", "").partition(" ")
        payload, _, signature = token.partition(".")
        if kind.lower() != "bearer" or not payload:
            return None
        expected = hmac.new(self._key, payload.encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, signature):
            return None
        try:
            doc = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        except ValueError:
            return None
        if not isinstance(doc, dict) or int(doc.get("e", 0)) < time.time():
            return None
        return str(doc.get("n", ""))

    def _refusal(self) -> Answer:
        return _error(401, "UNAUTHORIZED", "authentication required", [("WWW-Authenticate", CHALLENGE)])

    # -- reads -------------------------------------------------------------------------------------

    def _relay(self, request: Any, target: str, send: Callable[[Answer], None]) -> None:
        headers = {"Authorization": self._internal_auth(), "Connection": "close"}
        for name in ("Accept", "Range"):
            if request.headers.get(name):
                headers[name] = ", ".join(request.headers.get_all(name) or [])
        conn = http.client.HTTPConnection("127.0.0.1", self.internal_port, timeout=300)
        try:
            conn.request(request.command, target, headers=headers)
            resp = conn.getresponse()
            if resp.status >= 400:  # a small document that may name the repository: the gallery's name, not ours
                data = resp.read().replace(f"{self.account}/{REGION}/{PREFIX}".encode(), b"")
                content = resp.getheader("Content-Type", "application/json")
                return send(Answer(resp.status, [("Content-Type", content)], data))
            request.send_response(resp.status)
            for key, value in resp.getheaders():
                if key.lower() not in _DROPPED:
                    request.send_header(key, value)
            request.end_headers()
            if request.command == "HEAD":
                return
            while block := resp.read(request_body.BLOCK):
                request.wfile.write(block)
        finally:
            conn.close()


def _json(status: int, doc: dict[str, Any], extra: list[tuple[str, str]] | None = None) -> Answer:
    return Answer(status, [("Content-Type", "application/json"), *(extra or [])], json.dumps(doc).encode())


def _error(status: int, code: str, message: str, extra: list[tuple[str, str]] | None = None) -> Answer:
    return _json(status, {"errors": [{"code": code, "message": message}]}, extra)
