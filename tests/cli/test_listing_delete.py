"""`ecrtool images`, `repos` and `delete` against moto's ECR: tables, JSON, failures and confirmation."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest

HOST = "123456789012.dkr.ecr.ca-west-1.amazonaws.com"

IMAGE_KEYS = {"repository", "digest", "tags", "size_bytes", "pushed_at", "media_type", "platforms", "last_pulled_at",
              "status", "storage_class", "archived_at", "activated_at", "subject"}  # fmt: skip


@pytest.fixture
def trees(aws: Any, put_image: Any) -> dict[str, str]:
    aws.create_repository(repositoryName="trees")
    return {"v1": put_image("trees", "v1", size=1_500_000), "v2": put_image("trees", "v2", size=900)}


def test_images_table(invoke: Any, trees: Any) -> None:
    result = invoke("images", "trees")
    assert result.exit_code == 0, result.output
    lines = [line.rstrip() for line in result.stdout.splitlines()]
    assert lines[0] == "trees: 2 image(s)"
    assert lines[1].split() == ["TAGS", "DIGEST", "SIZE", "PUSHED", "AT"]
    rows = {line.split()[0]: line for line in lines[2:]}
    assert set(rows) == {"v1", "v2"}
    assert trees["v1"] in rows["v1"] and "1.5 MB" in rows["v1"]
    assert trees["v2"] in rows["v2"] and "900 B" in rows["v2"]


def test_images_quiet_prints_digests(invoke: Any, trees: Any) -> None:
    result = invoke("images", "trees", "-q")
    assert result.exit_code == 0
    assert sorted(result.stdout.splitlines()) == sorted(trees.values())


def test_images_json(invoke: Any, trees: Any) -> None:
    result = invoke("images", "trees", "-o", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert {item["digest"]: item["tags"] for item in data} == {trees["v1"]: ["v1"], trees["v2"]: ["v2"]}
    for item in data:
        assert set(item) == IMAGE_KEYS
        assert item["repository"] == "trees"
        assert isinstance(item["pushed_at"], str)


def test_images_of_an_empty_repository(invoke: Any, aws: Any) -> None:
    aws.create_repository(repositoryName="trees")
    result = invoke("images", "trees", "-o", "json")
    assert result.exit_code == 0
    assert json.loads(result.stdout) == []


def test_images_of_a_missing_repository(invoke: Any, aws: Any) -> None:
    result = invoke("images", "trees")
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        "ecrtool: error: repository 'trees' does not exist: create it with `ecrtool create trees` "
        "(or pass --create to push)"
    ]


def test_repos_table_quiet_and_json(invoke: Any, aws: Any) -> None:
    aws.create_repository(repositoryName="trees", imageTagMutability="IMMUTABLE")
    aws.create_repository(repositoryName="apps/web")

    table = invoke("repos")
    assert table.exit_code == 0, table.output
    lines = [line.rstrip() for line in table.stdout.splitlines()]
    assert lines[0] == "2 repositories"
    assert lines[1].split()[:2] == ["NAME", "URI"]
    assert lines[2].split()[:3] == ["apps/web", f"{HOST}/apps/web", "MUTABLE"]
    assert lines[3].split()[:3] == ["trees", f"{HOST}/trees", "IMMUTABLE"]

    assert invoke("repos", "-q").stdout.splitlines() == ["apps/web", "trees"]

    data = json.loads(invoke("repos", "-o", "json").stdout)
    assert [(r["name"], r["uri"]) for r in data] == [("apps/web", f"{HOST}/apps/web"), ("trees", f"{HOST}/trees")]
    assert set(data[0]) >= {"name", "uri", "registry_id", "arn", "created_at", "tag_mutability", "scan_on_push"}


def test_repos_when_there_are_none(invoke: Any, aws: Any) -> None:
    result = invoke("repos", "-o", "json")
    assert result.exit_code == 0
    assert json.loads(result.stdout) == []


def test_delete_tags(invoke: Any, aws: Any, trees: Any) -> None:
    result = invoke("delete", "trees", "--tag", "v1")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [f"deleted trees v1 ({trees['v1']})"]
    left = aws.describe_images(repositoryName="trees")["imageDetails"]
    assert [image["imageTags"] for image in left] == [["v2"]]


def test_delete_by_digest(invoke: Any, aws: Any, trees: Any) -> None:
    result = invoke("delete", "trees", "--digest", trees["v2"], "-o", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["repository"] == "trees"
    assert data["failures"] == []
    assert [d["digest"] for d in data["deleted"]] == [trees["v2"]]
    assert data["calls"] == 1


def test_delete_of_a_missing_tag_exits_1_with_the_reason(invoke: Any, aws: Any, trees: Any) -> None:
    result = invoke("delete", "trees", "--tag", "v1", "--tag", "nope")
    assert result.exit_code == 1
    assert result.stdout.splitlines() == [f"deleted trees v1 ({trees['v1']})"]
    assert "failed trees nope: ImageNotFound: Requested image not found" in result.stderr
    assert "Traceback" not in result.stderr


def test_delete_of_a_repository_with_images_needs_force(invoke: Any, aws: Any, trees: Any) -> None:
    result = invoke("delete", "trees", "--yes")
    assert result.exit_code == 1
    [line] = result.stderr.splitlines()
    assert line.startswith("ecrtool: error: repository 'trees' still holds images: pass --force")
    assert aws.describe_repositories()["repositories"][0]["repositoryName"] == "trees"


def test_delete_without_yes_and_without_a_terminal_refuses(invoke: Any, aws: Any, trees: Any) -> None:
    result = invoke("delete", "trees", "--force")
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        "ecrtool: error: refusing to delete repository 'trees' without a terminal to confirm on: pass --yes"
    ]
    assert len(aws.describe_images(repositoryName="trees")["imageDetails"]) == 2


def test_delete_force_yes_deletes_the_repository_and_its_images(invoke: Any, aws: Any, trees: Any) -> None:
    result = invoke("delete", "trees", "--force", "--yes")
    assert result.exit_code == 0, result.output
    assert result.stdout == "deleted repository trees and its 2 image(s)\n"
    assert aws.describe_repositories()["repositories"] == []


def test_delete_an_empty_repository(invoke: Any, aws: Any) -> None:
    aws.create_repository(repositoryName="trees")
    result = invoke("delete", "trees", "-y")
    assert result.exit_code == 0, result.output
    assert result.stdout == "deleted repository trees\n"
    assert aws.describe_repositories()["repositories"] == []


def test_delete_of_a_missing_repository(invoke: Any, aws: Any) -> None:
    result = invoke("delete", "trees", "--force", "--yes")
    assert result.exit_code == 1
    assert "repository 'trees' does not exist" in result.stderr


OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_IMAGE = "application/vnd.oci.image.manifest.v1+json"


@pytest.fixture
def multi(aws: Any, trees: Any) -> dict[str, str]:
    """Besides trees' v1 and v2, an OCI image index tagged `multi` whose two children are untagged images,
    as ECR holds a multi-platform push; digest of each by name."""

    def put(doc: dict[str, Any], tag: str | None = None) -> str:
        text = json.dumps(doc)
        digest = "sha256:" + hashlib.sha256(text.encode()).hexdigest()
        extra = {"imageTag": tag} if tag else {}
        aws.put_image(
            repositoryName="trees",
            imageManifest=text,
            imageManifestMediaType=doc["mediaType"],
            imageDigest=digest,
            **extra,
        )
        return digest

    def child(arch: str, size: int) -> dict[str, Any]:
        blob = {"mediaType": "application/vnd.oci.image.config.v1+json", "size": size, "digest": "sha256:" + "c" * 64}
        layer = {
            "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
            "size": size,
            "digest": "sha256:" + arch[-2:] * 32,
        }
        return {"schemaVersion": 2, "mediaType": OCI_IMAGE, "config": blob, "layers": [layer]}

    amd64, arm64 = put(child("amd64", 1_000_000)), put(child("arm64", 500_000))
    entries = [
        {"mediaType": OCI_IMAGE, "digest": amd64, "size": 400, "platform": {"os": "linux", "architecture": "amd64"}},
        {"mediaType": OCI_IMAGE, "digest": arm64, "size": 400, "platform": {"os": "linux", "architecture": "arm64"}},
    ]
    index = put({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries}, tag="multi")
    return {**trees, "multi": index, "amd64": amd64, "arm64": arm64}


def test_images_table_shows_an_index_once_with_its_platforms(invoke: Any, multi: dict[str, str]) -> None:
    result = invoke("images", "trees")
    assert result.exit_code == 0, result.output
    lines = [line.rstrip() for line in result.stdout.splitlines()]
    assert lines[0] == "trees: 3 image(s)"
    assert lines[1].split() == ["TAGS", "DIGEST", "SIZE", "PUSHED", "AT", "PLATFORMS"]
    rows = {line.split()[0]: line for line in lines[2:]}
    assert set(rows) == {"multi", "v1", "v2"}
    assert multi["multi"] in rows["multi"] and "1.5 MB" in rows["multi"]
    assert rows["multi"].endswith("linux/amd64, linux/arm64")
    assert rows["v1"].endswith(" -")
    assert multi["amd64"] not in result.stdout and multi["arm64"] not in result.stdout


def test_images_json_and_quiet_give_an_index_once(invoke: Any, multi: dict[str, str]) -> None:
    result = invoke("images", "trees", "-o", "json")
    assert result.exit_code == 0, result.output
    data = {item["digest"]: item for item in json.loads(result.stdout)}
    assert set(data) == {multi["multi"], multi["v1"], multi["v2"]}
    index = data[multi["multi"]]
    assert (index["tags"], index["media_type"], index["size_bytes"]) == (["multi"], OCI_INDEX, 1_500_000)
    assert index["platforms"] == ["linux/amd64", "linux/arm64"]
    assert data[multi["v1"]]["platforms"] == []

    quiet = invoke("images", "trees", "-q")
    assert sorted(quiet.stdout.splitlines()) == sorted([multi["multi"], multi["v1"], multi["v2"]])


def test_deleting_an_index_by_its_tag_leaves_its_children_untagged(invoke: Any, multi: dict[str, str]) -> None:
    result = invoke("delete", "trees", "--tag", "multi")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [f"deleted trees multi ({multi['multi']})"]

    listed = {item["digest"]: item["tags"] for item in json.loads(invoke("images", "trees", "-o", "json").stdout)}
    assert listed == {multi["v1"]: ["v1"], multi["v2"]: ["v2"], multi["amd64"]: [], multi["arm64"]: []}
