"""Credentials found again in Docker's config for a pull that brings none (a public image), as docker-py finds
them: the registry's credential helper, else the credentials store, else the `auths` entry, else none."""

from __future__ import annotations

import base64
import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest

from ecrtool.docker.config import INDEX_URL, stored_credentials
from ecrtool.model.auth import RegistryAuth
from ecrtool.model.errors import EcrToolError, InvalidInput

HOST = "public.ecr.aws"
# the fake helper: answers `get` from store.json beside it, and keeps what it was asked
HELPER = """\
import json, pathlib, sys
here = pathlib.Path(__file__).parent
server = sys.stdin.read()
(here / "asked").write_text(json.dumps([sys.argv[1:], server]))
found = json.loads((here / "store.json").read_text()).get(server)
if found is None:
    print("credentials not found in native keychain")
    sys.exit(1)
print(json.dumps({"ServerURL": server, "Username": found[0], "Secret": found[1]}))
"""


def basic(username: str, password: str) -> str:
    return base64.b64encode(f"{username}:{password}".encode()).decode()


@pytest.fixture
def config(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Any:
    """Write Docker's config.json (under DOCKER_CONFIG) from a dict."""
    folder = tmp_path / "docker-config"
    monkeypatch.setenv("DOCKER_CONFIG", str(folder))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))

    def write(data: dict[str, Any]) -> Path:
        folder.mkdir(exist_ok=True)
        (folder / "config.json").write_text(json.dumps(data))
        return folder / "config.json"

    return write


@pytest.fixture
def helper(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """docker-credential-fake on PATH; store.json in the returned folder holds its credentials."""
    folder = tmp_path / "bin"
    folder.mkdir()
    script = folder / "docker-credential-fake"
    script.write_text(f"#!{sys.executable}\n{HELPER}")
    script.chmod(0o755)
    (folder / "store.json").write_text("{}")
    monkeypatch.setenv("PATH", f"{folder}{os.pathsep}{os.environ['PATH']}")
    return folder


def keep(helper: Path, server: str, username: str, secret: str) -> None:
    (helper / "store.json").write_text(json.dumps({server: [username, secret]}))


def test_nothing_configured_is_none(config: Any, tmp_path: Path) -> None:
    assert stored_credentials(HOST) is None  # no config file at all
    config({"auths": {"ghcr.io": {"auth": basic("me", "gh-secret")}}, "credHelpers": {"ghcr.io": "fake"}})
    assert stored_credentials(HOST) is None


def test_an_auths_entry_is_user_and_password(config: Any) -> None:
    config({"auths": {HOST: {"auth": basic("AWS", "pass:word")}}})
    assert stored_credentials(HOST) == RegistryAuth(HOST, "AWS", "pass:word")


def test_an_auths_entry_under_an_old_url_key_counts(config: Any) -> None:
    config({"auths": {f"https://{HOST}/v1/": {"auth": basic("AWS", "old-style")}}})
    assert stored_credentials(HOST) == RegistryAuth(HOST, "AWS", "old-style")


@pytest.mark.parametrize("setting", [{"credHelpers": {HOST: "fake"}}, {"credsStore": "fake"}], ids=str)
def test_the_helper_is_asked_with_the_host_on_stdin(setting: dict[str, Any], config: Any, helper: Path) -> None:
    keep(helper, HOST, "AWS", "from-the-helper")
    config({**setting, "auths": {HOST: {"auth": basic("AWS", "from-the-file")}}})
    assert stored_credentials(HOST) == RegistryAuth(HOST, "AWS", "from-the-helper")
    assert json.loads((helper / "asked").read_text()) == [["get"], HOST]


def test_a_helper_without_them_falls_back_to_the_file(config: Any, helper: Path) -> None:
    config({"credsStore": "fake", "auths": {HOST: {"auth": basic("AWS", "from-the-file")}}})
    assert stored_credentials(HOST) == RegistryAuth(HOST, "AWS", "from-the-file")
    config({"credsStore": "fake"})
    assert stored_credentials(HOST) is None


def test_docker_hub_is_asked_for_under_its_url(config: Any, helper: Path) -> None:
    keep(helper, INDEX_URL, "me", "hub-secret")
    config({"credHelpers": {INDEX_URL: "fake"}})
    found = stored_credentials("docker.io")
    assert found is not None and (found.username, found.password) == ("me", "hub-secret")


def test_a_missing_helper_says_which_and_what_to_do(config: Any) -> None:
    path = config({"credHelpers": {HOST: "nowhere-to-be-found"}})
    with pytest.raises(EcrToolError) as caught:
        stored_credentials(HOST)
    assert str(caught.value) == (
        f"the Docker config {path} names the credential helper 'nowhere-to-be-found' for {HOST} but"
        " docker-credential-nowhere-to-be-found is not on PATH: install it or remove it from the config"
    )


def test_a_broken_auths_entry_is_invalid_input(config: Any) -> None:
    path = config({"auths": {HOST: {"auth": base64.b64encode(b"no-colon").decode()}}})
    with pytest.raises(InvalidInput, match=f"the Docker config {path} holds credentials for {HOST} that are not"):
        stored_credentials(HOST)


CONFIGS = {
    "auths": {"auths": {HOST: {"auth": basic("AWS", "file")}, "ghcr.io": {"auth": basic("gh", "x")}}},
    "legacy key": {"auths": {f"https://{HOST}/v1/": {"auth": basic("AWS", "legacy")}}},
    "identity token": {"auths": {HOST: {"identitytoken": "tok-en"}}},
    "empty entry": {"auths": {HOST: {}}},
    "helper": {"credHelpers": {HOST: "fake"}, "auths": {HOST: {"auth": basic("AWS", "file")}}},
    "store": {"credsStore": "fake"},
    "store without it": {"credsStore": "fake", "auths": {"ghcr.io": {"auth": basic("gh", "x")}}},
    "hub": {"credHelpers": {INDEX_URL: "fake"}, "auths": {"index.docker.io": {"auth": basic("me", "hub")}}},
    "nothing": {},
}


@pytest.mark.parametrize("host", [HOST, "ghcr.io", "docker.io", "index.docker.io"])
@pytest.mark.parametrize("name", list(CONFIGS))
def test_finds_what_docker_py_finds(name: str, host: str, config: Any, helper: Path) -> None:
    from docker import auth

    (helper / "store.json").write_text(json.dumps({HOST: ["AWS", "helper"], INDEX_URL: ["me", "hub-helper"]}))
    path = config(CONFIGS[name])
    theirs = auth.resolve_authconfig(auth.load_config(config_path=str(path)), auth.resolve_index_name(host))
    if not theirs:
        expected = None
    elif "IdentityToken" in theirs:
        expected = ("<token>", theirs["IdentityToken"])
    else:
        expected = (theirs.get("username") or theirs["Username"], theirs.get("password") or theirs["Password"])
    ours = stored_credentials(host)
    assert (None if ours is None else (ours.username, ours.password)) == expected
