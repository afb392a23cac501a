"""The local ECR's instance metadata (IMDSv2) and container-credentials endpoint, as an instance sees them.

With only ``scripts/local-ecr env --instance`` in the environment (no keys, no region, no profile, no
~/.aws) botocore and the AWS CLI find the instance role through AWS_EC2_METADATA_SERVICE_ENDPOINT, a
loopback port of the stack, and the stack's STS, ECR API and registry take the role's keys as account
123456789012's until their Expiration. Nothing here names 169.254.169.254 (conftest's guard refuses it).
"""

from __future__ import annotations

import base64
import calendar
import http.client
import json
import os
import shlex
import shutil
import subprocess
import sys
import time
import urllib.parse
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import botocore.session
import pytest
from botocore.exceptions import ClientError

pytestmark = pytest.mark.integration

LOCAL_ECR = Path(__file__).resolve().parents[2] / "scripts" / "local-ecr"
BIN = Path(sys.executable).parent
ACCOUNT, REGION, ROLE = "123456789012", "ca-west-1", "ecrtool-local-instance-role"


def _env_of(stack: Any, *options: str) -> dict[str, str]:
    """What `scripts/local-ecr env OPTIONS` exports for the shared stack."""
    env = {**os.environ, "LOCAL_ECR_HOME": str(stack.home), "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
    done = subprocess.run([str(LOCAL_ECR), "env", *options], capture_output=True, text=True, env=env, timeout=30)
    assert done.returncode == 0, done.stderr
    return dict(shlex.split(line)[1].split("=", 1) for line in done.stdout.splitlines())


@pytest.fixture(scope="module")
def instance_env(stack: Any) -> dict[str, str]:
    return _env_of(stack, "--instance")


@pytest.fixture
def only(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Callable[[dict[str, str]], None]:
    """Make this process's environment exactly ENV (with PATH, and a HOME of its own): nothing else leaks in."""

    path = os.environ.get("PATH", "")

    def become(env: dict[str, str]) -> None:
        for key in list(os.environ):
            monkeypatch.delenv(key)
        for key, value in {"PATH": path, **env, "HOME": str(tmp_path)}.items():
            monkeypatch.setenv(key, value)

    return become


@pytest.fixture
def imds(stack: Any) -> Iterator[Callable[..., dict[str, Any]]]:
    """Set the stand-in (POST /_bridge/imds: ttl, rotate, mode); put back as at `up` afterwards."""
    yield lambda **doc: stack.control("imds", doc)
    stack.control("imds", {"reset": True})


class Metadata:
    """Plain HTTP to the stand-in, as `curl` on an instance would."""

    def __init__(self, endpoint: str) -> None:
        split = urllib.parse.urlsplit(endpoint)
        assert split.hostname == "127.0.0.1", endpoint  # a loopback port, never the link-local address
        self.port = int(split.port or 80)

    def request(
        self, method: str, path: str, headers: dict[str, str] | None = None, timeout: float = 5
    ) -> tuple[int, dict[str, str], str]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            conn.request(method, path, headers=headers or {})
            resp = conn.getresponse()
            return resp.status, dict(resp.getheaders()), resp.read().decode()
        finally:
            conn.close()

    def token(self, ttl: int = 60) -> str:
        status, _, body = self.request("PUT", "/latest/api/token", {"X-aws-ec2-metadata-token-ttl-seconds": str(ttl)})
        assert status == 200, body
        return body

    def get(self, path: str) -> str:
        status, _, body = self.request("GET", path, {"X-aws-ec2-metadata-token": self.token()})
        assert status == 200, (path, status, body)
        return body


@pytest.fixture(scope="module")
def metadata(instance_env: dict[str, str]) -> Metadata:
    return Metadata(instance_env["AWS_EC2_METADATA_SERVICE_ENDPOINT"])


def _client(service: str, keys: dict[str, str], stack: Any) -> Any:
    """A client on the stack signed with KEYS (AccessKeyId, SecretAccessKey, Token), nothing else."""
    session = botocore.session.Session()
    return session.create_client(
        service,
        region_name=REGION,
        aws_access_key_id=keys["AccessKeyId"],
        aws_secret_access_key=keys["SecretAccessKey"],
        aws_session_token=keys["Token"],
        verify=stack.env.get("AWS_CA_BUNDLE"),
        endpoint_url=stack.env.get("AWS_ENDPOINT_URL"),
    )


def _refusal(call: Callable[[], Any]) -> str:
    with pytest.raises(ClientError) as refused:
        call()
    return str(refused.value.response["Error"]["Code"])


# -- the environment ------------------------------------------------------------------------------------


def test_the_instance_env_has_no_keys_no_region_no_profile(stack: Any, instance_env: dict[str, str]) -> None:
    assert not {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"} & set(instance_env)
    assert not {"AWS_REGION", "AWS_DEFAULT_REGION", "AWS_EC2_METADATA_DISABLED"} & set(instance_env)
    assert instance_env["AWS_CONFIG_FILE"] == instance_env["AWS_SHARED_CREDENTIALS_FILE"] == "/dev/null"
    assert instance_env["AWS_EC2_METADATA_SERVICE_ENDPOINT"].startswith("http://127.0.0.1:")
    assert instance_env["DOCKER_HOST"] == stack.env["DOCKER_HOST"]
    # the ordinary env holds keys, and no process of it can fall through to a host's own metadata
    assert stack.env["AWS_EC2_METADATA_DISABLED"] == "true"


def test_status_reports_the_instance_metadata(stack: Any) -> None:
    env = {**os.environ, "LOCAL_ECR_HOME": str(stack.home), "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
    done = subprocess.run([str(LOCAL_ECR), "status"], capture_output=True, text=True, env=env, timeout=30)
    assert done.returncode == 0, done.stdout
    assert any(line.split()[:2] == ["imds", "up"] for line in done.stdout.splitlines()), done.stdout


# -- IMDSv2 as an instance with HttpTokens=required answers it ------------------------------------------


def test_imdsv1_and_bad_token_requests_are_refused_as_imds_does(metadata: Metadata) -> None:
    assert metadata.request("GET", "/latest/meta-data/instance-id")[0] == 401  # IMDSv1
    assert metadata.request("GET", "/latest/meta-data/instance-id", {"X-aws-ec2-metadata-token": "forged"})[0] == 401
    for ttl in ("0", "21601", "ten"):
        assert metadata.request("PUT", "/latest/api/token", {"X-aws-ec2-metadata-token-ttl-seconds": ttl})[0] == 400
    assert metadata.request("PUT", "/latest/api/token")[0] == 400
    through_a_proxy = {"X-aws-ec2-metadata-token-ttl-seconds": "60", "X-Forwarded-For": "10.0.0.1"}
    assert metadata.request("PUT", "/latest/api/token", through_a_proxy)[0] == 403

    status, headers, token = metadata.request("PUT", "/latest/api/token", {"X-aws-ec2-metadata-token-ttl-seconds": "1"})
    assert status == 200 and headers["X-aws-ec2-metadata-token-ttl-seconds"] == "1"
    assert metadata.request("GET", "/latest/meta-data/instance-id", {"X-aws-ec2-metadata-token": token})[0] == 200
    time.sleep(1.1)
    assert metadata.request("GET", "/latest/meta-data/instance-id", {"X-aws-ec2-metadata-token": token})[0] == 401


def test_the_instance_describes_itself(metadata: Metadata) -> None:
    instance_id = metadata.get("/latest/meta-data/instance-id")
    assert instance_id.startswith("i-0") and len(instance_id) == 19
    assert metadata.get("/latest/meta-data/placement/region") == REGION
    assert metadata.get("/latest/meta-data/placement/availability-zone") == f"{REGION}a"
    document = json.loads(metadata.get("/latest/dynamic/instance-identity/document"))
    assert (document["accountId"], document["region"], document["instanceId"]) == (ACCOUNT, REGION, instance_id)
    assert document["availabilityZone"] == f"{REGION}a"
    assert metadata.get("/latest/meta-data/iam/security-credentials/") == ROLE
    keys = json.loads(metadata.get(f"/latest/meta-data/iam/security-credentials/{ROLE}"))
    assert (keys["Code"], keys["Type"]) == ("Success", "AWS-HMAC")
    assert keys["AccessKeyId"].startswith("ASIA") and len(keys["AccessKeyId"]) == 20
    assert time.strptime(keys["Expiration"], "%Y-%m-%dT%H:%M:%SZ") > time.gmtime()


# -- the role's keys, through botocore and the AWS CLI --------------------------------------------------


def test_botocore_with_only_the_instance_env_gets_the_role_and_a_registry_login(
    stack: Any, instance_env: dict[str, str], metadata: Metadata, only: Callable[[dict[str, str]], None]
) -> None:
    instance_id = metadata.get("/latest/meta-data/instance-id")
    only(instance_env)
    session = botocore.session.Session()
    credentials = session.get_credentials()
    assert credentials is not None and credentials.method == "iam-role"
    assert credentials.access_key.startswith("ASIA")
    assert session.get_config_variable("region") is None  # no region but the instance's
    from botocore.utils import IMDSRegionProvider

    region = IMDSRegionProvider(session).provide()
    assert region == REGION

    sts = session.create_client("sts", region_name=region, endpoint_url=stack.env.get("AWS_ENDPOINT_URL"))
    identity = sts.get_caller_identity()
    assert identity["Arn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/{ROLE}/{instance_id}"
    assert identity["UserId"].startswith("AROA") and identity["UserId"].endswith(f":{instance_id}")
    assert identity["Account"] == ACCOUNT

    ecr = session.create_client("ecr", region_name=region, endpoint_url=stack.env.get("AWS_ENDPOINT_URL"))
    data = ecr.get_authorization_token()["authorizationData"][0]
    user, _, password = base64.b64decode(data["authorizationToken"]).decode().partition(":")
    assert user == "AWS" and stack.accepts(password)


def test_the_aws_cli_gets_its_identity_from_instance_metadata(
    stack: Any, instance_env: dict[str, str], tmp_path: Path
) -> None:
    aws = shutil.which("aws", path=str(BIN))
    assert aws, "the AWS CLI is not in the venv: pip install -e '.[bench]' (make test does)"
    env = {**instance_env, "PATH": f"{BIN}{os.pathsep}/usr/bin:/bin", "HOME": str(tmp_path)}
    done = subprocess.run(
        [aws, "sts", "get-caller-identity", "--region", REGION, "--output", "json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["Arn"].startswith(f"arn:aws:sts::{ACCOUNT}:assumed-role/{ROLE}/i-0")


def test_rotated_keys_work_and_old_ones_are_refused_once_expired(
    stack: Any, metadata: Metadata, imds: Callable[..., dict[str, Any]]
) -> None:
    path = f"/latest/meta-data/iam/security-credentials/{ROLE}"
    imds(ttl=2, rotate=True)
    old = json.loads(metadata.get(path))
    rotated = imds(reset=True, rotate=True)
    new = json.loads(metadata.get(path))
    assert new["AccessKeyId"] == rotated["access_key"] != old["AccessKeyId"]

    old_sts, old_ecr = _client("sts", old, stack), _client("ecr", old, stack)
    assert old_sts.get_caller_identity()["Account"] == ACCOUNT  # good until its Expiration
    expires = calendar.timegm(time.strptime(old["Expiration"], "%Y-%m-%dT%H:%M:%SZ"))
    time.sleep(max(0.0, expires - time.time()) + 0.2)
    assert _refusal(old_sts.get_caller_identity) == "ExpiredToken"
    assert _refusal(old_ecr.get_authorization_token) == "ExpiredTokenException"

    assert _client("sts", new, stack).get_caller_identity()["Account"] == ACCOUNT
    assert _client("ecr", new, stack).get_authorization_token()["authorizationData"]
    forged = {**new, "Token": old["Token"]}  # a key with another key's session token is no one's
    assert _refusal(_client("ecr", forged, stack).describe_repositories) == "UnrecognizedClientException"


def test_hop_limit_and_off_leave_the_token_request_unanswered(
    metadata: Metadata, imds: Callable[..., dict[str, Any]]
) -> None:
    imds(mode="hop-limit")  # as from a container behind the default hop limit of 1
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        metadata.request("PUT", "/latest/api/token", {"X-aws-ec2-metadata-token-ttl-seconds": "60"}, timeout=0.5)
    assert time.monotonic() - started < 10  # the client's own timeout ended it: the stand-in held it unanswered
    assert metadata.request("GET", "/latest/meta-data/instance-id", timeout=10)[0] == 401
    imds(mode="off")
    with pytest.raises(ConnectionError):  # closed unanswered
        metadata.request("GET", "/latest/meta-data/instance-id", timeout=10)
    imds(mode="on")
    assert metadata.get("/latest/meta-data/placement/region") == REGION


# -- the container-credentials endpoint (ECS, CodeBuild) ------------------------------------------------


def test_the_container_endpoint_serves_the_role_with_its_token_only(
    stack: Any, only: Callable[[dict[str, str]], None]
) -> None:
    env = _env_of(stack, "--container")
    assert oct(os.stat(stack.home / "container-token").st_mode & 0o777) == "0o600"
    url = urllib.parse.urlsplit(env["AWS_CONTAINER_CREDENTIALS_FULL_URI"])
    assert url.hostname == "127.0.0.1"
    conn = http.client.HTTPConnection("127.0.0.1", url.port, timeout=5)
    for headers, status in (({}, 401), ({"Authorization": "not-the-token"}, 403)):
        conn.request("GET", url.path, headers=headers)
        answer = conn.getresponse()
        answer.read()
        assert answer.status == status
    conn.close()

    only(env)
    session = botocore.session.Session()
    credentials = session.get_credentials()
    assert credentials is not None and credentials.method == "container-role"
    sts = session.create_client("sts", endpoint_url=stack.env.get("AWS_ENDPOINT_URL"))
    assert sts.get_caller_identity()["Arn"].startswith(f"arn:aws:sts::{ACCOUNT}:assumed-role/{ROLE}/")
