"""The bridge: the stack's AWS endpoints and its registry's ECR face, in front of moto and docker-registry.

ECR and STS requests go to moto as the account whose access key signed them (x-moto-account-id),
unchanged but for the few ECR calls that must agree with the registry (see ``mirror.py``) and
GetAuthorizationToken, whose password (tokens.py) the registry's face then checks (face.py). It
also receives the registry's notifications, keeps the repositories' settings across restarts
(ecr-state.json), and serves a few ``/_bridge/*`` endpoints for tests (image scans a test sets: scans.py).

It listens on plain loopback ports (the API, the registry's face for the first account and region)
and, unless the stack is plain, on ECR's names over TLS: FRONT_IP:443, routed by the Host header.

Run as ``python3 -m localecr.bridge --state DIR`` with ``scripts`` on PYTHONPATH; it starts moto in
this same process on the internal port from ``DIR/ports``.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import http.client
import json
import logging
import re
import secrets
import socket
import threading
import time
import urllib.parse
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from . import imds
from .face import Face, Scope
from .mirror import Mirror, MissingLayers, manifest_digest
from .registry import MANIFEST_TYPES, Registry
from .scans import Scans, page_size
from .state import ACCOUNT_ID, FRONT_IP, REGION, State
from .tokens import Tokens

log = logging.getLogger("localecr.bridge")

ECR_TARGET = "AmazonEC2ContainerRegistry_V20150921."
_CREDENTIAL = re.compile(r"Credential=(?P<key>[^/\s,]+)/\d{8}/(?P<region>[a-z0-9-]+)/")
_REGISTRY_HOST = re.compile(r"^(?P<account>\d{12})\.dkr\.ecr\.(?P<region>[a-z0-9-]+)\.amazonaws\.com$")
DEFAULT_SCOPE = Scope(ACCOUNT_ID, REGION)
# the ECR calls whose success changes what a repository is: kept in ecr-state.json across restarts
_SETTINGS_CALLS = {
    "CreateRepository",
    "DeleteRepository",
    "PutImageTagMutability",
    "PutImageScanningConfiguration",
    "PutLifecyclePolicy",
    "DeleteLifecyclePolicy",
}
# hop-by-hop headers, and the two the bridge sets itself (length, and identity encoding so that
# answers can be rewritten)
_NOT_FORWARDED = {
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "content-length",
    "accept-encoding",
}
_BLOCK = 64 * 1024


@dataclass
class Answer:
    """A whole (buffered) HTTP response, from moto or made here."""

    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""

    def json(self) -> Any:
        return json.loads(self.body)

    def with_json(self, doc: Any) -> Answer:
        return Answer(self.status, self.headers, json.dumps(doc).encode())


def _ecr_error(status: int, code: str, message: str) -> Answer:
    body = json.dumps({"__type": code, "message": message}).encode()
    return Answer(status, [("Content-Type", "application/x-amz-json-1.1")], body)


class Bridge:
    """What the request handlers share: moto's port, the registry, the mirror and the counters."""

    def __init__(self, state: State) -> None:
        ports = state.ports()
        self.moto_port = ports.moto
        self.registry = Registry(ports.internal, state.password(), state.registry_data)
        self.tokens = Tokens(state.secret())
        self._clients: dict[tuple[str, str], Any] = {}
        self._clients_lock = threading.Lock()
        self.mirror = Mirror(self.ecr, self.registry)
        self.face = Face(self.tokens, self, ports.internal, self.registry.auth_header)
        self._state = state
        self._stats: Counter[str] = Counter()
        self._stats_lock = threading.Lock()
        # Faults a test asks for (POST /_bridge/faults), see set_faults.
        self.faults: dict[str, Any] = {}
        self._faults_lock = threading.Lock()
        self._pushes_seen = 0
        self.pages = Pages()
        self._known: set[tuple[Scope, str]] = set()  # repositories moto has: the face asks on every request
        self.settings = Settings(state.ecr_state)
        self.scans = Scans()  # image scans a test set (POST /_bridge/scans), see scans.py
        self.instance = imds.Instance.from_state(state)  # the instance metadata's role keys (imds.py)

    def ecr(self, account: str, region: str) -> Any:
        """A boto3 ECR client on moto as ACCOUNT in REGION, for the bridge's own calls (not counted)."""
        with self._clients_lock:
            if (account, region) not in self._clients:
                import boto3  # imported here so `--help` stays quick

                client = boto3.client(
                    "ecr",
                    endpoint_url=f"http://127.0.0.1:{self.moto_port}",
                    region_name=region,
                    aws_access_key_id="testing",
                    aws_secret_access_key="testing",
                )

                def as_account(request: Any, **_: Any) -> None:
                    request.headers["x-moto-account-id"] = account

                client.meta.events.register("before-send.ecr", as_account)
                self._clients[(account, region)] = client
            return self._clients[(account, region)]

    # -- what the registry's face asks of the ECR API -------------------------------------------------

    def exists(self, scope: Scope, repository: str) -> bool:
        if (scope, repository) in self._known:
            return True
        try:
            self.ecr(scope.account, scope.region).describe_repositories(repositoryNames=[repository])
        except Exception:  # noqa: BLE001 - RepositoryNotFoundException, or a name ECR would refuse
            return False
        self._known.add((scope, repository))
        return True

    def immutable(self, scope: Scope, repository: str) -> bool:
        reply = self.ecr(scope.account, scope.region).describe_repositories(repositoryNames=[repository])
        return bool(reply["repositories"][0].get("imageTagMutability") == "IMMUTABLE")

    def forget(self, scope: Scope, repository: str) -> None:
        self._known.discard((scope, repository))

    def restore(self) -> None:
        """Put back the repositories (and their settings) of before a restart, then their images."""
        for scope, name, saved in self.settings.all():
            client = self.ecr(scope.account, scope.region)
            params = {k: v for k, v in saved.items() if k != "lifecyclePolicyText"}
            try:
                client.create_repository(repositoryName=name, **params)
            except Exception:  # noqa: BLE001 - already there (moto kept it)
                pass
            if saved.get("lifecyclePolicyText"):
                client.put_lifecycle_policy(repositoryName=name, lifecyclePolicyText=saved["lifecyclePolicyText"])
            self.mirror.sync(scope.internal(name))
            log.info("restored %s in %s/%s", name, scope.account, scope.region)

    def count(self, action: str) -> None:
        with self._stats_lock:
            self._stats[action] += 1

    def stats(self) -> dict[str, int]:
        with self._stats_lock:
            return dict(self._stats)

    def reset_stats(self) -> None:
        with self._stats_lock:
            self._stats.clear()

    def health(self) -> dict[str, bool]:
        try:
            socket.create_connection(("127.0.0.1", self.moto_port), timeout=2).close()
            moto = True
        except OSError:
            moto = False
        return {"moto": moto, "registry": self.registry.ping()}

    def set_faults(self, doc: dict[str, Any]) -> None:
        """Replace the faults; {} clears them. Keys, each optional:

        deny: [ACTION, ...]            those ECR actions answer AccessDeniedException
        token_password: TEXT           GetAuthorizationToken hands out a password the registry refuses...
        token_count: N                 ...for the next N tokens only (default: until cleared)
        error: {action, status, code, count}   ACTION answers HTTP STATUS with error CODE (default
                                       ServerException for 5xx, ThrottlingException otherwise), COUNT
                                       times (default: until cleared): a failing or throttling ECR
        rotate_after_pushes: N         after the registry reports N tag pushes, rotate its password
                                       (as ECR does when a token expires or is revoked mid-run)
        """
        with self._faults_lock:
            self.faults = dict(doc)
            self._pushes_seen = 0

    def token(self, scope: Scope) -> tuple[str, int]:
        """The registry password for SCOPE (base64 of AWS:PASSWORD, as ECR hands it out) and its expiry."""
        with self._faults_lock:
            password = self.faults.get("token_password")
            if password and "token_count" in self.faults:
                self.faults["token_count"] -= 1
                if self.faults["token_count"] <= 0:
                    del self.faults["token_password"], self.faults["token_count"]
        issued, expires = self.tokens.issue(scope.account, scope.region)
        return base64.b64encode(f"AWS:{password or issued}".encode()).decode(), expires

    def denied(self, action: str) -> bool:
        return action in set(self.faults.get("deny") or ())

    def injected_error(self, action: str) -> Answer | None:
        """The error a test asked ACTION to answer with, counting it down; None to serve it."""
        with self._faults_lock:
            error = self.faults.get("error")
            if not isinstance(error, dict) or error.get("action") != action:
                return None
            if "count" in error:
                if error["count"] <= 0:
                    return None
                error["count"] -= 1
        status = int(error.get("status", 500))
        code = str(error.get("code") or ("ServerException" if status >= 500 else "ThrottlingException"))
        message = "Rate exceeded" if "Throttl" in code else "local-ecr injected fault"
        return _ecr_error(status, code, message)

    def pushed(self) -> None:
        """A tag push the registry reported: rotate the password once the fault's count is reached."""
        with self._faults_lock:
            wanted = self.faults.get("rotate_after_pushes")
            if not wanted:
                return
            self._pushes_seen += 1
            if self._pushes_seen < int(wanted):
                return
            del self.faults["rotate_after_pushes"]
        self.rotate_password()

    def rotate_password(self) -> None:
        """Revoke every registry password handed out so far, as ECR does when a token is revoked."""
        self.tokens.revoke()
        log.info("registry passwords revoked")


