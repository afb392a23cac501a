"""The local ECR's pull times and storage classes (scripts/localecr/pulls.py): what DescribeImages,
ListImages and BatchGetImage answer about archived images and recorded pulls, as ECR answers."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))

from localecr.answer import Answer  # noqa: E402
from localecr.face import Scope  # noqa: E402
from localecr.pulls import Images, caller_arn, iam_principal  # noqa: E402

SCOPE = Scope("123456789012", "ca-west-1")
D1, D2 = "sha256:" + "1" * 64, "sha256:" + "2" * 64
USER = caller_arn(SCOPE.account)


class FakeMoto:
    """moto's DescribeImages by id, for the two images of repository app."""

    def describe_images(self, repositoryName: str, imageIds: list[dict[str, str]]) -> dict[str, Any]:  # noqa: N803
        wanted = imageIds[0]
        digest = {"v1": D1, "v2": D2}.get(wanted.get("imageTag", ""), wanted.get("imageDigest"))
        if repositoryName != "app" or digest not in (D1, D2):
            error = {"Error": {"Code": "ImageNotFoundException", "Message": "not there"}}
            raise type("ClientError", (Exception,), {"response": error})()
        return {"imageDetails": [{"imageDigest": digest}]}


@pytest.fixture
def images(tmp_path: Path) -> Images:
    return Images(tmp_path / "image-state.json", lambda account, region: FakeMoto(), restore_seconds=0.3)


def _describe(images: Images, **params: Any) -> list[dict[str, Any]]:
    moto = Answer(200, [], json.dumps({"imageDetails": [{"imageDigest": D1}, {"imageDigest": D2}]}).encode())
    answer = images.decorate("DescribeImages", SCOPE, {"repositoryName": "app", **params}, moto, USER)
    return list(answer.json()["imageDetails"])


def _update(images: Images, target: str, tag: str = "v1") -> Answer:
    params = {"repositoryName": "app", "imageId": {"imageTag": tag}, "targetStorageClass": target}
    return images.answer("UpdateImageStorageClass", SCOPE, params)


def test_archive_hides_the_image_from_a_plain_listing_but_not_from_any_or_archived(images: Images) -> None:
    answer = _update(images, "ARCHIVE")
    assert answer.status == 200 and answer.json()["imageStatus"] == "ARCHIVED"
    assert [d["imageDigest"] for d in _describe(images)] == [D2]
    archived = _describe(images, filter={"imageStatus": "ARCHIVED"})
    assert [d["imageDigest"] for d in archived] == [D1]
    assert archived[0]["imageStatus"] == "ARCHIVED" and archived[0]["lastArchivedAt"] <= time.time()
    assert {d["imageStatus"] for d in _describe(images, filter={"imageStatus": "ANY"})} == {"ACTIVE", "ARCHIVED"}
    # by id, whatever its status
    assert [d["imageStatus"] for d in _describe(images, imageIds=[{"imageDigest": D1}])] == ["ARCHIVED", "ACTIVE"]


def test_restore_is_activating_then_active_after_the_restore_time(images: Images) -> None:
    _update(images, "ARCHIVE")
    assert _update(images, "STANDARD").json()["imageStatus"] == "ACTIVATING"
    assert images.status(SCOPE, "app", D1) == "ACTIVATING"
    assert _update(images, "STANDARD").json()["imageStatus"] == "ACTIVATING"  # a restore under way
    time.sleep(0.35)
    assert images.status(SCOPE, "app", D1) == "ACTIVE"
    detail = _describe(images)[0]
    assert detail["imageStatus"] == "ACTIVE" and detail["lastActivatedAt"] >= detail["lastArchivedAt"]


def test_transitions_ecr_has_no_path_for_are_refused(images: Images) -> None:
    refused = _update(images, "STANDARD")
    assert refused.status == 400 and refused.json()["__type"] == "ImageStorageClassUpdateNotSupportedException"
    _update(images, "ARCHIVE")
    assert _update(images, "ARCHIVE").json()["__type"] == "ImageStorageClassUpdateNotSupportedException"
    assert _update(images, "GLACIER").json()["__type"] == "ValidationException"
    assert _update(images, "ARCHIVE", tag="nope").json()["__type"] == "ImageNotFoundException"


