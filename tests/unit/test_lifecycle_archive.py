"""ECR's current lifecycle schema (storage classes, transitions, pull and archive clocks) read, written and
evaluated as ECR does, and prune's --not-pulled-for and in-use set over the same engine."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ecrtool.model.errors import InvalidInput
from ecrtool.model.lifecycle import (
    explain,
    lifecycle_policy,
    parse_policy,
    policy_json,
    prune_policy,
    validate_for_ecr,
)
from ecrtool.model.retention import Policy, Rule, StoredImage, select

NOW = datetime(2026, 6, 1, tzinfo=timezone.utc)
DAY = timedelta(days=1)


def image(name: str, *tags: str, pushed: int, pulled: int | None = None, status: str = "ACTIVE",
          archived: int | None = None, children: tuple[str, ...] = (), subject: str | None = None) -> StoredImage:
    """An image NAME pushed PUSHED days ago, pulled PULLED days ago (None: never), archived ARCHIVED days ago."""
    return StoredImage(
        digest=f"sha256:{name}", tags=tags, pushed_at=NOW - pushed * DAY, size_bytes=10,
        children=children, subject=subject,
        last_pulled_at=None if pulled is None else NOW - pulled * DAY, status=status,
        archived_at=None if archived is None else NOW - archived * DAY,
    )


def chosen(images: list[StoredImage], policy_or_text: object, in_use: tuple[str, ...] = ()) -> dict[str, str]:
    policy = parse_policy(policy_or_text) if isinstance(policy_or_text, str) else policy_or_text
    return {e.image.digest.removeprefix("sha256:"): e.action for e in select(images, policy, NOW, in_use)}  # type: ignore[arg-type]


ARCHIVING = json.dumps({"rules": [
    {"rulePriority": 1, "description": "archive what nobody pulled for 90 days",
     "selection": {"tagStatus": "any", "countType": "sinceImagePulled", "countUnit": "days", "countNumber": 90},
     "action": {"type": "transition", "targetStorageClass": "archive"}},
    {"rulePriority": 2, "selection": {"tagStatus": "any", "storageClass": "archive",
                                      "countType": "sinceImageTransitioned", "countUnit": "days", "countNumber": 365},
     "action": {"type": "expire"}},
]})


def test_reads_and_writes_a_transition_and_an_archive_rule() -> None:
    policy = parse_policy(ARCHIVING)
    assert [(r.action, r.storage_class, r.count_type, r.age) for r in policy.rules] == [
        ("transition", "standard", "sinceImagePulled", 90 * DAY),
        ("expire", "archive", "sinceImageTransitioned", 365 * DAY),
    ]
    written = json.loads(policy_json(policy))
    assert written["rules"][0]["action"] == {"type": "transition", "targetStorageClass": "archive"}
    assert "storageClass" not in written["rules"][0]["selection"]  # standard is ECR's default
    assert written["rules"][1]["selection"]["storageClass"] == "archive"
    assert parse_policy(policy_json(policy)) == policy


def test_preview_evaluates_transitions_and_archive_expiry_each_on_its_class() -> None:
    images = [
        image("pulled-lately", "a", pushed=400, pulled=10),
        image("never-pulled-old", "b", pushed=100),  # never pulled: counts from its push
        image("never-pulled-new", "c", pushed=30),
        image("pulled-long-ago", "d", pushed=500, pulled=91),
        image("archived-long-ago", "e", pushed=900, status="ARCHIVED", archived=366),
        image("archived-lately", "f", pushed=900, status="ARCHIVED", archived=30),
        image("restoring", "g", pushed=900, status="ACTIVATING", archived=400),
    ]
    assert chosen(images, ARCHIVING) == {
        "never-pulled-old": "transition", "pulled-long-ago": "transition", "archived-long-ago": "expire",
    }


def test_a_standard_rule_never_sees_an_archived_image() -> None:
    images = [image("old", pushed=500, status="ARCHIVED", archived=1), image("new", pushed=500)]
    text = json.dumps({"rules": [{"rulePriority": 1, "selection": {
        "tagStatus": "untagged", "countType": "sinceImagePushed", "countUnit": "days", "countNumber": 1},
        "action": {"type": "expire"}}]})
    assert chosen(images, text) == {"new": "expire"}


def test_lifecycle_helpers_archive_then_expire_archived() -> None:
    policy = lifecycle_policy(30, [], None, archive_after=90 * DAY, expire_archived_after=365 * DAY)
    assert [(r.priority, r.tag_status, r.action, r.storage_class, r.count_type) for r in policy.rules] == [
        (1, "tagged", "expire", "standard", "imageCountMoreThan"),
        (2, "any", "transition", "standard", "sinceImagePulled"),
        (3, "any", "expire", "archive", "sinceImageTransitioned"),
    ]
    assert parse_policy(policy_json(policy)) == policy


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        ({"archive_after": timedelta(hours=36)}, "--archive-after must be whole days, 1 or more (ECR counts age in "
         "days), not 1d12h: such as 1d, 90d or 2w"),
        ({"expire_archived_after": timedelta(hours=5)}, "--expire-archived-after must be whole days, 1 or more (ECR "
         "counts age in days), not 5h: such as 1d, 90d or 2w"),
    ],
)
def test_lifecycle_helpers_refused(flags: dict[str, timedelta], message: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        lifecycle_policy(None, [], None, **flags)
    assert str(caught.value) == message


def test_not_pulled_for_alone_counts_a_never_pulled_image_from_its_push() -> None:
    images = [image("idle", "v1", pushed=200, pulled=120), image("busy", "v2", pushed=200, pulled=1),
              image("never", pushed=95), image("fresh", pushed=5),
              image("archived", "v0", pushed=800, status="ARCHIVED", archived=300)]
    policy = prune_policy(None, [], False, None, not_pulled_for=90 * DAY)
    assert policy.rules == (Rule(1, "any", "sinceImagePulled", age=90 * DAY,
                                 description="expire images not pulled for 90d"),)
    assert chosen(images, policy) == {"idle": "expire", "never": "expire", "archived": "expire"}


def test_not_pulled_for_beside_untagged_narrows_it() -> None:
    images = [image("idle", pushed=200, pulled=120), image("busy", pushed=200, pulled=1),
              image("tagged", "t", pushed=300)]
    assert chosen(images, prune_policy(None, [], True, None, not_pulled_for=90 * DAY)) == {"idle": "expire"}
    reasons = [e.reason for e in select(images, prune_policy(None, [], True, None, not_pulled_for=90 * DAY), NOW)]
    assert reasons == ["untagged; last pulled 120d ago"]


def test_an_image_in_use_stays_with_its_index_its_siblings_and_its_signature() -> None:
    images = [
        image("index", "old", pushed=300, children=("sha256:amd", "sha256:arm")),
        image("amd", pushed=300), image("arm", pushed=300),
        image("sig", pushed=300, subject="sha256:amd"),
        image("other", "older", pushed=400),
    ]
    policy = prune_policy(None, [], True, timedelta(days=30))
    assert set(chosen(images, policy)) == {"index", "amd", "arm", "sig", "other"}
    assert chosen(images, policy, in_use=("sha256:amd",)) == {"other": "expire"}


@st.composite
def hostile_rules(draw: st.DrawFn) -> Rule:
    status = draw(st.sampled_from(["tagged", "untagged", "any"]))
    words = st.text(min_size=1, max_size=12)  # quotes, braces, newlines, NULs, any code point
    prefixes = tuple(draw(st.lists(words, min_size=1, max_size=2, unique=True))) if status == "tagged" else ()
    storage = draw(st.sampled_from(["standard", "archive"]))
    action = draw(st.sampled_from(["expire", "transition"])) if storage == "standard" else "expire"
    since = ["sinceImagePushed", "sinceImagePulled"] + (["sinceImageTransitioned"] if storage == "archive" else [])
    kind = draw(st.sampled_from(["imageCountMoreThan", *since]))
    count = draw(st.integers(1, 10_000))
    return Rule(0, status, kind, count=count if kind == "imageCountMoreThan" else 0,  # type: ignore[arg-type]
                age=timedelta(days=count) if kind != "imageCountMoreThan" else timedelta(0), tag_prefixes=prefixes,
                description=draw(st.text(max_size=40)), storage_class=storage, action=action)  # type: ignore[arg-type]


@given(st.lists(hostile_rules(), min_size=1, max_size=4))
def test_no_description_or_tag_changes_the_policy_jsons_structure(drawn: list[Rule]) -> None:
    rules = tuple(replace(rule, priority=number) for number, rule in enumerate(drawn, 1))
    policy = Policy(rules)
    try:
        validate_for_ecr(policy)
    except InvalidInput:
        return  # refused before anything is written
    document = json.loads(policy_json(policy))
    assert list(document) == ["rules"] and len(document["rules"]) == len(rules)
    for written, rule in zip(document["rules"], rules, strict=True):
        assert set(written) <= {"rulePriority", "description", "selection", "action"}
        assert set(written["selection"]) <= {"tagStatus", "tagPrefixList", "storageClass", "countType", "countUnit",
                                             "countNumber"}  # fmt: skip
        assert written["selection"].get("tagPrefixList", []) == list(rule.tag_prefixes)
        assert written.get("description", "") == rule.description
    assert parse_policy(policy_json(policy)) == policy


def test_each_rule_is_explained_in_words_by_priority() -> None:
    assert explain(parse_policy(ARCHIVING)) == [
        "rule 1: move to archive standard images (any) not pulled for 90 days (never pulled: pushed over 90 days ago)",
        "rule 2: expire archived images (any) archived over 365 days ago",
    ]
    assert explain(lifecycle_policy(5, ["rel-"], 7 * DAY)) == [
        "rule 1: expire standard images (tagged rel-*) beyond the newest 5",
        "rule 2: expire standard images (untagged) pushed over 7 days ago",
    ]
