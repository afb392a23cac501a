"""`ecrtool run` with moto's ECR and the fake engine: when it pulls, what it runs, what it prints and exits with."""

from __future__ import annotations

import json
from typing import Any

import pytest

HOST = "123456789012.dkr.ecr.ca-west-1.amazonaws.com"
CONTAINER_ID = "c0ffee" + "0" * 58


def test_a_missing_image_is_pulled_then_run(invoke: Any, fake_docker: Any, trees: str) -> None:
    result = invoke("run", "trees:v1", "-q")
    assert result.exit_code == 0, result.output
    assert result.stdout == "hello from the container\n"
    assert [call[0] for call in fake_docker.calls] == ["inspect", "pull", "inspect", "run"]
    assert fake_docker.runs[0].image == f"{HOST}/trees:v1"
    assert fake_docker.auths[0].registry == HOST


def test_an_image_already_here_is_not_pulled(invoke: Any, fake_docker: Any, trees: str) -> None:
    fake_docker.add_image(f"{HOST}/trees:v1")
    result = invoke("run", "trees:v1")
    assert result.exit_code == 0, result.output
    assert "pull" not in [call[0] for call in fake_docker.calls]


def test_pull_always_pulls_even_so(invoke: Any, fake_docker: Any, trees: str) -> None:
    fake_docker.add_image(f"{HOST}/trees:v1")
    result = invoke("run", "trees:v1", "--pull", "always")
    assert result.exit_code == 0, result.output
    assert ("pull", f"{HOST}/trees:v1") in fake_docker.calls


def test_pull_never_on_a_missing_image_is_a_clear_error(invoke: Any, fake_docker: Any, trees: str) -> None:
    result = invoke("run", "trees:v1", "--pull", "never")
    assert result.exit_code == 1
    assert result.stderr == (
        f"ecrtool: error: image {HOST}/trees:v1 is not on this Docker engine and --pull never forbids fetching it: "
        "pull it with `ecrtool pull trees:v1`, or use --pull missing\n"
    )
    assert fake_docker.runs == []


def test_the_containers_exit_code_is_ecrtools(invoke: Any, fake_docker: Any, trees: str) -> None:
    fake_docker.run_exit_code = 3
    fake_docker.run_output = [("stdout", b"out\n"), ("stderr", b"err\n")]
    result = invoke("run", "trees:v1", "-q")
    assert result.exit_code == 3
    assert (result.stdout, result.stderr) == ("out\n", "err\n")


def test_detached_prints_the_container_id(invoke: Any, fake_docker: Any, trees: str) -> None:
    result = invoke("run", "trees:v1", "-d", "-q")
    assert result.exit_code == 0, result.output
    assert result.stdout == CONTAINER_ID + "\n"
    data = json.loads(invoke("run", "trees:v1", "-d", "-o", "json").stdout)
    assert (data["container_id"], data["exit_code"]) == (CONTAINER_ID, None)


def test_every_option_reaches_the_engine(invoke: Any, fake_docker: Any, trees: str, tmp_path: Any) -> None:
    env_file = tmp_path / "app.env"
    env_file.write_text("FROM_FILE=1\n")
    result = invoke(
        "run", "trees:v1", "-d", "--name", "web", "-p", "8080:80", "-p", "127.0.0.1:53:53/udp",
        "-e", "MODE=prod", "--env-file", str(env_file), "-v", "/srv:/srv:ro", "--restart", "on-failure:2",
        "--", "serve", "--port", "80",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    (spec,) = fake_docker.runs
    assert spec.name == "web"
    assert [port.docker for port in spec.ports] == ["8080:80/tcp", "127.0.0.1:53:53/udp"]
    assert dict(spec.env) == {"FROM_FILE": "1", "MODE": "prod"}
    assert [mount.docker for mount in spec.mounts] == ["/srv:/srv:ro"]
    assert spec.restart.docker == "on-failure:2"
    assert spec.command == ("serve", "--port", "80")


def test_pull_progress_goes_to_stderr(invoke: Any, fake_docker: Any, trees: str) -> None:
    result = invoke("run", "trees:v1")
    assert "Pull complete" in result.stderr
    assert result.stdout == "hello from the container\n"


def test_the_sudo_setting_picks_the_docker_command(invoke: Any, trees: str, monkeypatch: pytest.MonkeyPatch) -> None:
    built: list[tuple[Any, bool]] = []

    class Recorder:
        def __init__(self, docker_host: Any = None, *, sudo: bool = False) -> None:
            built.append((docker_host, sudo))
            raise SystemExit(0)

    monkeypatch.setattr("ecrtool.docker.command.DockerCli", Recorder)
    invoke("--sudo", "run", "trees:v1", "--docker-host", "unix:///tmp/engine.sock")
    assert built == [("unix:///tmp/engine.sock", True)]
