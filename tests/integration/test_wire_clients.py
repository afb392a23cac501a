"""Clients on the local ECR's wire (issue 18): ecrtool's copy under ECR's PutImage rate, and real clients
nobody here wrote, the docker CLI through ecrtool's credential helper and skopeo, against the registry's
ECR face: blobs redirected to S3, a revoked token's 403 DENIED, and 429 under a tight rate.

Each test asserts what the client does, as it is, not what one would wish it did."""

from __future__ import annotations

import hashlib
import io
import json
import subprocess
import tarfile
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

ACCOUNT, REGION, OTHER_REGION = "123456789012", "ca-west-1", "us-east-1"
EXPIRED = "Your authorization token has expired. Reauthenticate and try again."
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
Run = Callable[..., subprocess.CompletedProcess[str]]


def digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@pytest.fixture(scope="module")
def tls_stack(stack: Any) -> Any:
    if stack.plain:
        pytest.skip("ECR's names over TLS: the shared stack, not a plain one")
    return stack


@pytest.fixture
def repos(tls_stack: Any) -> Iterator[Callable[[str, str], str]]:
    """Create a repository in a region of the first account; each is deleted after the test."""
    env, made = tls_stack.env, []

    def create(name: str, region: str = REGION) -> str:
        client = boto3.client(
            "ecr",
            region_name=region,
            aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
            verify=env["AWS_CA_BUNDLE"],
        )
        client.create_repository(repositoryName=name)
        made.append((client, name))
        return name

    yield create
    for client, name in made:
        client.delete_repository(repositoryName=name, force=True)


def tags_in(tls_stack: Any, repo: str, region: str = REGION) -> set[str]:
    env = tls_stack.env
    client = boto3.client(
        "ecr",
        region_name=region,
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
        verify=env["AWS_CA_BUNDLE"],
    )
    pages = client.get_paginator("list_images").paginate(repositoryName=repo)
    return {i["imageTag"] for page in pages for i in page["imageIds"] if "imageTag" in i}


@pytest.fixture
def throttle(tls_stack: Any) -> Iterator[Callable[..., dict[str, Any]]]:
    """Set the PutImage rate (POST /_bridge/throttle); `up`'s again after the test."""
    yield lambda **doc: tls_stack.control("throttle", doc)
    tls_stack.control("throttle", {"reset": True})


