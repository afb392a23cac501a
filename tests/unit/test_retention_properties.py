"""Properties of the selection over random repositories (tags, push and pull times, storage classes,
indexes with shared children, referrers of images and of children, tagged children, cycles, dangling
references), random policies (expire and transition, standard and archive rules) and random in-use sets:
nothing a kept or in-use image needs is selected, dependents follow their parents, each rule sees its
storage class only, `prune` and `lifecycle preview` agree, and the input order does not matter."""

from __future__ import annotations

import hashlib
import random
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from fnmatch import fnmatchcase

from hypothesis import given, settings
from hypothesis import strategies as st

from ecrtool.model.lifecycle import parse_policy, policy_json, prune_policy
from ecrtool.model.retention import Expiry, Policy, Rule, StoredImage, select

NOW = datetime(2026, 6, 1, tzinfo=timezone.utc)
TAGS = ["release-1", "release-2", "hotfix-1", "dev", "dev-2", "stable", "v1", "v1.2", "latest"]
PREFIXES = ["release-", "hotfix-", "dev", "v1", "v"]
PATTERNS = ["*", "release-*", "v1*", "*-2", "dev"]
KEEP_TAGS = ["stable", "v1.*", "*.sig", "dev*"]
MISSING = "sha256:" + "0" * 64
FAST = settings(max_examples=200, deadline=None)


def digest(number: int) -> str:
    return "sha256:" + hashlib.sha256(str(number).encode()).hexdigest()


def referrer_tag(of: str, suffix: str) -> str:
    return "sha256-" + of.removeprefix("sha256:") + suffix


@st.composite
def repositories(draw: st.DrawFn) -> list[StoredImage]:
    count = draw(st.integers(0, 14))
    digests = [digest(number) for number in range(count)]
    anyone = st.sampled_from(digests + [MISSING]) if digests else st.just(MISSING)
    images = []
    for number in range(count):
        kind = draw(st.sampled_from(["plain", "plain", "index", "referrer", "signature"]))
        tags = draw(st.lists(st.sampled_from(TAGS), max_size=3, unique=True))
        children: list[str] = []
        subject = None
        if kind == "index":
            children = draw(st.lists(anyone, max_size=4, unique=True))
        elif kind == "referrer":
            subject = draw(anyone)
        elif kind == "signature":
            suffixes = st.sampled_from(["", ".sig", ".att", ".sbom"])
            tags = [referrer_tag(draw(anyone), draw(suffixes)) for _ in range(draw(st.integers(1, 2)))]
            tags += draw(st.lists(st.sampled_from(TAGS), max_size=1))  # now and then a tag of its own
        pushed = NOW - timedelta(hours=draw(st.integers(-2, 24 * 60)))
        pulled = draw(st.none() | st.integers(0, 24 * 60).map(lambda hours: NOW - timedelta(hours=hours)))
        status = draw(st.sampled_from(["ACTIVE", "ACTIVE", "ARCHIVED", "ACTIVATING"]))
        archived = NOW - timedelta(hours=draw(st.integers(0, 24 * 60))) if status != "ACTIVE" else None
        images.append(StoredImage(digests[number], tuple(dict.fromkeys(tags)), pushed, 100, None, tuple(children),
                                  subject, pulled, status, archived))
    return images


@st.composite
def rules(draw: st.DrawFn) -> Rule:
    status = draw(st.sampled_from(["tagged", "tagged", "untagged", "any"]))
    prefixes: tuple[str, ...] = ()
    patterns: tuple[str, ...] = ()
    if status == "tagged":
        if draw(st.booleans()):
            prefixes = tuple(draw(st.lists(st.sampled_from(PREFIXES), min_size=1, max_size=2, unique=True)))
        else:
            patterns = tuple(draw(st.lists(st.sampled_from(PATTERNS), min_size=1, max_size=2, unique=True)))
    storage = draw(st.sampled_from(["standard", "standard", "archive"]))
    action = draw(st.sampled_from(["expire", "transition"])) if storage == "standard" else "expire"
    if draw(st.booleans()):
        return Rule(0, status, "imageCountMoreThan", count=draw(st.integers(0, 4)), tag_prefixes=prefixes,
                    tag_patterns=patterns, storage_class=storage, action=action)
    age = timedelta(hours=draw(st.integers(0, 24 * 40)))
    since = ["sinceImagePushed", "sinceImagePulled"] + (["sinceImageTransitioned"] if storage == "archive" else [])
    return Rule(0, status, draw(st.sampled_from(since)), age=age, tag_prefixes=prefixes, tag_patterns=patterns,
                storage_class=storage, action=action)


@st.composite
def policies(draw: st.DrawFn) -> Policy:
    drawn = draw(st.lists(rules(), max_size=4))
    priorities = draw(st.lists(st.integers(1, 99), min_size=len(drawn), max_size=len(drawn), unique=True))
    numbered = tuple(replace(rule, priority=priority) for rule, priority in zip(drawn, priorities, strict=True))
    keep_tags = tuple(draw(st.lists(st.sampled_from(KEEP_TAGS), max_size=2, unique=True)))
    idle = draw(st.none() | st.integers(1, 24 * 40).map(lambda hours: timedelta(hours=hours)))
    return Policy(numbered, keep_tags, idle=idle, every_class=draw(st.booleans()))


def expired(result: list[Expiry]) -> set[str]:
    return {expiry.image.digest for expiry in result if expiry.action == "expire"}


