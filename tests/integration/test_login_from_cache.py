"""A login whose token is cached, with the real ecrtool against the local ECR: it goes around click (which
alone costs more than the rest of it) and says and stores what the full command line does; the options
it does not take still work, through the full command line."""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration


@pytest.fixture
def timed(env: dict[str, str]) -> dict[str, str]:
    """This test's own token cache; UTC, so a fetched token's expiry reads as a cached one's does."""
    env.update(XDG_CACHE_HOME=str(Path(env["HOME"]) / ".cache"), TZ="UTC")
    return env


def imports(env: dict[str, str], *args: str) -> tuple[subprocess.CompletedProcess[str], set[str]]:
    """Run the installed ecrtool under `python -X importtime`; its result and the top-level packages it loaded."""
    program = shutil.which("ecrtool", path=env["PATH"])
    assert program
    done = subprocess.run(
        [sys.executable, "-X", "importtime", program, *args], capture_output=True, text=True, env=env, timeout=120
    )
    lines = [line for line in done.stderr.splitlines() if line.startswith("import time:")]
    loaded = {line.rsplit("|", 1)[1].strip().split(".")[0] for line in lines[1:]}
    done.stderr = "\n".join(line for line in done.stderr.splitlines() if not line.startswith("import time:"))
    return done, loaded


def stored_password(env: dict[str, str], registry: str) -> str:
    config = json.loads((Path(env["DOCKER_CONFIG"]) / "config.json").read_text())
    return base64.b64decode(config["auths"][registry]["auth"]).decode().partition(":")[2]


def test_a_second_login_says_the_same_without_click(ecrtool, timed, stack) -> None:
    first = ecrtool("login")
    assert first.returncode == 0, first.stderr
    assert first.stdout.startswith(f"Login Succeeded: {stack.registry} (credentials stored in ")
    config = Path(timed["DOCKER_CONFIG"]) / "config.json"
    config.unlink()

    second, loaded = imports(timed, "login")
    assert (second.returncode, second.stdout, second.stderr) == (0, first.stdout, "")
    assert stack.accepts(stored_password(timed, stack.registry))
    assert not loaded & {"click", "botocore", "boto3", "docker", "requests", "rich"}, sorted(loaded)

    as_json, loaded = imports(timed, "login", "-o", "json")
    assert as_json.returncode == 0, as_json.stderr
    data = json.loads(as_json.stdout)
    until = datetime.fromisoformat(data.pop("expires_at")).strftime("%Y-%m-%d %H:%M:%S %Z")
    assert data == {"registry": stack.registry, "username": "AWS", "stored_in": str(config)}
    assert first.stdout.endswith(f", valid until {until})\n")
    assert "click" not in loaded


@pytest.mark.parametrize("option", [["--no-cache"], ["--debug"], ["--profile", "local"]], ids=lambda o: o[0])
def test_options_it_does_not_take_still_log_in(ecrtool, timed, stack, tmp_path, option) -> None:
    # a profile with the local ECR's keys, as `aws configure --profile local` would write them
    credentials = tmp_path / "credentials"
    credentials.write_text(
        f"[local]\naws_access_key_id = {timed['AWS_ACCESS_KEY_ID']}\n"
        f"aws_secret_access_key = {timed['AWS_SECRET_ACCESS_KEY']}\n"
    )
    aws_config = tmp_path / "config"
    aws_config.write_text(f"[profile local]\nregion = {timed['AWS_REGION']}\n")
    timed.update(AWS_SHARED_CREDENTIALS_FILE=str(credentials), AWS_CONFIG_FILE=str(aws_config))
    first = ecrtool("login")  # the token is cached from here on
    assert first.returncode == 0, first.stderr
    cached = stored_password(timed, stack.registry)

    done, loaded = imports(timed, "login", *option)
    assert done.returncode == 0, done.stderr
    # the same line, but for a fresh token's expiry with --no-cache
    assert done.stdout.partition(", valid until ")[0] == first.stdout.partition(", valid until ")[0]
    assert "click" in loaded  # the full command line did it
    stored = stored_password(timed, stack.registry)
    assert stack.accepts(stored)
    if option != ["--no-cache"]:
        assert stored == cached  # the cached token
    assert done.stderr == ""  # --debug too: the token came from the cache, so there was no AWS call to log