def layer_tar(content: bytes) -> bytes:
    """An uncompressed layer holding one file, /hello, with CONTENT."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        info = tarfile.TarInfo("hello")
        info.size = len(content)
        tar.addfile(info, io.BytesIO(content))
    return out.getvalue()


def put_images(tls_stack: Any, repo: str, count: int) -> list[str]:
    """COUNT small, distinct OCI images put in REPO (one layer shared, a config each), tagged v0, v1, …;
    images an engine can pull and run, that none has yet."""
    base, auth = tls_stack.registry_url(), ("AWS", tls_stack.password())

    def blob(data: bytes) -> dict[str, Any]:
        started = requests.post(f"{base}/v2/{repo}/blobs/uploads/", auth=auth, verify=tls_stack.ca_bundle, timeout=30)
        where = started.headers["Location"]
        where = where if where.startswith("http") else base + where
        done = requests.put(
            where, params={"digest": digest_of(data)}, data=data, auth=auth, verify=tls_stack.ca_bundle, timeout=30
        )
        assert done.status_code == 201, done.text
        return {"digest": digest_of(data), "size": len(data)}

    tar = layer_tar(uuid.uuid4().hex.encode())
    layer = {"mediaType": "application/vnd.oci.image.layer.v1.tar", **blob(tar)}
    tags = []
    for n in range(count):
        config = json.dumps(
            {
                "architecture": "amd64",
                "os": "linux",
                "config": {"Labels": {"n": str(n), "id": uuid.uuid4().hex}},
                "rootfs": {"type": "layers", "diff_ids": [digest_of(tar)]},
            }
        ).encode()
        manifest = json.dumps(
            {
                "schemaVersion": 2,
                "mediaType": OCI_MANIFEST,
                "config": {"mediaType": "application/vnd.oci.image.config.v1+json", **blob(config)},
                "layers": [layer],
            }
        ).encode()
        tag = f"v{n}"
        put = requests.put(
            f"{base}/v2/{repo}/manifests/{tag}",
            data=manifest,
            headers={"Content-Type": OCI_MANIFEST},
            auth=auth,
            verify=tls_stack.ca_bundle,
            timeout=30,
        )
        assert put.status_code == 201, put.text
        tags.append(tag)
    return tags


def s3_reads(tls_stack: Any, since: int, repo: str) -> list[str]:
    """The bridge's log lines since byte SINCE of GETs on the layer bucket for REPO's blobs."""
    with (Path(tls_stack.env["LOCAL_ECR_HOME"]) / "bridge.log").open("rb") as log:
        log.seek(since)
        lines = log.read().decode(errors="replace").splitlines()
    return [line for line in lines if f"GET /{ACCOUNT}/{repo}/sha256%3A" in line and " s3 " in line]


def log_size(tls_stack: Any) -> int:
    return (Path(tls_stack.env["LOCAL_ECR_HOME"]) / "bridge.log").stat().st_size


# -- ecrtool: a copy of 20 images with -j 16 to two regions, against 2 puts a second --------------------


def test_copy_of_twenty_images_to_two_regions_all_land_under_a_limit_of_two_a_second(
    tls_stack: Any, ecrtool: Run, repos: Callable[..., str], throttle: Callable[..., dict[str, Any]]
) -> None:
    suffix = uuid.uuid4().hex[:10]
    source, target = repos(f"wire-src-{suffix}"), f"wire-dst-{suffix}"
    for region in (REGION, OTHER_REGION):
        repos(target, region)
    tags = put_images(tls_stack, source, 20)
    throttle(rate=2)

    def copy(tag: str) -> subprocess.CompletedProcess[str]:
        args = ("copy", f"{source}:{tag}", "--to-region", OTHER_REGION, "--to-region", REGION, "--repo", target)
        return ecrtool(*args, "-j", "16", "-q", timeout=120)

    started = time.monotonic()
    with ThreadPoolExecutor(len(tags)) as pool:
        copies = list(pool.map(copy, tags))
    elapsed = time.monotonic() - started

    assert [c.returncode for c in copies] == [0] * len(tags), [c.stderr for c in copies if c.returncode]
    for region in (REGION, OTHER_REGION):
        assert tags_in(tls_stack, target, region) == set(tags), region
    # the limit was met: puts were refused (and retried), and 20 puts a region at 2 a second take 9 s or more
    assert throttle()["refused"] > 0
    assert elapsed >= 8.5, elapsed


# -- the docker CLI through docker-credential-ecrtool -------------------------------------------------------


def test_docker_push_and_pull_through_the_credential_helper_read_blobs_from_s3(
    tls_stack: Any, ecrtool: Run, docker: Run, test_image: str, repos: Callable[..., str]
) -> None:
    repo = repos(f"wire-docker-{uuid.uuid4().hex[:10]}")
    remote = f"{tls_stack.registry}/{repo}:v1"
    assert ecrtool("configure-docker", "-q").returncode == 0
    assert docker("tag", test_image, remote).returncode == 0
    try:
        pushed = docker("push", remote)
        assert pushed.returncode == 0, pushed.stderr
        # an image the engine has none of: its layer and config come from the layer bucket
        fresh = f"{tls_stack.registry}/{repo}:{put_images(tls_stack, repo, 1)[0]}"
        since = log_size(tls_stack)
        pulled = docker("pull", fresh)
        assert pulled.returncode == 0, pulled.stderr
        assert len(s3_reads(tls_stack, since, repo)) >= 2, "the engine's pull did not follow the 307s to the bucket"
        docker("rmi", fresh)
    finally:
        docker("rmi", remote)


def test_docker_after_a_revoked_token_is_refused_with_ecrs_words_the_helper_does_not_renew(
    tls_stack: Any, env: dict[str, str], ecrtool: Run, docker: Run, test_image: str, repos: Callable[..., str]
) -> None:
    repo = repos(f"wire-docker-{uuid.uuid4().hex[:10]}")
    remote = f"{tls_stack.registry}/{repo}:v1"
    assert ecrtool("configure-docker", "-q").returncode == 0
    assert docker("tag", test_image, remote).returncode == 0
    try:
        assert docker("push", remote).returncode == 0
        assert docker("rmi", remote).returncode == 0
        tls_stack.control("rotate-password", {})
        # docker asks the helper, which answers from its token cache (the password now revoked); the engine
        # gets ECR's 403 DENIED and reports it; nothing tells the helper, so a second pull fails alike
        for _ in range(2):
            pulled = docker("pull", remote)
            assert pulled.returncode == 1
            assert f"denied: {EXPIRED}" in pulled.stderr
        # with the helper's cache bypassed (ECRTOOL_NO_CACHE=1 in docker's environment, which the helper
        # inherits) it fetches a fresh token, and the same pull succeeds
        env["ECRTOOL_NO_CACHE"] = "1"
        again = docker("pull", remote)
        assert again.returncode == 0, again.stderr
    finally:
        docker("rmi", remote)


# -- skopeo --------------------------------------------------------------------------------------------------


def skopeo(env: dict[str, str], *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["skopeo", *args], capture_output=True, text=True, timeout=timeout, env=env)


@pytest.fixture
def image_repo(tls_stack: Any, repos: Callable[..., str]) -> str:
    repo = repos(f"wire-skopeo-{uuid.uuid4().hex[:10]}")
    put_images(tls_stack, repo, 1)
    return repo


def test_skopeo_inspect_and_copy_read_blobs_through_the_s3_redirect(
    tls_stack: Any, env: dict[str, str], image_repo: str, repos: Callable[..., str]
) -> None:
    creds = f"AWS:{tls_stack.password()}"
    source = f"docker://{tls_stack.registry}/{image_repo}:v0"
    since = log_size(tls_stack)
    inspected = skopeo(env, "inspect", "--creds", creds, source)  # reads the config blob too
    assert inspected.returncode == 0, inspected.stderr
    assert json.loads(inspected.stdout)["Os"] == "linux"
    assert s3_reads(tls_stack, since, image_repo)
    target = repos(f"wire-skopeo-{uuid.uuid4().hex[:10]}")
    # --preserve-digests: skopeo would otherwise compress the uncompressed layer on the way
    dest = f"docker://{tls_stack.registry}/{target}:v0"
    copied = skopeo(env, "copy", "--preserve-digests", "--src-creds", creds, "--dest-creds", creds, source, dest)
    assert copied.returncode == 0, copied.stderr
    raw = skopeo(env, "inspect", "--raw", "--creds", creds, f"docker://{tls_stack.registry}/{target}:v0")
    original = skopeo(env, "inspect", "--raw", "--creds", creds, source)
    assert raw.returncode == 0 and raw.stdout == original.stdout  # byte for byte


def test_skopeo_with_a_revoked_token_fails_with_ecrs_denied(
    tls_stack: Any, env: dict[str, str], image_repo: str
) -> None:
    creds = f"AWS:{tls_stack.password()}"
    tls_stack.control("rotate-password", {})
    refused = skopeo(env, "inspect", "--creds", creds, f"docker://{tls_stack.registry}/{image_repo}:v0")
    print("skopeo inspect with a revoked token:", refused.returncode, refused.stderr)
    assert refused.returncode != 0
    assert EXPIRED in refused.stderr


def test_skopeo_on_429_fails_at_once_and_with_retry_times_retries_the_copy(
    tls_stack: Any,
    env: dict[str, str],
    image_repo: str,
    repos: Callable[..., str],
    throttle: Callable[..., dict[str, Any]],
) -> None:
    creds = f"AWS:{tls_stack.password()}"
    source = f"docker://{tls_stack.registry}/{image_repo}:v0"
    target = repos(f"wire-skopeo-{uuid.uuid4().hex[:10]}")

    def copy(tag: str, *options: str) -> subprocess.CompletedProcess[str]:
        dest = f"docker://{tls_stack.registry}/{target}:{tag}"
        return skopeo(env, "copy", *options, "--src-creds", creds, "--dest-creds", creds, source, dest)

    throttle(rate=0.1)  # one put, then one every 10 s
    assert copy("first").returncode == 0
    refused = copy("second")
    print("skopeo copy on 429:", refused.returncode, refused.stderr)
    assert refused.returncode != 0
    assert "toomanyrequests: Rate exceeded" in refused.stderr
    throttle(rate=0.5)  # one put, then one every 2 s
    assert copy("third").returncode == 0
    started = time.monotonic()
    retried = copy("fourth", "--retry-times", "3")
    print("skopeo copy --retry-times 3 on 429:", retried.returncode, retried.stderr, time.monotonic() - started)
    assert retried.returncode == 0, retried.stderr
    assert throttle()["refused"] >= 2  # the second copy's, and at least one of the fourth's before its retry
    assert tags_in(tls_stack, target) == {"first", "third", "fourth"}
