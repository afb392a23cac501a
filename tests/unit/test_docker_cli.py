"""The docker-command runner: its command lines, where secrets go, and what its errors say.

A stand-in `docker` script on PATH records each call (argv, stdin, the --config folder it was given),
so these tests see exactly what a real docker command would be handed.
"""

from __future__ import annotations

import json
import os
import stat
from dataclasses import replace
from pathlib import Path

import pytest

from ecrtool.docker.command import DockerCli, _event
from ecrtool.model.auth import RegistryAuth
from ecrtool.model.containers import build_spec
from ecrtool.model.errors import AuthError, DockerUnavailable, EcrToolError, NotFound

PASSWORD = "eyJwYXlsb2FkIjoic2VjcmV0In0-not-for-argv"
AUTH = RegistryAuth("127.0.0.1:5000", "AWS", PASSWORD)

# Records argv, stdin and any --config folder's config.json, then prints what the test scripted.
FAKE_DOCKER = r"""#!/usr/bin/env python3
import json, os, sys
log = os.environ["FAKE_DOCKER_LOG"]
record = {"argv": sys.argv[1:], "stdin": "" if sys.stdin.isatty() else sys.stdin.read()}
for arg in sys.argv[1:]:
    if arg.startswith("--config="):
        folder = arg.split("=", 1)[1]
        path = os.path.join(folder, "config.json")
        record["config"] = json.load(open(path))
        record["config_mode"] = oct(os.stat(path).st_mode & 0o777)
if "--env-file" in sys.argv:
    path = sys.argv[sys.argv.index("--env-file") + 1]
    record["env_file"] = open(path).read()
    record["env_file_mode"] = oct(os.stat(path).st_mode & 0o777)
with open(log, "a") as out:
    out.write(json.dumps(record) + "\n")
sys.stdout.write(os.environ.get("FAKE_DOCKER_STDOUT", ""))
sys.stderr.write(os.environ.get("FAKE_DOCKER_STDERR", ""))
sys.exit(int(os.environ.get("FAKE_DOCKER_EXIT", "0")))
"""


@pytest.fixture
def fake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    script = bin_dir / "docker"
    script.write_text(FAKE_DOCKER)
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    log = tmp_path / "calls.jsonl"
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_DOCKER_LOG", str(log))
    monkeypatch.delenv("DOCKER_HOST", raising=False)
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "docker-config"))
    return log


def calls(log: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in log.read_text().splitlines()]


