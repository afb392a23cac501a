"""The local ECR on the wire, as ECR answers (issue 18): each test shows one answer a client sees, with
`requests` and the stack's CA bundle. README's "The local ECR" table cites where each behaviour comes from."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
import requests

pytestmark = pytest.mark.integration

ACCOUNT, REGION, OTHER_REGION = "123456789012", "ca-west-1", "us-east-1"
EXPIRED = "Your authorization token has expired. Reauthenticate and try again."
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"


def digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


class Wire:
    """One registry of the stack (an account in a region), spoken to directly."""

    def __init__(self, stack: Any, account: str = ACCOUNT, region: str = REGION) -> None:
        self.stack = stack
        self.url = stack.registry_url(account, region)
        self.auth = ("AWS", stack.password(account, region))
        self.verify = stack.ca_bundle

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("auth", self.auth)
        kwargs.setdefault("timeout", 30)
        url = path if path.startswith("http") else self.url + path
        return requests.request(method, url, verify=self.verify, **kwargs)

    def location(self, reply: requests.Response) -> str:
        where = reply.headers["Location"]
        return where if where.startswith("http") else self.url + where

    def put_blob(self, repo: str, data: bytes) -> str:
        digest = digest_of(data)
        started = self.request("POST", f"/v2/{repo}/blobs/uploads/")
        assert started.status_code == 202, started.text
        done = self.request("PUT", self.location(started), params={"digest": digest}, data=data)
        assert done.status_code == 201, done.text
        return digest

    def image(self, repo: str, tag: str, *, subject: dict[str, Any] | None = None, artifact: str = "") -> bytes:
        """An OCI image of one small layer put as REPO:TAG (by digest when TAG is empty); its manifest's bytes."""
        config = json.dumps({"architecture": "amd64", "os": "linux", "tag": tag, "n": uuid.uuid4().hex}).encode()
        layer = uuid.uuid4().bytes * 64
        doc: dict[str, Any] = {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {
                "mediaType": artifact or "application/vnd.oci.image.config.v1+json",
                "digest": self.put_blob(repo, config),
                "size": len(config),
            },
            "layers": [
                {
                    "mediaType": "application/vnd.oci.image.layer.v1.tar",
                    "digest": self.put_blob(repo, layer),
                    "size": len(layer),
                }
            ],
        }
        if subject is not None:
            doc["subject"] = subject
        if artifact:
            doc["artifactType"] = artifact
        data = json.dumps(doc).encode()
        reply = self.put_manifest(repo, tag or digest_of(data), data)
        assert reply.status_code == 201, reply.text
        return data

    def put_manifest(self, repo: str, reference: str, data: bytes, media_type: str = OCI_MANIFEST) -> requests.Response:
        return self.request("PUT", f"/v2/{repo}/manifests/{reference}", data=data, headers={"Content-Type": media_type})


@pytest.fixture(scope="module")
def tls_stack(stack: Any) -> Any:
    if stack.plain:
        pytest.skip("ECR's names over TLS: the shared stack, not a plain one")
    return stack


@pytest.fixture(scope="module")
def ecr(tls_stack: Any) -> Any:
    env = tls_stack.env
    return boto3.client(
        "ecr",
        region_name=REGION,
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
        verify=env["AWS_CA_BUNDLE"],
    )


@pytest.fixture
def repo(ecr: Any) -> Iterator[str]:
    name = f"wire/{uuid.uuid4().hex[:10]}"
    ecr.create_repository(repositoryName=name)
    yield name
    ecr.delete_repository(repositoryName=name, force=True)


@pytest.fixture
def wire(tls_stack: Any) -> Wire:
    return Wire(tls_stack)


# -- a dead token: 403 DENIED, no challenge -------------------------------------------------------------


def test_no_credentials_get_401_with_ecrs_basic_challenge(wire: Wire) -> None:
    reply = wire.request("GET", "/v2/", auth=None)
    assert reply.status_code == 401
    assert reply.headers["WWW-Authenticate"] == f'Basic realm="{wire.url}/",service="ecr.amazonaws.com"'


@pytest.mark.parametrize("how", ["revoked", "foreign", "forged"])
def test_a_token_that_does_not_open_the_registry_gets_403_denied_without_a_challenge(
    tls_stack: Any, wire: Wire, repo: str, how: str
) -> None:
    if how == "revoked":
        tls_stack.control("rotate-password", {})
    elif how == "foreign":
        wire.auth = ("AWS", tls_stack.password(ACCOUNT, OTHER_REGION))  # the same account's other region
    else:
        wire.auth = ("AWS", "not-a-token")
    for method, path in [("GET", "/v2/"), ("GET", f"/v2/{repo}/tags/list"), ("HEAD", f"/v2/{repo}/manifests/x")]:
        reply = wire.request(method, path)
        assert reply.status_code == 403, (method, path)
        assert "WWW-Authenticate" not in reply.headers
        if method == "GET":
            assert reply.json() == {"errors": [{"code": "DENIED", "message": EXPIRED}]}
