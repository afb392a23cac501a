"""The bridge's request handler: one HTTP server class for every port, routing each request by port and
Host header to the registry's face (face.py), the API (api.py) or the bridge's own endpoints (control.py),
and keeping a client's connection for its next request where ECR would."""

from __future__ import annotations

import logging
import re
import time
import urllib.parse
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

from . import body as request_body
from . import public, s3
from .answer import Answer, ecr_error, json_answer
from .api import ApiCalls
from .control import control
from .face import Scope
from .state import ACCOUNT_ID, REGION

if TYPE_CHECKING:
    from .bridge import Bridge

log = logging.getLogger("localecr.bridge")

_REGISTRY_HOST = re.compile(r"^(?P<account>\d{12})\.dkr\.ecr\.(?P<region>[a-z0-9-]+)\.amazonaws\.com$")
DEFAULT_SCOPE = Scope(ACCOUNT_ID, REGION)


class Handler(ApiCalls, BaseHTTPRequestHandler):
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
    def bridge(self) -> Bridge:  # type: ignore[override]
        return self.server.bridge

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
        self._body_done = not request_body.has_body(self.headers)
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
            if host == public.HOST and self.server.kind == "tls":  # the public gallery (public.py)
                action = "public"
                self._registry_keep_alive = keep_alive
                self.bridge.gallery.serve(self, self._send)
                return
            region = s3.region_of(host) if self.server.kind == "tls" else None
            if region:
                action = "s3"
                self._registry_keep_alive = keep_alive
                self.bridge.layers.serve(self, region, self._send)
                return
            if self.server.kind == "http":
                self._send(json_answer(404, {"error": f"{host or 'this host'} is served over https only"}))
                return
            if path.startswith("/_bridge/") and self.server.kind == "api":
                self._send(control(self.bridge, self.command, path, lambda: b"".join(self._body())))
                return
            action = self._api(keep_alive)
        except Exception as err:  # the caller gets an AWS-shaped error, the log the traceback
            self._registry_keep_alive = False
            self.close_connection = True  # an answer may have been cut short: the client must not wait on
            if action == "registry" and isinstance(err, ConnectionRefusedError):
                # the docker-registry is down (the fault tests stop it): the client sees its connection
                # dropped, as from a registry host that died, not an answer
                log.info("%s %s: the registry is down; connection dropped", self.command, path)
                return
            if isinstance(err, ConnectionAbortedError):  # the client went away mid-body: no one to answer
                log.info("%s %s: %s", self.command, path, err)
                return
            log.exception("%s %s (%s) failed", self.command, path, action)
            if not self._answered:  # else the error would land inside an answer already under way
                self._send(ecr_error(500, "ServerException", f"local-ecr bridge: {err}; see bridge.log"))
        finally:
            # nothing of this request's decides for the next one on the connection (or for send_error)
            self._registry_keep_alive = False
            log.info("%s %s %s %.0f ms", self.command, path, action, (time.monotonic() - started) * 1000)

    def body(self) -> Iterator[bytes]:
        """The request's body, as it comes (the registry's face streams it on)."""
        return self._body()

    def _body(self) -> Iterator[bytes]:
        def done() -> None:
            self._body_done = True

        return request_body.read(self.rfile, self.headers, done)

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
    # ECR takes many connections at once (a copy opens one per blob and host); socketserver's backlog of 5
    # dropped the SYNs of a burst, and each dropped one cost its client a second before it tried again
    request_queue_size = 128

    def finish_request(self, request: Any, client_address: Any) -> None:
        # the TLS handshake in the connection's own thread, not in the one accepting every connection
        handshake = getattr(request, "do_handshake", None)
        if handshake is not None:
            try:
                handshake()
            except OSError:
                return  # a client that gave up, or spoke no TLS: nothing to answer
        super().finish_request(request, client_address)

    def __init__(self, address: tuple[str, int], bridge: Bridge, kind: str) -> None:
        super().__init__(address, Handler)
        self.bridge = bridge
        # api (plain http), registry (the plain face), tls (ECR's names), http (their registries, plain)
        self.kind = kind
