"""The local ECR enforces cross-account access as ECR does: account B's token at account A's registry, and
B's API calls naming A's registry, are refused in ECR's words unless A's repository policy allows B's
principal that action; pull does not grant push; a policy naming a principal the stack lacks is refused."""

from __future__ import annotations

import base64
import hashlib
import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
import requests
from botocore.exceptions import ClientError

pytestmark = pytest.mark.integration

A, B = "123456789012", "210987654321"
REGION = "ca-west-1"
B_KEYS = {"aws_access_key_id": "AKIALOCALECRSECOND01", "aws_secret_access_key": "local-ecr-second-account-secret"}
PULL = ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"]
MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"


def _client(stack: Any, **keys: str) -> Any:
    env = stack.env
    if not keys:
        keys = {"aws_access_key_id": env["AWS_ACCESS_KEY_ID"], "aws_secret_access_key": env["AWS_SECRET_ACCESS_KEY"]}
    endpoint = env.get("AWS_ENDPOINT_URL")
    return boto3.client("ecr", region_name=REGION, endpoint_url=endpoint, verify=stack.ca_bundle, **keys)


@pytest.fixture
def repo(stack: Any) -> Iterator[str]:
    """A repository of A's holding one small image, tagged 1."""
    name = _seeded(stack, A, _client(stack))
    yield name
    _client(stack).delete_repository(repositoryName=name, force=True)


def _seeded(stack: Any, owner: str, client: Any) -> str:
    """A new repository of OWNER's (made with CLIENT, OWNER's) holding one small image, tagged 1."""
    if stack.plain:
        pytest.fail("the cross-account tests need the stack on ECR's names (not LOCAL_ECR_PLAIN)", pytrace=False)
    name = f"shared/x-{uuid.uuid4().hex[:8]}"
    client.create_repository(repositoryName=name)
    config = b"{}"
    digest = "sha256:" + hashlib.sha256(config).hexdigest()
    auth = ("AWS", stack.password(owner, REGION))
    url = stack.registry_url(owner, REGION)
    up = requests.post(f"{url}/v2/{name}/blobs/uploads/", auth=auth, verify=stack.ca_bundle, timeout=30)
    assert up.status_code == 202, up.text
    done = requests.put(
        f"{url}{up.headers['Location']}" if up.headers["Location"].startswith("/") else up.headers["Location"],
        params={"digest": digest},
        data=config,
        auth=auth,
        verify=stack.ca_bundle,
        timeout=30,
    )
    assert done.status_code == 201, done.text
    manifest = {
        "schemaVersion": 2,
        "mediaType": MANIFEST,
        "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": 2, "digest": digest},
        "layers": [],
    }
    for _ in range(30):  # ECR's PutImage rate, shared with whatever else pushes to A: wait it out
        put = requests.put(
            f"{url}/v2/{name}/manifests/1",
            data=json.dumps(manifest),
            headers={"Content-Type": MANIFEST},
            auth=auth,
            verify=stack.ca_bundle,
            timeout=30,
        )
        if put.status_code != 429:
            break
        time.sleep(float(put.headers.get("Retry-After", "1")))
    assert put.status_code == 201, put.text
    return name


def _b_password(stack: Any) -> str:
    data = _client(stack, **B_KEYS).get_authorization_token()["authorizationData"][0]
    return base64.b64decode(data["authorizationToken"]).decode().partition(":")[2]


def _get(stack: Any, repo: str, password: str, path: str = "manifests/1") -> requests.Response:
    return requests.get(
        f"{stack.registry_url(A, REGION)}/v2/{repo}/{path}",
        auth=("AWS", password),
        headers={"Accept": MANIFEST},
        verify=stack.ca_bundle,
        timeout=30,
    )


