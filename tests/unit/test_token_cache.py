"""The token cache: reuse inside the window, never a past or missing expiry, private files, nothing untrusted."""

from __future__ import annotations

import json
import os
import stat
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from ecrtool.aws.ecr import AuthToken
from ecrtool.aws.session import AwsSession
from ecrtool.model import token_cache

NOW = datetime(2030, 5, 1, 12, 0, tzinfo=timezone.utc)
KEY = token_cache.CacheKey(account="123456789012", region="ca-west-1", identity="ecr||key:AKIAEXAMPLE")
as_root = pytest.mark.skipif(os.geteuid() != 0, reason="giving a file to another user needs root (CI runs as root)")


def token(password: str = "s3cret", expires_in: timedelta | None = timedelta(hours=12)) -> AuthToken:
    expires = NOW + expires_in if expires_in is not None else None
    return AuthToken("AWS", password, expires, "https://123456789012.dkr.ecr.ca-west-1.amazonaws.com")


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    return tmp_path / "cache" / "ecrtool" / "tokens"


class Fetcher:
    def __init__(self, *tokens: AuthToken) -> None:
        self.tokens = list(tokens)
        self.calls = 0

    def __call__(self) -> AuthToken:
        self.calls += 1
        return self.tokens.pop(0)


def test_a_fresh_token_is_fetched_once_and_then_reused(folder: Path) -> None:
    fetch = Fetcher(token("first"))
    first, was_cached = token_cache.cached(KEY, fetch, directory=folder, now=NOW)
    assert (first.password, was_cached) == ("first", False)
    later = NOW + timedelta(hours=11)
    again, was_cached = token_cache.cached(KEY, fetch, directory=folder, now=later)
    assert (again.password, again.expires_at, was_cached) == ("first", first.expires_at, True)
    assert fetch.calls == 1


@pytest.mark.parametrize(
    ("left", "reused"),
    [
        (timedelta(minutes=16), True),
        (timedelta(minutes=15), False),
        (timedelta(minutes=5), False),
        (-timedelta(1), False),
    ],
)
def test_a_token_is_reused_until_15_minutes_before_it_expires(folder: Path, left: timedelta, reused: bool) -> None:
    token_cache.store(KEY, token("old"), directory=folder, now=NOW)
    moment = NOW + timedelta(hours=12) - left
    fetch = Fetcher(token("new", expires_in=timedelta(hours=24)))
    got, _ = token_cache.cached(KEY, fetch, directory=folder, now=moment)
    assert got.password == ("old" if reused else "new")
    assert fetch.calls == (0 if reused else 1)


@pytest.mark.parametrize("expires_in", [None, timedelta(0), -timedelta(hours=1), timedelta(minutes=10)])
def test_a_past_or_missing_expiry_is_never_cached(folder: Path, expires_in: timedelta | None) -> None:
    # moto's tokens expire in 2015: every command must fetch its own
    assert token_cache.store(KEY, token(expires_in=expires_in), directory=folder, now=NOW) is None
    assert not (folder / KEY.filename).exists()
    fetch = Fetcher(token("a", expires_in), token("b", expires_in))
    assert token_cache.cached(KEY, fetch, directory=folder, now=NOW)[0].password == "a"
    assert token_cache.cached(KEY, fetch, directory=folder, now=NOW)[0].password == "b"


def test_files_are_0600_in_a_0700_folder(tmp_path: Path) -> None:
    folder = tmp_path / "cache" / "ecrtool" / "tokens"
    folder.parent.mkdir(parents=True, mode=0o755)
    os.chmod(folder.parent, 0o755)
    path = token_cache.store(KEY, token(), directory=folder, now=NOW)
    assert path is not None and path.parent == folder
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(folder).st_mode) == 0o700
    assert [p.name for p in folder.iterdir()] == [path.name]  # no temporary file left behind


def test_a_group_readable_folder_of_ours_is_made_private(folder: Path) -> None:
    folder.mkdir(parents=True)
    os.chmod(folder, 0o755)
    token_cache.store(KEY, token(), directory=folder, now=NOW)
    assert stat.S_IMODE(os.stat(folder).st_mode) == 0o700


@pytest.mark.parametrize(
    "content",
    [b"", b"not json", b"\xff\xfe", b"[]", b'{"format": 1}', b'{"format": 2, "password": "x"}', b"{" * 70000],
)
def test_a_corrupt_file_is_ignored_and_replaced(folder: Path, content: bytes) -> None:
    folder.mkdir(parents=True, mode=0o700)
    path = folder / KEY.filename
    path.write_bytes(content)
    os.chmod(path, 0o600)
    fetch = Fetcher(token("fresh"))
    assert token_cache.cached(KEY, fetch, directory=folder, now=NOW)[0].password == "fresh"
    assert fetch.calls == 1
    assert json.loads(path.read_text())["password"] == "fresh"


def test_a_file_others_can_read_is_not_trusted(folder: Path) -> None:
    path = token_cache.store(KEY, token("planted"), directory=folder, now=NOW)
    assert path is not None
    os.chmod(path, 0o644)
    assert token_cache.load(KEY, directory=folder, now=NOW) is None
    fetch = Fetcher(token("fresh"))
    assert token_cache.cached(KEY, fetch, directory=folder, now=NOW)[0].password == "fresh"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


