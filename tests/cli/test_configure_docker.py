"""`ecrtool configure-docker` against moto: which entries it writes, what it keeps, and its warnings."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

import pytest

from ecrtool.core import docker_setup

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