def is_referrer_tag(tag: str) -> bool:
    name, _, suffix = tag.partition(".")
    return name.startswith("sha256-") and len(name) == 71 and suffix in ("", "sig", "att", "sbom")


def parents_of(image: StoredImage, present: dict[str, StoredImage]) -> set[str]:
    """The images present that IMAGE belongs to: an index naming it, its subject, or the image that each
    of its tags names when it has no tag but referrer tags."""
    found = {other.digest for other in present.values() if image.digest in other.children}
    if image.subject:
        found.add(image.subject)
    if image.tags and all(is_referrer_tag(tag) for tag in image.tags):
        found |= {"sha256:" + tag[7:71] for tag in image.tags}
    return {parent for parent in found if parent in present and parent != image.digest}


def keep_tagged(image: StoredImage, policy: Policy) -> bool:
    return any(fnmatchcase(tag, glob) for tag in image.tags for glob in policy.keep_tags)


@FAST
@given(repositories(), policies())
def test_nothing_a_kept_image_needs_is_selected(images: list[StoredImage], policy: Policy) -> None:
    present = {image.digest: image for image in images}
    selected = expired(select(images, policy, NOW))
    assert selected <= set(present)
    for image in images:
        if keep_tagged(image, policy):
            assert image.digest not in selected, "an image with a --keep-tag tag is kept"
        if image.digest in selected:
            # kept parents keep it: every child of a kept index, every referrer of a kept image stays
            assert parents_of(image, present) <= selected, f"{image} goes while a parent stays"


@FAST
@given(repositories(), policies())
def test_a_dependent_goes_when_all_its_parents_go(images: list[StoredImage], policy: Policy) -> None:
    present = {image.digest: image for image in images}
    result = select(images, policy, NOW)
    selected = expired(result)
    for image in images:
        parents = parents_of(image, present)
        own_tag = any(not is_referrer_tag(tag) for tag in image.tags)
        if parents and parents <= selected and not own_tag and not keep_tagged(image, policy):
            assert image.digest in selected, f"{image} outlives every parent"
    for expiry in result:
        assert expiry.reason
        assert (expiry.rule is None) == (expiry.rule not in {rule.priority for rule in policy.rules})


@FAST
@given(repositories(), policies(), st.randoms(use_true_random=False))
def test_selection_is_deterministic_and_ignores_input_order(
    images: list[StoredImage], policy: Policy, rnd: random.Random
) -> None:
    first = select(images, policy, NOW)
    shuffled = list(images)
    rnd.shuffle(shuffled)
    reversed_rules = replace(policy, rules=tuple(reversed(policy.rules)))
    assert select(shuffled, reversed_rules, NOW) == first
    order = [(expiry.image.pushed_at, expiry.image.digest) for expiry in first]
    assert order == sorted(order)


@FAST
@given(
    repositories(),
    st.none() | st.integers(1, 4),
    st.lists(st.sampled_from(PREFIXES), max_size=2),
    st.none() | st.integers(1, 40).map(lambda days: timedelta(days=days)),
)
def test_prune_and_lifecycle_preview_select_the_same_images(
    images: list[StoredImage], keep: int | None, prefixes: list[str], older_than: timedelta | None
) -> None:
    if keep is None and older_than is None:
        older_than = timedelta(days=1)
    images = [replace(image, status="ACTIVE") for image in images]  # ECR's rules see ACTIVE ones; prune's all
    pruned = prune_policy(keep, prefixes, False, older_than)
    previewed = parse_policy(policy_json(pruned))
    assert previewed.rules == pruned.rules
    assert select(images, previewed, NOW) == select(images, pruned, NOW)


@FAST
@given(repositories(), policies(), st.data())
def test_nothing_an_image_in_use_needs_is_selected(
    images: list[StoredImage], policy: Policy, data: st.DataObject
) -> None:
    present = {image.digest: image for image in images}
    in_use = set(data.draw(st.lists(st.sampled_from(sorted(present) + [MISSING]), max_size=3)))
    result = select(images, policy, NOW, in_use)
    chosen = {expiry.image.digest for expiry in result}
    # what an image in use needs: itself, what it belongs to (the index naming it...), and so on upward
    needed = set(in_use & set(present))
    while True:
        more = {parent for digest in needed for parent in parents_of(present[digest], present)} - needed
        if not more:
            break
        needed |= more
    assert not chosen & needed, "an image in use, or an image it needs, was selected"
    for image in images:
        if image.digest in expired(result):
            assert not parents_of(image, present) & needed, f"{image} goes while an image in use stays"


@FAST
@given(repositories(), policies())
def test_each_rule_sees_its_storage_class_and_its_clock(images: list[StoredImage], policy: Policy) -> None:
    by_priority = {rule.priority: rule for rule in policy.rules}
    for expiry in select(images, policy, NOW):
        image = expiry.image
        if policy.idle is not None and expiry.rule is not None:
            assert NOW - image.idle_since() > policy.idle, "an image pulled within --not-pulled-for was selected"
        if expiry.rule is None:
            assert expiry.action == "expire"  # what goes with a parent goes; a transition takes nothing
            continue
        rule = by_priority[expiry.rule]
        assert expiry.action == rule.action
        if not policy.every_class:
            wanted = {"standard": "ACTIVE", "archive": "ARCHIVED"}[rule.storage_class]
            assert image.status == wanted, f"a {rule.storage_class} rule chose a {image.status} image"
        if rule.count_type == "sinceImagePulled" and rule.age > timedelta(0):
            since = image.last_pulled_at or image.pushed_at
            assert NOW - since > rule.age, "an image pulled within the rule's span was selected"
