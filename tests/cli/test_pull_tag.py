"""`ecrtool pull` and `ecrtool tag` with moto's ECR and the fake engine."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

HOST = "123456789012.dkr.ecr.ca-west-1.amazonaws.com"
DIGEST = "sha256:" + "d" * 64


def test_pull_by_tag_prints_the_reference_and_digest(invoke: Any, fake_docker: Any, trees: Any) -> None:
    result = invoke("pull", "trees:v1")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [f"{HOST}/trees:v1", f"digest: {DIGEST}"]
    assert ("pull", f"{HOST}/trees:v1") in fake_docker.calls
    assert fake_docker.auths[0].registry == HOST


def test_pull_defaults_to_latest(invoke: Any, fake_docker: Any, trees: Any) -> None:
    result = invoke("pull", "trees", "-q")
    assert result.exit_code == 0, result.output
    assert result.stdout == f"{HOST}/trees:latest\n"
    assert result.stderr == ""


def test_pull_by_digest(invoke: Any, fake_docker: Any, trees: Any) -> None:
    wanted = "sha256:" + "e" * 64
    result = invoke("pull", f"trees@{wanted}", "-o", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["reference"] == f"{HOST}/trees@{wanted}"
    assert ("pull", f"{HOST}/trees@{wanted}") in fake_docker.calls


def test_pull_of_a_full_reference_uses_its_region(invoke: Any, fake_docker: Any, aws: Any) -> None:
    import boto3

    boto3.client("ecr", region_name="us-east-1").create_repository(repositoryName="trees")
    result = invoke("pull", "123456789012.dkr.ecr.us-east-1.amazonaws.com/trees:v1")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[0] == "123456789012.dkr.ecr.us-east-1.amazonaws.com/trees:v1"


def _manifest_unknown(reference: str) -> Iterator[dict[str, Any]]:
    yield {"error": f"manifest for {reference} not found: manifest unknown: Requested image not found"}


def test_pull_of_a_missing_tag_says_how_to_list_them(invoke: Any, fake_docker: Any, trees: Any) -> None:
    fake_docker.pull_script = _manifest_unknown
    result = invoke("pull", "trees:nope")
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        "ecrtool: error: tag 'nope' not found in repository 'trees': `ecrtool images trees` lists them"
    ]


def test_pull_from_a_missing_repository(invoke: Any, fake_docker: Any, aws: Any) -> None:
    fake_docker.pull_script = _manifest_unknown
    result = invoke("pull", "trees:v1")
    assert result.exit_code == 1
    assert "repository 'trees' does not exist in ca-west-1" in result.stderr
    assert "ecrtool repos" in result.stderr


def test_tag_prints_the_ecr_names(invoke: Any, fake_docker: Any, aws: Any) -> None:
    fake_docker.add_image("viruses:1.0")
    result = invoke("tag", "viruses:1.0", "--repo", "trees", "--tag", "v1", "--tag", "stable", "--tag", "v1")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [f"{HOST}/trees:v1", f"{HOST}/trees:stable"]
    assert [c[2] for c in fake_docker.calls if c[0] == "tag"] == [f"{HOST}/trees:v1", f"{HOST}/trees:stable"]
    assert not any(c[0] == "push" for c in fake_docker.calls)


def test_tag_json(invoke: Any, fake_docker: Any, aws: Any) -> None:
    fake_docker.add_image("viruses")
    result = invoke("tag", "viruses", "--repo", "trees", "-o", "json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"source": "viruses", "references": [f"{HOST}/trees:viruses"]}


def test_tag_of_a_missing_image(invoke: Any, fake_docker: Any, aws: Any) -> None:
    result = invoke("tag", "viruses", "--repo", "trees")
    assert result.exit_code == 1
    assert result.stderr.startswith("ecrtool: error: local image 'viruses' not found")