def test_batch_get_image_records_the_pull_and_refuses_an_archived_image(images: Images) -> None:
    moto = {"images": [{"imageId": {"imageDigest": D1}}, {"imageId": {"imageDigest": D2}}], "failures": []}
    _update(images, "ARCHIVE", tag="v2")
    answer = images.decorate(
        "BatchGetImage", SCOPE, {"repositoryName": "app"}, Answer(200, [], json.dumps(moto).encode()), USER
    )
    doc = answer.json()
    assert [i["imageId"]["imageDigest"] for i in doc["images"]] == [D1]
    assert doc["failures"] == [
        {"imageId": {"imageDigest": D2}, "failureCode": "ImageNotFound", "failureReason": "Requested image not found"}
    ]
    (detail,) = _describe(images)
    assert time.time() - detail["lastRecordedPullTime"] < 5


def test_an_excluded_principal_pulls_without_a_recorded_time(images: Images) -> None:
    arn = iam_principal(USER)
    assert arn == "arn:aws:iam::123456789012:user/moto"
    assert images.answer("RegisterPullTimeUpdateExclusion", SCOPE, {"principalArn": arn}).status == 200
    again = images.answer("RegisterPullTimeUpdateExclusion", SCOPE, {"principalArn": arn})
    assert again.json()["__type"] == "ExclusionAlreadyExistsException"
    images.pulled(SCOPE, "app", D1, USER)
    assert "lastRecordedPullTime" not in _describe(images)[0]
    listed = images.answer("ListPullTimeUpdateExclusions", SCOPE, {}).json()
    assert listed == {"pullTimeUpdateExclusions": [arn]}
    assert images.answer("DeregisterPullTimeUpdateExclusion", SCOPE, {"principalArn": arn}).status == 200
    gone = images.answer("DeregisterPullTimeUpdateExclusion", SCOPE, {"principalArn": arn})
    assert gone.json()["__type"] == "ExclusionNotFoundException"
    images.pulled(SCOPE, "app", D1, USER)
    assert "lastRecordedPullTime" in _describe(images)[0]


@pytest.mark.parametrize(
    "arn",
    ["arn:aws:sts::123456789012:user/moto", "arn:aws:iam::12345:user/x", "user/x", "arn:aws:iam::123456789012:group/g"],
)
def test_an_exclusion_names_an_iam_user_or_role(images: Images, arn: str) -> None:
    refused = images.answer("RegisterPullTimeUpdateExclusion", SCOPE, {"principalArn": arn})
    assert refused.status == 400 and refused.json()["__type"] == "ValidationException"


def test_an_instance_role_session_is_excluded_by_its_role() -> None:
    session = caller_arn("123456789012", "i-0abc")
    assert iam_principal(session) == "arn:aws:iam::123456789012:role/ecrtool-local-instance-role"


def test_a_push_restores_an_archived_image_and_times_survive_a_restart(images: Images, tmp_path: Path) -> None:
    _update(images, "ARCHIVE")
    images.control({"repository": "app", "digest": D2, "pulled": 1000.0, "pushed": 500.0})
    images.pushed(SCOPE, "app", D1)
    again = Images(tmp_path / "image-state.json", lambda account, region: FakeMoto(), restore_seconds=0)
    details = {d["imageDigest"]: d for d in _describe(again)}
    assert details[D1]["imageStatus"] == "ACTIVE"
    assert details[D2]["lastRecordedPullTime"] == 1000.0 and details[D2]["imagePushedAt"] == 500.0
    again.control({"repository": "app", "digest": D2, "pulled": None})
    assert "lastRecordedPullTime" not in {d["imageDigest"]: d for d in _describe(again)}[D2]


