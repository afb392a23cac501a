"""`prune --not-pulled-for`, archived images and `--protect-file` on a stubbed ECR client (every call
checked, in order, nothing more): planning lists with DescribeImages only, of every storage class, and
never reads a manifest while the caller's pulls are recorded; `lifecycle preview` of a policy with ECR's
current schema shows what it would archive."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from botocore.stub import Stubber

DOCKER_IMAGE = "application/vnd.docker.distribution.manifest.v2+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
NOW = datetime.now(timezone.utc)
HOST = "123456789012.dkr.ecr.ca-west-1.amazonaws.com"


def digest(n: int) -> str:
    return f"sha256:{n:064x}"


@pytest.fixture
def ecr(stubbed_ecr: Stubber) -> Stubber:
    return stubbed_ecr


def detail(
    n: int, tags: list[str], pushed_days: float, pulled_days: float | None = None, **more: Any
) -> dict[str, Any]:
    found = {
        "imageDigest": digest(n),
        "imageTags": tags,
        "imageSizeInBytes": 1000,
        "imagePushedAt": NOW - timedelta(days=pushed_days),
        "imageManifestMediaType": DOCKER_IMAGE,
        "imageStatus": "ACTIVE",
        **more,
    }
    if pulled_days is not None:
        found["lastRecordedPullTime"] = NOW - timedelta(days=pulled_days)
    return found


def listing(stub: Stubber, details: list[dict[str, Any]]) -> None:
    """No pull-time exclusion (so no manifest may be read), then one page of every storage class."""
    stub.add_response("list_pull_time_update_exclusions", {"pullTimeUpdateExclusions": []}, {})
    stub.add_response("describe_images", {"imageDetails": details},
                      {"repositoryName": "trees", "filter": {"imageStatus": "ANY"}})


def test_not_pulled_for_selects_by_last_pull_and_never_pulled_by_push(invoke: Any, ecr: Stubber) -> None:
    listing(ecr, [
        detail(1, ["busy"], 300, pulled_days=2),
        detail(2, ["idle"], 300, pulled_days=120),
        detail(3, ["never"], 100),  # never pulled: 100 days since its push
        detail(4, ["new"], 10),  # never pulled, but pushed 10 days ago
        detail(5, ["cold"], 400, pulled_days=200, imageStatus="ARCHIVED"),  # archived images are seen too
    ])  # fmt: skip
    result = invoke("prune", "trees", "--not-pulled-for", "90d", "-o", "json")
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    reasons = {image["tags"][0]: image["reason"] for image in doc["images"]}
    assert reasons == {
        "cold": "not pulled for 200d, over 90d",
        "idle": "not pulled for 120d, over 90d",
        "never": "not pulled for 100d, over 90d",
    }
    statuses = {image["tags"][0]: image["image_status"] for image in doc["images"]}
    assert statuses["cold"] == "ARCHIVED"
    assert doc["links"] == "read" and doc["dry_run"] is True


def test_not_pulled_for_beside_untagged_keeps_an_untagged_image_pulled_lately(invoke: Any, ecr: Stubber) -> None:
    listing(ecr, [detail(1, [], 200, pulled_days=1), detail(2, [], 200, pulled_days=95), detail(3, ["t"], 300)])
    result = invoke("prune", "trees", "--untagged", "--not-pulled-for", "90d", "-q")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.split() == [digest(2)]


def test_an_archived_images_signature_is_not_an_orphan(invoke: Any, ecr: Stubber) -> None:
    listing(ecr, [
        detail(1, ["v1"], 300, imageStatus="ARCHIVED"),
        detail(2, [], 299, imageManifestMediaType=OCI_MANIFEST, subjectManifestDigest=digest(1)),
        detail(3, [], 250, imageManifestMediaType=OCI_MANIFEST),  # an image of its own, untagged
    ])  # fmt: skip
    result = invoke("prune", "trees", "--untagged", "-q")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.split() == [digest(3)]


def test_with_an_index_and_no_exclusion_no_manifest_is_read_and_untagged_ones_stay(invoke: Any, ecr: Stubber) -> None:
    # no batch_get_image is stubbed: a read would fail the test
    listing(ecr, [
        detail(1, ["multi"], 5, imageManifestMediaType=OCI_INDEX),
        detail(2, [], 5, imageManifestMediaType=OCI_MANIFEST),  # its platform, maybe
        detail(3, [], 200, imageManifestMediaType=OCI_MANIFEST),  # or a leftover: prune cannot tell
        detail(4, ["old"], 300),
    ])  # fmt: skip
    result = invoke("prune", "trees", "--untagged", "--older-than", "30d")
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].rstrip() == "trees: 1 of 4 image(s) selected"
    assert "register-pull-time-update-exclusion" in result.stderr


def test_protect_file_keeps_what_it_names_by_tag_and_by_digest(invoke: Any, ecr: Stubber, tmp_path: Path) -> None:
    listing(ecr, [detail(1, ["a"], 200), detail(2, ["b"], 200), detail(3, ["c"], 200), detail(4, [], 200)])
    pods = tmp_path / "pods.txt"
    pods.write_text(f"{HOST}/trees:a nginx:1.25 {HOST}/trees@{digest(4)}\n# {HOST}/trees:c\n")
    result = invoke("prune", "trees", "--older-than", "30d", "--protect-file", str(pods), "-o", "json")
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert sorted(image["digest"] for image in doc["images"]) == [digest(2), digest(3)]
    assert doc["in_use_images"] == [{"digest": digest(1), "where": f"file {pods} line 1"},
                                    {"digest": digest(4), "where": f"file {pods} line 1"}]  # fmt: skip


POLICY = {"rules": [
    {"rulePriority": 1, "selection": {"tagStatus": "any", "countType": "sinceImagePulled", "countUnit": "days",
                                      "countNumber": 90},
     "action": {"type": "transition", "targetStorageClass": "archive"}},
    {"rulePriority": 2, "selection": {"tagStatus": "any", "storageClass": "archive",
                                      "countType": "sinceImageTransitioned", "countUnit": "days", "countNumber": 365},
     "action": {"type": "expire"}},
]}  # fmt: skip


def test_lifecycle_preview_of_a_transition_policy_shows_what_it_archives(
    invoke: Any, ecr: Stubber, tmp_path: Path
) -> None:
    ecr.add_response("get_lifecycle_policy", {"repositoryName": "trees", "lifecyclePolicyText": json.dumps(POLICY)},
                     {"repositoryName": "trees"})  # fmt: skip
    listing(ecr, [
        detail(1, ["idle"], 200, pulled_days=100),
        detail(2, ["busy"], 200, pulled_days=3),
        detail(3, ["gone"], 900, imageStatus="ARCHIVED", lastArchivedAt=NOW - timedelta(days=400)),
    ])  # fmt: skip
    result = invoke("lifecycle", "preview", "trees")
    assert result.exit_code == 0, result.stderr
    lines = [line.rstrip() for line in result.stdout.splitlines()]
    assert lines[0] == "trees: 2 of 3 image(s) would expire or archive"
    assert lines[2].startswith("gone") and lines[2].endswith("archived 400d ago, over 365d")
    assert lines[3].startswith("idle") and lines[3].endswith("archive: not pulled for 100d, over 90d")
    assert lines[-1] == ("preview of the repository's lifecycle policy: 1 image(s) (1.0 kB) would expire, 1 would "
                         "move to archive; nothing was deleted")


def test_lifecycle_show_prints_the_json_and_explains_each_rule(invoke: Any, ecr: Stubber) -> None:
    ecr.add_response("get_lifecycle_policy", {"repositoryName": "trees", "lifecyclePolicyText": json.dumps(POLICY)},
                     {"repositoryName": "trees"})  # fmt: skip
    result = invoke("lifecycle", "show", "trees")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout) == POLICY
    assert result.stderr.splitlines() == [
        "rule 1: move to archive standard images (any) not pulled for 90 days (never pulled: pushed over 90 days ago)",
        "rule 2: expire archived images (any) archived over 365 days ago",
    ]


def test_lifecycle_set_archive_helpers_put_ecrs_current_schema(invoke: Any, ecr: Stubber) -> None:
    from ecrtool.model.lifecycle import lifecycle_policy, policy_json

    text = policy_json(lifecycle_policy(30, [], None, timedelta(days=90), timedelta(days=365)))
    ecr.add_response("put_lifecycle_policy", {"repositoryName": "trees", "lifecyclePolicyText": text},
                     {"repositoryName": "trees", "lifecyclePolicyText": text})  # fmt: skip
    result = invoke("lifecycle", "set", "trees", "--keep", "30", "--archive-after", "90d",
                    "--expire-archived-after", "365d")  # fmt: skip
    assert result.exit_code == 0, result.stderr
    rules = json.loads(result.stdout)["rules"]
    assert [rule["action"] for rule in rules] == [
        {"type": "expire"}, {"type": "transition", "targetStorageClass": "archive"}, {"type": "expire"}]
    assert rules[1]["selection"] == {"tagStatus": "any", "countType": "sinceImagePulled", "countUnit": "days",
                                     "countNumber": 90}  # fmt: skip
    assert rules[2]["selection"] == {"tagStatus": "any", "storageClass": "archive",
                                     "countType": "sinceImageTransitioned", "countUnit": "days", "countNumber": 365}
    assert "rule 2: move to archive standard images (any) not pulled for 90 days" in result.stderr
