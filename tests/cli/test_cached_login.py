"""`ecrtool login` on a cached token, taken around click: the same settings, output and failures as the full CLI.

The console script (ecrtool.cli.launch) recognizes `ecrtool [OPTIONS] login [OPTIONS]` with a few global
options and logs in from the token cache without loading click. Whatever it takes must read as click
reads it, print what the full command prints, and whatever it does not take (or cannot finish) must be
left to the full command line with nothing printed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ecrtool.aws.ecr import AuthToken
from ecrtool.cli.launch import cached_login, login_options
from ecrtool.model import token_cache
from ecrtool.model.errors import InvalidInput
from ecrtool.model.results import LoginResult
from ecrtool.model.settings import Settings

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
REGION = "ca-west-1"
ECR_HOST = f"123456789012.dkr.ecr.{REGION}.amazonaws.com"
PASSWORD = "cached-pass-word"
EXPIRES = (datetime.now(timezone.utc) + timedelta(hours=11)).replace(microsecond=123456)
TAKEN = {"region", "registry_id", "docker_host", "output", "quiet"}


# -- which command lines are taken, and the settings they make -------------------------------------


@pytest.fixture
def recorded(monkeypatch: pytest.MonkeyPatch) -> list[tuple[Settings, bool]]:
    """The settings and --public of each login the full CLI runs; the login itself does nothing."""
    seen: list[tuple[Settings, bool]] = []

    def login(self: Any, *, public: bool = False) -> LoginResult:
        seen.append((self.settings, public))
        return LoginResult(registry="127.0.0.1:5000", username="AWS", expires_at=None, stored_in="config.json")

    monkeypatch.setattr("ecrtool.service.tokens.Tokens.login", login)
    return seen


def check_read_as_click_reads(invoke: Any, recorded: list[tuple[Settings, bool]], argv: list[str]) -> bool:
    """If the fast path takes ARGV, click runs a plain login with the very settings it builds; True if taken."""
    recorded.clear()
    values = login_options(argv)
    if values is None:
        return False
    result = invoke(*argv)
    assert set(values) <= TAKEN, values
    try:
        expected = Settings.build(**values)
    except InvalidInput as err:  # the fast path gives up; click says the same
        assert result.exit_code == 2, result.output
        assert result.stderr == f"ecrtool: error: {err}\n"
        return True
    assert result.exit_code == 0, result.output
    assert recorded == [(expected, False)]
    assert recorded[0][0].sources == expected.sources
    return True


VALUES = ["ca-west-1", "us-east-1", "123456789012", "unix:///tmp/docker.sock", "tcp://127.0.0.1:2375", "json", "text"]
words = st.sampled_from(
    [
        "login",
        "--region",
        "--registry-id",
        "--docker-host",
        "-o",
        "--output",
        "-q",
        "--quiet",
        *VALUES,
        "yaml",
        "bad region",
        "-ojson",
        "-otext",
        "-o=json",
        "-oyaml",
        "--output=json",
        "--output=",
        "--region=us-east-1",
        "--region=",
        "--registry-id=123",
        "--quiet=1",
        "-qo",
        "-qojson",
        "--profile",
        "default",
        "--debug",
        "--no-cache",
        "--sudo",
        "--no-sudo",
        "--runner",
        "api",
        "cli",
        "--public",
        "--help",
        "-h",
        "--version",
        "--",
        "",
        "-",
        "images",
        "config",
        "show",
        "LOGIN",
        "--reg",
    ]
)
any_line = st.lists(st.one_of(words, st.text(max_size=6)), max_size=8)


@FUZZ
@given(argv=any_line)
def test_whatever_the_fast_path_takes_click_reads_the_same(invoke: Any, recorded: Any, argv: list[str]) -> None:
    check_read_as_click_reads(invoke, recorded, argv)


option = st.one_of(
    st.builds(
        lambda name, value: [name, value],
        st.sampled_from(["--region", "--registry-id", "--docker-host"]),
        st.sampled_from(VALUES),
    ),
    st.builds(
        lambda name, value: [f"{name}={value}"], st.sampled_from(["--region", "--docker-host"]), st.sampled_from(VALUES)
    ),
    st.builds(lambda value: ["-o", value], st.sampled_from(["json", "text"])),
    st.builds(lambda value: [f"-o{value}"], st.sampled_from(["json", "text"])),
    st.builds(lambda value: [f"--output={value}"], st.sampled_from(["json", "text"])),
    st.sampled_from([["-q"], ["--quiet"]]),
)
logins = st.builds(
    lambda before, after: [arg for opt in before for arg in opt] + ["login"] + [arg for opt in after for arg in opt],
    st.lists(option, max_size=4),
    st.lists(option, max_size=4),
)


@FUZZ
@given(argv=logins)
def test_a_login_with_the_fast_paths_options_is_taken(invoke: Any, recorded: Any, argv: list[str]) -> None:
    assert check_read_as_click_reads(invoke, recorded, argv), argv


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["images", "trees"],
        ["login", "--public"],
        ["--profile", "default", "login"],
        ["login", "--profile=default"],
        ["--debug", "login"],
        ["login", "--no-cache"],
        ["--sudo", "login"],
        ["login", "--no-sudo"],
        ["--runner", "api", "login"],
        ["login", "--help"],
        ["-h", "login"],
        ["--version"],
        ["login", "extra"],
        ["login", "login"],
        ["login", "--"],
        ["login", "--region"],
        ["--region", "login"],
        ["login", "-o", "yaml"],
        ["login", "-qojson"],
        ["login", "--quiet=1"],
    ],
    ids=" ".join,
)
def test_everything_else_is_left_to_click(argv: list[str]) -> None:
    assert login_options(argv) is None


def test_a_later_option_wins_as_with_click(invoke: Any, recorded: Any) -> None:
    argv = ["--region", "us-east-1", "-o", "json", "login", "--region", "ca-west-1", "--output=text"]
    assert login_options(argv) == {"region": "ca-west-1", "output": "text"}
    assert check_read_as_click_reads(invoke, recorded, argv)


# -- the login itself, against an engine on a unix socket ------------------------------------------


@pytest.fixture
def engine(fake_socket: Callable[[], Any], monkeypatch: pytest.MonkeyPatch) -> Any:
    """A Docker engine's /auth on a unix socket, as DOCKER_HOST: it accepts every login unless told otherwise."""
    server = fake_socket()
    server.reply(200, {"Status": "Login Succeeded"})
    monkeypatch.setenv("DOCKER_HOST", server.url)
    return server