def _policy(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def test_b_is_denied_until_a_grants_pull_and_pull_never_grants_push(stack: Any, repo: str) -> None:
    password = _b_password(stack)
    assert requests.get(f"{stack.registry_url(A, REGION)}/v2/", auth=("AWS", password), verify=stack.ca_bundle).ok
    denied = _get(stack, repo, password)
    assert denied.status_code == 403
    assert denied.json() == {
        "errors": [
            {
                "code": "DENIED",
                "message": f"User: arn:aws:sts::{B}:user/moto is not authorized to perform: ecr:BatchGetImage on "
                f"resource: arn:aws:ecr:{REGION}:{A}:repository/{repo} because no resource-based policy allows "
                "the ecr:BatchGetImage action",
            }
        ]
    }
    b = _client(stack, **B_KEYS)
    with pytest.raises(ClientError) as err:
        b.batch_get_image(registryId=A, repositoryName=repo, imageIds=[{"imageTag": "1"}])
    assert err.value.response["Error"]["Code"] == "AccessDeniedException"
    assert "because no resource-based policy allows the ecr:BatchGetImage action" in str(err.value)

    grant = {"Sid": "B", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{B}:root"}, "Action": PULL}
    _client(stack).set_repository_policy(repositoryName=repo, policyText=_policy(grant))
    assert _get(stack, repo, password).status_code == 200
    images = b.batch_get_image(registryId=A, repositoryName=repo, imageIds=[{"imageTag": "1"}])["images"]
    assert [i["imageId"]["imageTag"] for i in images] == ["1"]
    # pull does not grant push: the upload and the manifest PUT are each refused, with their own action
    upload = requests.post(
        f"{stack.registry_url(A, REGION)}/v2/{repo}/blobs/uploads/", auth=("AWS", password), verify=stack.ca_bundle
    )
    assert upload.status_code == 403 and "ecr:InitiateLayerUpload" in upload.json()["errors"][0]["message"]
    with pytest.raises(ClientError) as err:
        b.describe_images(registryId=A, repositoryName=repo)
    assert err.value.response["Error"]["Code"] == "AccessDeniedException"  # DescribeImages is not pull


def test_an_organization_grant_and_an_explicit_deny(stack: Any, repo: str) -> None:
    password = _b_password(stack)
    org = {
        "Sid": "Org",
        "Effect": "Allow",
        "Principal": "*",
        "Action": PULL,
        "Condition": {"StringEquals": {"aws:PrincipalOrgID": "o-localecr001"}},
    }
    a = _client(stack)
    a.set_repository_policy(repositoryName=repo, policyText=_policy(org))
    assert _get(stack, repo, password).status_code == 200
    elsewhere = {**org, "Condition": {"StringEquals": {"aws:PrincipalOrgID": "o-elsewhere001"}}}
    a.set_repository_policy(repositoryName=repo, policyText=_policy(elsewhere))
    assert _get(stack, repo, password).status_code == 403
    deny = {"Sid": "No", "Effect": "Deny", "Principal": {"AWS": B}, "Action": "ecr:BatchGetImage"}
    a.set_repository_policy(repositoryName=repo, policyText=_policy(org, deny))
    refused = _get(stack, repo, password)
    assert refused.status_code == 403
    assert refused.json()["errors"][0]["message"].endswith("with an explicit deny in a resource-based policy")


def test_a_deny_by_not_principal_or_by_a_condition_the_stand_in_cannot_read_still_refuses(
    stack: Any, repo: str
) -> None:
    password = _b_password(stack)
    a = _client(stack)
    allow = {"Sid": "B", "Effect": "Allow", "Principal": {"AWS": B}, "Action": PULL}
    a.set_repository_policy(repositoryName=repo, policyText=_policy(allow))
    assert _get(stack, repo, password).status_code == 200
    for deny in (
        {"NotPrincipal": {"AWS": f"arn:aws:iam::{A}:root"}},  # everyone but A
        {"Principal": "*", "Condition": {"Bool": {"aws:PrincipalIsAWSService": "false"}}},
    ):
        guard = {"Sid": "Guard", "Effect": "Deny", "Action": "ecr:*", **deny}
        a.set_repository_policy(repositoryName=repo, policyText=_policy(allow, guard))
        refused = _get(stack, repo, password)
        assert refused.status_code == 403, deny
        assert refused.json()["errors"][0]["message"].endswith("with an explicit deny in a resource-based policy")


@pytest.mark.parametrize(
    "principal",
    [
        {"AWS": "999999999999"},
        {"AWS": "arn:aws:iam::999999999999:root"},
        {"AWS": f"arn:aws:iam::{B}:role/no-such-role"},
        {"Federated": "cognito-identity.amazonaws.com"},
    ],
)
def test_a_principal_the_stack_lacks_is_refused_at_set_repository_policy(
    stack: Any, repo: str, principal: dict[str, str]
) -> None:
    statement = {"Sid": "X", "Effect": "Allow", "Principal": principal, "Action": PULL}
    with pytest.raises(ClientError) as err:
        _client(stack).set_repository_policy(repositoryName=repo, policyText=_policy(statement))
    assert err.value.response["Error"]["Code"] == "InvalidParameterException"
    assert err.value.response["Error"]["Message"] == (
        "Invalid parameter at 'PolicyText' failed to satisfy constraint: 'Invalid repository policy provided'"
    )


def _role_keys(stack: Any) -> dict[str, str]:
    """The instance role's keys (account A's role), from the stack's instance metadata, as an instance gets them."""
    port = dict(line.split("=", 1) for line in (stack.home / "ports").read_text().splitlines() if "=" in line).get(
        "IMDS_PORT"
    )
    base = stack.env.get("AWS_EC2_METADATA_SERVICE_ENDPOINT") or f"http://127.0.0.1:{port}"
    assert base.startswith("http://127.0.0.1:"), base  # a loopback port, never the link-local address
    token = requests.put(
        f"{base}/latest/api/token", headers={"X-aws-ec2-metadata-token-ttl-seconds": "60"}, timeout=5
    ).text
    path = "/latest/meta-data/iam/security-credentials/"
    headers = {"X-aws-ec2-metadata-token": token}
    role = requests.get(f"{base}{path}", headers=headers, timeout=5).text.strip()
    found = requests.get(f"{base}{path}{role}", headers=headers, timeout=5).json()
    return {
        "aws_access_key_id": found["AccessKeyId"],
        "aws_secret_access_key": found["SecretAccessKey"],
        "aws_session_token": found["Token"],
    }


def test_a_role_arn_grant_lets_that_role_pull_and_not_its_accounts_other_callers(stack: Any) -> None:
    b = _client(stack, **B_KEYS)
    name = _seeded(stack, B, b)
    try:
        role = f"arn:aws:iam::{A}:role/ecrtool-local-instance-role"
        grant = {"Sid": "Role", "Effect": "Allow", "Principal": {"AWS": role}, "Action": PULL}
        b.set_repository_policy(repositoryName=name, policyText=_policy(grant))
        as_role = _client(stack, **_role_keys(stack))
        data = as_role.get_authorization_token()["authorizationData"][0]
        role_password = base64.b64decode(data["authorizationToken"]).decode().partition(":")[2]
        url = f"{stack.registry_url(B, REGION)}/v2/{name}/manifests/1"
        fetch = {"headers": {"Accept": MANIFEST}, "verify": stack.ca_bundle, "timeout": 30}
        assert requests.get(url, auth=("AWS", role_password), **fetch).status_code == 200
        images = as_role.batch_get_image(registryId=B, repositoryName=name, imageIds=[{"imageTag": "1"}])["images"]
        assert len(images) == 1
        # account A's other callers (its user's keys) are not that role
        user = requests.get(url, auth=("AWS", stack.password(A, REGION)), **fetch)
        assert user.status_code == 403, user.text
        with pytest.raises(ClientError) as err:
            _client(stack).batch_get_image(registryId=B, repositoryName=name, imageIds=[{"imageTag": "1"}])
        assert err.value.response["Error"]["Code"] == "AccessDeniedException"
    finally:
        b.delete_repository(repositoryName=name, force=True)
