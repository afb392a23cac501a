"""The engine's API on a unix socket, without docker-py: what doctor and an anonymous pull ask of it."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ecrtool.docker.runner import DockerRunner, build_runner
from ecrtool.model.auth import RegistryAuth
from ecrtool.model.errors import DockerUnavailable
from ecrtool.model.settings import Settings

PUBLIC = "public.ecr.aws/docker/library/busybox"


def runner(url: str) -> DockerRunner:
    return build_runner(Settings(docker_host=url))


def test_version_is_the_engines_report(fake_socket: Callable[[], Any]) -> None:
    fake = fake_socket()
    fake.reply(200, {"Version": "27.1.1", "ApiVersion": "1.46", "Os": "linux", "Arch": "amd64"})
    assert runner(fake.url).version() == {"Version": "27.1.1", "ApiVersion": "1.46", "Os": "linux", "Arch": "amd64"}
    [request] = fake.requests
    assert request.startswith(b"GET /version HTTP/1.1\r\n")


def test_version_without_an_engine_says_where_it_looked(tmp_path: Any) -> None:
    with pytest.raises(DockerUnavailable, match=f"cannot reach the Docker engine at unix://{tmp_path}/none.sock"):
        runner(f"unix://{tmp_path}/none.sock").version()


def registry_auth(request: bytes) -> dict[str, str] | None:
    """The X-Registry-Auth a request carried, decoded; None without one."""
    head = request.partition(b"\r\n\r\n")[0].decode()
    for line in head.split("\r\n")[1:]:
        name, _, value = line.partition(": ")
        if name.lower() == "x-registry-auth":
            return dict(json.loads(base64.urlsafe_b64decode(value)))
    return None


@pytest.fixture
def docker_config(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "docker-config"))
    (tmp_path / "docker-config").mkdir()
    return tmp_path / "docker-config" / "config.json"


def test_an_anonymous_pull_sends_no_credentials_when_none_are_stored(
    fake_socket: Callable[[], Any], docker_config: Path
) -> None:
    fake = fake_socket()
    fake.reply(200, {"status": "Status: Downloaded newer image for public.ecr.aws/docker/library/busybox:latest"})
    assert [event["status"] for event in runner(fake.url).pull(PUBLIC, "latest", None)] == [
        "Status: Downloaded newer image for public.ecr.aws/docker/library/busybox:latest"
    ]
    [request] = fake.requests
    assert request.startswith(b"POST /images/create?fromImage=public.ecr.aws%2Fdocker%2Flibrary%2Fbusybox&tag=latest ")
    assert registry_auth(request) is None


def test_an_anonymous_pull_sends_the_credentials_docker_holds_for_the_registry(
    fake_socket: Callable[[], Any], docker_config: Path
) -> None:
    token = base64.b64encode(b"AWS:stored-secret").decode()
    docker_config.write_text(json.dumps({"auths": {"public.ecr.aws": {"auth": token}, "ghcr.io": {"auth": "eDp5"}}}))
    fake = fake_socket()
    fake.reply(200, {"status": "Downloaded"})
    list(runner(fake.url).pull(PUBLIC, "latest", None))
    assert registry_auth(fake.requests[0]) == {
        "username": "AWS",
        "password": "stored-secret",
        "serveraddress": "public.ecr.aws",
    }


def test_a_pull_with_credentials_sends_those_and_not_the_stored_ones(
    fake_socket: Callable[[], Any], docker_config: Path
) -> None:
    docker_config.write_text(json.dumps({"auths": {"127.0.0.1:5000": {"auth": "QVdTOnN0b3JlZA=="}}}))
    fake = fake_socket()
    fake.reply(200, {"status": "Downloaded"})
    fresh = RegistryAuth("127.0.0.1:5000", "AWS", "fresh")
    list(runner(fake.url).pull("127.0.0.1:5000/trees", "v1", fresh))
    assert registry_auth(fake.requests[0]) == fresh.as_docker()


def test_a_stored_identity_token_goes_as_one(fake_socket: Callable[[], Any], docker_config: Path) -> None:
    docker_config.write_text(json.dumps({"auths": {"public.ecr.aws": {"identitytoken": "refresh-token"}}}))
    fake = fake_socket()
    fake.reply(200, {"status": "Downloaded"})
    list(runner(fake.url).pull(PUBLIC, "latest", None))
    assert registry_auth(fake.requests[0]) == {"identitytoken": "refresh-token", "serveraddress": "public.ecr.aws"}
