"""Tests of the local ECR stack itself (scripts/local-ecr), driven with boto3, requests and the docker CLI.

Not ecrtool: these check that the stack wears ECR's face where a client can see it (its names over
TLS, one registry per account and region, its tokens, its refusals and their words, its paging and
limits), so that ecrtool's integration tests, and a user's own scripts, can trust it. The stack is
started if it is not running (``up`` is idempotent).
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import re
import shlex
import socket
import ssl
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import boto3
import pytest
import requests

pytestmark = pytest.mark.integration

LOCAL_ECR = Path(__file__).resolve().parents[2] / "scripts" / "local-ecr"
ACCOUNT, REGION, OTHER_REGION = "123456789012", "ca-west-1", "us-east-1"
# the stack's second account (README: The local ECR)
SECOND = ("210987654321", "AKIALOCALECRSECOND01", "local-ecr-second-account-secret")
FRONT_IP = "127.77.0.1"
EXPIRED = "Your authorization token has expired. Reauthenticate and try again."

Docker = Callable[..., subprocess.CompletedProcess[str]]


def host(account: str = ACCOUNT, region: str = REGION) -> str:
    return f"{account}.dkr.ecr.{region}.amazonaws.com"


@pytest.fixture(scope="module")
def stack_env() -> dict[str, str]:
    """The stack's env, as `up` prints it: `up` starts what is down and is quick when all runs
    (it honours an exported LOCAL_ECR_HOME, so an eval'ed env points it at the same stack)."""
    done = subprocess.run([str(LOCAL_ECR), "up"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"scripts/local-ecr up failed:\n{done.stderr}"
    return dict(shlex.split(line)[1].split("=", 1) for line in done.stdout.splitlines())


@pytest.fixture(scope="module")
def ecr(stack_env: dict[str, str]) -> Any:
    return _client("ecr", stack_env)


@pytest.fixture(scope="module")
def docker(stack_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Docker:
    """Run the docker CLI against the stack's engine, with a CLI config of this module's own."""
    env = {**os.environ, **stack_env, "DOCKER_CONFIG": str(tmp_path_factory.mktemp("docker-config"))}

    def run(*args: str, input: str | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(["docker", *args], input=input, env=env, capture_output=True, text=True, timeout=120)
        if check:
            assert done.returncode == 0, f"docker {' '.join(args)} failed:\n{done.stderr}"
        return done

    return run


def _build(stack_env: dict[str, str], ref: str, *options: str) -> None:
    done = subprocess.run(
        [str(LOCAL_ECR), "image", ref, *options], env={**os.environ, **stack_env}, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr


@pytest.fixture(scope="module")
def image(stack_env: dict[str, str], docker: Docker) -> Iterator[str]:
    """A small FROM-scratch image (busybox plus two 512 KB random layers), built by the script."""
    ref = f"local-ecr-selftest:{uuid.uuid4().hex[:8]}"
    _build(stack_env, ref, "--layers", "2", "--size-mb", "1")
    yield ref
    docker("rmi", "--force", ref, check=False)


@pytest.fixture(scope="module")
def other_image(stack_env: dict[str, str], docker: Docker) -> Iterator[str]:
    ref = f"local-ecr-selftest:{uuid.uuid4().hex[:8]}"
    _build(stack_env, ref)
    yield ref
    docker("rmi", "--force", ref, check=False)


@pytest.fixture
def repo(ecr: Any) -> Iterator[str]:
    name = f"selftest/app-{uuid.uuid4().hex[:8]}"
    ecr.create_repository(repositoryName=name)
    yield name
    try:
        ecr.delete_repository(repositoryName=name, force=True)
    except ecr.exceptions.RepositoryNotFoundException:
        pass


def _client(service: str, env: dict[str, str], region: str = REGION, keys: tuple[str, str] | None = None) -> Any:
    """A boto3 client as a user's would be: ECR's standard endpoint, trusting the stack's CA."""
    access, secret = keys or (env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"])
    return boto3.client(
        service,
        region_name=region,
        aws_access_key_id=access,
        aws_secret_access_key=secret,
        verify=env["AWS_CA_BUNDLE"],
    )


def _password(ecr: Any) -> str:
    token = ecr.get_authorization_token()["authorizationData"][0]["authorizationToken"]
    return str(base64.b64decode(token).decode().split(":", 1)[1])


def _login(docker: Docker, ecr: Any, registry: str = host()) -> None:
    docker("login", "--username", "AWS", "--password-stdin", registry, input=_password(ecr))


def _push(docker: Docker, source: str, target: str) -> str:
    docker("tag", source, target)
    pushed = docker("push", target).stdout
    match = re.search(r"digest: (sha256:[0-9a-f]{64})", pushed)
    assert match, pushed
    return match.group(1)


def _registry(stack_env: dict[str, str], ecr: Any, path: str, registry: str = host(), **headers: str) -> Any:
    return requests.get(
        f"https://{registry}/v2/{path}",
        auth=("AWS", _password(ecr)),
        headers=headers,
        timeout=10,
        verify=stack_env["AWS_CA_BUNDLE"],
    )


def _registry_tags(stack_env: dict[str, str], ecr: Any, repo: str) -> list[str]:
    resp = _registry(stack_env, ecr, f"{repo}/tags/list")
    if resp.status_code == 404 and resp.json()["errors"][0]["code"] == "NAME_UNKNOWN":
        return []
    resp.raise_for_status()
    return sorted(resp.json().get("tags") or [])


# -- ECR's names over TLS ---------------------------------------------------------------------------


def test_the_env_holds_keys_region_and_the_ca_bundle_only(stack_env: dict[str, str]) -> None:
    assert not {key for key in stack_env if key.startswith("AWS_ENDPOINT_URL") or key.startswith("ECRTOOL_")}
    assert stack_env["AWS_REGION"] == REGION and stack_env["AWS_ACCESS_KEY_ID"]
    assert stack_env["AWS_CA_BUNDLE"] == stack_env["SSL_CERT_FILE"]
    assert "BEGIN CERTIFICATE" in Path(stack_env["AWS_CA_BUNDLE"]).read_text()


@pytest.mark.parametrize(
    "name",
    [host(), host(SECOND[0], OTHER_REGION), f"api.ecr.{REGION}.amazonaws.com", f"sts.{OTHER_REGION}.amazonaws.com"],
)
def test_ecr_names_resolve_to_the_stack_while_it_is_up(stack_env: dict[str, str], name: str) -> None:
    assert socket.gethostbyname(name) == FRONT_IP
    hosts = Path("/etc/hosts").read_text()
    assert f"# local-ecr BEGIN {stack_env['LOCAL_ECR_HOME']}" in hosts


def test_the_registry_and_the_api_speak_tls_with_the_stacks_certificate(stack_env: dict[str, str]) -> None:
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(f"https://{host()}/v2/", timeout=10, verify=True)  # the system's roots alone
    reply = requests.get(f"https://{host()}/v2/", timeout=10, verify=stack_env["AWS_CA_BUNDLE"])
    assert reply.status_code == 401
    assert reply.headers["WWW-Authenticate"] == f'Basic realm="https://{host()}/",service="ecr.amazonaws.com"'


def test_the_registry_keeps_a_connection_for_the_next_request_as_ecr_does(
    stack_env: dict[str, str], ecr: Any
) -> None:
    data = ecr.get_authorization_token()["authorizationData"][0]
    auth = {"Authorization": f"Basic {data['authorizationToken']}"}
    context = ssl.create_default_context(cafile=stack_env["AWS_CA_BUNDLE"])
    conn = http.client.HTTPSConnection(host(), 443, context=context, timeout=10)
    try:
        conn.request("GET", "/v2/", headers=auth)
        first = conn.getresponse()
        first.read()
        opened = conn.sock
        assert first.status == 200 and first.getheader("Connection") is None
        conn.request("HEAD", "/v2/no-such-repository/manifests/latest", headers=auth)
        second = conn.getresponse()
        second.read()
        assert second.status == 404 and conn.sock is opened  # the same connection, not a new one
        # a body the registry refused without reading it: the connection ends there
        conn.request("PUT", "/v2/no-such-repository/blobs/uploads/x", body=b"x" * 1000, headers={})
        refused = conn.getresponse()
        refused.read()
        assert refused.status == 401 and refused.getheader("Connection") == "close"
    finally:
        conn.close()


# -- tokens -----------------------------------------------------------------------------------------


def test_a_token_is_its_registrys_password_for_12_hours(stack_env: dict[str, str], ecr: Any) -> None:
    data = ecr.get_authorization_token()["authorizationData"][0]
    user, password = base64.b64decode(data["authorizationToken"]).decode().split(":", 1)
    assert user == "AWS"
    assert abs(data["expiresAt"].timestamp() - (time.time() + 12 * 3600)) < 3700
    assert data["proxyEndpoint"] == f"https://{host()}"
    bundle = stack_env["AWS_CA_BUNDLE"]
    assert requests.get(f"https://{host()}/v2/", auth=(user, password), timeout=10, verify=bundle).status_code == 200
    # the same account's registry in another region refuses it
    elsewhere = f"https://{host(ACCOUNT, OTHER_REGION)}/v2/"
    refused = requests.get(elsewhere, auth=(user, password), timeout=10, verify=bundle)
    assert refused.status_code == 403 and "WWW-Authenticate" not in refused.headers  # ECR's, no challenge
    assert refused.json()["errors"][0] == {"code": "DENIED", "message": EXPIRED}
    # another account's registry in the region opens to it ("any Amazon ECR registry that your IAM principal has
    # access to", GetAuthorizationToken's API reference); its repositories' policies decide (access.py)
    assert requests.get(f"https://{host(SECOND[0])}/v2/", auth=(user, password), timeout=10, verify=bundle).ok


def test_docker_login_refuses_a_wrong_password(docker: Docker) -> None:
    wrong = docker("login", "--username", "AWS", "--password-stdin", host(), input="nope", check=False)
    assert wrong.returncode != 0
    assert "403 Forbidden" in wrong.stderr  # ECR refuses a password it did not issue with 403 DENIED


def test_a_revoked_token_gets_ecrs_words(stack_env: dict[str, str], docker: Docker, ecr: Any, image: str, repo: str):
    _login(docker, ecr)
    requests.post(f"{_bridge(stack_env)}/rotate-password", timeout=10).raise_for_status()
    docker("tag", image, f"{host()}/{repo}:v1")
    refused = docker("push", f"{host()}/{repo}:v1", check=False)
    assert refused.returncode != 0
    assert f"denied: {EXPIRED}" in refused.stderr
    _login(docker, ecr)  # a fresh token works again
    _push(docker, image, f"{host()}/{repo}:v1")
    docker("rmi", f"{host()}/{repo}:v1")


# -- ECR's refusals through plain docker ------------------------------------------------------------


def test_a_push_to_a_missing_repository_is_name_unknown(docker: Docker, ecr: Any, image: str) -> None:
    _login(docker, ecr)
    missing = f"selftest/missing-{uuid.uuid4().hex[:8]}"
    docker("tag", image, f"{host()}/{missing}:v1")
    refused = docker("push", f"{host()}/{missing}:v1", check=False)
    assert refused.returncode != 0
    expected = f"name unknown: The repository with name '{missing}' does not exist in the registry with id '{ACCOUNT}'"
    assert expected in refused.stderr
    assert ecr.describe_repositories()["repositories"] is not None  # nothing was created
    with pytest.raises(ecr.exceptions.RepositoryNotFoundException):
        ecr.describe_repositories(repositoryNames=[missing])
    docker("rmi", f"{host()}/{missing}:v1")


def test_an_immutable_tag_takes_the_same_image_again_and_refuses_another(
    docker: Docker, ecr: Any, image: str, other_image: str
) -> None:
    name = f"selftest/frozen-{uuid.uuid4().hex[:8]}"
    ecr.create_repository(repositoryName=name, imageTagMutability="IMMUTABLE")
    _login(docker, ecr)
    first = _push(docker, image, f"{host()}/{name}:v1")
    assert _push(docker, image, f"{host()}/{name}:v1") == first
    docker("tag", other_image, f"{host()}/{name}:v1")
    refused = docker("push", f"{host()}/{name}:v1", check=False)
    assert refused.returncode != 0
    assert (
        f"tag invalid: The image tag 'v1' already exists in the '{name}' repository and cannot be overwritten "
        "because the repository is immutable." in refused.stderr
    )
    ids = ecr.list_images(repositoryName=name)["imageIds"]
    assert ids == [{"imageDigest": first, "imageTag": "v1"}]
    ecr.delete_repository(repositoryName=name, force=True)
    docker("rmi", f"{host()}/{name}:v1")


# -- each account and region is its own registry ----------------------------------------------------


def test_each_account_and_region_is_a_registry_of_its_own(
    stack_env: dict[str, str], docker: Docker, ecr: Any, image: str, repo: str
) -> None:
    _login(docker, ecr)
    _push(docker, image, f"{host()}/{repo}:v1")
    elsewhere = _client("ecr", stack_env, OTHER_REGION)
    elsewhere.create_repository(repositoryName=repo)
    try:
        # the same name in another region is another, empty repository
        assert elsewhere.list_images(repositoryName=repo)["imageIds"] == []
        _login(docker, elsewhere, host(ACCOUNT, OTHER_REGION))
        missing = docker("pull", f"{host(ACCOUNT, OTHER_REGION)}/{repo}:v1", check=False)
        assert missing.returncode != 0 and "manifest unknown" in missing.stderr
    finally:
        elsewhere.delete_repository(repositoryName=repo, force=True)

    second = _client("ecr", stack_env, REGION, keys=SECOND[1:])
    assert repo not in [r["repositoryName"] for r in second.describe_repositories()["repositories"]]
    assert _client("sts", stack_env, keys=SECOND[1:]).get_caller_identity()["Account"] == SECOND[0]
    # the second account's token opens its own registry
    bundle = stack_env["AWS_CA_BUNDLE"]
    theirs = _password(second)
    assert requests.get(f"https://{host(SECOND[0])}/v2/", auth=("AWS", theirs), verify=bundle, timeout=10).ok
    # it logs in to the first's too, as on ECR, but the first's repository refuses it: no policy grants its pull
    docker("login", "--username", "AWS", "--password-stdin", host(), input=theirs)
    refused = docker("pull", f"{host()}/{repo}:v1", check=False)
    assert refused.returncode != 0
    assert f"User: arn:aws:sts::{SECOND[0]}:user/moto is not authorized to perform: ecr:BatchGetImage" in refused.stderr
    _login(docker, ecr)  # the first account's own login again, for what follows
    docker("rmi", f"{host()}/{repo}:v1")


def test_an_unknown_access_key_is_refused(stack_env: dict[str, str]) -> None:
    stranger = _client("ecr", stack_env, keys=("AKIANOBODY", "nothing"))
    with pytest.raises(stranger.exceptions.ClientError) as refused:
        stranger.describe_repositories()
    assert refused.value.response["Error"]["Code"] == "UnrecognizedClientException"


# -- the API and the registry agree -----------------------------------------------------------------


def test_test_image_runs(docker: Docker, image: str) -> None:
    assert "hello from the local-ecr test image" in docker("run", "--rm", image).stdout


def test_push_describe_delete_round_trip(
    stack_env: dict[str, str], docker: Docker, ecr: Any, image: str, repo: str
) -> None:
    _login(docker, ecr)
    digest_v1 = _push(docker, image, f"{host()}/{repo}:v1")
    digest_v2 = _push(docker, image, f"{host()}/{repo}:v2")
    assert digest_v1 == digest_v2

    # at once: the bridge syncs from the registry rather than wait for its notification
    details = ecr.describe_images(repositoryName=repo)["imageDetails"]
    assert [(d["imageDigest"], sorted(d["imageTags"])) for d in details] == [(digest_v1, ["v1", "v2"])]
    manifest = _registry(
        stack_env, ecr, f"{repo}/manifests/v1", Accept="application/vnd.docker.distribution.manifest.v2+json"
    ).json()
    assert details[0]["imageSizeInBytes"] == sum(layer["size"] for layer in manifest["layers"])

    deleted = ecr.batch_delete_image(repositoryName=repo, imageIds=[{"imageTag": "v1"}])
    assert deleted["failures"] == []
    assert _registry_tags(stack_env, ecr, repo) == ["v2"]
    docker("rmi", f"{host()}/{repo}:v1", f"{host()}/{repo}:v2")
    assert docker("pull", f"{host()}/{repo}:v2").returncode == 0
    assert docker("pull", f"{host()}/{repo}:v1", check=False).returncode != 0
    docker("rmi", f"{host()}/{repo}:v2")

    ecr.delete_repository(repositoryName=repo, force=True)
    assert _registry_tags(stack_env, ecr, repo) == []


def test_put_image_retag_reaches_the_registry(
    stack_env: dict[str, str], docker: Docker, ecr: Any, image: str, repo: str
) -> None:
    _login(docker, ecr)
    digest = _push(docker, image, f"{host()}/{repo}:build-1")
    found = ecr.batch_get_image(repositoryName=repo, imageIds=[{"imageTag": "build-1"}])["images"][0]

    ecr.put_image(repositoryName=repo, imageTag="release", imageManifest=found["imageManifest"])

    assert _registry_tags(stack_env, ecr, repo) == ["build-1", "release"]
    ids = ecr.list_images(repositoryName=repo)["imageIds"]
    assert sorted((i["imageTag"], i["imageDigest"]) for i in ids) == [("build-1", digest), ("release", digest)]
    docker("rmi", f"{host()}/{repo}:build-1")
    pulled = docker("pull", f"{host()}/{repo}:release")  # the registry serves the new tag
    assert digest in pulled.stdout
    docker("rmi", f"{host()}/{repo}:release")


def test_a_moved_tag_leaves_the_old_image_untagged(
    docker: Docker, ecr: Any, image: str, other_image: str, repo: str
) -> None:
    _login(docker, ecr)
    first = _push(docker, image, f"{host()}/{repo}:latest")
    second = _push(docker, other_image, f"{host()}/{repo}:latest")

    details = ecr.describe_images(repositoryName=repo)["imageDetails"]

    assert sorted((d["imageDigest"], d.get("imageTags", [])) for d in details) == sorted(
        [(first, []), (second, ["latest"])]
    )
    docker("rmi", "--force", f"{host()}/{repo}:latest")


def test_reads_see_every_push_at_once(
    stack_env: dict[str, str], docker: Docker, ecr: Any, image: str, repo: str
) -> None:
    _login(docker, ecr)
    digest = _push(docker, image, f"{host()}/{repo}:base")
    docker("rmi", f"{host()}/{repo}:base")
    manifest = _registry(
        stack_env, ecr, f"{repo}/manifests/base", Accept="application/vnd.docker.distribution.manifest.v2+json"
    )
    tags = [f"t{i}" for i in range(60)]
    session = requests.Session()
    session.auth = ("AWS", _password(ecr))

    def put(tag: str) -> int:
        url = f"https://{host()}/v2/{repo}/manifests/{tag}"
        headers = {"Content-Type": manifest.headers["Content-Type"]}
        bundle = stack_env["AWS_CA_BUNDLE"]  # per request: a Session's own verify is not applied to a pooled one
        return session.put(url, data=manifest.content, headers=headers, timeout=10, verify=bundle).status_code

    # pushed faster than the registry's notifications are delivered one by one
    with ThreadPoolExecutor(8) as pool:
        assert set(pool.map(put, tags)) == {201}
    ids = ecr.list_images(repositoryName=repo)["imageIds"]

    assert sorted(i["imageTag"] for i in ids) == sorted([*tags, "base"])
    assert {i["imageDigest"] for i in ids} == {digest}


@pytest.mark.parametrize(
    ("option", "index_type", "child_type"),
    [
        ("--oci", "application/vnd.oci.image.index.v1+json", "application/vnd.oci.image.manifest.v1+json"),
        (
            "--docker",
            "application/vnd.docker.distribution.manifest.list.v2+json",
            "application/vnd.docker.distribution.manifest.v2+json",
        ),
    ],
)
def test_an_index_shows_in_describe_images_as_ecr_shows_one(
    ecr: Any, stack_env: dict[str, str], repo: str, option: str, index_type: str, child_type: str
) -> None:
    done = subprocess.run(
        [str(LOCAL_ECR), "index", f"{repo}:multi", option],
        env={**os.environ, **stack_env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    printed = json.loads(done.stdout)
    assert [child["platform"] for child in printed["manifests"]] == ["linux/amd64", "linux/arm64/v8"]

    details = ecr.describe_images(repositoryName=repo)["imageDetails"]

    # the index under its tag, with its own media type; each child untagged, with the child's
    assert sorted((d["imageDigest"], d.get("imageTags", []), d["imageManifestMediaType"]) for d in details) == sorted(
        [(printed["digest"], ["multi"], index_type)]
        + [(child["digest"], [], child_type) for child in printed["manifests"]]
    )
    sizes = {d["imageDigest"]: d.get("imageSizeInBytes") for d in details}
    assert all(sizes[child["digest"]] > 0 for child in printed["manifests"])


def test_batch_delete_takes_at_most_100_ids_as_ecr_does(ecr: Any, repo: str) -> None:
    ids = [{"imageTag": f"t{i}"} for i in range(101)]
    with pytest.raises(ecr.exceptions.InvalidParameterException) as refused:
        ecr.batch_delete_image(repositoryName=repo, imageIds=ids)
    assert "Member must have length less than or equal to 100" in str(refused.value)
    assert ecr.batch_delete_image(repositoryName=repo, imageIds=ids[:100])["failures"]  # 100 is fine (not found)


def test_stats_count_api_calls_by_action(stack_env: dict[str, str], ecr: Any) -> None:
    bridge = _bridge(stack_env)
    requests.post(f"{bridge}/reset-stats", timeout=10).raise_for_status()

    ecr.describe_repositories()
    ecr.describe_repositories()
    assert _client("sts", stack_env).get_caller_identity()["Account"] == ACCOUNT

    stats = requests.get(f"{bridge}/stats", timeout=10).json()
    assert {key: stats.get(key) for key in ("DescribeRepositories", "GetCallerIdentity")} == {
        "DescribeRepositories": 2,
        "GetCallerIdentity": 1,
    }
    assert requests.get(f"{bridge}/health", timeout=10).status_code == 200


def _bridge(stack_env: dict[str, str]) -> str:
    ports = dict(line.split("=", 1) for line in Path(stack_env["LOCAL_ECR_HOME"], "ports").read_text().splitlines())
    return f"http://127.0.0.1:{ports['API_PORT']}/_bridge"
