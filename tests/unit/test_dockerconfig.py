"""Docker's config.json: credentials written as `docker login` writes them, or handed to a credential helper."""

from __future__ import annotations

import base64
import json
import os
import stat
from pathlib import Path

import pytest

from ecrtool.docker.config import config_path, store_credentials
from ecrtool.model.errors import EcrToolError, InvalidInput

HOST = "123456789012.dkr.ecr.ca-west-1.amazonaws.com"
PASSWORD = "eyJwYXlsb2FkIjoi-very-secret"


@pytest.fixture(autouse=True)
def docker_config(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    folder = tmp_path / "docker-config"
    monkeypatch.setenv("DOCKER_CONFIG", str(folder))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    return folder / "config.json"


def test_writes_auth_with_mode_0600(docker_config: Path) -> None:
    where = store_credentials(HOST, "AWS", PASSWORD)
    assert where == str(docker_config)
    data = json.loads(docker_config.read_text())
    assert data == {"auths": {HOST: {"auth": base64.b64encode(f"AWS:{PASSWORD}".encode()).decode()}}}
    assert stat.S_IMODE(docker_config.stat().st_mode) == 0o600


def test_keeps_other_settings_and_registries(docker_config: Path) -> None:
    docker_config.parent.mkdir()
    docker_config.write_text(
        json.dumps(
            {
                "auths": {
                    "ghcr.io": {"auth": "Z2g6eA=="},
                    HOST: {"auth": "b2xk", "identitytoken": "old", "email": "e"},
                },
                "psFormat": "table {{.ID}}",
                "proxies": {"default": {"httpProxy": "http://proxy:3128"}},
            }
        )
    )
    os.chmod(docker_config, 0o644)
    store_credentials(HOST, "AWS", PASSWORD)
    data = json.loads(docker_config.read_text())
    assert data["auths"]["ghcr.io"] == {"auth": "Z2g6eA=="}
    assert data["auths"][HOST] == {"auth": base64.b64encode(f"AWS:{PASSWORD}".encode()).decode(), "email": "e"}
    assert data["psFormat"] == "table {{.ID}}"
    assert data["proxies"] == {"default": {"httpProxy": "http://proxy:3128"}}
    assert stat.S_IMODE(docker_config.stat().st_mode) == 0o600


def test_writes_through_a_symlinked_config_as_docker_does(docker_config: Path, tmp_path: Path) -> None:
    # a config.json kept elsewhere (a dotfiles checkout) and linked in: the link stays, its target changes
    dotfiles = tmp_path / "dotfiles"
    dotfiles.mkdir()
    target = dotfiles / "docker.json"
    target.write_text(json.dumps({"auths": {"ghcr.io": {"auth": "Z2g6eA=="}}}))
    docker_config.parent.mkdir()
    docker_config.symlink_to(Path("..") / "dotfiles" / "docker.json")
    assert store_credentials(HOST, "AWS", PASSWORD) == str(docker_config)
    assert docker_config.is_symlink() and os.readlink(docker_config) == os.path.join("..", "dotfiles", "docker.json")
    data = json.loads(target.read_text())
    assert data["auths"]["ghcr.io"] == {"auth": "Z2g6eA=="}
    assert data["auths"][HOST] == {"auth": base64.b64encode(f"AWS:{PASSWORD}".encode()).decode()}
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    # no temporary file left beside the link or the target
    assert sorted(p.name for p in docker_config.parent.iterdir()) == ["config.json"]
    assert sorted(p.name for p in dotfiles.iterdir()) == ["docker.json"]


def test_writes_through_a_chain_of_links(docker_config: Path, tmp_path: Path) -> None:
    target = tmp_path / "elsewhere" / "real.json"
    target.parent.mkdir()
    target.write_text("{}")
    middle = tmp_path / "middle.json"
    middle.symlink_to(target)
    docker_config.parent.mkdir()
    docker_config.symlink_to(middle)
    store_credentials(HOST, "AWS", PASSWORD)
    assert docker_config.is_symlink() and middle.is_symlink()
    assert HOST in json.loads(target.read_text())["auths"]


def test_honours_docker_config(docker_config: Path) -> None:
    assert config_path() == docker_config
    store_credentials(HOST, "AWS", PASSWORD)
    assert docker_config.exists()


def test_defaults_to_home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("DOCKER_CONFIG")
    store_credentials(HOST, "AWS", PASSWORD)
    assert HOST in json.loads((tmp_path / "home" / ".docker" / "config.json").read_text())["auths"]


def test_empty_file_is_treated_as_empty_config(docker_config: Path) -> None:
    docker_config.parent.mkdir()
    docker_config.write_text("\n")
    store_credentials(HOST, "AWS", PASSWORD)
    assert HOST in json.loads(docker_config.read_text())["auths"]


@pytest.mark.parametrize("text", ["{not json", "[1, 2]", '{"auths": []}'])
def test_invalid_config_is_invalid_input_naming_the_file(text: str, docker_config: Path) -> None:
    docker_config.parent.mkdir()
    docker_config.write_text(text)
    with pytest.raises(InvalidInput) as caught:
        store_credentials(HOST, "AWS", PASSWORD)
    assert str(docker_config) in str(caught.value)
    assert "fix or remove it" in str(caught.value)
    assert docker_config.read_text() == text


@pytest.fixture
def helper(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """A fake docker-credential-fake on PATH that records its arguments and stdin."""
    folder = tmp_path / "bin"
    folder.mkdir()
    script = folder / "docker-credential-fake"
    script.write_text(
        '#!/bin/sh\nprintf "%s\\n" "$@" > "$(dirname "$0")/argv"\ncat > "$(dirname "$0")/stdin"\n'
        'if [ -n "$FAKE_HELPER_FAIL" ]; then echo "keychain locked"; exit 1; fi\n'
    )
    script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{folder}{os.pathsep}{os.environ['PATH']}")
    return folder


@pytest.mark.parametrize(
    "config", [{"credsStore": "fake"}, {"credsStore": "other", "credHelpers": {HOST: "fake"}}], ids=str
)
def test_credential_helper_gets_the_secret_on_stdin(
    config: dict[str, object], docker_config: Path, helper: Path
) -> None:
    docker_config.parent.mkdir()
    docker_config.write_text(json.dumps(config))
    where = store_credentials(HOST, "AWS", PASSWORD)
    assert where == "docker-credential-fake"
    assert (helper / "argv").read_text().split() == ["store"]
    assert json.loads((helper / "stdin").read_text()) == {"ServerURL": HOST, "Username": "AWS", "Secret": PASSWORD}
    assert PASSWORD not in docker_config.read_text()
    assert json.loads(docker_config.read_text()) == config


def test_cred_helpers_for_another_registry_fall_back_to_the_file(docker_config: Path, helper: Path) -> None:
    docker_config.parent.mkdir()
    docker_config.write_text(json.dumps({"credHelpers": {"ghcr.io": "fake"}}))
    assert store_credentials(HOST, "AWS", PASSWORD) == str(docker_config)
    assert not (helper / "stdin").exists()


def test_a_failing_helper_is_reported(docker_config: Path, helper: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_HELPER_FAIL", "1")
    docker_config.parent.mkdir()
    docker_config.write_text(json.dumps({"credsStore": "fake"}))
    with pytest.raises(EcrToolError, match="docker-credential-fake could not store the credentials: keychain locked"):
        store_credentials(HOST, "AWS", PASSWORD)


def test_a_missing_helper_is_reported(docker_config: Path) -> None:
    docker_config.parent.mkdir()
    docker_config.write_text(json.dumps({"credsStore": "nowhere-to-be-found"}))
    with pytest.raises(EcrToolError) as caught:
        store_credentials(HOST, "AWS", PASSWORD)
    assert "docker-credential-nowhere-to-be-found is not on PATH" in str(caught.value)
    assert str(docker_config) in str(caught.value)
