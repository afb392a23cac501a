"""`prune --yes` reads each batch again just before deleting it (DescribeImages by id, which never counts
as a pull): an image tagged or pulled since the listing is spared and reported, and so is what goes
with it. On a stubbed ECR client, every call checked in order."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from botocore.stub import Stubber

DOCKER_IMAGE = "application/vnd.docker.distribution.manifest.v2+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
ACCEPTED = [OCI_INDEX, "application/vnd.docker.distribution.manifest.list.v2+json",
            "application/vnd.oci.image.manifest.v1+json", DOCKER_IMAGE]  # fmt: skip
NOW = datetime.now(timezone.utc)


def digest(n: int) -> str:
    return f"sha256:{n:064x}"


@pytest.fixture
def ecr(stubbed_ecr: Stubber) -> Stubber:
    return stubbed_ecr


def detail(n: int, tags: list[str], age_days: float, **more: Any) -> dict[str, Any]:
    return {
        "imageDigest": digest(n),
        "imageTags": tags,
        "imageSizeInBytes": 1000,
        "imagePushedAt": NOW - timedelta(days=age_days),
        "imageManifestMediaType": DOCKER_IMAGE,
        **more,
    }


def listing(stub: Stubber, details: list[dict[str, Any]], *, excluded: bool = False) -> None:
    """The pull-time exclusions (the caller among them when EXCLUDED: manifests may be read), then the listing."""
    callers = ["arn:aws:iam::123456789012:user/tester"] if excluded else []  # conftest's STUBBED_CALLER
    stub.add_response("list_pull_time_update_exclusions", {"pullTimeUpdateExclusions": callers}, {})
    stub.add_response("describe_images", {"imageDetails": details},
                      {"repositoryName": "trees", "filter": {"imageStatus": "ANY"}})


def manifests(stub: Stubber, texts: dict[str, str]) -> None:
    """The one BatchGetImage of the untagged images and indexes, answering TEXTS (digest -> manifest)."""
    stub.add_response(
        "batch_get_image",
        {"images": [{"imageId": {"imageDigest": d}, "imageManifest": t} for d, t in texts.items()]},
        {"repositoryName": "trees", "imageIds": [{"imageDigest": d} for d in texts], "acceptedMediaTypes": ACCEPTED},
    )


def reread(stub: Stubber, details: list[dict[str, Any]]) -> None:
    stub.add_response(
        "describe_images",
        {"imageDetails": details},
        {"repositoryName": "trees", "imageIds": [{"imageDigest": d["imageDigest"]} for d in details],
         "filter": {"imageStatus": "ANY"}},
    )


def delete(stub: Stubber, digests: list[str]) -> None:
    stub.add_response(
        "batch_delete_image",
        {"imageIds": [{"imageDigest": d} for d in digests], "failures": []},
        {"repositoryName": "trees", "imageIds": [{"imageDigest": d} for d in digests]},
    )


PLAIN = json.dumps({"schemaVersion": 2, "mediaType": DOCKER_IMAGE, "layers": []})


def test_an_image_tagged_since_the_listing_is_spared_and_reported(invoke: Any, ecr: Stubber) -> None:
    listing(ecr, [detail(1, ["keep"], 1), detail(2, [], 10), detail(3, [], 20)])
    # between the listing and the delete a CI job tags image 2 as prod
    reread(ecr, [detail(2, ["prod"], 10), detail(3, [], 20)])
    delete(ecr, [digest(3)])

    result = invoke("prune", "trees", "--untagged", "--yes", "-o", "json")
    assert result.exit_code == 0, result.stderr  # sparing is the safe outcome, not a failure
    doc = json.loads(result.stdout)
    assert doc["deleted"] == 1 and doc["spared"] == 1
    assert doc["spared_images"] == [{"digest": digest(2), "reason": "tagged prod since it was selected"}]
    assert {image["digest"]: image["status"] for image in doc["images"]} == {
        digest(2): "spared",
        digest(3): "deleted",
    }


def test_an_image_pulled_since_the_listing_is_spared(invoke: Any, ecr: Stubber) -> None:
    pulled_before = NOW - timedelta(days=5)
    pulled_now = NOW + timedelta(seconds=1)
    listing(ecr, [detail(1, [], 10, lastRecordedPullTime=pulled_before), detail(2, [], 20)])
    reread(ecr, [detail(1, [], 10, lastRecordedPullTime=pulled_now),
                 detail(2, [], 20, lastRecordedPullTime=pulled_before)])  # fmt: skip
    # image 2 was never pulled when listed and shows a pull now: spared too. Nothing left to delete: no call
    result = invoke("prune", "trees", "--untagged", "--yes")
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    spared = [line for line in lines if "spared: pulled at" in line]
    assert len(spared) == 2
    assert lines[-1] == "deleted 0 image(s), 0 B freed; 2 spared (tagged or pulled since they were selected)"


def test_a_pull_time_unchanged_since_the_listing_does_not_spare(invoke: Any, ecr: Stubber) -> None:
    pulled = NOW - timedelta(days=40)
    listing(ecr, [detail(1, [], 50, lastRecordedPullTime=pulled)])
    reread(ecr, [detail(1, [], 50, lastRecordedPullTime=pulled)])
    delete(ecr, [digest(1)])
    result = invoke("prune", "trees", "--untagged", "--yes", "-q")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.split() == [digest(1)]


def test_an_index_tagged_since_the_listing_keeps_its_children(invoke: Any, ecr: Stubber) -> None:
    index = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX,
                        "manifests": [{"digest": digest(11), "mediaType": DOCKER_IMAGE, "size": 1}]})  # fmt: skip
    listing(ecr, [detail(1, ["v2"], 1), detail(10, ["v1"], 30, imageManifestMediaType=OCI_INDEX),
                  detail(11, [], 30)], excluded=True)  # fmt: skip
    manifests(ecr, {digest(10): index, digest(11): PLAIN})
    reread(ecr, [detail(10, ["v1", "stable"], 30, imageManifestMediaType=OCI_INDEX)])
    # the index is spared, so its child is neither re-read nor deleted; no delete call at all

    result = invoke("prune", "trees", "--keep", "1", "--yes", "-o", "json")
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["deleted"] == 0 and doc["delete_calls"] == 0 and doc["failures"] == []
    assert doc["spared_images"] == [
        {"digest": digest(10), "reason": "tagged stable since it was selected"},
        {"digest": digest(11), "reason": f"goes with {digest(10)[:19]}, which was spared"},
    ]


def test_an_image_gone_since_the_listing_is_not_deleted_again(invoke: Any, ecr: Stubber) -> None:
    listing(ecr, [detail(1, [], 10), detail(2, [], 20)])
    # ECR answers ImageNotFoundException for the whole call when one id is gone: each is asked alone
    ecr.add_client_error("describe_images", "ImageNotFoundException", "not found", expected_params={
        "repositoryName": "trees", "imageIds": [{"imageDigest": digest(1)}, {"imageDigest": digest(2)}],
        "filter": {"imageStatus": "ANY"}})  # fmt: skip
    reread(ecr, [detail(1, [], 10)])
    ecr.add_client_error("describe_images", "ImageNotFoundException", "not found", expected_params={
        "repositoryName": "trees", "imageIds": [{"imageDigest": digest(2)}],
        "filter": {"imageStatus": "ANY"}})  # fmt: skip
    delete(ecr, [digest(1)])
    result = invoke("prune", "trees", "--untagged", "--yes", "-o", "json")
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["spared_images"] == [{"digest": digest(2), "reason": "no longer in the repository"}]
