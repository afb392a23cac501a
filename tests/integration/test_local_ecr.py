"""Tests of the local ECR stack itself (scripts/local-ecr), driven with boto3 and the docker CLI.

Not ecrtool: these check that the stack behaves like ECR where ecrtool relies on it (the token is
the registry password, pushes show up in DescribeImages under the registry's digest, deletions
through the API reach the registry), so ecrtool's integration tests can trust it. The stack is
started if it is not running (``up`` is idempotent).
"""

from __future__ import annotations

import base64
import json
import os
import re
import shlex
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
ENV_KEYS = ("LOCAL_ECR_HOME", "DOCKER_HOST", "AWS_ENDPOINT_URL", "ECRTOOL_REGISTRY", "AWS_REGION")

Docker = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture(scope="module")
def stack_env() -> dict[str, str]:
    """The stack's env, as `up` prints it: `up` starts what is down and is quick when all runs
    (it honours an exported LOCAL_ECR_HOME, so an eval'ed env points it at the same stack)."""
    done = subprocess.run([str(LOCAL_ECR), "up"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"scripts/local-ecr up failed:\n{done.stderr}"
    env = dict(shlex.split(line)[1].split("=", 1) for line in done.stdout.splitlines())
    assert set(ENV_KEYS) <= set(env), done.stdout
    return env


@pytest.fixture(scope="module")
def password(stack_env: dict[str, str]) -> str:
    return (Path(stack_env["LOCAL_ECR_HOME"]) / "password").read_text().strip()


@pytest.fixture(scope="module")
def registry(stack_env: dict[str, str]) -> str:
    return stack_env["ECRTOOL_REGISTRY"]


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


@pytest.fixture(scope="module")
def image(stack_env: dict[str, str], docker: Docker) -> Iterator[str]:
    """A small FROM-scratch image (busybox plus two 512 KB random layers), built by the script."""
    ref = f"local-ecr-selftest:{uuid.uuid4().hex[:8]}"
    done = subprocess.run(
        [str(LOCAL_ECR), "image", ref, "--layers", "2", "--size-mb", "1"],
        env={**os.environ, **stack_env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", done.stdout.strip()), done.stdout
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


def _client(service: str, env: dict[str, str]) -> Any:
    return boto3.client(
        service,
        endpoint_url=env["AWS_ENDPOINT_URL"],
        region_name=env["AWS_REGION"],
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def _login(docker: Docker, ecr: Any, registry: str) -> None:
    token = ecr.get_authorization_token()["authorizationData"][0]["authorizationToken"]
    user, secret = base64.b64decode(token).decode().split(":", 1)
    docker("login", "--username", user, "--password-stdin", registry, input=secret)


def _push(docker: Docker, source: str, target: str) -> str:
    docker("tag", source, target)
    pushed = docker("push", target).stdout
    match = re.search(r"digest: (sha256:[0-9a-f]{64})", pushed)
    assert match, pushed
    return match.group(1)


def _registry_tags(registry: str, password: str, repo: str) -> list[str]:
    resp = requests.get(f"http://{registry}/v2/{repo}/tags/list", auth=("AWS", password), timeout=10)
    if resp.status_code == 404:
        return []
    resp.raise_for_status()
    return sorted(resp.json().get("tags") or [])


def test_authorization_token_is_the_registry_password_for_12_hours(ecr: Any, password: str) -> None:
    data = ecr.get_authorization_token()["authorizationData"][0]

    assert base64.b64decode(data["authorizationToken"]).decode() == f"AWS:{password}"
    assert abs(data["expiresAt"].timestamp() - (time.time() + 12 * 3600)) < 300
    assert data["proxyEndpoint"] == "https://123456789012.dkr.ecr.ca-west-1.amazonaws.com"


def test_docker_login_refuses_a_wrong_password(docker: Docker, registry: str) -> None:
    wrong = docker("login", "--username", "AWS", "--password-stdin", registry, input="nope", check=False)

    assert wrong.returncode != 0
    assert "unauthorized" in wrong.stderr.lower()


def test_test_image_runs(docker: Docker, image: str) -> None:
    assert "hello from the local-ecr test image" in docker("run", "--rm", image).stdout


def test_push_describe_delete_round_trip(
    docker: Docker, ecr: Any, registry: str, password: str, image: str, repo: str
) -> None:
    _login(docker, ecr, registry)
    digest_v1 = _push(docker, image, f"{registry}/{repo}:v1")
    digest_v2 = _push(docker, image, f"{registry}/{repo}:v2")
    assert digest_v1 == digest_v2

    # at once: the bridge syncs from the registry rather than wait for its notification
    details = ecr.describe_images(repositoryName=repo)["imageDetails"]
    assert [(d["imageDigest"], sorted(d["imageTags"])) for d in details] == [(digest_v1, ["v1", "v2"])]
    manifest = requests.get(
        f"http://{registry}/v2/{repo}/manifests/v1",
        auth=("AWS", password),
        timeout=10,
        headers={"Accept": "application/vnd.docker.distribution.manifest.v2+json"},
    ).json()
    assert details[0]["imageSizeInBytes"] == sum(layer["size"] for layer in manifest["layers"])

    deleted = ecr.batch_delete_image(repositoryName=repo, imageIds=[{"imageTag": "v1"}])
    assert deleted["failures"] == []
    assert _registry_tags(registry, password, repo) == ["v2"]
    docker("rmi", f"{registry}/{repo}:v1", f"{registry}/{repo}:v2")
    assert docker("pull", f"{registry}/{repo}:v2").returncode == 0
    assert docker("pull", f"{registry}/{repo}:v1", check=False).returncode != 0
    docker("rmi", f"{registry}/{repo}:v2")

    ecr.delete_repository(repositoryName=repo, force=True)
    assert _registry_tags(registry, password, repo) == []


def test_put_image_retag_reaches_the_registry(
    docker: Docker, ecr: Any, registry: str, password: str, image: str, repo: str
) -> None:
    _login(docker, ecr, registry)
    digest = _push(docker, image, f"{registry}/{repo}:build-1")
    found = ecr.batch_get_image(repositoryName=repo, imageIds=[{"imageTag": "build-1"}])["images"][0]

    ecr.put_image(repositoryName=repo, imageTag="release", imageManifest=found["imageManifest"])

    assert _registry_tags(registry, password, repo) == ["build-1", "release"]
    ids = ecr.list_images(repositoryName=repo)["imageIds"]
    assert sorted((i["imageTag"], i["imageDigest"]) for i in ids) == [("build-1", digest), ("release", digest)]
    docker("rmi", f"{registry}/{repo}:build-1")


def test_a_moved_tag_leaves_the_old_image_untagged(
    docker: Docker, ecr: Any, registry: str, image: str, repo: str, stack_env: dict[str, str]
) -> None:
    _login(docker, ecr, registry)
    first = _push(docker, image, f"{registry}/{repo}:latest")
    other = f"local-ecr-selftest:{uuid.uuid4().hex[:8]}"
    subprocess.run([str(LOCAL_ECR), "image", other], env={**os.environ, **stack_env}, check=True, capture_output=True)
    second = _push(docker, other, f"{registry}/{repo}:latest")

    details = ecr.describe_images(repositoryName=repo)["imageDetails"]

    assert sorted((d["imageDigest"], d.get("imageTags", [])) for d in details) == sorted(
        [(first, []), (second, ["latest"])]
    )
    docker("rmi", "--force", other, f"{registry}/{repo}:latest")


def test_reads_see_every_push_at_once(
    docker: Docker, ecr: Any, registry: str, password: str, image: str, repo: str
) -> None:
    _login(docker, ecr, registry)
    digest = _push(docker, image, f"{registry}/{repo}:base")
    docker("rmi", f"{registry}/{repo}:base")
    auth = ("AWS", password)
    manifest = requests.get(
        f"http://{registry}/v2/{repo}/manifests/base",
        auth=auth,
        timeout=10,
        headers={"Accept": "application/vnd.docker.distribution.manifest.v2+json"},
    )
    tags = [f"t{i}" for i in range(60)]

    def put(tag: str) -> int:
        url = f"http://{registry}/v2/{repo}/manifests/{tag}"
        headers = {"Content-Type": manifest.headers["Content-Type"]}
        return requests.put(url, data=manifest.content, auth=auth, headers=headers, timeout=10).status_code

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


def test_stats_count_api_calls_by_action(stack_env: dict[str, str], ecr: Any) -> None:
    bridge = stack_env["AWS_ENDPOINT_URL"]
    requests.post(f"{bridge}/_bridge/reset-stats", timeout=10).raise_for_status()

    ecr.describe_repositories()
    ecr.describe_repositories()
    assert _client("sts", stack_env).get_caller_identity()["Account"] == "123456789012"

    stats = requests.get(f"{bridge}/_bridge/stats", timeout=10).json()
    assert {key: stats.get(key) for key in ("DescribeRepositories", "GetCallerIdentity")} == {
        "DescribeRepositories": 2,
        "GetCallerIdentity": 1,
    }
    assert requests.get(f"{bridge}/_bridge/health", timeout=10).status_code == 200
