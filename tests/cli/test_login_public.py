"""`ecrtool login --public` and public gallery references, in process: moto serves no ecr-public, so
botocore's Stubber answers GetAuthorizationToken, and the local ECR's registry (which checks the
password for real) stands in for public.ecr.aws through ECRTOOL_PUBLIC_REGISTRY. The engine is real."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from ecrtool.aws.session import AwsSession

pytestmark = pytest.mark.integration

HELLO = "hello from the local-ecr test image viruses"


@pytest.fixture
def gallery(stack: Any, test_image: str, tmp_path: Path) -> str:
    """An ALIAS/REPOSITORY in the stand-in registry holding the test image, not yet in the engine."""
    repository = f"gallery-{uuid.uuid4().hex[:8]}/viruses"
    home = tmp_path / "publisher"
    env = {**os.environ, **stack.env, "HOME": str(home), "DOCKER_CONFIG": str(home / ".docker")}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    done = subprocess.run(
        ["ecrtool", "push", "viruses", "--repo", repository, "--tag", "latest", "--create", "-q"],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    subprocess.run(["docker", "image", "rm", f"{stack.registry}/{repository}:latest"], env=env, capture_output=True)
    return repository


@pytest.fixture
def public_env(stack: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_HOST", stack.env["DOCKER_HOST"])
    monkeypatch.setenv("ECRTOOL_PUBLIC_REGISTRY", stack.registry)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")


@pytest.fixture
def ecr_public(stack: Any, public_env: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[tuple[str, Any]]]:
    """ecr-public's GetAuthorizationToken, answered once with the registry's real password; every client
    ecrtool asks for is recorded, and any other AWS service fails the test."""
    import boto3
    from botocore.stub import Stubber

    client = boto3.client("ecr-public", region_name="us-east-1")
    token = base64.b64encode(f"AWS:{stack.password()}".encode()).decode()
    expires = datetime.now(timezone.utc) + timedelta(hours=12)
    stubber = Stubber(client)
    stubber.add_response("get_authorization_token", {"authorizationData": {"authorizationToken": token,
                                                                           "expiresAt": expires}}, {})  # fmt: skip
    asked: list[tuple[str, Any]] = []

    def client_for(self: AwsSession, service: str, region: str | None = None) -> Any:
        asked.append((service, region))
        if service != "ecr-public":
            pytest.fail(f"the public gallery needs no {service} client")
        return client

    monkeypatch.setattr(AwsSession, "client", client_for)
    with stubber:
        yield asked
        stubber.assert_no_pending_responses()


def test_login_public_asks_us_east_1_and_stores_the_login(
    invoke: Any, ecr_public: Any, stack: Any, isolated_env: Path
) -> None:
    result = invoke("login", "--public", "--region", "ca-west-1", "--no-cache")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(f"Login Succeeded: {stack.registry} (credentials stored in ")
    assert ecr_public == [("ecr-public", "us-east-1")]
    auths = json.loads((isolated_env / ".docker" / "config.json").read_text())["auths"]
    assert base64.b64decode(auths[stack.registry]["auth"]).decode() == f"AWS:{stack.password()}"
    assert stack.password() not in result.output


def test_after_login_pull_and_run_use_the_stored_login(invoke: Any, ecr_public: Any, stack: Any, gallery: str) -> None:
    assert invoke("login", "--public", "--no-cache").exit_code == 0
    pulled = invoke("pull", f"public.ecr.aws/{gallery}:latest", "-q")
    assert pulled.exit_code == 0, pulled.output
    assert pulled.stdout == f"{stack.registry}/{gallery}:latest\n"
    ran = invoke("run", f"public.ecr.aws/{gallery}:latest", "--pull", "always", "--rm", "-q")
    assert ran.exit_code == 0, ran.output
    assert ran.stdout == HELLO + "\n"
    assert ecr_public == [("ecr-public", "us-east-1")]  # the login's one call; pull and run make none


def test_login_public_through_the_cli_runner(invoke: Any, ecr_public: Any, stack: Any, isolated_env: Path) -> None:
    result = invoke("--runner", "cli", "login", "--public", "--no-cache")
    assert result.exit_code == 0, result.output
    assert stack.registry in json.loads((isolated_env / ".docker" / "config.json").read_text())["auths"]
