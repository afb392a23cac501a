"""The engine's API without docker-py: requests as the engine expects them, answers however they arrive.

A unix socket in the test's folder answers with canned HTTP; the real engine is the integration tests'.
"""

from __future__ import annotations

import base64
import json
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from ecrtool.core.engine_http import Engine, EngineError


class Canned:
    def __init__(self, path: Path) -> None:
        self.path = str(path)
        self.answer: list[bytes] = []  # written piece by piece, flushed between pieces
        self.requests: list[bytes] = []
        self._server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._server.bind(self.path)
        self._server.listen(4)
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self._server.accept()
            except OSError:
                return
            with conn:
                data = b""
                while b"\r\n\r\n" not in data:
                    data += conn.recv(65536)
                head, _, body = data.partition(b"\r\n\r\n")
                length = next(
                    (
                        int(line.split(b":")[1])
                        for line in head.split(b"\r\n")
                        if line.lower().startswith(b"content-length")
                    ),
                    0,
                )
                while len(body) < length:
                    body += conn.recv(65536)
                self.requests.append(head + b"\r\n\r\n" + body)
                for piece in self.answer:
                    conn.sendall(piece)

    def close(self) -> None:
        self._server.close()


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Canned]:
    canned = Canned(tmp_path / "e.sock")
    yield canned
    canned.close()


def chunked(*pieces: bytes) -> list[bytes]:
    head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
    return [head, *(f"{len(p):x}\r\n".encode() + p + b"\r\n" for p in pieces), b"0\r\n\r\n"]


def test_push_streams_events_split_and_joined_across_chunks(engine: Canned) -> None:
    events = [{"status": "Preparing", "id": "abc"}, {"status": "Pushed", "id": "abc"}, {"aux": {"Digest": "sha256:1"}}]
    text = b"".join(json.dumps(e).encode() + b"\r\n" for e in events)
    engine.answer = chunked(text[:10], text[10:50], text[50:])
    auth = {"username": "AWS", "password": "pw", "serveraddress": "reg:5000"}
    got = list(Engine(engine.path).push("reg:5000/trees", "v1", auth))
    assert got == events
    request = engine.requests[0].decode()
    assert request.startswith("POST /images/reg:5000/trees/push?tag=v1 HTTP/1.1\r\n")
    header = next(line for line in request.split("\r\n") if line.startswith("X-Registry-Auth: "))
    assert json.loads(base64.urlsafe_b64decode(header.split(": ", 1)[1])) == auth


def test_pull_by_digest_asks_for_the_digest(engine: Canned) -> None:
    engine.answer = chunked(b'{"status":"Digest: sha256:2"}')
    assert list(Engine(engine.path).pull("reg:5000/trees@sha256:2", None, None)) == [{"status": "Digest: sha256:2"}]
    first_line = engine.requests[0].split(b"\r\n")[0].decode()
    assert first_line == "POST /images/create?fromImage=reg%3A5000%2Ftrees%40sha256%3A2 HTTP/1.1"
    assert b"X-Registry-Auth" not in engine.requests[0]


def test_an_unknown_image_inspects_as_none(engine: Canned) -> None:
    body = b'{"message":"No such image: nope:latest"}'
    engine.answer = [b"HTTP/1.1 404 Not Found\r\nContent-Length: %d\r\n\r\n" % len(body), body]
    assert Engine(engine.path).inspect_image("nope:latest") is None


def test_an_engine_error_carries_its_status_and_message(engine: Canned) -> None:
    body = b'{"message":"conflict: unable to remove repository reference"}'
    engine.answer = [b"HTTP/1.1 409 Conflict\r\nContent-Length: %d\r\n\r\n" % len(body), body]
    with pytest.raises(EngineError) as caught:
        Engine(engine.path).untag("reg:5000/trees:v1")
    assert caught.value.status_code == 409
    assert caught.value.explanation == "conflict: unable to remove repository reference"
    assert engine.requests[0].startswith(b"DELETE /images/reg:5000/trees:v1?noprune=1 HTTP/1.1\r\n")


def test_inspect_reads_a_body_sent_in_pieces(engine: Canned) -> None:
    body = json.dumps({"Id": "sha256:abc", "RepoTags": ["viruses:latest"]}).encode()
    engine.answer = [b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body), body[:5], body[5:]]
    assert Engine(engine.path).inspect_image("viruses") == {"Id": "sha256:abc", "RepoTags": ["viruses:latest"]}


def test_no_engine_is_an_os_error(tmp_path: Path) -> None:
    with pytest.raises(OSError):
        Engine(str(tmp_path / "missing.sock")).inspect_image("viruses")


def test_a_character_split_between_chunks_arrives_whole(engine: Canned) -> None:
    text = json.dumps({"status": "Überprüfung läuft"}, ensure_ascii=False).encode()
    split = text.index("Ü".encode()) + 1  # inside the two bytes of Ü
    engine.answer = chunked(text[:split], text[split:])
    assert list(Engine(engine.path).pull("reg:5000/trees", "v1", {"username": "AWS"})) == [
        {"status": "Überprüfung läuft"}
    ]
