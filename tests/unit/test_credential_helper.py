"""docker-credential-ecrtool against Docker's credential-helper protocol, with the token source faked.

The protocol (docker-credential-helpers): the verb is the one argument; `get` reads the server URL on
stdin and writes {"ServerURL", "Username", "Secret"}; `list` writes {server URL: user name}; `store`
and `erase` read stdin; "credentials not found in native keychain" on stdout means "none here".
"""

from __future__ import annotations

import base64
import io
import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from ecrtool.aws.ecr import AuthToken, public_authorization_token
from ecrtool.cli.credential_helper import run
from ecrtool.model.errors import AuthError
from ecrtool.service.tokens import Tokens

HOST = "123456789012.dkr.ecr.ca-west-1.amazonaws.com"
EXPIRES = datetime(2030, 1, 1, tzinfo=timezone.utc)


class Asked:
    """What the faked token source was asked for."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str | None, str | None]] = []
        self.error: Exception | None = None


@pytest.fixture
def asked(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Asked:
    for name in ("ECRTOOL_REGISTRY", "ECRTOOL_CONFIG", "AWS_PROFILE", "ECRTOOL_DEBUG", "ECRTOOL_REGION"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "docker"))
    record = Asked()

    def registry_token(self: Tokens, host: str) -> AuthToken:
        record.calls.append((host, self.settings.profile, self.settings.registry_override))
        if record.error is not None:
            raise record.error
        return AuthToken("AWS", "s3cret-token", EXPIRES, f"https://{host}")

    monkeypatch.setattr(Tokens, "registry_token", registry_token)
    return record


def helper(*args: str, stdin: str = "") -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = run(list(args), io.StringIO(stdin), out, err)
    return code, out.getvalue(), err.getvalue()


def test_get_writes_the_three_fields_docker_reads(asked: Asked) -> None:
    code, out, err = helper("get", stdin=HOST)
    assert (code, err) == (0, "")
    assert json.loads(out) == {"ServerURL": HOST, "Username": "AWS", "Secret": "s3cret-token"}
    assert asked.calls == [(HOST, None, None)]


@pytest.mark.parametrize("sent", [f"https://{HOST}", f"https://{HOST}/v2/", f"{HOST}\n", f"  {HOST.upper()}  "])
def test_get_accepts_the_forms_docker_sends(asked: Asked, sent: str) -> None:
    code, out, _ = helper("get", stdin=sent)
    assert code == 0
    assert json.loads(out)["ServerURL"] == sent.strip()  # as docker sent it
    assert asked.calls[0][0] == HOST


@pytest.mark.parametrize(
    "host",
    [
        "123456789012.dkr.ecr-fips.us-gov-west-1.amazonaws.com",
        "123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn",
        "public.ecr.aws",
    ],
)
def test_get_serves_every_kind_of_ecr_host(asked: Asked, host: str) -> None:
    assert helper("get", stdin=host)[0] == 0
    assert asked.calls[0][0] == host


def test_get_serves_the_ecrtool_registry_host(asked: Asked, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ECRTOOL_REGISTRY", "127.0.0.1:5000")
    code, out, _ = helper("get", stdin="127.0.0.1:5000")
    assert code == 0 and json.loads(out)["Secret"] == "s3cret-token"
    assert asked.calls == [("127.0.0.1:5000", None, "127.0.0.1:5000")]


@pytest.mark.parametrize("host", ["index.docker.io", "https://index.docker.io/v1/", "ghcr.io", "127.0.0.1:5000"])
def test_get_for_another_registry_is_the_protocols_not_found(asked: Asked, host: str) -> None:
    code, out, err = helper("get", stdin=host)
    assert code == 1
    assert out == "credentials not found in native keychain\n"  # docker then goes on without credentials
    assert err == ""
    assert asked.calls == []


@pytest.mark.parametrize("sent", ["", "  \n"])
def test_get_without_a_server_url_is_an_error(asked: Asked, sent: str) -> None:
    code, out, err = helper("get", stdin=sent)
    assert code != 0 and out == ""
    assert err == "docker-credential-ecrtool: error: no credentials server URL\n"


def test_an_aws_failure_is_one_line_on_stderr_and_nothing_on_stdout(asked: Asked) -> None:
    asked.error = AuthError("no AWS credentials found: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY")
    code, out, err = helper("get", stdin=HOST)
    assert (code, out) == (1, "")
    assert err.splitlines() == [
        "docker-credential-ecrtool: error: no AWS credentials found: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
    ]


def test_an_unexpected_failure_is_still_one_line(asked: Asked) -> None:
    asked.error = RuntimeError("boom")
    code, out, err = helper("get", stdin=HOST)
    assert (code, out) == (1, "")
    assert err.splitlines() == [
        "docker-credential-ecrtool: error: unexpected RuntimeError: boom (set ECRTOOL_DEBUG=1 for details)"
    ]


def test_debug_shows_the_traceback(asked: Asked, monkeypatch: pytest.MonkeyPatch, restore_logging: None) -> None:
    monkeypatch.setenv("ECRTOOL_DEBUG", "1")
    asked.error = RuntimeError("boom")
    code, _, err = helper("get", stdin=HOST)
    assert code == 1 and "Traceback" in err


@pytest.mark.parametrize("verb", ["store", "erase"])
def test_store_and_erase_succeed_and_keep_nothing(asked: Asked, verb: str, tmp_path: Path) -> None:
    payload = json.dumps({"ServerURL": HOST, "Username": "AWS", "Secret": "typed-by-docker-login"})
    code, out, err = helper(verb, stdin=payload if verb == "store" else HOST)
    assert (code, out, err) == (0, "", "")
    assert asked.calls == []
    assert not any("typed-by-docker-login" in p.read_text(errors="ignore") for p in tmp_path.rglob("*") if p.is_file())


def test_list_names_the_registries_it_serves(asked: Asked, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("ECRTOOL_REGISTRY", "127.0.0.1:5000")
    (tmp_path / "docker").mkdir()
    (tmp_path / "docker" / "config.json").write_text(
        json.dumps({"credHelpers": {HOST: "ecrtool", "gcr.io": "gcloud"}, "auths": {"ghcr.io": {"auth": "eA=="}}})
    )
    (tmp_path / "config" / "ecrtool").mkdir(parents=True)
    (tmp_path / "config" / "ecrtool" / "config.toml").write_text(
        '[registries."210987654321.dkr.ecr.us-east-1.amazonaws.com"]\nprofile = "prod"\n'
    )
    code, out, err = helper("list")
    assert (code, err) == (0, "")
    assert json.loads(out) == {
        "127.0.0.1:5000": "AWS",
        HOST: "AWS",
        "210987654321.dkr.ecr.us-east-1.amazonaws.com": "AWS",
    }
    assert asked.calls == []  # listing costs no AWS call


def test_the_config_file_names_a_profile_per_registry(asked: Asked, tmp_path: Path) -> None:
    (tmp_path / "config" / "ecrtool").mkdir(parents=True)
    (tmp_path / "config" / "ecrtool" / "config.toml").write_text(f'[registries."{HOST}"]\nprofile = "prod"\n')
    assert helper("get", stdin=HOST)[0] == 0
    assert helper("get", stdin="123456789012.dkr.ecr.us-east-1.amazonaws.com")[0] == 0
    assert [call[1] for call in asked.calls] == ["prod", None]


def test_a_bad_profile_entry_is_invalid_input(asked: Asked, tmp_path: Path) -> None:
    (tmp_path / "config" / "ecrtool").mkdir(parents=True)
    (tmp_path / "config" / "ecrtool" / "config.toml").write_text(f'[registries."{HOST}"]\nprofile = 7\n')
    code, out, err = helper("get", stdin=HOST)
    assert (code, out) == (2, "")
    assert "profile must be a profile name" in err and err.count("\n") == 1


@pytest.mark.parametrize("args", [[], ["get", "extra"], ["fetch"], ["--help"]])
def test_a_wrong_verb_is_a_usage_error(asked: Asked, args: list[str]) -> None:
    code, out, err = helper(*args)
    assert (code, out) == (2, "")
    assert err.startswith("docker-credential-ecrtool: error: usage: docker-credential-ecrtool get|list|store|erase")


def test_version(asked: Asked) -> None:
    code, out, _ = helper("version")
    assert code == 0 and out.startswith("docker-credential-ecrtool (ecrtool) ")


def test_the_public_registry_token_comes_from_ecr_public() -> None:
    client = boto3.client("ecr-public", region_name="us-east-1", aws_access_key_id="t", aws_secret_access_key="t")
    with Stubber(client) as stub:
        stub.add_response(
            "get_authorization_token",
            {"authorizationData": {"authorizationToken": base64.b64encode(b"AWS:pub").decode(), "expiresAt": EXPIRES}},
            {},
        )
        found = public_authorization_token(client)
    assert (found.username, found.password, found.expires_at) == ("AWS", "pub", EXPIRES)


@pytest.fixture
def restore_logging() -> Any:
    import logging

    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.fixture
def cached(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Any:
    """A fresh token in the cache for HOST, under the environment's keys: what `get` serves without AWS."""
    from ecrtool.model import token_cache

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIACACHED")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    key = token_cache.make_key("123456789012", "ca-west-1", "key:AKIACACHED")
    assert token_cache.store(key, AuthToken("AWS", "from-the-cache", EXPIRES, f"https://{HOST}"))
    return key


def test_get_serves_a_fresh_cached_token_without_asking_aws(asked: Asked, cached: Any) -> None:
    code, out, _ = helper("get", stdin=HOST)
    assert code == 0 and json.loads(out)["Secret"] == "from-the-cache"
    assert asked.calls == []


def test_get_on_a_cached_token_loads_no_service_nor_aws_gateway(cached: Any, tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    script = (
        "import io, sys\n"
        "from ecrtool.cli.credential_helper import run\n"
        f"assert run(['get'], io.StringIO({HOST!r}), io.StringIO(), sys.stderr) == 0\n"
        "print(sorted(m for m in sys.modules if m.startswith(('ecrtool.service.tokens', 'ecrtool.aws.ecr', "
        "'botocore', 'dataclasses'))))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=dict(os.environ))
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_erase_drops_the_cached_token_so_the_next_get_fetches_anew(asked: Asked, cached: Any) -> None:
    assert helper("erase", stdin=HOST) == (0, "", "")
    code, out, _ = helper("get", stdin=HOST)
    assert code == 0 and json.loads(out)["Secret"] == "s3cret-token"
    assert asked.calls == [(HOST, None, None)]
