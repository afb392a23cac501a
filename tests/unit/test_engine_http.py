"""The engine's API without docker-py: requests as the engine expects them, answers however they arrive.

A unix socket (the fake_socket fixture) answers with canned HTTP; the real engine is the integration tests'.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from ecrtool.docker import engine_http
from ecrtool.docker.engine_api import EngineApi
from ecrtool.docker.engine_http import Engine, EngineError
from ecrtool.model.auth import RegistryAuth
from ecrtool.model.errors import EcrToolError


@pytest.fixture
def engine(fake_socket: Callable[[], Any]) -> Any:
    return fake_socket()


def chunked(*pieces: bytes) -> list[bytes]:
    head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
    return [head, *(f"{len(p):x}\r\n".encode() + p + b"\r\n" for p in pieces), b"0\r\n\r\n"]


def test_push_streams_events_split_and_joined_across_chunks(engine: Any) -> None:
    events = [{"status": "Preparing", "id": "abc"}, {"status": "Pushed", "id": "abc"}, {"aux": {"Digest": "sha256:1"}}]
    text = b"".join(json.dumps(e).encode() + b"\r\n" for e in events)
    engine.answer = chunked(text[:10], text[10:50], text[50:])
    auth = {"username": "AWS", "password": "pw", "serveraddress": "reg:5000"}
    got = list(Engine(str(engine.path)).push("reg:5000/trees", "v1", auth))
    assert got == events
    request = engine.requests[0].decode()
    assert request.startswith("POST /images/reg:5000/trees/push?tag=v1 HTTP/1.1\r\n")
    header = next(line for line in request.split("\r\n") if line.startswith("X-Registry-Auth: "))
    assert json.loads(base64.urlsafe_b64decode(header.split(": ", 1)[1])) == auth


def test_pull_by_digest_asks_for_the_digest(engine: Any) -> None:
    engine.answer = chunked(b'{"status":"Digest: sha256:2"}')
    events = list(Engine(str(engine.path)).pull("reg:5000/trees@sha256:2", None, None))
    assert events == [{"status": "Digest: sha256:2"}]
    first_line = engine.requests[0].split(b"\r\n")[0].decode()
    assert first_line == "POST /images/create?fromImage=reg%3A5000%2Ftrees%40sha256%3A2 HTTP/1.1"
    assert b"X-Registry-Auth" not in engine.requests[0]


def test_an_unknown_image_inspects_as_none(engine: Any) -> None:
    body = b'{"message":"No such image: nope:latest"}'
    engine.answer = [b"HTTP/1.1 404 Not Found\r\nContent-Length: %d\r\n\r\n" % len(body), body]
    assert Engine(str(engine.path)).inspect_image("nope:latest") is None


def test_an_engine_error_carries_its_status_and_message(engine: Any) -> None:
    body = b'{"message":"conflict: unable to remove repository reference"}'
    engine.answer = [b"HTTP/1.1 409 Conflict\r\nContent-Length: %d\r\n\r\n" % len(body), body]
    with pytest.raises(EngineError) as caught:
        Engine(str(engine.path)).untag("reg:5000/trees:v1")
    assert caught.value.status_code == 409
    assert caught.value.explanation == "conflict: unable to remove repository reference"
    assert engine.requests[0].startswith(b"DELETE /images/reg:5000/trees:v1?noprune=1 HTTP/1.1\r\n")


def test_inspect_reads_a_body_sent_in_pieces(engine: Any) -> None:
    body = json.dumps({"Id": "sha256:abc", "RepoTags": ["viruses:latest"]}).encode()
    engine.answer = [b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body), body[:5], body[5:]]
    assert Engine(str(engine.path)).inspect_image("viruses") == {"Id": "sha256:abc", "RepoTags": ["viruses:latest"]}


def test_no_engine_is_an_os_error(tmp_path: Path) -> None:
    with pytest.raises(OSError):
        Engine(str(tmp_path / "missing.sock")).inspect_image("viruses")


def test_a_character_split_between_chunks_arrives_whole(engine: Any) -> None:
    text = json.dumps({"status": "Überprüfung läuft"}, ensure_ascii=False).encode()
    split = text.index("Ü".encode()) + 1  # inside the two bytes of Ü
    engine.answer = chunked(text[:split], text[split:])
    assert list(Engine(str(engine.path)).pull("reg:5000/trees", "v1", {"username": "AWS"})) == [
        {"status": "Überprüfung läuft"}
    ]


def test_an_answer_without_length_is_read_to_the_end(engine: Any) -> None:
    engine.answer = [b"HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n", b'{"Id": "sha256:', b'abc"}']
    assert Engine(str(engine.path)).inspect_image("viruses") == {"Id": "sha256:abc"}


@pytest.mark.parametrize("closing", [False, True])
def test_a_pull_quiet_for_longer_than_the_timeout_goes_on(
    engine: Any, monkeypatch: pytest.MonkeyPatch, closing: bool
) -> None:
    # a big layer extracting: the engine says nothing for minutes, then carries on
    monkeypatch.setattr(engine_http, "TIMEOUT", 0.2)
    events = [{"status": "Extracting", "id": "abc"}, {"status": "Pull complete", "id": "abc"}]
    head, first, *rest = chunked(*(json.dumps(e).encode() + b"\r\n" for e in events))
    if closing:
        head = head.replace(b"\r\n\r\n", b"\r\nConnection: close\r\n\r\n")

    def quiet_then_done(request: bytes) -> Iterator[bytes]:
        yield head + first
        time.sleep(0.6)
        yield b"".join(rest)

    engine.answer_with = quiet_then_done
    assert list(Engine(str(engine.path)).pull("reg:5000/trees", "v1", {"username": "AWS"})) == events


def test_an_engine_that_never_answers_times_out(engine: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(engine_http, "TIMEOUT", 0.2)
    engine.answer_with = lambda request: time.sleep(0.6) or []
    started = time.monotonic()
    with pytest.raises(OSError):
        list(Engine(str(engine.path)).pull("reg:5000/trees", "v1", {"username": "AWS"}))
    assert time.monotonic() - started < 0.5


def test_the_engine_version_is_its_json(engine: Any) -> None:
    engine.reply(200, {"Version": "27.3.1", "ApiVersion": "1.47", "Os": "linux"})
    assert Engine(str(engine.path)).version() == {"Version": "27.3.1", "ApiVersion": "1.47", "Os": "linux"}
    assert engine.requests[0].startswith(b"GET /version HTTP/1.1\r\n")


AUTH = RegistryAuth(registry="reg:5000", username="AWS", password="pass-word")


def test_a_malformed_chunk_is_a_failed_pull(engine: Any) -> None:
    head, first, *_ = chunked(b'{"status":"Pulling fs layer","id":"abc"}\r\n')
    engine.answer = [head, first, b"zz\r\nnot a chunk\r\n"]
    pull = EngineApi(str(engine.path)).pull("reg:5000/trees", "v1", AUTH)
    assert next(pull) == {"status": "Pulling fs layer", "id": "abc"}
    unreadable = r"^Docker pull failed: the engine's answer could not be read \(IncompleteRead\(.*\): check that"
    with pytest.raises(EcrToolError, match=unreadable):
        next(pull)


def test_an_oversized_header_is_a_failed_call(engine: Any) -> None:
    engine.answer = [b"HTTP/1.1 200 OK\r\nX-Padding: " + b"x" * 70000 + b"\r\nContent-Length: 2\r\n\r\n{}"]
    unreadable = r"^Docker inspect failed: the engine's answer could not be read \(LineTooLong: got more than "
    with pytest.raises(EcrToolError, match=unreadable):
        EngineApi(str(engine.path)).inspect_image("viruses")
