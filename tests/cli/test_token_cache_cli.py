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
