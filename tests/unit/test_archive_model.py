"""Storage classes and pull times as ecrtool reads them: the ECR gateway's calls and records, the `images`
filters `--archived` and `--not-pulled-for` (their edges), the words a pull of an archived image gets,
and how `archive`/`restore` results read."""

from __future__ import annotations

import io
import json
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from botocore.stub import Stubber

from ecrtool.aws.ecr import Ecr
from ecrtool.cli.archive import stored
from ecrtool.cli.render import Renderer
from ecrtool.model.archive import StorageChange, StorageResult, archived_message, shown_reference
from ecrtool.model.listing import ImageFilter
from ecrtool.model.refs import parse_repo_ref
from ecrtool.model.results import ImageInfo

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=timezone.utc)
DIGEST = "sha256:" + "a" * 64
DAY = timedelta(days=1)


def image(
    *, status: str | None = "ACTIVE", pushed: timedelta | None = 200 * DAY, pulled: timedelta | None = None
) -> ImageInfo:
    return ImageInfo(
        "trees", DIGEST, ["v1"], 10, NOW - pushed if pushed is not None else None,
        last_pulled_at=NOW - pulled if pulled is not None else None, status=status,
    )  # fmt: skip


# -- the gateway -------------------------------------------------------------------------------------


def test_a_look_up_asks_for_every_status_by_id_and_maps_status_class_and_times(client: Any, stub: Stubber) -> None:
    detail = {
        "imageDigest": DIGEST, "imageTags": ["v1"], "imageStatus": "ACTIVATING",
        "lastArchivedAt": NOW - DAY, "lastRecordedPullTime": NOW - 2 * DAY,
    }  # fmt: skip
    wanted = {"repositoryName": "trees", "imageIds": [{"imageTag": "v1"}], "filter": {"imageStatus": "ANY"}}
    stub.add_response("describe_images", {"imageDetails": [detail]}, wanted)
    found = Ecr(client).image_in_any_status("trees", {"imageTag": "v1"})
    assert (found.status, found.storage_class) == ("ACTIVATING", "ARCHIVE")  # still in the archive until ACTIVE
    assert found.archived_at == NOW - DAY and found.last_pulled_at == NOW - 2 * DAY and found.activated_at is None


@pytest.mark.parametrize(("status", "storage"), [("ACTIVE", "STANDARD"), ("ARCHIVED", "ARCHIVE"), (None, None)])
def test_a_listing_names_the_status_it_wants_and_each_image_its_class(
    client: Any, stub: Stubber, status: str | None, storage: str | None
) -> None:
    detail: dict[str, Any] = {"imageDigest": DIGEST}
    if status:
        detail["imageStatus"] = status
    stub.add_response(
        "describe_images", {"imageDetails": [detail]}, {"repositoryName": "trees", "filter": {"imageStatus": "ANY"}}
    )
    [found] = Ecr(client).images("trees", status="ANY")
    assert (found.status, found.storage_class) == (status, storage)


def test_without_a_status_a_listing_is_ecrs_default(client: Any, stub: Stubber) -> None:
    stub.add_response("describe_images", {"imageDetails": []}, {"repositoryName": "trees"})
    assert list(Ecr(client).images("trees")) == []


def test_update_storage_class_sends_the_digest_and_answers_the_status(client: Any, stub: Stubber) -> None:
    params = {"repositoryName": "trees", "imageId": {"imageDigest": DIGEST}, "targetStorageClass": "STANDARD"}
    stub.add_response("update_image_storage_class", {"imageStatus": "ACTIVATING"}, params)
    assert Ecr(client).update_storage_class("trees", DIGEST, "STANDARD") == "ACTIVATING"


# -- the filters -------------------------------------------------------------------------------------


def test_archived_keeps_what_is_in_the_archive_only() -> None:
    wanted = ImageFilter(archived=True)
    kept = {s: wanted.keeps(image(status=s), NOW) for s in ("ACTIVE", "ARCHIVED", "ACTIVATING", None)}
    assert kept == {"ACTIVE": False, "ARCHIVED": True, "ACTIVATING": True, None: False}


