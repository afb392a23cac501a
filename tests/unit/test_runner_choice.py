"""build_runner chooses the Docker runner once, from the settings: the docker command when asked for (--runner
cli, --sudo), the engine's API on a unix socket (no docker-py), docker-py for an engine on TCP or SSH."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ecrtool.docker.command import DockerCli
from ecrtool.docker.dockerpy import DockerPy
from ecrtool.docker.engine_api import EngineApi
from ecrtool.docker.runner import build_runner
from ecrtool.model.settings import Settings


@pytest.fixture(autouse=True)
def no_docker_host(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DOCKER_HOST", raising=False)


@pytest.mark.parametrize(
    ("settings", "argv"),
    [
        (Settings(runner="cli"), ["docker", "ps"]),
        (Settings(sudo=True), ["sudo", "-n", "docker", "ps"]),
        (Settings(runner="cli", sudo=True, docker_host="tcp://10.0.0.1:2375"),
         ["sudo", "-n", "docker", "--host=tcp://10.0.0.1:2375", "ps"]),
    ],
    ids=["runner cli", "sudo", "sudo on tcp"],
)  # fmt: skip
def test_the_docker_command_when_asked_for(settings: Settings, argv: list[str]) -> None:
    runner = build_runner(settings)
    assert isinstance(runner, DockerCli)
    assert runner.argv("ps") == argv


@pytest.mark.parametrize("host", [None, "unix:///run/user/1000/docker.sock"])
def test_the_engine_api_on_a_unix_socket(host: str | None) -> None:
    assert isinstance(build_runner(Settings(docker_host=host)), EngineApi)


@pytest.mark.parametrize("host", ["tcp://10.0.0.1:2376", "ssh://me@build-host"])
def test_docker_py_on_tcp_or_ssh(host: str) -> None:
    assert isinstance(build_runner(Settings(docker_host=host)), DockerPy)


def test_docker_host_from_the_environment_chooses_too(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_HOST", "tcp://10.0.0.1:2375")
    assert isinstance(build_runner(Settings()), DockerPy)
    monkeypatch.setenv("DOCKER_HOST", "unix:///tmp/engine.sock")
    assert isinstance(build_runner(Settings()), EngineApi)


def test_the_unix_socket_runner_never_loads_docker_py(fake_socket: Callable[[], Any], tmp_path: Path) -> None:
    # every image call of a push, a pull (with and without credentials), a login and doctor's version
    fake = fake_socket()
    fake.reply(200, {"Id": "sha256:" + "ab" * 32, "Version": "28.2.2", "status": "Pulled"})
    script = (
        "import sys\n"
        "from ecrtool.docker.runner import build_runner\n"
        "from ecrtool.model.auth import RegistryAuth\n"
        "from ecrtool.model.settings import Settings\n"
        f"runner = build_runner(Settings(docker_host={fake.url!r}))\n"
        "auth = RegistryAuth('127.0.0.1:5000', 'AWS', 'pass-word')\n"
        "assert runner.inspect_image('trees:v1').image_id.startswith('sha256:')\n"
        "runner.tag('trees:v1', '127.0.0.1:5000/trees', 'v1')\n"
        "list(runner.push('127.0.0.1:5000/trees', 'v1', auth))\n"
        "runner.untag('127.0.0.1:5000/trees:v1')\n"
        "list(runner.pull('127.0.0.1:5000/trees', 'v1', auth))\n"
        "list(runner.pull('public.ecr.aws/docker/library/busybox', 'latest', None))\n"
        "runner.login(auth)\n"
        "assert runner.version()['Version'] == '28.2.2'\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('docker', 'requests', 'urllib3')))\n"
    )
    env = {**os.environ, "DOCKER_CONFIG": str(tmp_path / "docker-config"), "HOME": str(tmp_path)}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "[]\n"
    assert len(fake.requests) == 8
