"""The engine's API on a unix socket, without docker-py: what doctor and an anonymous pull ask of it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from ecrtool.docker.api import DockerApi
from ecrtool.model.errors import DockerUnavailable


def runner(url: str) -> Any:
    return DockerApi(url)


def test_version_is_the_engines_report(fake_socket: Callable[[], Any]) -> None:
    fake = fake_socket()
    fake.reply(200, {"Version": "27.1.1", "ApiVersion": "1.46", "Os": "linux", "Arch": "amd64"})
    assert runner(fake.url).version() == {"Version": "27.1.1", "ApiVersion": "1.46", "Os": "linux", "Arch": "amd64"}
    [request] = fake.requests
    assert request.startswith(b"GET /version HTTP/1.1\r\n")


def test_version_without_an_engine_says_where_it_looked(tmp_path: Any) -> None:
    with pytest.raises(DockerUnavailable, match=f"cannot reach the Docker engine at unix://{tmp_path}/none.sock"):
        runner(f"unix://{tmp_path}/none.sock").version()
