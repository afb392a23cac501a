"""Login on a unix socket without docker-py: one POST /auth, and the engine's answers as the project's errors."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from ecrtool.core.docker_engine import DockerApi, RegistryAuth
from ecrtool.errors import AuthError, DockerUnavailable, EcrToolError

AUTH = RegistryAuth(registry="127.0.0.1:5000", username="AWS", password="pass-word")


class FakeEngine:
    """A unix socket that reads one HTTP request and sends one canned answer."""

    def __init__(self, path: Path, status: int, body: dict[str, str]) -> None:
        self.path = path
        self.answer = f"HTTP/1.0 {status} X\r\nContent-Type: application/json\r\n\r\n{json.dumps(body)}".encode()
        self.request = b""
        self.server = socket.socket(socket.AF_UNIX)
        self.server.bind(str(path))
        self.server.listen()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        conn, _ = self.server.accept()
        with conn:
            while b"\r\n\r\n" not in self.request or not self.request.endswith(b"}"):
                self.request += conn.recv(65536)
            conn.sendall(self.answer)


Start = Callable[[int, dict[str, str]], FakeEngine]


@pytest.fixture
def engine(tmp_path: Path) -> Start:
    def start(status: int, body: dict[str, str]) -> FakeEngine:
        return FakeEngine(tmp_path / "docker.sock", status, body)

    return start


def test_login_posts_the_credentials_once(engine: Start, tmp_path: Path) -> None:
    fake = engine(200, {"Status": "Login Succeeded"})
    assert DockerApi(f"unix://{tmp_path}/docker.sock").login(AUTH) is None
    head, _, body = fake.request.partition(b"\r\n\r\n")
    assert head.startswith(b"POST /auth HTTP/1.1\r\n")
    assert json.loads(body) == {"username": "AWS", "password": "pass-word", "serveraddress": "127.0.0.1:5000"}


def test_a_refused_login_is_an_auth_error(engine: Start, tmp_path: Path) -> None:
    refused = "login attempt to http://127.0.0.1:5000/v2/ failed with status: 401 Unauthorized"
    engine(401, {"message": refused})
    with pytest.raises(AuthError, match="refused authentication during login: login attempt"):
        DockerApi(f"unix://{tmp_path}/docker.sock").login(AUTH)


def test_an_engine_failure_says_what_the_engine_said(engine: Start, tmp_path: Path) -> None:
    engine(500, {"message": "Get http://127.0.0.1:5000/v2/: connection refused"})
    with pytest.raises(EcrToolError, match=r"^Docker login failed: Get http://127.0.0.1:5000/v2/: connection refused$"):
        DockerApi(f"unix://{tmp_path}/docker.sock").login(AUTH)


def test_no_engine_on_the_socket_is_docker_unavailable(tmp_path: Path) -> None:
    with pytest.raises(DockerUnavailable, match=f"cannot reach the Docker engine at unix://{tmp_path}/none.sock"):
        DockerApi(f"unix://{tmp_path}/none.sock").login(AUTH)