def test_the_registry_refuses_a_manifest_read_of_an_archived_image_with_ecrs_404(images: Images) -> None:
    _update(images, "ARCHIVE")
    refusal, rewrite = images.manifest_read(SCOPE, "app", "v1", "GET", USER, lambda: D1)
    assert rewrite is None and refusal is not None and refusal[0] == 404
    assert json.loads(refusal[2])["errors"][0]["code"] == "MANIFEST_UNKNOWN"
    refusal, rewrite = images.manifest_read(SCOPE, "app", D2, "HEAD", USER, lambda: None)
    assert refusal is None and rewrite is None  # a HEAD records nothing
    refusal, rewrite = images.manifest_read(SCOPE, "app", D2, "GET", USER, lambda: None)
    assert refusal is None and rewrite is not None
    rewrite(200, [("Docker-Content-Digest", D2)])
    assert "lastRecordedPullTime" in _describe(images, filter={"imageStatus": "ANY"})[1]


def test_a_registry_password_names_the_principal_it_was_issued_to() -> None:
    from localecr.tokens import Tokens

    tokens = Tokens(b"secret")
    named, _ = tokens.issue(SCOPE.account, SCOPE.region, principal=USER)
    plain, _ = tokens.issue(SCOPE.account, SCOPE.region)
    assert tokens.principal(named) == USER and tokens.principal(plain) == ""
    assert tokens.check(named, SCOPE.account, SCOPE.region).ok
    assert tokens.principal(named[:-2] + "xx") == ""  # not signed by the stack: no one


def test_list_images_answers_the_status_asked_for_and_refuses_an_unknown_one(images: Images) -> None:
    _update(images, "ARCHIVE")
    moto = Answer(
        200, [], json.dumps({"imageIds": [{"imageDigest": D1, "imageTag": "v1"}, {"imageDigest": D2}]}).encode()
    )

    def listed(**params: Any) -> Any:
        return images.decorate("ListImages", SCOPE, {"repositoryName": "app", **params}, moto, USER)

    assert listed().json()["imageIds"] == [{"imageDigest": D2}]
    assert listed(filter={"imageStatus": "ARCHIVED"}).json()["imageIds"] == [{"imageDigest": D1, "imageTag": "v1"}]
    assert len(listed(filter={"imageStatus": "ANY", "tagStatus": "ANY"}).json()["imageIds"]) == 2
    refused = listed(filter={"imageStatus": "GONE"})
    assert refused.status == 400 and refused.json()["__type"] == "InvalidParameterException"


def test_recorded_pulls_reach_the_state_file_within_a_second(images: Images, tmp_path: Path) -> None:
    for _ in range(50):  # a burst of pulls: written once, not fifty times
        images.pulled(SCOPE, "app", D1, USER)
    time.sleep(1.3)
    again = Images(tmp_path / "image-state.json", lambda account, region: FakeMoto(), restore_seconds=0)
    assert time.time() - _describe(again)[0]["lastRecordedPullTime"] < 5


def test_a_pull_recorded_just_before_the_bridge_stops_is_kept(tmp_path: Path) -> None:
    """`local-ecr down` sends the bridge SIGTERM: a pull recorded less than a second before is written."""
    script = f"""
import os, signal, sys, time
sys.path.insert(0, {str(Path(__file__).resolve().parents[2] / "scripts")!r})
from localecr.bridge import _flush_on_term
from localecr.face import Scope
from localecr.pulls import Images, caller_arn
images = Images(__import__("pathlib").Path({str(tmp_path / "image-state.json")!r}), lambda a, r: None)
_flush_on_term(type("Bridge", (), {{"images": images}})())
scope = Scope("123456789012", "ca-west-1")
images.pulled(scope, "app", {D1!r}, caller_arn(scope.account))
os.kill(os.getpid(), signal.SIGTERM)
time.sleep(5)
"""
    done = subprocess.run([sys.executable, "-c", script], timeout=30, capture_output=True, text=True)
    assert done.returncode == 128 + signal.SIGTERM, done.stderr
    again = Images(tmp_path / "image-state.json", lambda account, region: FakeMoto(), restore_seconds=0)
    assert time.time() - _describe(again)[0]["lastRecordedPullTime"] < 5


def test_flush_writes_a_pending_pull_at_once(images: Images, tmp_path: Path) -> None:
    images.pulled(SCOPE, "app", D1, USER)
    images.flush()
    again = Images(tmp_path / "image-state.json", lambda account, region: FakeMoto(), restore_seconds=0)
    assert time.time() - _describe(again)[0]["lastRecordedPullTime"] < 5
