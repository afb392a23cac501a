"""`ecrtool create` and `ecrtool login` against moto's ECR."""

from __future__ import annotations

import base64
import json
import stat
from pathlib import Path
from typing import Any

import pytest

HOST = "123456789012.dkr.ecr.ca-west-1.amazonaws.com"
PASSWORD = "123456789012-auth-token"  # what moto's GetAuthorizationToken hands out


def test_create_prints_the_uri(invoke: Any, aws: Any) -> None:
    result = invoke("create", "team/trees")
    assert result.exit_code == 0, result.output
    assert result.stdout == f"{HOST}/team/trees\n"
    assert "Created repository team/trees" in result.stderr


def test_create_applies_the_options(invoke: Any, aws: Any) -> None:
    result = invoke("create", "trees", "--scan-on-push", "--immutable", "--tag", "team=data", "--tag", "env=dev")
    assert result.exit_code == 0, result.output
    repo = aws.describe_repositories(repositoryNames=["trees"])["repositories"][0]
    assert repo["imageTagMutability"] == "IMMUTABLE"
    assert repo["imageScanningConfiguration"] == {"scanOnPush": True}
    tags = aws.list_tags_for_resource(resourceArn=repo["repositoryArn"])["tags"]
    assert {t["Key"]: t["Value"] for t in tags} == {"team": "data", "env": "dev"}


def test_create_of_an_existing_repository_suggests_exist_ok(invoke: Any, aws: Any) -> None:
    aws.create_repository(repositoryName="trees")
    result = invoke("create", "trees")
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        "ecrtool: error: repository 'trees' already exists: pass --exist-ok to accept it"
    ]
    assert result.stdout == ""


def test_create_exist_ok_accepts_an_existing_repository(invoke: Any, aws: Any) -> None:
    aws.create_repository(repositoryName="trees")
    result = invoke("create", "trees", "--exist-ok")
    assert result.exit_code == 0, result.output
    assert result.stdout == f"{HOST}/trees\n"
    assert "Repository exists: trees" in result.stderr


def test_create_json(invoke: Any, aws: Any) -> None:
    result = invoke("create", "trees", "-o", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["created"] is True
    assert data["repository"]["name"] == "trees"
    assert data["repository"]["uri"] == f"{HOST}/trees"
    assert data["repository"]["registry_id"] == "123456789012"
    assert result.stderr == ""


def test_create_with_a_full_reference_uses_its_region(invoke: Any, aws: Any) -> None:
    import boto3

    result = invoke("create", "123456789012.dkr.ecr.us-east-1.amazonaws.com/trees")
    assert result.exit_code == 0, result.output
    assert result.stdout == "123456789012.dkr.ecr.us-east-1.amazonaws.com/trees\n"
    assert boto3.client("ecr", region_name="us-east-1").describe_repositories()["repositories"][0]["repositoryName"]


def test_login_stores_the_credentials_and_hides_the_password(
    invoke: Any, aws: Any, fake_docker: Any, isolated_env: Path
) -> None:
    result = invoke("login")
    assert result.exit_code == 0, result.output
    config = isolated_env / ".docker" / "config.json"
    assert result.stdout.startswith(f"Login Succeeded: {HOST} (credentials stored in {config}")
    assert fake_docker.calls == [("login", HOST, "AWS")]
    assert fake_docker.auths[0].password == PASSWORD
    encoded = base64.b64encode(f"AWS:{PASSWORD}".encode()).decode()
    for secret in (PASSWORD, encoded):
        assert secret not in result.stdout
        assert secret not in result.stderr
    assert json.loads(config.read_text())["auths"][HOST]["auth"] == encoded
    assert stat.S_IMODE(config.stat().st_mode) == 0o600


def test_login_json_has_no_password(invoke: Any, aws: Any, fake_docker: Any) -> None:
    result = invoke("login", "-o", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["registry"] == HOST
    assert data["username"] == "AWS"
    assert PASSWORD not in result.stdout


def test_login_to_ecrtool_registry(invoke: Any, aws: Any, fake_docker: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ECRTOOL_REGISTRY", "127.0.0.1:5000")
    result = invoke("login", "-q")
    assert result.exit_code == 0, result.output
    assert fake_docker.calls == [("login", "127.0.0.1:5000", "AWS")]


def test_login_with_a_broken_docker_config_names_the_file(
    invoke: Any, aws: Any, fake_docker: Any, isolated_env: Path
) -> None:
    config = isolated_env / ".docker" / "config.json"
    config.parent.mkdir()
    config.write_text("{not json")
    result = invoke("login")
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        f"ecrtool: error: the Docker config {config} is not valid JSON (line 1): fix or remove it"
    ]
    assert config.read_text() == "{not json"
