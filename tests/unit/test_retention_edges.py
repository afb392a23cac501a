"""Edges of the selection that mutation testing showed no test held: where a tag prefix may match, which
rule wins when a policy lists its rules out of priority order, and which side of an age limit an image
pushed exactly that long ago falls on."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta, timezone

from ecrtool.model.lifecycle import parse_policy, prune_policy
from ecrtool.model.retention import Policy, Rule, StoredImage, select

NOW = datetime(2026, 6, 1, tzinfo=timezone.utc)


def image(name: str, *tags: str, age: timedelta = timedelta(days=1)) -> StoredImage:
    digest = "sha256:" + hashlib.sha256(name.encode()).hexdigest()
    return StoredImage(digest=digest, tags=tags, pushed_at=NOW - age, size_bytes=1000)


def selected_tags(images: list[StoredImage], policy: Policy) -> set[str]:
    return {tag for expiry in select(images, policy, NOW) for tag in expiry.image.tags}


def test_a_tag_prefix_matches_the_start_of_a_tag_only() -> None:
    # `--tag-prefix v --keep 0`: v1 and v2 go; dev-1 and prev-2 hold a "v" elsewhere and stay
    images = [image("a", "v1"), image("b", "dev-1"), image("c", "prev-2"), image("d", "v2")]
    assert selected_tags(images, prune_policy(0, ["v"], False, None)) == {"v1", "v2"}


def test_a_tag_prefix_with_older_than_alone_matches_the_start_only() -> None:
    old = timedelta(days=40)
    images = [image("a", "v1", age=old), image("b", "dev-1", age=old), image("c", "prev-2", age=old)]
    assert selected_tags(images, prune_policy(None, ["v"], False, timedelta(days=30))) == {"v1"}


def test_a_policy_is_judged_by_priority_not_by_the_order_it_lists_its_rules() -> None:
    # the `any` rule comes first in the file but has the higher priority number, so it is evaluated
    # last: the newest release- image, counted (kept) by rule 1, is matched by it and no later rule
    # may expire it. Read in list order, the any rule would expire both release images.
    text = json.dumps(
        {
            "rules": [
                {
                    "rulePriority": 2,
                    "selection": {"tagStatus": "any", "countType": "sinceImagePushed", "countUnit": "days",
                                  "countNumber": 30},
                    "action": {"type": "expire"},
                },
                {
                    "rulePriority": 1,
                    "selection": {"tagStatus": "tagged", "tagPrefixList": ["release-"],
                                  "countType": "imageCountMoreThan", "countNumber": 1},
                    "action": {"type": "expire"},
                },
            ]
        }
    )
    policy = parse_policy(text)  # accepted: the any rule has the highest priority, wherever it is listed
    old = timedelta(days=60)
    images = [
        image("r1", "release-1", age=old + timedelta(days=1)),
        image("r2", "release-2", age=old),
        image("x", "scratch", age=old),
    ]
    expired = {expiry.image.tags[0]: expiry.rule for expiry in select(images, policy, NOW)}
    assert expired == {"release-1": 1, "scratch": 2}


def test_the_same_rules_in_either_list_order_select_the_same() -> None:
    rules = (
        Rule(2, "any", "sinceImagePushed", age=timedelta(days=30)),
        Rule(1, "tagged", "imageCountMoreThan", count=1, tag_prefixes=("release-",)),
    )
    old = timedelta(days=60)
    images = [image("r1", "release-1", age=old + timedelta(days=1)), image("r2", "release-2", age=old)]
    forward = select(images, Policy(rules), NOW)
    backward = select(images, Policy(rules[::-1]), NOW)
    assert forward == backward
    assert [expiry.image.tags for expiry in forward] == [("release-1",)]


def test_an_image_pushed_exactly_older_than_ago_stays() -> None:
    # ECR's sinceImagePushed takes images whose push time is *older than* the limit ("Lifecycle policy
    # evaluation rules", https://docs.aws.amazon.com/AmazonECR/latest/userguide/LifecyclePolicies.html):
    # an image exactly 30d old is on the kept side of the line; a second more and it goes.
    limit = timedelta(days=30)
    policy = prune_policy(None, [], False, limit)
    at_line = image("at", "at-the-line", age=limit)
    past_line = image("past", "past-the-line", age=limit + timedelta(seconds=1))
    inside = image("in", "inside", age=limit - timedelta(seconds=1))
    assert selected_tags([at_line, past_line, inside], policy) == {"past-the-line"}


def test_an_untagged_image_pushed_exactly_older_than_ago_stays_too() -> None:
    limit = timedelta(hours=12)
    rule = Rule(1, "untagged", "sinceImagePushed", age=limit)
    images = [image("at", age=limit), image("past", age=limit + timedelta(microseconds=1))]
    assert [e.image.digest for e in select(images, Policy((rule,)), NOW)] == [images[1].digest]


def test_a_referrer_is_deleted_after_its_subject_and_a_child_after_its_index() -> None:
    # model.cleanup's docstring and delete_order agree: index -> children, subject -> referrers
    from dataclasses import replace

    from ecrtool.model.cleanup import delete_order

    child = image("child")
    index = replace(image("index", "v1"), children=(child.digest,))
    signature = replace(image("sig"), subject=index.digest)
    assert delete_order([signature, child, index]) == [[index.digest], sorted([child.digest, signature.digest])]
