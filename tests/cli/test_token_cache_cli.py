"""The token cache through the commands: one GetAuthorizationToken per 12 hours, --no-cache, refusals."""

from __future__ import annotations

import stat
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from ecrtool.aws.ecr import AuthToken, Ecr
from ecrtool.model.errors import AuthError


class Counted:
    def __init__(self) -> None:
        self.calls = 0


@pytest.fixture
def twelve_hours(monkeypatch: pytest.MonkeyPatch) -> Counted:
    """moto's tokens come already expired; real ECR's last 12 hours. Count the calls that reach moto."""
    original = Ecr.authorization_token
    counted = Counted()

    def authorization_token(self: Ecr) -> AuthToken:
        counted.calls += 1
        return original(self).replace(expires_at=datetime.now(timezone.utc) + timedelta(hours=12))

    monkeypatch.setattr(Ecr, "authorization_token", authorization_token)
    return counted


def cache_files(home: Path) -> list[Path]:
    folder = home / ".cache" / "ecrtool" / "tokens"
    return sorted(folder.glob("*.json")) if folder.exists() else []


def test_a_second_command_reuses_the_token(
    invoke: Any, aws: Any, fake_docker: Any, twelve_hours: Counted, isolated_env: Path
) -> None:
    assert invoke("login", "-q").exit_code == 0
    assert invoke("login", "-q").exit_code == 0
    assert twelve_hours.calls == 1
    files = cache_files(isolated_env)
    assert files, "no token was cached"
    for path in files:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(files[0].parent.stat().st_mode) == 0o700


def test_no_cache_fetches_and_leaves_the_cache_alone(
    invoke: Any, aws: Any, fake_docker: Any, twelve_hours: Counted, isolated_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert invoke("login", "-q", "--no-cache").exit_code == 0
    assert cache_files(isolated_env) == []
    assert invoke("--no-cache", "login", "-q").exit_code == 0
    monkeypatch.setenv("ECRTOOL_NO_CACHE", "1")
    assert invoke("login", "-q").exit_code == 0
    assert twelve_hours.calls == 3
    assert cache_files(isolated_env) == []


def test_motos_expired_tokens_are_never_cached(invoke: Any, aws: Any, fake_docker: Any, isolated_env: Path) -> None:
    assert invoke("login", "-q").exit_code == 0
    assert cache_files(isolated_env) == []


def test_a_refused_token_is_dropped(
    invoke: Any, aws: Any, fake_docker: Any, twelve_hours: Counted, isolated_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert invoke("login", "-q").exit_code == 0
    assert cache_files(isolated_env)

    def refuse(auth: Any) -> None:
        raise AuthError("the registry refused authentication during login: unauthorized")

    monkeypatch.setattr(fake_docker, "login", refuse)
    assert invoke("login", "-q").exit_code == 1
    assert cache_files(isolated_env) == []  # the next command fetches a fresh token


@pytest.fixture
def no_sts(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """sts:GetCallerIdentity made a failure: what needs the caller's account finds it elsewhere or fails."""
    asked: list[str] = []

    def caller_account(self: Any) -> str:
        asked.append("sts:GetCallerIdentity")
        raise AuthError("sts:GetCallerIdentity was called")

    monkeypatch.setattr("ecrtool.aws.session.AwsSession.caller_account", caller_account)
    return asked


HOST = "123456789012.dkr.ecr.ca-west-1.amazonaws.com"


def test_tag_and_run_name_the_registry_from_a_cached_token_without_sts(
    invoke: Any, aws: Any, fake_docker: Any, twelve_hours: Counted, no_sts: list[str]
) -> None:
    assert invoke("login", "-q").exit_code == 0  # the token names the registry: 123456789012's
    fake_docker.add_image("viruses:latest")
    tagged = invoke("tag", "viruses", "--repo", "trees", "-q")
    assert tagged.exit_code == 0, tagged.output
    assert tagged.stdout == f"{HOST}/trees:viruses\n"
    ran = invoke("run", "trees:viruses", "--pull", "never", "--detach")
    assert ran.exit_code == 0, ran.output
    assert fake_docker.runs[-1].image == f"{HOST}/trees:viruses"
    assert no_sts == []


def test_without_a_cached_token_tag_asks_sts(invoke: Any, aws: Any, fake_docker: Any, no_sts: list[str]) -> None:
    fake_docker.add_image("viruses:latest")
    assert invoke("tag", "viruses", "--repo", "trees").exit_code == 1
    assert no_sts == ["sts:GetCallerIdentity"]


def test_the_credential_helper_reads_the_region_as_login_does(
    invoke: Any, aws: Any, fake_docker: Any, twelve_hours: Counted, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ecrtool.service import credhelper

    monkeypatch.setenv("ECRTOOL_REGISTRY", "127.0.0.1:5000")
    monkeypatch.setenv("AWS_REGION", "ca-west-1")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")  # AWS_REGION wins, for login and the helper alike
    assert invoke("login", "-q").exit_code == 0
    answer = credhelper.get("127.0.0.1:5000")
    assert answer["Username"] == "AWS"
    assert twelve_hours.calls == 1  # the helper found login's token in the cache
