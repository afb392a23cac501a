"""The commands with ecrtool's own signed ECR client (keys in the environment), on moto's server.

The rest of the CLI tier runs every call through botocore, where moto's in-process mock sees it; here
GetAuthorizationToken, DescribeRepositories and CreateRepository go out as ecrtool's own SigV4-signed
requests, as they do for users with keys in the environment, and the output must not change.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from ecrtool.aws.signed import EcrJsonClient

HOST = "123456789012.dkr.ecr.ca-west-1.amazonaws.com"


@pytest.fixture
def signed_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The operations that went out through ecrtool's signed client."""
    calls: list[str] = []
    original = EcrJsonClient.call

    def call(self: EcrJsonClient, operation: str, params: Any) -> Any:
        calls.append(operation)
        return original(self, operation, params)

    monkeypatch.setattr(EcrJsonClient, "call", call)
    return calls


def test_create_and_exist_ok(invoke: Any, signed_aws: Any, signed_calls: list[str]) -> None:
    created = invoke("create", "team/trees", "--immutable")
    assert created.exit_code == 0, created.output
    assert created.stdout == f"{HOST}/team/trees\n"
    repo = signed_aws.describe_repositories(repositoryNames=["team/trees"])["repositories"][0]
    assert repo["imageTagMutability"] == "IMMUTABLE"
    again = invoke("create", "team/trees")
    assert again.exit_code == 1
    assert again.stderr == "ecrtool: error: repository 'team/trees' already exists: pass --exist-ok to accept it\n"
    assert signed_calls == ["CreateRepository", "CreateRepository"]


def test_login_stores_the_token_ecr_handed_out(
    invoke: Any, signed_aws: Any, fake_docker: Any, signed_calls: list[str], isolated_env: Path
) -> None:
    result = invoke("login", "-o", "json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["registry"] == HOST
    token = signed_aws.get_authorization_token()["authorizationData"][0]["authorizationToken"]
    assert fake_docker.auths[-1].password == base64.b64decode(token).decode().partition(":")[2]
    assert signed_calls == ["GetAuthorizationToken"]


def test_push_to_a_missing_repository_says_create(
    invoke: Any, signed_aws: Any, fake_docker: Any, signed_calls: list[str]
) -> None:
    fake_docker.add_image("viruses:latest")
    result = invoke("push", "viruses", "--repo", "trees")
    assert result.exit_code == 1
    assert result.stderr == (
        "ecrtool: error: repository 'trees' does not exist in ca-west-1: create it with `ecrtool create trees`"
        " or pass --create, or have a creation template create such repositories on push: "
        "`ecrtool template set PREFIX`\n"
    )
    # whether a creation template would create it is asked on the same signed client
    assert signed_calls == ["DescribeRepositories", "DescribeRepositoryCreationTemplates"]
    pushed = invoke("push", "viruses", "--repo", "trees", "--create", "-q")
    assert pushed.exit_code == 0, pushed.output
    assert pushed.stdout.splitlines()[0] == f"{HOST}/trees:viruses"
    assert signed_calls[2:] == [
        "DescribeRepositories", "DescribeRepositoryCreationTemplates", "CreateRepository", "GetAuthorizationToken"
    ]
