"""`ecrtool archive`, `ecrtool restore` and `ecrtool images --archived / --not-pulled-for` on a stubbed ECR
client: every call checked in order (a look-up is DescribeImages by id, never BatchGetImage), and what a
user reads."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from botocore.stub import Stubber

DOCKER_IMAGE = "application/vnd.docker.distribution.manifest.v2+json"
NOW = datetime.now(timezone.utc)
HOST = "123456789012.dkr.ecr.ca-west-1.amazonaws.com"


def digest(n: int) -> str:
    return f"sha256:{n:064x}"


@pytest.fixture
def ecr(stubbed_ecr: Stubber, monkeypatch: pytest.MonkeyPatch) -> Stubber:
    now = [1000.0]

    def sleep(seconds: float) -> None:
        now[0] += seconds

    monkeypatch.setattr("ecrtool.service.archive._clock", lambda: now[0])
    monkeypatch.setattr("ecrtool.service.archive._sleep", sleep)
    return stubbed_ecr


def detail(n: int, tags: list[str], status: str, *, pushed_days: float = 100, pulled_days: float | None = None) -> dict:
    found: dict[str, Any] = {
        "imageDigest": digest(n),
        "imageTags": tags,
        "imageSizeInBytes": 1000,
        "imagePushedAt": NOW - timedelta(days=pushed_days),
        "imageManifestMediaType": DOCKER_IMAGE,
        "imageStatus": status,
    }
    if pulled_days is not None:
        found["lastRecordedPullTime"] = NOW - timedelta(days=pulled_days)
    return found


def look_up(stub: Stubber, image_id: dict[str, str], found: dict | None, repo: str = "trees") -> None:
    params = {"repositoryName": repo, "imageIds": [image_id], "filter": {"imageStatus": "ANY"}}
    if found is None:
        message = f"The image with imageId {image_id} does not exist within the repository with name '{repo}'"
        stub.add_client_error("describe_images", "ImageNotFoundException", message, 400, params)
    else:
        stub.add_response("describe_images", {"imageDetails": [found]}, params)


def update(stub: Stubber, n: int, target: str, status: str) -> None:
    reply = {"repositoryName": "trees", "imageId": {"imageDigest": digest(n)}, "imageStatus": status}
    params = {"repositoryName": "trees", "imageId": {"imageDigest": digest(n)}, "targetStorageClass": target}
    stub.add_response("update_image_storage_class", reply, params)


def test_archive_moves_an_active_image_and_leaves_an_archived_one(invoke: Any, ecr: Stubber) -> None:
    look_up(ecr, {"imageTag": "v1"}, detail(1, ["v1"], "ACTIVE"))
    update(ecr, 1, "ARCHIVE", "ARCHIVED")
    look_up(ecr, {"imageDigest": digest(2)}, detail(2, [], "ARCHIVED"))
    result = invoke("archive", "trees:v1", f"trees@{digest(2)}")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        f"archived: trees:v1 ({digest(1)[:19]})",
        f"already archived: trees@{digest(2)} ({digest(2)[:19]})",
    ]
    assert result.stderr == ""


def test_archive_of_a_missing_tag_goes_on_with_the_others_then_exits_1(invoke: Any, ecr: Stubber) -> None:
    look_up(ecr, {"imageTag": "nope"}, None)
    look_up(ecr, {"imageTag": "v1"}, detail(1, ["v1"], "ACTIVE"))
    update(ecr, 1, "ARCHIVE", "ARCHIVED")
    result = invoke("archive", "trees:nope", "trees:v1", "-o", "json")
    assert result.exit_code == 1
    data = json.loads(result.stdout)
    assert [(i["reference"], i["before"], i["after"], i["changed"]) for i in data["images"]] == [
        ("trees:v1", "ACTIVE", "ARCHIVED", True)
    ]
    assert [f["reference"] for f in data["failures"]] == ["trees:nope"]
    assert result.stderr.startswith("ecrtool: error: image not found 'trees'")
    assert len(result.stderr.splitlines()) == 1


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["archive"], "name at least one image"),
        (["archive", "trees"], "'trees' names a repository: name one image in it, as trees:TAG or trees@DIGEST"),
        (["restore", "trees:v1", "--timeout", "5m"], "--timeout goes with --wait"),
        (["restore", "trees:v1", "--wait", "--timeout", "soon"], "--timeout 'soon' is not a duration"),
        (["restore", "Trees:v1"], "invalid repository name"),
    ],
)
def test_bad_input_is_exit_2_before_any_call(invoke: Any, ecr: Stubber, args: list[str], said: str) -> None:
    result = invoke(*args)
    assert result.exit_code == 2, result.output
    assert said in result.stderr and len(result.stderr.splitlines()) == 1


def test_restore_without_wait_says_how_to_wait(invoke: Any, ecr: Stubber) -> None:
    look_up(ecr, {"imageTag": "v1"}, detail(1, ["v1"], "ARCHIVED"))
    update(ecr, 1, "STANDARD", "ACTIVATING")
    look_up(ecr, {"imageTag": "v2"}, detail(2, ["v2"], "ACTIVE"))
    result = invoke("restore", "trees:v1", "trees:v2")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        f"restoring: trees:v1 ({digest(1)[:19]}): ACTIVATING",
        f"not archived: trees:v2 ({digest(2)[:19]})",
    ]
    assert "`ecrtool restore REF --wait`" in result.stderr


def test_restore_wait_polls_by_digest_until_the_image_is_active(invoke: Any, ecr: Stubber) -> None:
    look_up(ecr, {"imageTag": "v1"}, detail(1, ["v1"], "ARCHIVED"))
    update(ecr, 1, "STANDARD", "ACTIVATING")
    look_up(ecr, {"imageDigest": digest(1)}, detail(1, ["v1"], "ACTIVATING"))
    look_up(ecr, {"imageDigest": digest(1)}, detail(1, ["v1"], "ACTIVE"))
    result = invoke("restore", "trees:v1", "--wait")
    assert result.exit_code == 0, result.output
    # polls after 1 s, then 1.5 s more
    assert result.stdout.splitlines() == [f"restored in 2.5s: trees:v1 ({digest(1)[:19]})"]
    assert result.stderr == ""


def test_restore_wait_gives_up_at_the_timeout_with_exit_1(invoke: Any, ecr: Stubber) -> None:
    look_up(ecr, {"imageTag": "v1"}, detail(1, ["v1"], "ACTIVATING"))
    for _ in range(3):  # at 1, 2.5 and 3 seconds (the last sleep cut short at the timeout)
        look_up(ecr, {"imageDigest": digest(1)}, detail(1, ["v1"], "ACTIVATING"))
    result = invoke("restore", "trees:v1", "--wait", "--timeout", "3s")
    assert result.exit_code == 1, result.output
    assert result.stderr.splitlines() == ["ecrtool: error: trees:v1 is still ACTIVATING after 3s"]


def test_images_shows_last_pull_status_and_class_and_filters_them(invoke: Any, ecr: Stubber) -> None:
    listing = {"repositoryName": "trees", "filter": {"imageStatus": "ANY"}}
    details = [
        detail(1, ["used"], "ACTIVE", pushed_days=200, pulled_days=1),
        detail(2, ["idle"], "ACTIVE", pushed_days=200, pulled_days=120),
        detail(3, ["never"], "ACTIVE", pushed_days=95),
        detail(4, ["cold"], "ARCHIVED", pushed_days=300, pulled_days=200),
    ]
    for _ in range(3):
        ecr.add_response("describe_images", {"imageDetails": details}, listing)

    table = invoke("images", "trees")
    assert table.exit_code == 0, table.output
    lines = [line.rstrip() for line in table.stdout.splitlines()]
    assert lines[1].split() == ["TAGS", "DIGEST", "SIZE", "PUSHED", "AT", "LAST", "PULL", "STATUS", "CLASS"]
    rows = {line.split()[0]: line.split() for line in lines[2:]}
    assert rows["cold"][-2:] == ["ARCHIVED", "ARCHIVE"] and rows["used"][-2:] == ["ACTIVE", "STANDARD"]
    assert rows["never"][-3:] == ["never", "ACTIVE", "STANDARD"]

    archived = invoke("images", "trees", "--archived", "-q")
    assert archived.stdout.split() == [digest(4)]

    idle = invoke("images", "trees", "--not-pulled-for", "90d", "-o", "json")
    found = json.loads(idle.stdout)
    # never pulled counts from its push (95 days ago); ordered newest push first
    assert [i["tags"] for i in found] == [["never"], ["idle"], ["cold"]]
    assert found[2]["status"] == "ARCHIVED" and found[2]["storage_class"] == "ARCHIVE"
    assert idle.stderr == ""


def test_images_filters_in_words_under_the_table(invoke: Any, ecr: Stubber) -> None:
    listing = {"repositoryName": "trees", "filter": {"imageStatus": "ANY"}}
    details = [detail(4, ["cold"], "ARCHIVED", pulled_days=200), detail(5, [], "ACTIVATING", pulled_days=100)]
    ecr.add_response("describe_images", {"imageDetails": details}, listing)
    result = invoke("images", "trees", "--archived", "--not-pulled-for", "12w")
    assert result.exit_code == 0, result.output
    assert result.stderr == "2 archived images not pulled for over 12w, 2.0 kB\n"


def test_images_bad_not_pulled_for_is_exit_2(invoke: Any, ecr: Stubber) -> None:
    result = invoke("images", "trees", "--not-pulled-for", "90")
    assert result.exit_code == 2
    assert "--not-pulled-for '90' is not a duration" in result.stderr


def _manifest_unknown(reference: str) -> Any:
    yield {"error": f"manifest for {reference} not found: manifest unknown: Requested image not found"}


@pytest.mark.parametrize(
    ("status", "said"),
    [
        ("ARCHIVED", "image trees:v1 is archived: `ecrtool restore trees:v1` (ECR takes up to 20 minutes"),
        ("ACTIVATING", "image trees:v1 is archived and being restored: `ecrtool restore trees:v1 --wait`"),
    ],
)
def test_a_pull_of_an_archived_image_says_how_to_restore_it(
    invoke: Any, fake_docker: Any, trees: Any, monkeypatch: pytest.MonkeyPatch, status: str, said: str
) -> None:
    from ecrtool.model.results import ImageInfo

    asked: list[tuple[str, dict[str, str]]] = []

    def image_in_any_status(self: Any, repository: str, image_id: dict[str, str]) -> ImageInfo:
        asked.append((repository, image_id))  # moto has no archive: ECR's answer, as DescribeImages gives it
        return ImageInfo(repository, digest(1), ["v1"], 1000, NOW, DOCKER_IMAGE, status=status)

    monkeypatch.setattr("ecrtool.aws.ecr.Ecr.image_in_any_status", image_in_any_status)
    fake_docker.pull_script = _manifest_unknown
    result = invoke("pull", "trees:v1")
    assert result.exit_code == 1, result.output
    assert result.stderr.startswith(f"ecrtool: error: {said}") and len(result.stderr.splitlines()) == 1
    assert asked == [("trees", {"imageTag": "v1"})]


def test_a_pull_of_a_missing_tag_stays_a_plain_not_found(invoke: Any, fake_docker: Any, trees: Any) -> None:
    fake_docker.pull_script = _manifest_unknown
    result = invoke("pull", "trees:nope")
    assert result.exit_code == 1
    assert "tag 'nope' not found in repository 'trees'" in result.stderr and "restore" not in result.stderr
