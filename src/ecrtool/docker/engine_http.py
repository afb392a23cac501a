"""The Docker engine's API on its unix socket, without docker-py: the image calls of push, pull and tag.

Importing docker-py (requests, urllib3) costs more than pushing a new tag of a known image takes
(BENCHMARKS.md). Inspecting, tagging, untagging, pushing and pulling are a handful of plain HTTP
requests on the socket, so they are made here with the standard library's http.client, one connection
each; running containers stays on docker-py. Which engine a command talks to (describe_host) is settled
here too: a login on a cached token needs that and the engine's POST /auth, and nothing else of the
Docker gateway.
"""

from __future__ import annotations

import base64
import codecs
import json
import socket
from collections.abc import Iterator, Mapping
from http.client import HTTPConnection, HTTPException, HTTPResponse
from urllib.parse import quote, urlencode

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (see ecrtool.model.value)
if TYPE_CHECKING:
    from typing import Any

TIMEOUT = 300.0  # docker-py's: the engine may wait on the registry that long
_READ = 65536


class EngineError(Exception):
    """An HTTP error from the engine: its status and its explanation (status 0: an answer that could not be read)."""

    def __init__(self, status_code: int, explanation: str) -> None:
        super().__init__(explanation)
        self.status_code = status_code
        self.explanation = explanation


class Engine:
    """Requests on the engine's unix socket at PATH; OSError when it cannot be reached, EngineError when it
    refuses or its answer cannot be read."""

    def __init__(self, path: str) -> None:
        self._path = path

    def _open(
        self,
        method: str,
        target: str,
        headers: Mapping[str, str] | None = None,
        body: bytes = b"",
        *,
        stream: bool = False,
    ) -> tuple[UnixConnection, HTTPResponse]:
        """Send the request and read the answer's head; the caller reads the body and closes the connection.

        The head must come within TIMEOUT; a STREAM's body may then pause for as long as it takes.
        """
        conn = UnixConnection(self._path, TIMEOUT)
        try:
            sent = {"Host": "docker", "User-Agent": "ecrtool", **(headers or {})}
            if body:
                sent["Content-Type"] = "application/json"
            with _AsEngineError():
                conn.request(method, target, body or None, sent)
                sock = conn.sock  # the answer's, even once the connection lets go of it (Connection: close)
                reply = conn.getresponse()
                if reply.status >= 400:
                    raise EngineError(reply.status, _explanation(reply.read()))
            if stream and sock is not None:
                sock.settimeout(None)
        except BaseException:
            conn.close()
            raise
        return conn, reply

    def _call(self, method: str, target: str, body: bytes = b"") -> bytes:
        conn, reply = self._open(method, target, body=body)
        with conn, reply, _AsEngineError():
            return reply.read()

    def inspect_image(self, reference: str) -> dict[str, Any] | None:
        try:
            found: dict[str, Any] = json.loads(self._call("GET", f"/images/{_name(reference)}/json"))
        except EngineError as err:
            if err.status_code == 404:
                return None
            raise
        return found

    def version(self) -> dict[str, Any]:
        """The engine's own report (GET /version): Version, ApiVersion, Os, Arch..."""
        found: dict[str, Any] = json.loads(self._call("GET", "/version"))
        return found

    def tag(self, source: str, repository: str, tag: str) -> None:
        self._call("POST", f"/images/{_name(source)}/tag?{urlencode({'repo': repository, 'tag': tag})}")

    def untag(self, reference: str) -> None:
        self._call("DELETE", f"/images/{_name(reference)}?noprune=1")

    def push(self, repository: str, tag: str, auth: Mapping[str, str]) -> Iterator[dict[str, Any]]:
        target = f"/images/{_name(repository)}/push?{urlencode({'tag': tag})}"
        yield from self._stream("POST", target, {"X-Registry-Auth": registry_auth(auth)})

    def pull(self, image: str, tag: str | None, auth: Mapping[str, str] | None) -> Iterator[dict[str, Any]]:
        params = {"fromImage": image, **({"tag": tag} if tag else {})}
        headers = {"X-Registry-Auth": registry_auth(auth)} if auth else {}
        yield from self._stream("POST", f"/images/create?{urlencode(params)}", headers)

    def login(self, auth: Mapping[str, str]) -> None:
        self._call("POST", "/auth", json.dumps(dict(auth)).encode())

    def _stream(self, method: str, target: str, headers: Mapping[str, str]) -> Iterator[dict[str, Any]]:
        """The engine's progress, one JSON object at a time as they arrive (they may span or share pieces).

        No timeout between pieces: a big layer extracts for minutes without a word (docker-py pulls with no
        timeout at all).
        """
        conn, reply = self._open(method, target, headers, stream=True)
        decoder = json.JSONDecoder()
        utf8 = codecs.getincrementaldecoder("utf-8")(errors="replace")  # a character may span two pieces
        with conn, reply, _AsEngineError():
            text = ""
            while piece := reply.read1(_READ):
                text += utf8.decode(piece)
                while True:
                    text = text.lstrip()
                    if not text:
                        break
                    try:
                        event, end = decoder.raw_decode(text)
                    except ValueError:
                        break  # the rest of this object is still on its way
                    text = text[end:]
                    if isinstance(event, dict):
                        yield event


class UnixConnection(HTTPConnection):
    """http.client's connection to the unix socket at PATH, connecting within TIMEOUT; closed on leaving a `with`."""

    def __init__(self, path: str, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self._path = path

    def __enter__(self) -> UnixConnection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.settimeout(self.timeout)
            sock.connect(self._path)
        except BaseException:
            sock.close()
            raise
        self.sock = sock


class _AsEngineError:
    """Turns http.client's complaints about an answer (a bad chunk, an endless header) into EngineError.

    A class, not contextlib.contextmanager: contextlib would load on a cached login for this alone.
    """

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type[BaseException] | None, err: BaseException | None, trace: object) -> None:
        # RemoteDisconnected is both: a connection closed early stays the OSError it also is
        if isinstance(err, HTTPException) and not isinstance(err, OSError):
            name, text = type(err).__name__, str(err)
            what = text if text.startswith(name) else f"{name}: {text}"
            explanation = f"the engine's answer could not be read ({what}): check that the socket is a Docker engine's"
            raise EngineError(0, explanation) from err


def registry_auth(auth: Mapping[str, str]) -> str:
    """The X-Registry-Auth header, as the docker CLI and docker-py encode it."""
    return base64.urlsafe_b64encode(json.dumps(dict(auth)).encode()).decode()


def _name(reference: str) -> str:
    return quote(reference, safe="/:@")


def _explanation(body: bytes) -> str:
    try:
        doc = json.loads(body)
    except ValueError:
        return body.decode(errors="replace").strip()
    if isinstance(doc, dict) and doc.get("message"):
        return str(doc["message"])
    return body.decode(errors="replace").strip()