class Settings:
    """The repositories of each account and region, with the settings they were given: ecr-state.json.

    moto keeps them in memory only; the bridge writes each change through, and puts them back in moto
    when it starts again (Bridge.restore).
    """

    def __init__(self, path: Path) -> None:
        self._path = path
        self._lock = threading.Lock()
        try:
            self._doc: dict[str, dict[str, dict[str, Any]]] = json.loads(path.read_text())
        except (OSError, ValueError):
            self._doc = {}

    def all(self) -> list[tuple[Scope, str, dict[str, Any]]]:
        with self._lock:
            found = []
            for key, repos in self._doc.items():
                account, _, region = key.partition("/")
                found += [(Scope(account, region), name, dict(saved)) for name, saved in repos.items()]
            return found

    def record(self, scope: Scope, action: str, params: dict[str, Any]) -> None:
        """What a successful ACTION with PARAMS changed."""
        name = str(params.get("repositoryName", ""))
        with self._lock:
            repos = self._doc.setdefault(f"{scope.account}/{scope.region}", {})
            if action == "CreateRepository":
                keep = ("imageTagMutability", "imageScanningConfiguration", "encryptionConfiguration", "tags")
                repos[name] = {k: params[k] for k in keep if k in params}
            elif action == "DeleteRepository":
                repos.pop(name, None)
            elif name in repos and action == "PutImageTagMutability":
                repos[name]["imageTagMutability"] = params.get("imageTagMutability")
            elif name in repos and action == "PutImageScanningConfiguration":
                repos[name]["imageScanningConfiguration"] = params.get("imageScanningConfiguration")
            elif name in repos and action == "PutLifecyclePolicy":
                repos[name]["lifecyclePolicyText"] = params.get("lifecyclePolicyText")
            elif name in repos and action == "DeleteLifecyclePolicy":
                repos[name].pop("lifecyclePolicyText", None)
            fresh = self._path.with_name(self._path.name + ".new")
            fresh.write_text(json.dumps(self._doc, indent=1))
            fresh.replace(self._path)