def test_argv_plain_and_through_sudo(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_HOST", "unix:///tmp/engine.sock")
    assert DockerCli().argv("ps") == ["docker", "ps"]  # docker reads DOCKER_HOST itself
    # sudo drops the environment: the engine goes as a flag
    assert DockerCli(sudo=True).argv("ps") == ["sudo", "-n", "docker", "--host=unix:///tmp/engine.sock", "ps"]
    assert DockerCli("tcp://10.0.0.1:2375").argv("ps", config="/tmp/c") == [
        "docker",
        "--host=tcp://10.0.0.1:2375",
        "--config=/tmp/c",
        "ps",
    ]
    monkeypatch.delenv("DOCKER_HOST")
    assert DockerCli(sudo=True).argv("ps") == ["sudo", "-n", "docker", "ps"]


def test_login_sends_the_password_on_stdin_only(fake: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "FAKE_DOCKER_STDERR", "WARNING! Your credentials are stored unencrypted in '/h/.docker/config.json'.\n"
    )
    assert DockerCli().login(AUTH) == "/h/.docker/config.json"
    (call,) = calls(fake)
    assert call["argv"] == ["login", "--username", "AWS", "--password-stdin", "127.0.0.1:5000"]
    assert call["stdin"] == PASSWORD + "\n"


def test_push_credentials_live_in_a_private_folder_for_one_command(fake: Path) -> None:
    events = list(DockerCli().push("127.0.0.1:5000/trees", "v1", AUTH))
    (call,) = calls(fake)
    argv = call["argv"]
    assert isinstance(argv, list) and argv[1:] == ["push", "127.0.0.1:5000/trees:v1"]
    assert PASSWORD not in " ".join(argv)
    assert call["config"] == {
        "auths": {"127.0.0.1:5000": {"auth": "QVdTOmV5SndZWGxzYjJGa0lqb2ljMlZqY21WMEluMC1ub3QtZm9yLWFyZ3Y="}}
    }
    assert call["config_mode"] == "0o600"
    folder = argv[0].split("=", 1)[1]
    assert not os.path.exists(folder)
    assert events == []


def test_pull_without_auth_uses_the_users_own_config(fake: Path) -> None:
    list(DockerCli().pull("public.ecr.aws/docker/library/busybox", "latest", None))
    assert calls(fake)[0]["argv"] == ["pull", "public.ecr.aws/docker/library/busybox:latest"]


def test_run_keeps_environment_values_off_the_command_line(fake: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_DOCKER_STDOUT", "c0ffee\n")
    spec = build_spec(
        command=["serve", "--port", "80"],
        name="web",
        detach=True,
        ports=["8080:80"],
        env=["TOKEN=s3cret"],
        volumes=["/srv:/srv:ro"],
        restart="unless-stopped",
        environ={},
    )
    outcome = DockerCli().run(replace(spec, image="127.0.0.1:5000/trees:v1"), None)
    assert (outcome.container_id, outcome.exit_code) == ("c0ffee", None)
    create, start = calls(fake)
    argv = create["argv"]
    assert isinstance(argv, list)
    assert "s3cret" not in " ".join(argv)
    assert argv[:9] == [
        "create",
        "--name",
        "web",
        "--publish",
        "8080:80/tcp",
        "--volume",
        "/srv:/srv:ro",
        "--restart",
        "unless-stopped",
    ]
    assert argv[-4:] == ["127.0.0.1:5000/trees:v1", "serve", "--port", "80"]
    assert create["env_file"] == "TOKEN=s3cret\n" and create["env_file_mode"] == "0o600"
    assert start["argv"] == ["start", "c0ffee"]


@pytest.mark.parametrize(
    ("stderr", "error", "says"),
    [
        ("sudo: a password is required\n", DockerUnavailable, "NOPASSWD"),
        (
            "Sorry, user bob is not allowed to execute '/usr/bin/docker ps' as root on vm.\n",
            DockerUnavailable,
            "may not run docker through sudo",
        ),
        ("sudo: docker: command not found\n", DockerUnavailable, "root's PATH"),
    ],
)
def test_sudo_refusals(stderr: str, error: type, says: str) -> None:
    found = DockerCli(sudo=True).translate("pull", stderr)
    assert isinstance(found, error) and says in str(found)


@pytest.mark.parametrize(
    ("stderr", "error", "says"),
    [
        (
            "permission denied while trying to connect to the Docker daemon socket at unix:///var/run/docker.sock: "
            'Get "http://%2Fvar%2Frun%2Fdocker.sock/v1.24/images/json": dial unix /var/run/docker.sock: connect: '
            "permission denied\n",
            DockerUnavailable,
            "permission denied on the Docker socket /var/run/docker.sock: rerun with --sudo",
        ),
        (
            "Cannot connect to the Docker daemon at unix:///x.sock. Is the docker daemon running?\n",
            DockerUnavailable,
            "cannot reach the Docker engine",
        ),
        (
            'Error response from daemon: Get "https://r/v2/": unauthorized: authentication required\n',
            AuthError,
            "refused authentication",
        ),
        ("Error response from daemon: No such image: trees:v1\n", NotFound, "No such image: trees:v1"),
        ("Error response from daemon: something else\n", EcrToolError, "docker pull failed: something else"),
    ],
)
def test_docker_errors(stderr: str, error: type, says: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DOCKER_HOST", raising=False)
    found = DockerCli().translate("pull", stderr)
    assert type(found) is error and says in str(found)


def test_the_permission_hint_names_the_socket_docker_tried(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_HOST", "unix:///elsewhere.sock")
    stderr = "permission denied while trying to connect to the Docker daemon socket at unix:///run/d.sock: Get ..."
    assert "Docker socket /run/d.sock:" in str(DockerCli().translate("ps", stderr))


def test_the_permission_hint_names_both_fixes() -> None:
    text = str(DockerCli().translate("ps", "permission denied while trying to connect to the Docker daemon socket"))
    assert "--sudo" in text and "sudo usermod -aG docker $USER" in text and "log in again" in text


@pytest.mark.parametrize(
    ("line", "event"),
    [
        ("300de1419c91: Pushed", {"id": "300de1419c91", "status": "Pushed", "progressDetail": {}}),
        (
            "v1: digest: sha256:" + "a" * 64 + " size: 528",
            {
                "status": "v1: digest: sha256:" + "a" * 64 + " size: 528",
                "aux": {"Digest": "sha256:" + "a" * 64, "Size": 528},
            },
        ),
        ("Digest: sha256:" + "b" * 64, {"status": "Digest: sha256:" + "b" * 64}),
        ("Status: Downloaded newer image for r/trees:v1", {"status": "Status: Downloaded newer image for r/trees:v1"}),
        ("The push refers to repository [r/trees]", {"status": "The push refers to repository [r/trees]"}),
    ],
)
def test_output_lines_become_engine_events(line: str, event: dict[str, object]) -> None:
    assert _event(line) == event


def test_a_refused_pull_is_an_error_event(fake: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_DOCKER_EXIT", "1")
    monkeypatch.setenv("FAKE_DOCKER_STDERR", "Error response from daemon: manifest unknown: manifest unknown\n")
    events = list(DockerCli().pull("r/trees", "nope", AUTH))
    assert events == [
        {
            "error": "manifest unknown: manifest unknown",
            "errorDetail": {"message": "manifest unknown: manifest unknown"},
        }
    ]


def test_a_missing_docker_command(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(DockerUnavailable, match="docker command is not on PATH"):
        DockerCli().inspect_image("trees:v1")
