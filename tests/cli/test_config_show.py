"""`ecrtool config show`: every setting's value and source; a bad config file is one clear line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest


@pytest.fixture
def config_file(isolated_env: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(isolated_env / "xdg"))
    path = isolated_env / "xdg" / "ecrtool" / "config.toml"
    path.parent.mkdir(parents=True)
    return path


def rows(stdout: str) -> dict[str, list[str]]:
    return {line.split()[0]: line.split(None, 2)[1:] for line in stdout.splitlines()}


def test_defaults(invoke: Any, config_file: Path) -> None:
    result = invoke("config", "show")
    assert result.exit_code == 0, result.output
    shown = rows(result.stdout)
    assert shown["runner"] == ["api", "default"]
    assert shown["sudo"] == ["false", "default"]
    assert shown["docker_host"] == ["unix:///var/run/docker.sock", "default"]
    assert result.stderr == f"config file: {config_file} (not found)\n"


def test_each_source_is_named(invoke: Any, config_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config_file.write_text('region = "ca-west-1"\nrunner = "cli"\nsudo = true\nregistry_id = "123456789012"\n')
    monkeypatch.setenv("ECRTOOL_REGION", "us-east-1")
    result = invoke("config", "show", "--registry-id", "210987654321", "-o", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["config_file"] == str(config_file)
    assert data["settings"]["region"] == {"value": "us-east-1", "source": "ECRTOOL_REGION"}
    assert data["settings"]["registry_id"] == {"value": "210987654321", "source": "--registry-id"}
    assert data["settings"]["runner"] == {"value": "cli", "source": f"{config_file}, line 2"}
    assert data["settings"]["sudo"] == {"value": True, "source": f"{config_file}, line 3"}


def test_no_sudo_beats_the_file(invoke: Any, config_file: Path) -> None:
    config_file.write_text("sudo = true\n")
    shown = rows(invoke("config", "show", "--no-sudo").stdout)
    assert shown["sudo"] == ["false", "--no-sudo"]
    assert shown["runner"] == ["api", "default"]


def test_a_malformed_file_names_the_file_and_line(invoke: Any, config_file: Path) -> None:
    config_file.write_text('region = "ca-west-1"\nsudo = maybe\n')
    result = invoke("config", "show")
    assert result.exit_code == 2
    (line,) = result.stderr.splitlines()
    assert line.startswith(f"ecrtool: error: the config file {config_file} is not valid TOML")
    assert "line 2" in line


def test_a_malformed_file_stops_every_command_before_aws(invoke: Any, config_file: Path, forbid_backends: Any) -> None:
    config_file.write_text('runner = "docker"\n')
    result = invoke("repos")
    assert result.exit_code == 2
    assert result.stderr == (
        f"ecrtool: error: the config file {config_file}, line 1: invalid runner 'docker': use api (the engine's"
        " API) or cli (the docker command): fix or remove it\n"
    )


def test_each_registry_entry_shows_its_profile_and_why(invoke: Any, config_file: Path) -> None:
    config_file.write_text(
        '[registries."210987654321.dkr.ecr.us-east-1.amazonaws.com"]\nprofile = "prod-east"\n\n'
        '[accounts."210987654321"]\nprofile = "prod"\n'
    )
    result = invoke("config", "show")
    assert result.exit_code == 0, result.output
    lines = result.stdout.split("\n\n", 1)[1].splitlines()
    assert lines == [
        "profiles per registry (an explicit --profile beats them all):",
        f'[registries."210987654321.dkr.ecr.us-east-1.amazonaws.com"]  prod-east  {config_file}, line 1: '
        "account 210987654321's registry in us-east-1",
        f'[accounts."210987654321"]                                    prod       {config_file}, line 4: '
        "account 210987654321's registries in every region, but "
        '[registries."210987654321.dkr.ecr.us-east-1.amazonaws.com"]',
    ]
    shown = invoke("config", "show", "--profile", "ops", "-o", "json")
    assert shown.exit_code == 0, shown.output
    data = json.loads(shown.stdout)
    assert data["profiles"][1] == {
        "entry": '[accounts."210987654321"]',
        "profile": "ops",
        "source": f"--profile beats {config_file}, line 4 (profile prod)",
        "covers": "account 210987654321's registries in every region, but "
        '[registries."210987654321.dkr.ecr.us-east-1.amazonaws.com"]',
    }


def test_a_bad_account_entry_is_one_line_and_exit_2(invoke: Any, config_file: Path) -> None:
    config_file.write_text('[accounts."prod"]\nprofile = "prod"\n')
    result = invoke("config", "show")
    assert result.exit_code == 2
    assert result.stderr == (
        f'ecrtool: error: the config file {config_file}, line 1: [accounts."prod"]: an account id is 12 digits: '
        "fix it\n"
    )