class Handler(BaseHTTPRequestHandler):
    server: BridgeServer
    # HTTP/1.1: a connection stays open for the next request, as ECR's API and registry keep theirs (a
    # client that opened a TLS connection per request would pay a handshake each time): an API call's when
    # it was read whole, a registry request's when its body was read to the end and its answer's length
    # was known. Anything relayed to moto closes its connection when it is done.
    protocol_version = "HTTP/1.1"
    # this request's: whether the client may keep a registry connection, whether the answer sent its
    # length, whether the request's body has been read to its end (set per request in _handle)
    _registry_keep_alive = False
    _delimited = False
    _body_done = True
    _answered = False  # this request's status line and headers are sent

    # every method goes through the same path
    def do_GET(self) -> None:
        self._handle()

    do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = do_OPTIONS = do_GET

    def log_message(self, format: str, *args: Any) -> None:
        pass  # _handle logs one line per request, without query strings or headers

    @property
    def bridge(self) -> Bridge:
        return self.server.bridge

    # -- dispatch ----------------------------------------------------------------------------------

    def send_header(self, keyword: str, value: str) -> None:
        if keyword.lower() == "content-length":
            self._delimited = True
        super().send_header(keyword, value)

    def end_headers(self) -> None:
        self._answered = True
        if self._registry_keep_alive:
            # a registry answer keeps the connection, as ECR's do, when the client may send another request on
            # it: the request's body read to its end and the answer's length known
            delimited = self._delimited or self.command == "HEAD"
            self.close_connection = not (delimited and self._body_done)
        if self.close_connection:
            self.send_header("Connection", "close")
        super().end_headers()

    def _handle(self) -> None:
        started = time.monotonic()
        path = urllib.parse.urlsplit(self.path).path
        action = "-"
        keep_alive = not self.close_connection  # as the request asked (HTTP/1.1 without Connection: close)
        self.close_connection = True  # unless an answer of known length to a call read whole, below
        self._delimited = self._answered = False
        self._registry_keep_alive = False
        self._body_done = not self._has_body()
        try:
            if self.server.kind == "registry":  # the plain face: the first account, the first region
                action = "registry"
                self._registry_keep_alive = keep_alive
                self.bridge.face.serve(self, DEFAULT_SCOPE, f"http://{self.headers.get('Host', '')}")
                return
            host = self.headers.get("Host", "").rsplit(":", 1)[0] if self.server.kind in ("tls", "http") else ""
            named = _REGISTRY_HOST.match(host)
            if named:
                action = "registry"
                self._registry_keep_alive = keep_alive
                scheme = "https" if self.server.kind == "tls" else "http"
                self.bridge.face.serve(self, Scope(named["account"], named["region"]), f"{scheme}://{host}")
                return
            if self.server.kind == "http":
                self._send(_json_answer(404, {"error": f"{host or 'this host'} is served over https only"}))
                return
            if path.startswith("/_bridge/") and self.server.kind == "api":
                self._send(self._control(path))
                return
            target = self.headers.get("X-Amz-Target", "")
            caller = _CREDENTIAL.search(self.headers.get("Authorization", ""))
            # a stack account's key, or the instance role's with its session token (imds.py)
            token = self.headers.get("X-Amz-Security-Token")
            who = self.bridge.instance.caller(caller["key"], token) if caller else imds.Caller(None)
            account = who.account
            self.scope = Scope(account.account_id if account else ACCOUNT_ID, caller["region"] if caller else REGION)
            if target or "x-www-form-urlencoded" in self.headers.get("Content-Type", ""):
                # JSON and query API calls are small: read them whole to know and rewrite them
                body = b"".join(self._body())
                self.close_connection = not keep_alive  # read whole, answered with a Content-Length
                action = target.rpartition(".")[2] if target else _query_action(self.path, body)
                self.bridge.count(action)
                injected = self.bridge.injected_error(action) if target.startswith(ECR_TARGET) else None
                if account is None:
                    refusal = _expired if who.expired else _unrecognized
                    self._send(refusal(json_protocol=bool(target)))
                elif injected is not None:
                    self._send(injected)
                elif target.startswith(ECR_TARGET) and self.bridge.denied(action):
                    self._send(_access_denied(action, body, self.scope))
                elif target.startswith(ECR_TARGET):
                    self._send(self._ecr(action, body))
                elif who.role_key and action == "GetCallerIdentity":  # moto knows no instance role
                    self._send(Answer(200, [("Content-Type", "text/xml")], self.bridge.instance.caller_identity()))
                else:
                    self._send(self._forward(body))
            else:
                action = _query_action(self.path, b"")
                self.bridge.count(action)
                self._relay()
        except Exception as err:  # the caller gets an AWS-shaped error, the log the traceback
            self._registry_keep_alive = False
            self.close_connection = True  # an answer may have been cut short: the client must not wait on
            if action == "registry" and isinstance(err, ConnectionRefusedError):
                # the docker-registry is down (the fault tests stop it): the client sees its connection
                # dropped, as from a registry host that died, not an answer
                log.info("%s %s: the registry is down; connection dropped", self.command, path)
                return
            log.exception("%s %s (%s) failed", self.command, path, action)
            if not self._answered:  # else the error would land inside an answer already under way
                self._send(_ecr_error(500, "ServerException", f"local-ecr bridge: {err}; see bridge.log"))
        finally:
            # nothing of this request's decides for the next one on the connection (or for send_error)
            self._registry_keep_alive = False
            log.info("%s %s %s %.0f ms", self.command, path, action, (time.monotonic() - started) * 1000)

    def body(self) -> Iterator[bytes]:
        """The request's body, as it comes (the registry's face streams it on)."""
        return self._body()

    def _control(self, path: str) -> Answer:
        if path == "/_bridge/events" and self.command == "POST":
            self._events(b"".join(self._body()))
            return Answer(200)
        if path == "/_bridge/stats" and self.command == "GET":
            return _json_answer(200, self.bridge.stats())
        if path == "/_bridge/reset-stats" and self.command == "POST":
            self.bridge.reset_stats()
            return _json_answer(200, {})
        if path == "/_bridge/faults" and self.command == "POST":
            self.bridge.set_faults(json.loads(b"".join(self._body()) or b"{}"))
            return _json_answer(200, {"deny": self.bridge.faults.get("deny") or []})
        if path == "/_bridge/scans" and self.command == "POST":
            return _json_answer(200, self.bridge.scans.configure(json.loads(b"".join(self._body()) or b"{}")))
        if path == "/_bridge/rotate-password" and self.command == "POST":
            self.bridge.rotate_password()
            return _json_answer(200, {})
        if path == "/_bridge/token" and self.command == "POST":
            # a registry password for tests that talk to the registry directly (as docker login would)
            doc = json.loads(b"".join(self._body()) or b"{}")
            scope = Scope(str(doc.get("account") or ACCOUNT_ID), str(doc.get("region") or REGION))
            password, expires = self.bridge.tokens.issue(scope.account, scope.region)
            return _json_answer(200, {"username": "AWS", "password": password, "expiresAt": expires})
        if path == "/_bridge/imds" and self.command == "POST":
            try:
                return _json_answer(200, self.bridge.instance.control(json.loads(b"".join(self._body()) or b"{}")))
            except ValueError as err:
                return _json_answer(400, {"error": str(err)})
        if path == "/_bridge/health" and self.command == "GET":
            health = self.bridge.health()
            return _json_answer(200 if all(health.values()) else 503, health)
        return _json_answer(404, {"error": f"no {self.command} {path}"})

    # -- ECR calls that touch the registry ---------------------------------------------------------

    def _ecr(self, action: str, body: bytes) -> Answer:
        params = json.loads(body or b"{}")
        repo = str(params.get("repositoryName", ""))
        name = self.scope.internal(repo)  # the registry's name for it
        mirror = self.bridge.mirror
        forward: Callable[[], Answer] = lambda: self._forward(body)  # noqa: E731

        if action == "GetAuthorizationToken":
            return self._authorization_token(forward())
        if action in ("StartImageScan", "DescribeImageScanFindings"):
            answer_json = lambda status, doc: _json_answer(status, doc, "application/x-amz-json-1.1")  # noqa: E731
            scans = self.bridge.scans
            return scans.answer(action, self.scope, params, forward, self.bridge.pages, answer_json, _ecr_error)
        if action in _PAGED and params.get("nextToken"):
            return self._next_page(action, params)  # from the snapshot the first page took
        if action in ("DescribeImages", "ListImages", "BatchGetImage"):
            mirror.sync(name)
            answer = forward()
            if action in _PAGED:
                answer = self._first_page(action, params, answer)
            return self._image_sizes(answer) if action == "DescribeImages" else answer
        if action in _PAGED:
            return self._first_page(action, params, forward())
        if action == "BatchDeleteImage":
            if len(params.get("imageIds") or []) > 100:
                return _ecr_error(
                    400,
                    "InvalidParameterException",
                    "Invalid parameter at 'imageIds' failed to satisfy constraint: "
                    "'Member must have length less than or equal to 100'",
                )
            return mirror.delete_images(name, forward)
        if action == "PutImage":
            return self._put_image(params, name)
        if action == "DeleteRepository":
            answer = mirror.delete_repository(name, forward)
        elif action == "CreateRepository":
            answer = mirror.create_repository(name, forward)
        else:
            answer = forward()
        if action in _SETTINGS_CALLS and answer.status == 200:
            self.bridge.settings.record(self.scope, action, params)
            if action == "DeleteRepository":
                self.bridge.forget(self.scope, repo)
        return answer

    # -- pages, as ECR gives them (moto answers everything at once) -------------------------------

    def _first_page(self, action: str, params: dict[str, Any], answer: Answer) -> Answer:
        key = _PAGED[action]
        if answer.status != 200 or params.get("imageIds") or params.get("repositoryNames"):
            return answer  # an error, or a lookup by id or name: ECR does not page those
        limit = page_size(params)
        if limit is None:
            return _ecr_error(400, "InvalidParameterException", "maxResults must be between 1 and 1000")
        return self._page(key, answer.json().get(key) or [], 0, limit)

    def _next_page(self, action: str, params: dict[str, Any]) -> Answer:
        limit = page_size(params)
        found = self.bridge.pages.get(str(params["nextToken"]))
        if limit is None or found is None:
            return _ecr_error(400, "InvalidParameterException", "Invalid parameter: nextToken or maxResults")
        items, offset = found
        return self._page(_PAGED[action], items, offset, limit)

    def _page(self, key: str, items: list[Any], offset: int, limit: int) -> Answer:
        doc: dict[str, Any] = {key: items[offset : offset + limit]}
        if offset + limit < len(items):
            doc["nextToken"] = self.bridge.pages.keep(items, offset + limit)
        return _json_answer(200, doc, "application/x-amz-json-1.1")

    def _authorization_token(self, answer: Answer) -> Answer:
        if answer.status != 200:
            return answer
        doc = answer.json()
        for data in doc.get("authorizationData", []):
            data["authorizationToken"], data["expiresAt"] = self.bridge.token(self.scope)
        return answer.with_json(doc)

    def _image_sizes(self, answer: Answer) -> Answer:
        # moto reports the config blob's size; ECR reports the layers', which the mirror knows
        if answer.status != 200:
            return answer
        doc = answer.json()
        for detail in doc.get("imageDetails", []):
            size = self.bridge.mirror.sizes.get(detail.get("imageDigest", ""))
            if size:
                detail["imageSizeInBytes"] = size
        return answer.with_json(doc)

    def _put_image(self, params: dict[str, Any], name: str) -> Answer:
        manifest = str(params.get("imageManifest", "")).encode()
        media_type = params.get("imageManifestMediaType") or _declared_media_type(manifest)
        # the registry will name the manifest by its sha256, so moto must use the same digest
        params.setdefault("imageDigest", manifest_digest(manifest))
        body = json.dumps(params).encode()
        try:
            return self.bridge.mirror.put_image(
                name, params.get("imageTag"), manifest, media_type, lambda: self._forward(body)
            )
        except MissingLayers as err:
            return _ecr_error(400, "LayersNotFoundException", str(err))

    def _events(self, body: bytes) -> None:
        """Registry notifications; always answered 200, or the registry would resend forever."""
        try:
            events = json.loads(body).get("events", [])
        except ValueError:
            log.warning("notification that is not JSON ignored")
            return
        for event in events:
            target = event.get("target", {})
            if event.get("action") != "push" or target.get("mediaType") not in MANIFEST_TYPES:
                continue
            if not target.get("tag"):
                continue  # by digest only: an index's children, recorded with the index (mirror.py)
            try:
                self.bridge.mirror.on_push(target["repository"], target["tag"], target["digest"])
            except Exception:
                log.exception("notification for %s:%s not recorded", target.get("repository"), target.get("tag"))
            self.bridge.pushed()

    # -- talking to moto ---------------------------------------------------------------------------

    def _has_body(self) -> bool:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return True
        length = self.headers.get("Content-Length") or "0"
        return not length.isdigit() or int(length) > 0

    def _body(self) -> Iterator[bytes]:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            yield from _dechunk(self.rfile)
            self._body_done = True
            return
        left = int(self.headers.get("Content-Length") or 0)
        while left > 0:
            block = self.rfile.read(min(left, _BLOCK))
            if not block:
                return
            left -= len(block)
            yield block
        self._body_done = True

    @contextlib.contextmanager
    def _moto_request(self, body: bytes | Iterator[bytes], length: int | None) -> Iterator[http.client.HTTPResponse]:
        headers = {k: v for k, v in self.headers.items() if k.lower() not in _NOT_FORWARDED}
        headers["Connection"] = "close"
        headers["x-moto-account-id"] = self.scope.account  # moto answers as the signing key's account
        if length is not None:
            headers["Content-Length"] = str(length)
        conn = http.client.HTTPConnection("127.0.0.1", self.bridge.moto_port, timeout=300)
        try:
            # with no Content-Length, http.client sends an iterator chunked, as it came in
            conn.request(self.command, self.path, body=body, headers=headers)
            yield conn.getresponse()
        finally:
            conn.close()

    def _forward(self, body: bytes) -> Answer:
        with self._moto_request(body, len(body)) as resp:
            return Answer(resp.status, _end_to_end(resp.getheaders()), resp.read())

    def _relay(self) -> None:
        """Pass a request of any size through in blocks (S3 uploads, say, if someone tries)."""
        chunked = "chunked" in self.headers.get("Transfer-Encoding", "").lower()
        length = None if chunked else int(self.headers.get("Content-Length") or 0)
        with self._moto_request(self._body(), length) as resp:
            self.send_response(resp.status)
            for key, value in _end_to_end(resp.getheaders()):
                self.send_header(key, value)
            if resp.getheader("Content-Length"):
                self.send_header("Content-Length", resp.getheader("Content-Length", "0"))
            self.end_headers()
            if self.command != "HEAD":
                while block := resp.read(_BLOCK):
                    self.wfile.write(block)

    def _send(self, answer: Answer) -> None:
        self.send_response(answer.status)
        for key, value in answer.headers:
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(answer.body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(answer.body)


class BridgeServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], bridge: Bridge, kind: str) -> None:
        super().__init__(address, Handler)
        self.bridge = bridge
        # api (plain http), registry (the plain face), tls (ECR's names), http (their registries, plain)
        self.kind = kind