@pytest.fixture
def cached(isolated_env: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Access keys and a region in the environment, and a fresh token for them in the cache; the Docker config."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(isolated_env / ".cache"))
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_REGION", REGION)
    token = AuthToken(username="AWS", password=PASSWORD, expires_at=EXPIRES, proxy_endpoint=f"https://{ECR_HOST}")
    identity = token_cache.environment_identity(os.environ, None)
    assert identity
    assert token_cache.store(token_cache.make_key(None, REGION, identity), token)
    return isolated_env / ".docker" / "config.json"


def stored_password(config: Path, host: str) -> str:
    import base64

    return base64.b64decode(json.loads(config.read_text())["auths"][host]["auth"]).decode().partition(":")[2]


@pytest.mark.parametrize("registry", [None, "127.0.0.1:5000"], ids=["ecr", "ECRTOOL_REGISTRY"])
@pytest.mark.parametrize(
    "argv", [["login"], ["login", "-q"], ["-o", "json", "login"], ["login", "-ojson", "--quiet"]], ids=" ".join
)
def test_it_prints_what_the_command_line_prints(
    engine: Any,
    cached: Path,
    invoke: Any,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    argv: list[str],
    registry: str | None,
) -> None:
    if registry:
        monkeypatch.setenv("ECRTOOL_REGISTRY", registry)
    host = registry or ECR_HOST
    assert cached_login(argv) is True
    fast = capsys.readouterr()
    assert stored_password(cached, host) == PASSWORD
    cached.unlink()

    full = invoke(*argv)  # the same login through click and the service
    assert full.exit_code == 0, full.output
    assert (fast.out, fast.err) == (full.stdout, full.stderr)
    assert stored_password(cached, host) == PASSWORD
    assert len(engine.requests) == 2

    if "json" in " ".join(argv):
        assert json.loads(fast.out) == {
            "registry": host,
            "username": "AWS",
            "expires_at": EXPIRES.isoformat(),
            "stored_in": str(cached),
        }
    elif "-q" in argv:
        assert fast.out == ""
    else:
        until = EXPIRES.strftime("%Y-%m-%d %H:%M:%S")
        assert fast.out == f"Login Succeeded: {host} (credentials stored in {cached}, valid until {until} UTC)\n"


def test_it_sends_the_cached_token_to_the_engine(engine: Any, cached: Path, capsys: Any) -> None:
    assert cached_login(["login", "--registry-id", "210987654321"]) is False  # another registry: no token for it
    assert cached_login(["login"]) is True
    [request] = engine.requests
    head, _, body = request.partition(b"\r\n\r\n")
    assert head.startswith(b"POST /auth HTTP/1.1\r\n")
    assert json.loads(body) == {"username": "AWS", "password": PASSWORD, "serveraddress": ECR_HOST}


@pytest.mark.parametrize(
    "variable, value",
    [
        ("ECRTOOL_NO_CACHE", "1"),
        ("ECRTOOL_RUNNER", "cli"),
        ("ECRTOOL_SUDO", "true"),
        ("ECRTOOL_REGION", "no region"),
        ("DOCKER_HOST", "tcp://127.0.0.1:2375"),
        ("AWS_ACCESS_KEY_ID", ""),
        ("AWS_REGION", ""),
    ],
)
def test_what_needs_more_than_the_cache_is_left_to_the_command_line(
    engine: Any, cached: Path, capsys: Any, monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    if value:
        monkeypatch.setenv(variable, value)
    else:
        monkeypatch.delenv(variable)
    assert cached_login(["login"]) is False
    assert capsys.readouterr() == ("", "")
    assert engine.requests == []
    assert not cached.exists()


def test_a_runner_from_the_config_file_is_left_to_the_command_line(
    engine: Any, cached: Path, isolated_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = isolated_env / "config.toml"
    config.write_text('runner = "cli"\n')
    monkeypatch.setenv("ECRTOOL_CONFIG", str(config))
    assert cached_login(["login"]) is False
    assert engine.requests == []


def test_a_refused_token_is_dropped_and_the_command_line_logs_in_with_a_fresh_one(
    engine: Any, cached: Path, capsys: Any
) -> None:
    engine.reply(401, {"message": "401 Unauthorized"})
    assert cached_login(["login"]) is False
    assert capsys.readouterr() == ("", "")
    assert not cached.exists()
    assert len(engine.requests) == 1
    identity = token_cache.environment_identity(os.environ, None)
    assert identity
    # gone from the cache: the full login fetches a fresh token instead of asking the engine with this one again
    assert token_cache.load(token_cache.make_key(None, REGION, identity)) is None


def test_without_an_engine_it_says_so_once(cached: Path, capsys: Any, invoke: Any, tmp_path: Path) -> None:
    argv = ["login", "--docker-host", f"unix://{tmp_path}/missing.sock"]
    with pytest.raises(SystemExit) as done:
        cached_login(argv)
    assert done.value.code == 1
    fast = capsys.readouterr()
    assert fast.out == ""
    full = invoke(*argv)
    assert full.exit_code == 1
    assert fast.err == full.stderr
    assert fast.err.startswith(f"ecrtool: error: cannot reach the Docker engine at unix://{tmp_path}/missing.sock")


def test_an_engine_failure_is_reported_after_one_request(engine: Any, cached: Path, capsys: Any) -> None:
    engine.reply(500, {"message": "something broke"})
    with pytest.raises(SystemExit) as done:
        cached_login(["login"])
    assert done.value.code == 1
    assert capsys.readouterr() == ("", "ecrtool: error: Docker login failed: something broke\n")
    assert len(engine.requests) == 1


def test_a_fault_in_the_fast_path_is_reported_not_hidden(
    engine: Any, cached: Path, capsys: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: Any) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr("ecrtool.model.token_cache.load", broken)
    with pytest.raises(SystemExit) as done:
        cached_login(["login"])
    assert done.value.code == 1
    assert capsys.readouterr() == (
        "",
        "ecrtool: error: unexpected RuntimeError: a bug (rerun with --debug for details)\n",
    )
    assert engine.requests == []


# -- what it loads --------------------------------------------------------------------------------

PROBE = (
    "import runpy, sys\n"
    "sys.argv = ['ecrtool', *sys.argv[1:]]\n"
    "try:\n    runpy.run_module('ecrtool', run_name='__main__')\n"
    "except SystemExit as done:\n    code = done.code\n"
    "heavy = {'click', 'boto3', 'botocore', 'docker', 'requests', 'rich', 'ecrtool.cli.main',"
    " 'ecrtool.service.tokens'}\n"
    "print('loaded:', sorted(heavy & set(sys.modules)), 'exit:', code, file=sys.stderr)\n"
)


@pytest.mark.parametrize("argv", [["login"], ["-o", "json", "login", "-q"]], ids=" ".join)
def test_python_m_ecrtool_logs_in_without_click(engine: Any, cached: Path, argv: list[str]) -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    done = subprocess.run([sys.executable, "-c", PROBE, *argv], capture_output=True, text=True, env=env, timeout=60)
    assert done.stderr.splitlines()[-1] == "loaded: [] exit: 0"
    assert len(engine.requests) == 1
    assert stored_password(cached, ECR_HOST) == PASSWORD
