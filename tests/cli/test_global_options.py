"""Global options are accepted before and after the command name; the later one wins."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from click.testing import CliRunner

from ecrtool.cli.main import cli

HOST = "123456789012.dkr.ecr.ca-west-1.amazonaws.com"


@pytest.fixture
def ready(aws: Any, fake_docker: Any) -> Any:
    aws.create_repository(repositoryName="trees")
    fake_docker.add_image("viruses")
    return fake_docker


@pytest.mark.parametrize(
    "argv",
    [["-q", "push", "viruses", "--repo", "trees"], ["push", "viruses", "--repo", "trees", "-q"]],
    ids=["before", "after"],
)
def test_quiet_before_or_after_the_command(argv: list[str], invoke: Any, ready: Any) -> None:
    result = invoke(*argv)
    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    assert result.stdout.splitlines() == [f"{HOST}/trees:viruses", "digest: sha256:" + "d" * 64]


def test_without_quiet_progress_is_shown(invoke: Any, ready: Any) -> None:
    result = invoke("push", "viruses", "--repo", "trees")
    assert "Pushed" in result.stderr


@pytest.mark.parametrize(
    "argv", [["-o", "json", "repos"], ["repos", "-o", "json"], ["repos", "--output", "json"]], ids=str
)
def test_output_before_or_after_the_command(argv: list[str], invoke: Any, aws: Any) -> None:
    aws.create_repository(repositoryName="trees")
    result = invoke(*argv)
    assert result.exit_code == 0, result.output
    assert [repo["name"] for repo in json.loads(result.stdout)] == ["trees"]


def test_region_after_the_command_overrides_the_one_before(invoke: Any, aws: Any) -> None:
    result = invoke("--region", "us-east-1", "create", "trees", "--region", "ca-west-1")
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == f"{HOST}/trees"
    assert [r["repositoryName"] for r in aws.describe_repositories()["repositories"]] == ["trees"]
    elsewhere = boto3.client("ecr", region_name="us-east-1")
    assert elsewhere.describe_repositories()["repositories"] == []


def test_region_before_the_command_beats_the_environment(invoke: Any, aws: Any) -> None:
    result = invoke("--region", "us-east-1", "create", "trees")
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "123456789012.dkr.ecr.us-east-1.amazonaws.com/trees"


@pytest.mark.parametrize("argv", [["--debug", "repos"], ["repos", "--debug"]], ids=["before", "after"])
def test_debug_logs_aws_calls_before_or_after_the_command(
    argv: list[str], invoke: Any, aws: Any, restore_logging: Any
) -> None:
    result = invoke(*argv)
    assert result.exit_code == 0, result.output
    assert "debug: botocore" in result.stderr
    assert "DescribeRepositories" in result.stderr


@pytest.mark.parametrize("argv", [["--debug", "login"], ["login", "--debug"]], ids=["before", "after"])
def test_debug_log_hides_credentials_and_tokens(
    argv: list[str], invoke: Any, aws: Any, fake_docker: Any, restore_logging: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_SESSION_TOKEN", "SESSIONTOKENSECRET0123")
    result = invoke(*argv)
    assert result.exit_code == 0, result.output
    assert "debug: " in result.stderr
    for secret in ("123456789012-auth-token", "QVdTOjEy", "SESSIONTOKENSECRET0123", "Signature=", "Credential="):
        assert secret not in result.stdout
        assert secret not in result.stderr, f"{secret!r} in the debug log"


@pytest.mark.parametrize("argv", [["--debug", "images", "missing"], ["images", "missing", "--debug"]], ids=str)
def test_debug_shows_a_traceback_for_errors(argv: list[str], aws: Any, restore_logging: Any) -> None:
    result = CliRunner().invoke(cli, argv)
    assert result.exit_code == 1
    assert "Traceback (most recent call last)" in result.stderr
    assert result.stderr.splitlines()[-1].startswith("ecrtool: error: repository 'missing' does not exist")