def _end_to_end(headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
    # moto's Server and Date would follow our own; the length is set for the body we send
    skip = _NOT_FORWARDED | {"server", "date"}
    return [(k, v) for k, v in headers if k.lower() not in skip]


def _access_denied(action: str, body: bytes, scope: Scope) -> Answer:
    repo = json.loads(body or b"{}").get("repositoryName", "*")
    return _ecr_error(
        400,
        "AccessDeniedException",
        f"User: arn:aws:iam::{scope.account}:user/tester is not authorized to perform: ecr:{action} "
        f"on resource: arn:aws:ecr:{scope.region}:{scope.account}:repository/{repo} because no identity-based "
        f"policy allows the ecr:{action} action",
    )


def _unrecognized(*, json_protocol: bool) -> Answer:
    """An access key none of the stack's accounts has, as ECR (JSON) or STS (query, XML) say it."""
    message = "The security token included in the request is invalid."
    if json_protocol:
        return _ecr_error(400, "UnrecognizedClientException", message)
    body = (
        '<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type>'
        f"<Code>InvalidClientTokenId</Code><Message>{message}</Message></Error></ErrorResponse>"
    ).encode()
    return Answer(403, [("Content-Type", "text/xml")], body)


def _expired(*, json_protocol: bool) -> Answer:
    """The instance role's keys past their Expiration, as ECR (JSON) or STS (query, XML) say it."""
    if json_protocol:
        return _ecr_error(400, "ExpiredTokenException", imds.EXPIRED_MESSAGE)
    body = (
        '<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type>'
        f"<Code>ExpiredToken</Code><Message>{imds.EXPIRED_MESSAGE}</Message></Error></ErrorResponse>"
    ).encode()
    return Answer(403, [("Content-Type", "text/xml")], body)


def _json_answer(status: int, doc: Any, content_type: str = "application/json") -> Answer:
    return Answer(status, [("Content-Type", content_type)], json.dumps(doc).encode())


# The listings ECR answers a page at a time, and the key of each one's items
_PAGED = {"DescribeImages": "imageDetails", "ListImages": "imageIds", "DescribeRepositories": "repositories"}


class Pages:
    """The listings handed out a page at a time: each first page takes a snapshot, and its nextToken
    names the snapshot and where the next page starts (a listing stays as it was, as ECR's do)."""

    def __init__(self, keep: int = 256) -> None:
        self._snapshots: OrderedDict[str, list[Any]] = OrderedDict()
        self._limit = keep
        self._lock = threading.Lock()

    def keep(self, items: list[Any], offset: int) -> str:
        with self._lock:
            name = next((k for k, v in self._snapshots.items() if v is items), None) or secrets.token_hex(8)
            self._snapshots[name] = items
            self._snapshots.move_to_end(name)
            while len(self._snapshots) > self._limit:
                self._snapshots.popitem(last=False)
        return f"{name}.{offset}"

    def get(self, token: str) -> tuple[list[Any], int] | None:
        name, _, offset = token.partition(".")
        with self._lock:
            items = self._snapshots.get(name)
        if items is None or not offset.isdigit():
            return None
        return items, int(offset)


def _query_action(path: str, body: bytes) -> str:
    """The Action of a query-protocol call (STS), from the form body or the query string."""
    for text in (body.decode("utf-8", "replace"), urllib.parse.urlsplit(path).query):
        action = urllib.parse.parse_qs(text).get("Action")
        if action:
            return action[0]
    return "(other)"


def _declared_media_type(manifest: bytes) -> str:
    try:
        return str(json.loads(manifest).get("mediaType") or MANIFEST_TYPES[0])
    except (ValueError, AttributeError):
        return MANIFEST_TYPES[0]


def _dechunk(stream: Any) -> Iterator[bytes]:
    while True:
        size = int(stream.readline().split(b";")[0].strip() or b"0", 16)
        if size == 0:
            while stream.readline() not in (b"\r\n", b"\n", b""):
                pass  # trailers
            return
        yield stream.read(size)
        stream.readline()


def _follow_the_registry(bridge: Bridge, face: BridgeServer) -> None:
    """The plain face takes connections only while the docker-registry does: stopped or killed (the
    fault tests), the registry is gone for its clients too, as a dead registry host would be."""
    address = face.server_address
    serving: BridgeServer | None = None
    while True:
        try:
            socket.create_connection(("127.0.0.1", bridge.registry.port), timeout=1).close()
            alive = True
        except OSError:
            alive = False
        if alive and serving is None:
            serving = face if face.socket.fileno() >= 0 else BridgeServer(address, bridge, "registry")  # type: ignore[arg-type]
            threading.Thread(target=serving.serve_forever, daemon=True).start()
        elif not alive and serving is not None:
            serving.shutdown()
            serving.server_close()
            serving = None
            log.info("the docker-registry is down: the plain registry face stopped taking connections")
        time.sleep(0.2)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="localecr.bridge", description=__doc__.split("\n")[0])
    parser.add_argument("--state", type=Path, required=True, help="the stack's state folder")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # moto's per-request lines repeat ours
    logging.getLogger("botocore").setLevel(logging.WARNING)

    from moto.server import ThreadedMotoServer

    state = State(args.state)
    bridge = Bridge(state)
    ThreadedMotoServer(ip_address="127.0.0.1", port=bridge.moto_port, verbose=False).start()
    ports = state.ports()
    servers = [
        BridgeServer(("127.0.0.1", ports.api), bridge, "api"),
        BridgeServer(("127.0.0.1", ports.registry), bridge, "registry"),
    ]
    if not state.plain:
        import ssl

        tls = BridgeServer((FRONT_IP, 443), bridge, "tls")
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(state.server_cert, state.server_key)
        tls.socket = context.wrap_socket(tls.socket, server_side=True)
        # The engine takes a registry on a loopback address for an insecure one: after an https
        # refusal it tries http too, and reports what that says. The same face answers there.
        servers += [tls, BridgeServer((FRONT_IP, 80), bridge, "http")]
    bridge.restore()
    imds.serve(bridge.instance, ports.imds)  # on loopback only; never 169.254.169.254
    for server in servers[2:]:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    threading.Thread(target=_follow_the_registry, args=(bridge, servers[1]), daemon=True).start()
    log.info(
        "bridge on 127.0.0.1:%d, registry face on 127.0.0.1:%d%s, moto on 127.0.0.1:%d",
        ports.api,
        ports.registry,
        "" if state.plain else f", ECR's names on {FRONT_IP}:443",
        bridge.moto_port,
    )
    servers[0].serve_forever()


if __name__ == "__main__":
    main()
