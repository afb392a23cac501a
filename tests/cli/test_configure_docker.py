"""`ecrtool configure-docker` against moto: which entries it writes, what it keeps, and its warnings."""

from __future__ import annotations

import json
import os
import stat
import sys
from pathlib import Path
from typing import Any

import pytest

from ecrtool.cli import root_config as root_side
from ecrtool.service import docker_setup

HOST = "123456789012.dkr.ecr.ca-west-1.amazonaws.com"
HOST_US = "123456789012.dkr.ecr.us-east-1.amazonaws.com"


@pytest.fixture
def helper_on_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A docker-credential-ecrtool on PATH, as `pip install` puts it."""
    folder = tmp_path / "bin"
    folder.mkdir()
    program = folder / "docker-credential-ecrtool"
    program.write_text("#!/bin/sh\nexit 0\n")
    program.chmod(0o755)
    monkeypatch.setenv("PATH", f"{folder}{os.pathsep}/usr/bin{os.pathsep}/bin")
    return program


@pytest.fixture
def config(isolated_env: Path) -> Path:
    return isolated_env / ".docker" / "config.json"


def test_adds_the_callers_registry_in_each_region(invoke: Any, aws: Any, helper_on_path: Path, config: Path) -> None:
    result = invoke("configure-docker", "--region", "ca-west-1", "--region", "us-east-1")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [HOST, HOST_US]
    assert json.loads(config.read_text()) == {"credHelpers": {HOST: "ecrtool", HOST_US: "ecrtool"}}
    assert stat.S_IMODE(config.stat().st_mode) == 0o600
    assert f"{config} now sends these registries to docker-credential-ecrtool" in result.stderr
    assert "warning" not in result.stderr


def test_the_default_region_and_other_accounts_and_public(
    invoke: Any, aws: Any, helper_on_path: Path, config: Path
) -> None:
    result = invoke("configure-docker", "--registry-id", "210987654321", "--registry-id", "123456789012", "--public")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "210987654321.dkr.ecr.ca-west-1.amazonaws.com",
        HOST,
        "public.ecr.aws",
    ]


def test_keeps_every_other_entry_and_a_backup(invoke: Any, aws: Any, helper_on_path: Path, config: Path) -> None:
    config.parent.mkdir()
    original = {
        "auths": {"ghcr.io": {"auth": "dXNlcjpwYXNz"}},
        "credsStore": "desktop",
        "credHelpers": {"gcr.io": "gcloud", HOST: "ecr-login"},
        "proxies": {"default": {"httpProxy": "http://proxy:3128"}},
        "currentContext": "remote",
    }
    config.write_text(json.dumps(original, indent=1))
    before = config.read_bytes()
    result = invoke("configure-docker")
    assert result.exit_code == 0, result.output
    written = json.loads(config.read_text())
    assert written == {**original, "credHelpers": {"gcr.io": "gcloud", HOST: "ecrtool"}}
    backup = config.with_name("config.json.bak")
    assert backup.read_bytes() == before
    assert stat.S_IMODE(backup.stat().st_mode) == 0o600  # it holds ghcr.io's password
    assert f"{HOST} used docker-credential-ecr-login before" in result.stderr
    assert f"previous file kept as {backup}" in result.stderr


def test_a_symlinked_config_stays_a_link(
    invoke: Any, aws: Any, helper_on_path: Path, config: Path, tmp_path: Path
) -> None:
    target = tmp_path / "dotfiles" / "docker" / "config.json"
    target.parent.mkdir(parents=True)
    target.write_text(json.dumps({"auths": {"ghcr.io": {"auth": "dXNlcjpwYXNz"}}}))
    before = target.read_bytes()
    config.parent.mkdir()
    config.symlink_to(target)
    result = invoke("configure-docker")
    assert result.exit_code == 0, result.output
    assert config.is_symlink() and config.resolve() == target
    assert json.loads(target.read_text()) == {
        "auths": {"ghcr.io": {"auth": "dXNlcjpwYXNz"}},
        "credHelpers": {HOST: "ecrtool"},
    }
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    backup = config.with_name("config.json.bak")
    assert backup.read_bytes() == before
    assert sorted(p.name for p in target.parent.iterdir()) == ["config.json"]


def test_a_symlinked_backup_stays_a_link(
    invoke: Any, aws: Any, helper_on_path: Path, config: Path, tmp_path: Path
) -> None:
    config.parent.mkdir()
    config.write_text(json.dumps({"auths": {"ghcr.io": {"auth": "dXNlcjpwYXNz"}}}))
    before = config.read_bytes()
    kept = tmp_path / "backups" / "docker-config.json.bak"
    kept.parent.mkdir()
    kept.write_text("{}")
    backup = config.with_name("config.json.bak")
    backup.symlink_to(kept)
    assert invoke("configure-docker").exit_code == 0
    assert backup.is_symlink() and kept.read_bytes() == before
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600


def test_running_it_again_changes_nothing(invoke: Any, aws: Any, helper_on_path: Path, config: Path) -> None:
    assert invoke("configure-docker").exit_code == 0
    first = config.stat()
    again = invoke("configure-docker")
    assert again.exit_code == 0, again.output
    assert again.stdout.splitlines() == [HOST]
    assert "nothing changed" in again.stderr
    assert (config.stat().st_ino, config.stat().st_mtime_ns) == (first.st_ino, first.st_mtime_ns)
    assert not config.with_name("config.json.bak").exists()  # there was nothing before the first run


def test_json_reports_what_changed(invoke: Any, aws: Any, helper_on_path: Path, config: Path) -> None:
    result = invoke("configure-docker", "-o", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["added"] == [HOST] and data["unchanged"] == [] and data["config_path"] == str(config)
    assert data["helper"] == str(helper_on_path)


def test_the_ecrtool_registry_host_is_the_one_configured(
    invoke: Any, helper_on_path: Path, config: Path, monkeypatch: pytest.MonkeyPatch, forbid_backends: list[str]
) -> None:
    monkeypatch.setenv("ECRTOOL_REGISTRY", "127.0.0.1:5000")
    result = invoke("configure-docker")
    assert result.exit_code == 0, result.output
    assert json.loads(config.read_text()) == {"credHelpers": {"127.0.0.1:5000": "ecrtool"}}
    assert forbid_backends == []  # no AWS call needed


def test_warns_when_the_helper_is_not_on_path(
    invoke: Any, aws: Any, config: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "nothing-here"))
    installed = tmp_path / "venv" / "bin" / "docker-credential-ecrtool"
    monkeypatch.setattr(docker_setup, "installed_helper", lambda: installed)
    result = invoke("configure-docker", "-q")
    assert result.exit_code == 0, result.output  # the config is right; the PATH is for the user to fix
    assert json.loads(config.read_text())["credHelpers"] == {HOST: "ecrtool"}
    assert result.stderr.splitlines() == [
        "ecrtool: warning: docker-credential-ecrtool is not on PATH, so docker cannot run it: "
        f"put {installed.parent} on PATH, or: sudo ln -s {installed} /usr/local/bin/docker-credential-ecrtool"
    ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--region", "mars"], "invalid region 'mars'"),
        (["--registry-id", "12345"], "invalid registry id '12345'"),
    ],
)
def test_bad_input_is_refused_before_aws(
    invoke: Any, forbid_backends: list[str], config: Path, args: list[str], message: str
) -> None:
    result = invoke("configure-docker", *args)
    assert result.exit_code == 2
    assert result.stderr.startswith(f"ecrtool: error: {message}") and result.stderr.count("\n") == 1
    assert not config.exists()


def test_a_broken_docker_config_is_left_alone(invoke: Any, aws: Any, helper_on_path: Path, config: Path) -> None:
    config.parent.mkdir()
    config.write_text("{not json")
    result = invoke("configure-docker")
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        f"ecrtool: error: the Docker config {config} is not valid JSON (line 1): fix or remove it"
    ]
    assert config.read_text() == "{not json"
    assert not config.with_name("config.json.bak").exists()


def test_sudo_as_root_writes_roots_config_not_docker_config(
    invoke: Any, aws: Any, helper_on_path: Path, config: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    root_config = tmp_path / "root" / ".docker" / "config.json"
    monkeypatch.setattr(docker_setup, "root_config_path", lambda: root_config)
    monkeypatch.setattr(docker_setup.os, "geteuid", lambda: 0)
    result = invoke("configure-docker", "--sudo")
    assert result.exit_code == 0, result.output
    assert json.loads(root_config.read_text()) == {"credHelpers": {HOST: "ecrtool"}}
    assert not config.exists()  # sudo drops DOCKER_CONFIG: `sudo docker` reads root's file


def test_sudo_as_a_user_goes_through_sudo_n_with_the_registries_on_stdin(
    invoke: Any, aws: Any, helper_on_path: Path, config: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    root_config = tmp_path / "root" / ".docker" / "config.json"
    monkeypatch.setattr(docker_setup, "root_config_path", lambda: root_config)
    monkeypatch.setattr(docker_setup.os, "geteuid", lambda: 1000)
    ran: list[list[str]] = []

    def fake_sudo(command: list[str], *, input: str, **kwargs: Any) -> Any:
        import io
        import subprocess

        ran.append(command)
        out = io.StringIO()
        with pytest.MonkeyPatch.context() as patch:  # the root side, in this process
            patch.setattr(sys, "stdin", io.StringIO(input))
            patch.setattr(sys, "stdout", out)
            root_side.main()
        return subprocess.CompletedProcess(command, 0, out.getvalue(), "")

    monkeypatch.setattr(docker_setup.subprocess, "run", fake_sudo)
    result = invoke("configure-docker", "--sudo", "-o", "json")
    assert result.exit_code == 0, result.output
    assert ran == [["sudo", "-n", sys.executable, "-I", "-m", "ecrtool.cli.root_config"]]
    assert json.loads(root_config.read_text()) == {"credHelpers": {HOST: "ecrtool"}}
    assert json.loads(result.stdout)["for_root"] is True


def test_sudo_that_wants_a_password_says_what_to_do(
    invoke: Any, aws: Any, helper_on_path: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(docker_setup.os, "geteuid", lambda: 1000)
    sudo = helper_on_path.parent / "sudo"
    sudo.write_text("#!/bin/sh\necho 'sudo: a password is required' >&2\nexit 1\n")
    sudo.chmod(0o755)
    result = invoke("configure-docker", "--sudo")
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        "ecrtool: error: sudo asks for a password: run `sudo -v` first, then this command again"
        " (or run `sudo ecrtool configure-docker` yourself)"
    ]


def test_the_root_side_never_imports_from_the_working_directory(
    invoke: Any, aws: Any, helper_on_path: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """What sudo runs as root, run for real (less sudo) from a folder holding a planted `ecrtool` package.

    The request is one the root side refuses before touching any file, so root's real config is safe."""
    import subprocess

    planted = tmp_path / "cwd" / "ecrtool"
    planted.mkdir(parents=True)
    marker = tmp_path / "planted-code-ran"
    (planted / "__init__.py").write_text(f"open({str(marker)!r}, 'w').close()\n")
    monkeypatch.setattr(docker_setup.os, "geteuid", lambda: 1000)
    real_run = subprocess.run

    def without_sudo(command: list[str], **kwargs: Any) -> Any:
        assert command[:2] == ["sudo", "-n"]
        return real_run(command[2:], **{**kwargs, "cwd": planted.parent, "input": '{"hosts": 5}'})

    monkeypatch.setattr(docker_setup.subprocess, "run", without_sudo)
    result = invoke("configure-docker", "--sudo")
    assert result.exit_code == 1
    assert "hosts must be a list of registry hosts" in result.stderr
    assert not marker.exists()