@as_root
def test_a_file_owned_by_another_user_is_not_trusted(folder: Path) -> None:
    path = token_cache.store(KEY, token("planted"), directory=folder, now=NOW)
    assert path is not None
    os.chown(path, 65534, 65534)
    assert token_cache.load(KEY, directory=folder, now=NOW) is None
    fetch = Fetcher(token("fresh"))
    assert token_cache.cached(KEY, fetch, directory=folder, now=NOW)[0].password == "fresh"
    assert os.stat(path).st_uid == os.geteuid()


@as_root
def test_a_folder_owned_by_another_user_is_not_used(folder: Path) -> None:
    folder.mkdir(parents=True, mode=0o700)
    os.chown(folder, 65534, 65534)
    assert token_cache.store(KEY, token(), directory=folder, now=NOW) is None
    assert list(folder.iterdir()) == []


def test_a_symlink_is_not_followed(folder: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere.json"
    real = token_cache.store(KEY, token("planted"), directory=folder, now=NOW)
    assert real is not None
    real.rename(elsewhere)
    real.symlink_to(elsewhere)
    assert token_cache.load(KEY, directory=folder, now=NOW) is None
    token_cache.store(KEY, token("fresh"), directory=folder, now=NOW)
    assert not real.is_symlink()
    assert json.loads(elsewhere.read_text())["password"] == "planted"  # the target was not written through


def test_a_file_copied_under_another_identity_is_not_taken(folder: Path) -> None:
    other = token_cache.CacheKey(account=KEY.account, region=KEY.region, identity="ecr||key:AKIAOTHER")
    assert other.filename != KEY.filename
    path = token_cache.store(other, token("someone-else"), directory=folder, now=NOW)
    assert path is not None
    os.rename(path, folder / KEY.filename)
    assert token_cache.load(KEY, directory=folder, now=NOW) is None


def test_the_key_separates_accounts_regions_identities_and_endpoints() -> None:
    env = {"AWS_ENDPOINT_URL": "http://127.0.0.1:5000"}
    names = {
        token_cache.make_key("123456789012", "ca-west-1", "key:A", environ={}).filename,
        token_cache.make_key("210987654321", "ca-west-1", "key:A", environ={}).filename,
        token_cache.make_key("123456789012", "us-east-1", "key:A", environ={}).filename,
        token_cache.make_key("123456789012", "ca-west-1", "key:B", environ={}).filename,
        token_cache.make_key("123456789012", "ca-west-1", "key:A", environ=env).filename,
        token_cache.make_key(None, "ca-west-1", "key:A", environ={}).filename,
    }
    assert len(names) == 6
    name = token_cache.make_key("123456789012", "ca-west-1", "key:AKIASECRETISH", environ={}).filename
    assert name.startswith("123456789012-ca-west-1-") and "AKIA" not in name


def test_forget_drops_the_token(folder: Path) -> None:
    path = token_cache.store(KEY, token(), directory=folder, now=NOW)
    token_cache.forget(KEY, directory=folder)
    assert path is not None and not path.exists()


def test_the_folder_follows_xdg_cache_home() -> None:
    assert token_cache.cache_dir({"XDG_CACHE_HOME": "/x/cache", "HOME": "/home/u"}) == Path("/x/cache/ecrtool/tokens")
    # the XDG spec: a relative value is invalid and ignored
    assert token_cache.cache_dir({"XDG_CACHE_HOME": "rel", "HOME": "/home/u"}) == Path("/home/u/.cache/ecrtool/tokens")
    assert token_cache.cache_dir({"HOME": "/home/u"}) == Path("/home/u/.cache/ecrtool/tokens")


def test_environment_keys_name_the_identity_without_boto3() -> None:
    env = {"AWS_ACCESS_KEY_ID": "AKIAEXAMPLE", "AWS_SECRET_ACCESS_KEY": "x"}
    assert token_cache.environment_identity(env, None) == "key:AKIAEXAMPLE"
    # an explicit profile outranks the environment's keys in botocore, so it is not the identity then
    assert token_cache.environment_identity(env, "dev") is None
    assert token_cache.environment_identity({"AWS_ACCESS_KEY_ID": "AKIAEXAMPLE"}, None) is None


def test_boto3_names_the_same_identity_as_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.write_text("")
    for name, value in {
        "AWS_ACCESS_KEY_ID": "AKIAEXAMPLE",
        "AWS_SECRET_ACCESS_KEY": "x",
        "AWS_CONFIG_FILE": str(empty),
        "AWS_SHARED_CREDENTIALS_FILE": str(empty),
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    assert AwsSession(region="ca-west-1").identity() == token_cache.environment_identity(os.environ, None)


def test_a_role_profile_is_named_by_its_role_not_its_changing_key(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    config = tmp_path / "config"
    config.write_text(
        "[profile base]\naws_access_key_id = AKIABASE\naws_secret_access_key = x\n\n"
        "[profile deploy]\nrole_arn = arn:aws:iam::123456789012:role/deploy\nsource_profile = base\n\n"
        "[profile other]\nrole_arn = arn:aws:iam::123456789012:role/other\nsource_profile = base\n"
    )
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE", "AWS_ROLE_ARN"):
        monkeypatch.delenv(name, raising=False)
    deploy = AwsSession(region="ca-west-1", profile="deploy").identity()  # no AWS call: the role is not assumed
    assert "role/deploy" in deploy and "AKIA" not in deploy
    assert deploy == AwsSession(region="ca-west-1", profile="deploy").identity()
    assert deploy != AwsSession(region="ca-west-1", profile="other").identity()
    assert AwsSession(region="ca-west-1", profile="base").identity() == "key:AKIABASE"
