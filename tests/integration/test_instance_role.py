"""ecrtool on an EC2 instance with nothing configured: the instance role and region from instance metadata.

Every command here runs as on a fresh instance: an environment holding nothing but PATH, a HOME of its
own and what `scripts/local-ecr env --instance` prints (the engine, the CA bundle, and the local ECR's
IMDSv2 stand-in as AWS_EC2_METADATA_SERVICE_ENDPOINT): no keys, no region, no profile, no ~/.aws.
GetAuthorizationToken calls are counted where the API receives them (the bridge's /_bridge/stats).
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.conftest import BIN, STACK, Stack, _path_env

pytestmark = pytest.mark.integration

ROLE = "ecrtool-local-instance-role"
Run = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def instance_env(stack: Stack, tmp_path: Path) -> dict[str, str]:
    done = subprocess.run(
        [str(STACK), "env", "--instance"],
        capture_output=True,
        text=True,
        env=_path_env({**os.environ, **stack.env}),
        check=True,
    )
    home = tmp_path / "instance-home"
    home.mkdir()
    env = {"PATH": f"{BIN}:/usr/sbin:/usr/bin:/sbin:/bin", "HOME": str(home)}
    for line in done.stdout.splitlines():
        key, _, value = line.removeprefix("export ").partition("=")
        env[key] = shlex.split(value)[0] if value else ""
    assert not {k for k in env if k.startswith("AWS_") and "KEY" in k or k in ("AWS_REGION", "AWS_DEFAULT_REGION")}
    return env


@pytest.fixture
def on_instance(instance_env: dict[str, str]) -> Run:
    def run(*args: str, input: str | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(BIN / args[0]), *args[1:]],
            capture_output=True,
            text=True,
            input=input,
            timeout=timeout,
            env=instance_env,
        )

    return run


@pytest.fixture
def imds(stack: Stack) -> Iterator[Callable[..., dict[str, object]]]:
    """The stand-in's control (mode, key lifetime, rotation), put back as `up` left it after the test."""

    def control(**doc: object) -> dict[str, object]:
        return stack.control("imds", doc)

    yield control
    control(reset=True)


@pytest.fixture
def in_registry(stack: Stack, test_image: str, ecrtool: Run, repo_name: str) -> str:
    """The test image in a fresh repository of the first account (pushed with the stack's keys)."""
    done = ecrtool("push", test_image, "--repo", repo_name, "--create", "-q")
    assert done.returncode == 0, done.stderr
    return f"{repo_name}:{test_image}"


def token_calls(stack: Stack) -> int:
    return int(stack.control("stats").get("GetAuthorizationToken", 0))


def test_login_pull_and_config_show_work_on_the_instance_role_alone(
    on_instance: Run, stack: Stack, in_registry: str
) -> None:
    shown = on_instance("ecrtool", "config", "show", "-o", "json")
    assert shown.returncode == 0, shown.stderr
    settings = json.loads(shown.stdout)["settings"]
    assert settings["credentials"] == {"value": f"instance role {ROLE}", "source": "instance metadata"}
    assert settings["region"] == {"value": "ca-west-1", "source": "instance metadata (instance identity document)"}

    login = on_instance("ecrtool", "login")
    assert login.returncode == 0, login.stderr
    assert login.stdout.startswith("Login Succeeded: 123456789012.dkr.ecr.ca-west-1.amazonaws.com")

    pulled = on_instance("ecrtool", "pull", in_registry)
    assert pulled.returncode == 0, pulled.stderr
    assert f"123456789012.dkr.ecr.ca-west-1.amazonaws.com/{in_registry}" in pulled.stdout


def test_doctor_names_the_instance_role_and_where_the_region_came_from(on_instance: Run) -> None:
    done = on_instance("ecrtool", "doctor", "-o", "json")
    checks = {check["name"]: check for check in json.loads(done.stdout)["checks"]}
    assert checks["AWS credentials"]["detail"].startswith(
        f"instance role {ROLE} (instance metadata): arn:aws:sts::123456789012:assumed-role/{ROLE}/i-"
    )
    assert checks["region"]["detail"] == "ca-west-1 (from instance metadata (instance identity document))"


def test_a_rotation_of_the_role_keys_keeps_the_cached_token(
    on_instance: Run, stack: Stack, imds: Callable[..., dict[str, object]]
) -> None:
    first = on_instance("ecrtool", "login")
    assert first.returncode == 0, first.stderr
    before = token_calls(stack)
    imds(rotate=True)
    again = on_instance("ecrtool", "login")
    assert again.returncode == 0, again.stderr
    assert token_calls(stack) == before  # the same role and account: the cached token, not a new one
    helper = on_instance("docker-credential-ecrtool", "get", input="123456789012.dkr.ecr.ca-west-1.amazonaws.com")
    assert helper.returncode == 0, helper.stderr
    assert json.loads(helper.stdout)["Username"] == "AWS"
    assert token_calls(stack) == before


def test_expired_role_keys_are_replaced_from_the_metadata(
    on_instance: Run, stack: Stack, imds: Callable[..., dict[str, object]], in_registry: str
) -> None:
    imds(ttl=2, rotate=True)
    time.sleep(2.5)  # the keys handed out before are now past their Expiration, and refused
    imds(rotate=True)
    done = on_instance("ecrtool", "--no-cache", "pull", in_registry)
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize("mode", ["hang", "hop-limit", "off"])
def test_metadata_that_does_not_answer_is_one_line_naming_the_hop_limit_fix(
    on_instance: Run, imds: Callable[..., dict[str, object]], mode: str, in_registry: str
) -> None:
    imds(mode=mode)
    started = time.monotonic()
    done = on_instance("ecrtool", "pull", in_registry)
    took = time.monotonic() - started
    assert done.returncode == 1
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("ecrtool: error: cannot read "), done.stderr
    assert "--http-put-response-hop-limit 2" in lines[0]
    assert "Traceback" not in done.stderr
    assert took < 20  # one wait of about a second, not botocore's retries; loose for a loaded machine


def test_a_token_the_registry_refuses_is_dropped_and_replaced_once(
    on_instance: Run, stack: Stack, in_registry: str
) -> None:
    first = on_instance("ecrtool", "login")
    assert first.returncode == 0, first.stderr
    stack.control("rotate-password", {})  # every password handed out so far is now refused by the registry
    before = token_calls(stack)
    done = on_instance("ecrtool", "pull", in_registry)
    assert done.returncode == 0, done.stderr
    assert token_calls(stack) == before + 1
