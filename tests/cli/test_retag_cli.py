"""`ecrtool retag` against moto's ECR: new tags with the source's exact manifest bytes and digest, what
is already there, immutable repositories, and the refusals; and push's "already there"."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest

HOST = "123456789012.dkr.ecr.ca-west-1.amazonaws.com"
IMAGE_ID = "sha256:" + "1" * 64  # the fake engine's image id: the config digest of the image it pushes
DOCKER_IMAGE = "application/vnd.docker.distribution.manifest.v2+json"


def manifest_text(config: str) -> str:
    """A manifest as some registries write it: odd spacing, odd key order; json.dumps would change both."""
    layer = "sha256:" + hashlib.sha256(config.encode()).hexdigest()
    return (
        '{"layers":[ {"size":1234,"digest":"' + layer + '",\n'
        '  "mediaType":"application/vnd.docker.image.rootfs.diff.tar.gzip"}],\n'
        '   "config" : {"digest":"' + config + '","size":99,'
        '"mediaType":"application/vnd.docker.container.image.v1+json"},\n\t"schemaVersion":2,'
        '"mediaType":"' + DOCKER_IMAGE + '"}'
    )


def put(aws: Any, repository: str, tag: str, config: str = IMAGE_ID) -> str:
    text = manifest_text(config)
    digest = "sha256:" + hashlib.sha256(text.encode()).hexdigest()
    aws.put_image(
        repositoryName=repository,
        imageManifest=text,
        imageManifestMediaType=DOCKER_IMAGE,
        imageTag=tag,
        imageDigest=digest,
    )
    return digest


def stored(aws: Any, repository: str, tag: str) -> tuple[str, str]:
    [image] = aws.batch_get_image(
        repositoryName=repository, imageIds=[{"imageTag": tag}], acceptedMediaTypes=[DOCKER_IMAGE]
    )["images"]
    return image["imageId"]["imageDigest"], image["imageManifest"]


def test_retag_keeps_the_manifest_bytes_and_the_digest(invoke: Any, aws: Any, trees: str) -> None:
    digest = put(aws, trees, "v1")
    result = invoke("retag", "trees:v1", "stable", "v1.0")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [f"{HOST}/trees:stable", f"{HOST}/trees:v1.0", f"digest: {digest}"]
    for tag in ("stable", "v1.0"):
        assert stored(aws, trees, tag) == (digest, manifest_text(IMAGE_ID))


def test_retag_by_digest_quiet_prints_references_only(invoke: Any, aws: Any, trees: str) -> None:
    digest = put(aws, trees, "v1")
    result = invoke("retag", f"trees@{digest}", "release", "-q")
    assert result.exit_code == 0, result.output
    assert result.stdout == f"{HOST}/trees:release\n"
    assert result.stderr == ""
    assert stored(aws, trees, "release")[0] == digest


def test_retag_json(invoke: Any, aws: Any, trees: str) -> None:
    digest = put(aws, trees, "v1")
    result = invoke("retag", f"{HOST}/trees:v1", "stable", "v1", "-o", "json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {
        "repository": "trees",
        "source": f"{HOST}/trees:v1",
        "digest": digest,
        "media_type": DOCKER_IMAGE,
        "references": [f"{HOST}/trees:stable", f"{HOST}/trees:v1"],
        "already_there": [f"{HOST}/trees:v1"],
    }


def test_a_tag_already_on_the_image_is_a_note_not_an_error(invoke: Any, aws: Any, trees: str) -> None:
    put(aws, trees, "v1")
    assert invoke("retag", "trees:v1", "stable").exit_code == 0
    again = invoke("retag", "trees:v1", "stable")
    assert again.exit_code == 0, again.output
    assert again.stderr == f"{HOST}/trees:stable was already there\n"
    assert again.stdout.splitlines()[0] == f"{HOST}/trees:stable"


def test_immutable_repository_same_image_is_fine_another_is_refused(invoke: Any, aws: Any) -> None:
    aws.create_repository(repositoryName="frozen", imageTagMutability="IMMUTABLE")
    digest = put(aws, "frozen", "v1")
    assert invoke("retag", "frozen:v1", "stable").exit_code == 0
    again = invoke("retag", "frozen:v1", "stable")
    assert again.exit_code == 0, again.output
    assert again.stderr == f"{HOST}/frozen:stable was already there\n"

    put(aws, "frozen", "v2", config="sha256:" + "2" * 64)
    refused = invoke("retag", "frozen:v2", "stable")
    assert refused.exit_code == 1
    assert refused.stderr.startswith(
        f"ecrtool: error: tag 'stable' already names another image ({digest}) in repository 'frozen', "
        "whose tags are immutable"
    )
    assert stored(aws, "frozen", "stable")[0] == digest


@pytest.mark.parametrize(
    ("ref", "said"),
    [
        ("trees:v9", "tag 'v9' not found in repository 'trees' (ca-west-1)"),
        ("trees@sha256:" + "9" * 64, "digest 'sha256:" + "9" * 64 + "' not found in repository 'trees'"),
        ("ghosts:v1", "repository 'ghosts' does not exist in ca-west-1"),
    ],
)
def test_a_missing_image_names_what_was_not_found(invoke: Any, aws: Any, trees: str, ref: str, said: str) -> None:
    put(aws, trees, "v1")
    result = invoke("retag", ref, "stable")
    assert result.exit_code == 1
    assert result.stderr.startswith(f"ecrtool: error: {said}")


@pytest.mark.parametrize(
    "argv",
    [
        ["trees:v1", "-bad"],
        ["trees:v1", "ok", "no/slash"],
        ["trees:v1"],
        ["Trees:v1", "ok"],
        ["public.ecr.aws/alias/trees:v1", "ok"],
    ],
)
def test_bad_input_is_exit_2_before_any_call(invoke: Any, forbid_backends: list[str], argv: list[str]) -> None:
    result = invoke("retag", *argv)
    assert result.exit_code == 2, result.output
    assert forbid_backends == []


def test_push_to_an_immutable_tag_already_on_the_image_pushes_nothing(invoke: Any, aws: Any, fake_docker: Any) -> None:
    aws.create_repository(repositoryName="frozen", imageTagMutability="IMMUTABLE")
    digest = put(aws, "frozen", "v1")  # its config is the fake engine's image: the same image
    fake_docker.add_image("viruses")
    result = invoke("push", "viruses", "--repo", "frozen", "--tag", "v1", "--tag", "v2", "-o", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["references"] == [f"{HOST}/frozen:v1", f"{HOST}/frozen:v2"]
    assert data["already_there"] == [f"{HOST}/frozen:v1"]
    assert [c[1] for c in fake_docker.calls if c[0] == "push"] == [f"{HOST}/frozen:v2"]

    text = invoke("push", "viruses", "--repo", "frozen", "--tag", "v1")
    assert text.exit_code == 0, text.output
    assert text.stdout.splitlines() == [f"{HOST}/frozen:v1", f"digest: {digest}"]
    assert f"{HOST}/frozen:v1 was already there" in text.stderr

    put(aws, "frozen", "v2")  # what the engine's push would have stored (the fake engine stores nothing)
    both = invoke("push", "viruses", "--repo", "frozen", "--tag", "v1", "--tag", "v2", "-o", "json")
    assert both.exit_code == 0, both.output
    assert json.loads(both.stdout)["already_there"] == [f"{HOST}/frozen:v1", f"{HOST}/frozen:v2"]
    assert [c[1] for c in fake_docker.calls if c[0] == "push"] == [f"{HOST}/frozen:v2"]  # still the one


def test_push_to_a_mutable_repository_asks_nothing_more(invoke: Any, aws: Any, trees: str, fake_docker: Any) -> None:
    put(aws, trees, "v1")
    fake_docker.add_image("viruses")
    result = invoke("push", "viruses", "--repo", "trees", "--tag", "v1", "-o", "json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["already_there"] == []
    assert [c[1] for c in fake_docker.calls if c[0] == "push"] == [f"{HOST}/trees:v1"]


def test_retag_through_ecrtools_own_signed_client_keeps_the_bytes(invoke: Any, signed_aws: Any) -> None:
    # with keys in the environment and an endpoint, BatchGetImage and PutImage skip botocore
    signed_aws.create_repository(repositoryName="trees")
    digest = put(signed_aws, "trees", "v1")
    result = invoke("retag", "trees:v1", "stable", "-o", "json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["digest"] == digest
    assert stored(signed_aws, "trees", "stable") == (digest, manifest_text(IMAGE_ID))
    assert invoke("retag", "trees:v1", "stable").stderr.endswith("trees:stable was already there\n")
    assert invoke("retag", "trees:v9", "stable").stderr.startswith("ecrtool: error: tag 'v9' not found")
