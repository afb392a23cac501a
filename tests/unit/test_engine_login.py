"""Login on a unix socket without docker-py: one POST /auth, and the engine's answers as the project's errors."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ecrtool.docker.runner import build_runner
from ecrtool.model.auth import RegistryAuth
from ecrtool.model.errors import AuthError, DockerUnavailable, EcrToolError
from ecrtool.model.settings import Settings

AUTH = RegistryAuth(registry="127.0.0.1:5000", username="AWS", password="pass-word")


@pytest.fixture
def engine(fake_socket: Callable[[], Any]) -> Callable[[int, dict[str, str]], Any]:
    """An engine socket answering every request with STATUS and a JSON BODY."""

    def start(status: int, body: dict[str, str]) -> Any:
        server = fake_socket()
        server.reply(status, body)
        return server

    return start


Start = Callable[[int, dict[str, str]], Any]


def test_login_posts_the_credentials_once(engine: Start) -> None:
    fake = engine(200, {"Status": "Login Succeeded"})
    assert build_runner(Settings(docker_host=fake.url)).login(AUTH) is None
    [request] = fake.requests
    head, _, body = request.partition(b"\r\n\r\n")
    assert head.startswith(b"POST /auth HTTP/1.1\r\n")
    assert json.loads(body) == {"username": "AWS", "password": "pass-word", "serveraddress": "127.0.0.1:5000"}


def test_a_refused_login_is_an_auth_error(engine: Start) -> None:
    refused = "login attempt to http://127.0.0.1:5000/v2/ failed with status: 401 Unauthorized"
    fake = engine(401, {"message": refused})
    with pytest.raises(AuthError, match="refused authentication during login: login attempt"):
        build_runner(Settings(docker_host=fake.url)).login(AUTH)


def test_ecrs_403_for_a_dead_token_is_an_auth_error(engine: Start) -> None:
    # the engine answers 500 for a registry's 403: only its words say the login was refused
    host = "123456789012.dkr.ecr.ca-west-1.amazonaws.com"
    refused = f"login attempt to https://{host}/v2/ failed with status: 403 Forbidden"
    fake = engine(500, {"message": refused})
    with pytest.raises(AuthError, match="refused authentication during login: login attempt"):
        build_runner(Settings(docker_host=fake.url)).login(AUTH)


def test_an_engine_failure_says_what_the_engine_said(engine: Start) -> None:
    fake = engine(500, {"message": "Get http://127.0.0.1:5000/v2/: connection refused"})
    with pytest.raises(EcrToolError, match=r"^Docker login failed: Get http://127.0.0.1:5000/v2/: connection refused$"):
        build_runner(Settings(docker_host=fake.url)).login(AUTH)


def test_no_engine_on_the_socket_is_docker_unavailable(tmp_path: Path) -> None:
    with pytest.raises(DockerUnavailable, match=f"cannot reach the Docker engine at unix://{tmp_path}/none.sock"):
        build_runner(Settings(docker_host=f"unix://{tmp_path}/none.sock")).login(AUTH)
