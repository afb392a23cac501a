"""The instance metadata reader (aws/imds.py) against a small IMDSv2 double on loopback, and when it applies."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from ecrtool.aws import imds


class Double:
    """What the double answers and what it was asked."""

    def __init__(self) -> None:
        self.role = "web"
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        self.tokens_refused = 0  # GETs answered 401 before the token is taken
        self.hang = False


@pytest.fixture
def double() -> Iterator[tuple[Double, str]]:
    state = Double()

    class Handler(BaseHTTPRequestHandler):
        def _answer(self, status: int, body: str) -> None:
            data = body.encode()
            self.send_response(status)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_PUT(self) -> None:
            state.requests.append(("PUT", self.path, dict(self.headers)))
            if state.hang:
                time.sleep(3)
                return
            self._answer(200, "session-token")

        def do_GET(self) -> None:
            state.requests.append(("GET", self.path, dict(self.headers)))
            if self.headers.get("X-aws-ec2-metadata-token") != "session-token" or state.tokens_refused:
                state.tokens_refused = max(0, state.tokens_refused - 1)
                return self._answer(401, "")
            if self.path == "/latest/meta-data/iam/security-credentials/":
                return self._answer(200, state.role) if state.role else self._answer(404, "")
            if self.path == f"/latest/meta-data/iam/security-credentials/{state.role}":
                doc = {
                    "Code": "Success",
                    "AccessKeyId": "ASIAROLE",
                    "SecretAccessKey": "s3cr3t",
                    "Token": "tok",
                    "Expiration": "2026-12-05T18:00:00Z",
                }
                return self._answer(200, json.dumps(doc))
            if self.path == "/latest/dynamic/instance-identity/document":
                return self._answer(200, json.dumps({"accountId": "123456789012", "region": "eu-north-1"}))
            self._answer(404, "")

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield state, f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()


def test_role_account_region_and_credentials_over_imdsv2(double: tuple[Double, str]) -> None:
    state, endpoint = double
    metadata = imds.InstanceMetadata({"AWS_EC2_METADATA_SERVICE_ENDPOINT": endpoint})
    assert metadata.role() == "web"
    assert metadata.region() == "eu-north-1"
    assert imds.identity_name(metadata) == "instance-role:web@123456789012"
    found = metadata.credentials()
    assert (found.keys.access_key, found.keys.secret_key, found.keys.session_token) == ("ASIAROLE", "s3cr3t", "tok")
    assert found.expiration is not None and found.expiration.isoformat() == "2026-12-05T18:00:00+00:00"
    put = state.requests[0]
    assert put[:2] == ("PUT", "/latest/api/token") and put[2]["X-aws-ec2-metadata-token-ttl-seconds"] == "21600"
    assert [r[0] for r in state.requests].count("PUT") == 1  # one session token for every read
    assert "s3cr3t" not in repr(found)


def test_an_expired_session_token_is_replaced_once(double: tuple[Double, str]) -> None:
    state, endpoint = double
    state.tokens_refused = 1
    assert imds.InstanceMetadata({"AWS_EC2_METADATA_SERVICE_ENDPOINT": endpoint}).role() == "web"
    assert [r[0] for r in state.requests] == ["PUT", "GET", "PUT", "GET"]
    state.tokens_refused = 5
    with pytest.raises(imds.MetadataUnavailable, match="answered HTTP 401"):
        imds.InstanceMetadata({"AWS_EC2_METADATA_SERVICE_ENDPOINT": endpoint}).role()


def test_an_instance_without_a_role_says_to_attach_one(double: tuple[Double, str]) -> None:
    state, endpoint = double
    state.role = ""
    with pytest.raises(imds.MetadataUnavailable, match="no IAM role: attach an instance profile"):
        imds.InstanceMetadata({"AWS_EC2_METADATA_SERVICE_ENDPOINT": endpoint}).role()


def test_metadata_that_does_not_answer_costs_one_timeout_then_none(double: tuple[Double, str]) -> None:
    state, endpoint = double
    state.hang = True
    metadata = imds.InstanceMetadata({"AWS_EC2_METADATA_SERVICE_ENDPOINT": endpoint}, timeout=0.3)
    with pytest.raises(imds.MetadataUnavailable, match="did not answer within 0.3 s") as first:
        metadata.role()
    assert "--http-put-response-hop-limit 2" in str(first.value)
    with pytest.raises(imds.MetadataUnavailable):
        metadata.region()
    assert len(state.requests) == 1  # the second read did not ask (nor wait) again


def test_the_endpoint_is_botocores_choice() -> None:
    assert imds.endpoint({"AWS_EC2_METADATA_SERVICE_ENDPOINT": "http://127.0.0.1:9/"}) == "http://127.0.0.1:9/"
    assert imds.endpoint({"AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE": "IPv6"}) == "http://[fd00:ec2::254]/"
    from botocore.utils import METADATA_BASE_URL

    assert imds.endpoint({}) == METADATA_BASE_URL  # named, never contacted here
    assert imds.disabled({"AWS_EC2_METADATA_DISABLED": "TRUE"})
    with pytest.raises(imds.MetadataUnavailable, match="not an http:// URL"):
        imds.InstanceMetadata({"AWS_EC2_METADATA_SERVICE_ENDPOINT": "ftp://x/"})


@pytest.mark.parametrize(
    "extra",
    [
        {"AWS_ACCESS_KEY_ID": "AKIA"},
        {"AWS_PROFILE": "dev"},
        {"AWS_ROLE_ARN": "arn:aws:iam::1:role/r"},
        {"AWS_CONTAINER_CREDENTIALS_FULL_URI": "http://127.0.0.1:1/creds"},
        {"AWS_EC2_METADATA_DISABLED": "true"},
    ],
)
def test_the_instance_role_is_not_taken_when_botocore_would_find_credentials_first(
    tmp_path: Path, extra: dict[str, str]
) -> None:
    base = {"HOME": str(tmp_path), "AWS_EC2_METADATA_SERVICE_ENDPOINT": "http://127.0.0.1:9/"}
    assert imds.instance_role_applies(base, None)
    assert not imds.instance_role_applies({**base, **extra}, None)
    assert not imds.instance_role_applies(base, "prod")


def test_a_credentials_file_or_a_role_profile_leaves_the_choice_to_botocore(tmp_path: Path) -> None:
    base = {"HOME": str(tmp_path)}
    aws = tmp_path / ".aws"
    aws.mkdir()
    (aws / "config").write_text("[default]\nregion = eu-west-1\n")
    assert imds.instance_role_applies(base, None)  # a region is all it says
    (aws / "config").write_text(
        "[default]\nrole_arn = arn:aws:iam::1:role/r\ncredential_source = Ec2InstanceMetadata\n"
    )
    assert not imds.instance_role_applies(base, None)
    (aws / "config").write_text("")
    (aws / "credentials").write_text("[default]\naws_access_key_id = AKIA\n")
    assert not imds.instance_role_applies(base, None)
    assert imds.instance_role_applies({**base, "AWS_SHARED_CREDENTIALS_FILE": "/dev/null"}, None)


def test_without_a_region_keys_elsewhere_make_it_invalid_input_and_none_make_it_the_metadatas_failure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ecrtool.aws.session import AwsSession
    from ecrtool.model.errors import AuthError, InvalidInput

    for name in ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_EC2_METADATA_DISABLED"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", "http://127.0.0.1:9/")  # nothing listens there
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIA")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    with pytest.raises(InvalidInput, match="^no AWS region: pass --region.*; on EC2, cannot read"):
        AwsSession().region()
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    with pytest.raises(AuthError, match="^cannot read the instance identity document.*hop-limit 2") as found:
        AwsSession().region()
    assert not isinstance(found.value, InvalidInput)


def test_the_wait_is_botocores_metadata_service_timeout(double: tuple[Double, str]) -> None:
    state, endpoint = double
    state.hang = True
    metadata = imds.InstanceMetadata(
        {"AWS_EC2_METADATA_SERVICE_ENDPOINT": endpoint, "AWS_METADATA_SERVICE_TIMEOUT": "0.2"}
    )
    with pytest.raises(imds.MetadataUnavailable, match="did not answer within 0.2 s"):
        metadata.role()
    assert "within 1 s" in str(
        pytest.raises(
            imds.MetadataUnavailable,
            imds.InstanceMetadata(
                {"AWS_EC2_METADATA_SERVICE_ENDPOINT": endpoint, "AWS_METADATA_SERVICE_TIMEOUT": "x"}
            ).role,
        ).value
    )


def test_role_keys_are_kept_in_memory_until_shortly_before_they_expire(
    double: tuple[Double, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from datetime import datetime as real_datetime
    from datetime import timezone

    state, endpoint = double
    metadata = imds.InstanceMetadata({"AWS_EC2_METADATA_SERVICE_ENDPOINT": endpoint})

    def reads() -> int:
        return sum(1 for r in state.requests if r[1] == "/latest/meta-data/iam/security-credentials/web")

    class Clock(real_datetime):
        at = real_datetime(2026, 12, 5, 17, 0, tzinfo=timezone.utc)  # an hour before the double's Expiration

        @classmethod
        def now(cls, tz: Any = None) -> Any:
            return cls.at

    monkeypatch.setattr(imds, "datetime", Clock)
    metadata.credentials()
    metadata.credentials()
    assert reads() == 1  # every signed call of the process, one read
    Clock.at = real_datetime(2026, 12, 5, 17, 50, tzinfo=timezone.utc)  # 10 minutes left: read them again
    metadata.credentials()
    assert reads() == 2
