"""Multi-platform images (an image index of linux/amd64 and linux/arm64) with the real ecrtool on the local
ECR: pulled for the engine's platform, listed once with their platforms (and, untagged, never as their
children), deleted by tag consistently.

The index comes from `scripts/local-ecr index`, which writes it to the registry as a multi-platform push
would; the stack records it in the ECR API as ECR shows one (the index, and each child untagged).
"""

from __future__ import annotations

import base64
import json
import subprocess
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from ecrtool.cli.render import human_size

pytestmark = pytest.mark.integration

LOCAL_ECR = Path(__file__).resolve().parents[2] / "scripts" / "local-ecr"
AMD64_OUTPUT = "hello from the linux/amd64 child of a local-ecr image index"
PLATFORMS = ["linux/amd64", "linux/arm64/v8"]
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
Run = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def repo(ecrtool: Run, repo_name: str) -> Iterator[str]:
    created = ecrtool("create", repo_name)
    assert created.returncode == 0, created.stderr
    yield repo_name
    ecrtool("delete", repo_name, "--force", "--yes")


@pytest.fixture
def put_index(env: dict[str, str]) -> Callable[..., dict[str, Any]]:
    """`scripts/local-ecr index REF [--docker]`: what it printed (the index's digest and its children's)."""

    def put(reference: str, *options: str) -> dict[str, Any]:
        done = subprocess.run(
            [str(LOCAL_ECR), "index", reference, *options], env=env, capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, done.stderr
        printed: dict[str, Any] = json.loads(done.stdout)
        return printed

    return put


def registry_get(stack: Any, path: str, accept: str = "") -> tuple[int, bytes]:
    """A GET on the registry's own API: the status and the body (404 is an answer, not an error)."""
    request = urllib.request.Request(f"http://{stack.registry}/v2/{path}")
    request.add_header("Authorization", "Basic " + base64.b64encode(f"AWS:{stack.password()}".encode()).decode())
    if accept:
        request.add_header("Accept", accept)
    try:
        with urllib.request.urlopen(request, timeout=10) as reply:
            return reply.status, reply.read()
    except urllib.error.HTTPError as err:
        return err.code, b""


def child_size(stack: Any, repo: str, digest: str) -> int:
    """A child's imageSizeInBytes, as ECR's DescribeImages gives it when asked by digest."""
    import boto3

    ecr = boto3.client(
        "ecr",
        endpoint_url=stack.api,
        region_name=stack.env["AWS_REGION"],
        aws_access_key_id=stack.env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=stack.env["AWS_SECRET_ACCESS_KEY"],
    )
    [found] = ecr.describe_images(repositoryName=repo, imageIds=[{"imageDigest": digest}])["imageDetails"]
    return int(found["imageSizeInBytes"])


def test_pull_of_an_index_gets_the_engines_platform_and_run_runs_it(
    ecrtool: Run, docker: Run, stack: Any, repo: str, put_index: Callable[..., dict[str, Any]]
) -> None:
    index = put_index(f"{repo}:multi")
    local = f"{stack.registry}/{repo}:multi"

    pulled = ecrtool("pull", f"{repo}:multi")
    assert pulled.returncode == 0, pulled.stderr
    assert pulled.stdout.splitlines() == [local, f"digest: {index['digest']}"]
    inspected = docker("image", "inspect", local, "--format", "{{.Os}}/{{.Architecture}}")
    assert inspected.stdout.strip() == "linux/amd64", inspected.stderr

    ran = ecrtool("run", "--rm", "--pull", "never", f"{repo}:multi")
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.strip() == AMD64_OUTPUT
    docker("rmi", local)


def test_images_lists_each_index_once_with_its_platforms(
    ecrtool: Run, stack: Any, test_image: str, repo: str, put_index: Callable[..., dict[str, Any]]
) -> None:
    oci = put_index(f"{repo}:oci")
    manifest_list = put_index(f"{repo}:docker", "--docker")
    pushed = ecrtool("push", test_image, "--repo", repo, "--tag", "plain", "-q")
    assert pushed.returncode == 0, pushed.stderr

    listed = ecrtool("images", repo, "-o", "json")
    assert listed.returncode == 0, listed.stderr
    records = {record["digest"]: record for record in json.loads(listed.stdout)}
    assert sorted(r["tags"][0] for r in records.values()) == ["docker", "oci", "plain"]
    for index, media_type in ((oci, OCI_INDEX), (manifest_list, DOCKER_MANIFEST_LIST)):
        record = records[index["digest"]]
        assert (record["media_type"], record["platforms"]) == (media_type, PLATFORMS)
        # its size is its children's: those ECR itself reports for them, asked by digest
        children = [child["digest"] for child in index["manifests"]]
        assert record["size_bytes"] == sum(child_size(stack, repo, digest) for digest in children)
        assert not set(children) & set(records)
    assert [r["platforms"] for r in records.values() if r["tags"] == ["plain"]] == [[]]

    table = ecrtool("images", repo)
    assert table.returncode == 0, table.stderr
    lines = [line.rstrip() for line in table.stdout.splitlines()]
    assert lines[0] == f"{repo}: 3 image(s)"
    assert lines[1].split()[-1] == "PLATFORMS"
    assert sorted(line.split()[0] for line in lines[2:] if line.endswith("linux/amd64, linux/arm64/v8")) == [
        "docker",
        "oci",
    ]
    # under the table, for people: the count and the size of all three, no child counted apart
    assert table.stderr == f"3 images, {human_size(sum(r['size_bytes'] for r in records.values()))}\n"

    # the tag `docker` moves to the OCI index: the manifest list stands untagged, its children folded into it
    assert put_index(f"{repo}:docker")["digest"] == oci["digest"]
    untagged = ecrtool("images", repo, "--untagged")
    assert untagged.returncode == 0, untagged.stderr
    [row] = [line.rstrip() for line in untagged.stdout.splitlines()[2:]]
    assert row.split()[:2] == ["<untagged>", manifest_list["digest"]]
    assert row.endswith("linux/amd64, linux/arm64/v8")
    size = records[manifest_list["digest"]]["size_bytes"]
    assert " ".join(row.split()[2:4]) == human_size(size)
    assert untagged.stderr == f"1 untagged image, {human_size(size)}\n"
    recent = ecrtool("images", repo, "--untagged", "--older-than", "1h", "-o", "json")
    assert (recent.returncode, json.loads(recent.stdout), recent.stderr) == (0, [], "")


def test_deleting_an_index_by_tag_leaves_ecr_and_the_registry_agreeing(
    ecrtool: Run, stack: Any, repo: str, put_index: Callable[..., dict[str, Any]]
) -> None:
    index = put_index(f"{repo}:multi")
    children = [child["digest"] for child in index["manifests"]]
    accept = "application/vnd.oci.image.index.v1+json,application/vnd.oci.image.manifest.v1+json"

    deleted = ecrtool("delete", repo, "--tag", "multi")
    assert deleted.returncode == 0, deleted.stderr
    assert deleted.stdout.splitlines() == [f"deleted {repo} multi ({index['digest']})"]

    # ECR deletes an image with its last tag; an index's children stay, as untagged images of their own
    listed = ecrtool("images", repo, "-o", "json")
    assert listed.returncode == 0, listed.stderr
    assert sorted((r["digest"], r["tags"], r["platforms"]) for r in json.loads(listed.stdout)) == sorted(
        (digest, [], []) for digest in children
    )
    # and the registry holds the same: no tag, no index, both children
    assert json.loads(registry_get(stack, f"{repo}/tags/list")[1] or b"{}").get("tags") in (None, [])
    assert registry_get(stack, f"{repo}/manifests/{index['digest']}", accept)[0] == 404
    assert [registry_get(stack, f"{repo}/manifests/{digest}", accept)[0] for digest in children] == [200, 200]

    gone = ecrtool("pull", f"{repo}:multi")
    assert gone.returncode == 1
    assert "tag 'multi' not found" in gone.stderr
    child = ecrtool("pull", f"{repo}@{children[0]}", "-q")
    assert child.returncode == 0, child.stderr
