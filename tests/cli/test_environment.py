"""What a user sees when the environment is missing something: a region, credentials, a Docker engine."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

REGION_VARIABLES = ("AWS_DEFAULT_REGION", "AWS_REGION")


@pytest.mark.parametrize("argv", [["repos"], ["create", "trees"], ["login"], ["images", "trees"]], ids=str)
def test_no_region_exits_2_naming_region_flag(
    argv: list[str], invoke: Any, aws: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in REGION_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    result = invoke(*argv)
    assert result.exit_code == 2, result.output
    [line] = result.stderr.splitlines()
    assert line.startswith("ecrtool: error: no AWS region")
    assert "--region" in line and "AWS_REGION" in line
    assert aws.describe_repositories()["repositories"] == []


def test_region_from_the_profile_is_used(
    invoke: Any, aws: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for name in REGION_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    config = tmp_path / "aws-config"
    config.write_text("[profile work]\nregion = ca-west-1\n")
    credentials = tmp_path / "aws-credentials"
    credentials.write_text("[work]\naws_access_key_id = testing\naws_secret_access_key = testing\n")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(credentials))
    result = invoke("create", "trees", "--profile", "work")
    assert result.exit_code == 0, result.output
    assert result.stdout == "123456789012.dkr.ecr.ca-west-1.amazonaws.com/trees\n"


def test_unknown_profile_is_invalid_input(invoke: Any, aws: Any) -> None:
    result = invoke("repos", "--profile", "nope")
    assert result.exit_code == 2
    assert result.stderr.startswith("ecrtool: error: AWS profile 'nope' not found")


def test_no_credentials_exits_1_naming_credentials(invoke: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    # The autouse fixture has already removed AWS_* keys and pointed the AWS files at an empty file.
    assert not [key for key in os.environ if key.endswith(("ACCESS_KEY_ID", "SECRET_ACCESS_KEY"))]
    monkeypatch.setenv("AWS_DEFAULT_REGION", "ca-west-1")
    # A dead endpoint: if credentials were found after all, the test fails here instead of reaching AWS.
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    result = invoke("repos")
    assert result.exit_code == 1, result.output
    [line] = result.stderr.splitlines()
    assert line.startswith("ecrtool: error: no AWS credentials found")
    assert "AWS_ACCESS_KEY_ID" in line and "--profile" in line


def test_docker_unreachable_names_the_socket(invoke: Any, aws: Any) -> None:
    aws.create_repository(repositoryName="trees")
    result = invoke("push", "viruses", "--repo", "trees", "--docker-host", "unix:///nonexistent.sock")
    assert result.exit_code == 1, result.output
    [line] = result.stderr.splitlines()
    assert line.startswith("ecrtool: error: cannot reach the Docker engine at unix:///nonexistent.sock")
    assert "DOCKER_HOST" in line


def test_docker_host_from_the_environment_is_named(invoke: Any, aws: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent-env.sock")
    result = invoke("pull", "trees:v1")
    assert result.exit_code == 1, result.output
    assert "unix:///nonexistent-env.sock" in result.stderr