@pytest.mark.parametrize(
    ("pushed", "pulled", "kept"),
    [
        (200 * DAY, 90 * DAY, False),  # pulled exactly 90 days ago: not longer ago than that
        (200 * DAY, 90 * DAY + timedelta(seconds=1), True),
        (200 * DAY, 10 * DAY, False),
        (90 * DAY, None, False),  # never pulled: from its push, exactly 90 days ago
        (91 * DAY, None, True),
        (None, None, False),  # neither time: cannot be shown unused
        (None, 100 * DAY, True),
    ],
)
def test_not_pulled_for_counts_from_the_last_pull_else_the_push(
    pushed: timedelta | None, pulled: timedelta | None, kept: bool
) -> None:
    assert ImageFilter(not_pulled_for=90 * DAY).keeps(image(pushed=pushed, pulled=pulled), NOW) is kept


def test_filters_combine_and_say_what_they_kept() -> None:
    both = ImageFilter(archived=True, not_pulled_for=90 * DAY, older_than=30 * DAY)
    assert both.keeps(image(status="ARCHIVED", pulled=100 * DAY), NOW)
    assert not both.keeps(image(status="ACTIVE", pulled=100 * DAY), NOW)
    assert both.count(2) == "2 archived images pushed over 4w2d ago and not pulled for over 12w6d"
    assert ImageFilter(not_pulled_for=7 * DAY).count(1) == "1 image not pulled for over 1w"


# -- what a pull of an archived image says -----------------------------------------------------------


def test_the_restore_hint_names_the_image_as_typed_again() -> None:
    host = "123456789012.dkr.ecr.ca-west-1.amazonaws.com"
    assert shown_reference(parse_repo_ref("trees")) == "trees:latest"
    assert shown_reference(parse_repo_ref(f"{host}/trees@{DIGEST}")) == f"{host}/trees@{DIGEST}"
    assert archived_message("trees:v1", "ARCHIVED") == (
        "image trees:v1 is archived: `ecrtool restore trees:v1` (ECR takes up to 20 minutes; --wait waits for it)"
    )
    assert "`ecrtool restore trees:v1 --wait` waits until it can be pulled" in archived_message(
        "trees:v1", "ACTIVATING"
    )


# -- how results read --------------------------------------------------------------------------------


def rendered(result: StorageResult, output: str = "text", quiet: bool = False) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    stored(Renderer(output=output, quiet=quiet, out=out, err=err), result)
    return out.getvalue(), err.getvalue()


def change(before: str, after: str, changed: bool, waited: float | None = None) -> StorageChange:
    return StorageChange("trees:v1", "trees", DIGEST, ["v1"], before, after, changed, waited)


def test_restore_lines_say_what_happened_and_how_to_wait() -> None:
    result = StorageResult("restore", [change("ARCHIVED", "ACTIVATING", True), change("ACTIVE", "ACTIVE", False)])
    out, err = rendered(result)
    assert out.splitlines() == [
        f"restoring: trees:v1 ({DIGEST[:19]}): ACTIVATING",
        f"not archived: trees:v1 ({DIGEST[:19]})",
    ]
    assert err == "ECR takes up to 20 minutes: `ecrtool restore REF --wait` waits until the images can be pulled\n"
    waited = StorageResult("restore", [change("ARCHIVED", "ACTIVE", True, 4.5)], waited=True)
    assert rendered(waited) == (f"restored in 4.5s: trees:v1 ({DIGEST[:19]})\n", "")
    assert rendered(waited, quiet=True) == (f"{DIGEST}\n", "")


def test_json_is_the_whole_result() -> None:
    out, err = rendered(StorageResult("archive", [change("ACTIVE", "ARCHIVED", True)]), output="json")
    doc = json.loads(out)
    assert doc == {
        "action": "archive",
        "images": [{"reference": "trees:v1", "repository": "trees", "digest": DIGEST, "tags": ["v1"],
                    "before": "ACTIVE", "after": "ARCHIVED", "changed": True, "waited_seconds": None}],
        "failures": [],
        "waited": False,
    }  # fmt: skip
    assert err == ""
