"""Which images a cleanup removes: ECR's rule semantics over top-level images, and multi-arch images,
signatures and referrers kept whole."""

from __future__ import annotations

import hashlib
import time
from datetime import datetime, timedelta, timezone

from ecrtool.model.retention import Expiry, Policy, Rule, StoredImage, select

NOW = datetime(2026, 6, 1, tzinfo=timezone.utc)


def digest(name: str) -> str:
    return "sha256:" + hashlib.sha256(name.encode()).hexdigest()


def image(
    name: str,
    *tags: str,
    days: float = 1,
    children: tuple[str, ...] = (),
    subject: str | None = None,
) -> StoredImage:
    return StoredImage(
        digest=digest(name),
        tags=tags,
        pushed_at=NOW - timedelta(days=days),
        size_bytes=1000,
        children=tuple(digest(child) for child in children),
        subject=digest(subject) if subject else None,
    )


def referrer_tag(name: str, suffix: str = "") -> str:
    return "sha256-" + digest(name).removeprefix("sha256:") + suffix


def keep_newest(count: int, *prefixes: str, priority: int = 1) -> Rule:
    patterns = () if prefixes else ("*",)
    return Rule(priority, "tagged", "imageCountMoreThan", count=count, tag_prefixes=prefixes, tag_patterns=patterns)


def older_than(days: float, status: str = "any", priority: int = 9) -> Rule:
    return Rule(priority, status, "sinceImagePushed", age=timedelta(days=days))  # type: ignore[arg-type]


UNTAGGED = Rule(5, "untagged", "sinceImagePushed")


_NAMES: dict[str, str] = {}  # digest -> the name a test gave the image


def named(name: str, *tags: str, **kwargs: object) -> StoredImage:
    made = image(name, *tags, **kwargs)  # type: ignore[arg-type]
    _NAMES[made.digest] = name
    return made


def chosen(images: list[StoredImage], *rules: Rule, keep_tags: tuple[str, ...] = ()) -> dict[str, str]:
    """What goes, as {image name: reason}."""
    return {_NAMES[expiry.image.digest]: expiry.reason for expiry in select(images, Policy(rules, keep_tags), NOW)}


def test_keeps_the_newest_n_tagged_and_says_why_the_rest_go() -> None:
    images = [named(f"v{n}", f"release-{n}", days=10 - n) for n in range(5)]
    assert chosen(images, keep_newest(2, "release-")) == {
        "v0": "beyond the newest 2 tagged release-*",
        "v1": "beyond the newest 2 tagged release-*",
        "v2": "beyond the newest 2 tagged release-*",
    }


def test_results_come_oldest_first_with_the_rule_that_expired_them() -> None:
    images = [named("b", days=3), named("a", days=5), named("c", "x", days=4)]
    result = select(images, Policy((UNTAGGED,)), NOW)
    assert [(expiry.image.digest, expiry.rule) for expiry in result] == [(digest("a"), 5), (digest("b"), 5)]
    assert all(isinstance(expiry, Expiry) for expiry in result)


def test_age_rule_names_the_age_and_the_limit() -> None:
    images = [named("old", "a", days=41.5), named("new", "b", days=29)]
    assert chosen(images, older_than(30)) == {"old": "pushed 41d ago, over 30d"}
    assert chosen(images, Rule(1, "tagged", "sinceImagePushed", age=timedelta(hours=12), tag_prefixes=("a",))) == {
        "old": "tagged a*, pushed 41d ago, over 12h"
    }


def test_untagged_with_no_age_takes_every_untagged_image_even_one_pushed_just_now() -> None:
    images = [named("loose", days=0), named("future", days=-1), named("tagged", "t", days=100)]
    assert chosen(images, UNTAGGED) == {"loose": "untagged", "future": "untagged"}


def test_several_prefixes_in_one_rule_need_a_tag_for_each() -> None:
    images = [
        named("both", "prod-1", "beta-1", days=5),
        named("prod-only", "prod-2", days=4),
        named("both-new", "prod-3", "beta-3", days=1),
    ]
    assert chosen(images, keep_newest(1, "prod", "beta")) == {"both": "beyond the newest 1 tagged prod* and beta*"}


def test_patterns_are_globs_with_star_only() -> None:
    images = [named("a", "v1.0-rc", days=3), named("b", "v1x0-rc", days=2), named("c", "v2.0", days=1)]
    rule = Rule(1, "tagged", "imageCountMoreThan", count=0, tag_patterns=("v1.0*",))
    assert chosen(images, rule) == {"a": "tagged v1.0*, none kept"}


def test_ecr_example_a_a_rule_counts_but_cannot_expire_what_an_earlier_rule_matched() -> None:
    # AWS's "Filtering on multiple rules", example A: only image A expires.
    images = [
        named("A", "beta-1", "prod-1", days=10),
        named("B", "beta-2", "prod-2", days=9),
        named("C", "beta-3", days=8),
    ]
    assert chosen(images, keep_newest(1, "prod", priority=1), keep_newest(1, "beta", priority=2)) == {
        "A": "beyond the newest 1 tagged prod*"
    }


def test_ecr_example_b_all_three_prefixes_then_one() -> None:
    # AWS's example B: rule 1 (alpha and beta, keep 1) expires A; rule 2 (alpha, keep 1) counts A but
    # cannot expire B, which rule 1 matched; C stays.
    images = [
        named("A", "alpha-1", "beta-1", "gamma-1", days=10),
        named("B", "alpha-2", "beta-2", days=9),
        named("C", "alpha-3", "gamma-3", days=8),
    ]
    assert chosen(images, keep_newest(1, "alpha", "beta", priority=1), keep_newest(1, "alpha", priority=2)) == {
        "A": "beyond the newest 1 tagged alpha* and beta*"
    }


def test_rules_go_by_priority_not_by_order_given() -> None:
    images = [named("old-release", "release-1", days=50), named("new-release", "release-2", days=1)]
    # the keep rule (priority 1) matched both releases: the `any` rule cannot expire them
    assert chosen(images, older_than(30, priority=2), keep_newest(5, "release", priority=1)) == {}
    assert chosen(images, older_than(30, priority=1), keep_newest(5, "release", priority=2)) == {
        "old-release": "pushed 50d ago, over 30d"
    }


def test_multi_arch_index_goes_with_its_platforms_and_attestation() -> None:
    images = [
        named("amd64", days=20),
        named("arm64", days=20),
        named("attest", days=20),
        named("index", "v1", days=20, children=("amd64", "arm64", "attest")),
        named("current", "v2", days=1),
    ]
    assert chosen(images, keep_newest(1), UNTAGGED) == {
        "index": "beyond the newest 1 tagged",
        "amd64": f"child of {digest('index')[:19]}",
        "arm64": f"child of {digest('index')[:19]}",
        "attest": f"child of {digest('index')[:19]}",
    }


def test_untagged_rule_never_breaks_a_kept_index() -> None:
    images = [
        named("amd64", days=20),
        named("arm64", days=20),
        named("index", "v1", days=20, children=("amd64", "arm64")),
        named("stray", days=20),
    ]
    assert chosen(images, UNTAGGED) == {"stray": "untagged"}


def test_a_child_shared_by_two_indexes_stays_while_either_stays() -> None:
    images = [
        named("shared", days=9),
        named("old", "v1", days=9, children=("shared",)),
        named("new", "v2", days=1, children=("shared",)),
    ]
    assert chosen(images, keep_newest(1)) == {"old": "beyond the newest 1 tagged"}
    assert set(chosen(images, keep_newest(0))) == {"old", "new", "shared"}
    assert chosen(images, keep_newest(0))["shared"] == f"child of {digest('new')[:19]} and 1 more"


def test_cosign_signature_follows_its_image() -> None:
    images = [
        named("app", "v1", days=10),
        named("sig", referrer_tag("app", ".sig"), days=10),
        named("sbom", referrer_tag("app", ".sbom"), days=10),
        named("kept", "v2", days=1),
        named("kept-sig", referrer_tag("kept", ".sig"), days=1),
    ]
    assert chosen(images, keep_newest(1)) == {
        "app": "beyond the newest 1 tagged",
        "sig": f"signature of {digest('app')[:19]}",
        "sbom": f"SBOM of {digest('app')[:19]}",
    }
    # an `any` rule sees neither signature: they are not images of their own
    assert chosen(images, older_than(5)) == {
        "app": "pushed 10d ago, over 5d",
        "sig": f"signature of {digest('app')[:19]}",
        "sbom": f"SBOM of {digest('app')[:19]}",
    }


def test_oci_referrer_by_subject_and_by_the_fallback_tag() -> None:
    images = [
        named("app", "v1", days=10),
        named("signature", days=10, subject="app"),
        named("fallback-index", referrer_tag("app"), days=10, children=("signature",)),
        named("sig-of-sig", days=10, subject="signature"),
    ]
    # nothing untagged is an image of its own here: the untagged rule takes nothing
    assert chosen(images, UNTAGGED) == {}
    assert chosen(images, keep_newest(0)) == {
        "app": "tagged, none kept",
        "signature": f"child of {digest('fallback-index')[:19]} and 1 more",
        "fallback-index": f"referrers of {digest('app')[:19]}",
        "sig-of-sig": f"referrer of {digest('signature')[:19]}",
    }


def test_a_child_that_is_also_a_referrer_of_its_index_gets_one_reason_whatever_the_order() -> None:
    images = [named("both", days=5, subject="index"), named("index", "v1", days=5, children=("both",))]
    expected = {"index": "tagged, none kept", "both": f"child of {digest('index')[:19]}"}
    assert chosen(images, keep_newest(0)) == expected
    assert chosen(images[::-1], keep_newest(0)) == expected


def test_a_referrer_whose_subject_is_gone_is_just_an_untagged_image() -> None:
    images = [named("orphan-sig", days=3, subject="deleted-long-ago"), named("app", "v1", days=3)]
    assert chosen(images, UNTAGGED) == {"orphan-sig": "untagged"}


def test_a_signature_whose_image_is_gone_is_an_untagged_leftover_not_a_tagged_image() -> None:
    images = [
        named("leftover", referrer_tag("deleted-long-ago", ".sig"), days=1),
        named("v1", "v1", days=5),
        named("v2", "v2", days=3),
    ]
    assert chosen(images, keep_newest(2)) == {}
    assert chosen(images, UNTAGGED) == {"leftover": "untagged"}
    assert chosen(images, UNTAGGED, keep_tags=("*.sig",)) == {}


def test_a_tagged_child_goes_only_if_selected_and_its_index_goes() -> None:
    images = [
        named("amd64", "v1-amd64", days=11),
        named("arm64", days=11),
        named("index", "v1", days=10, children=("amd64", "arm64")),
        named("index2", "v2", days=1),
    ]
    # the tagged child is an image of its own: rules count it and may select it...
    assert chosen(images, keep_newest(1, "v1-")) == {}
    # ...but it stays while its index stays
    assert chosen(images, keep_newest(0, "v1-amd")) == {}
    assert chosen(images, keep_newest(1)) == {
        "amd64": "beyond the newest 1 tagged",
        "arm64": f"child of {digest('index')[:19]}",
        "index": "beyond the newest 1 tagged",
    }
    # its index goes, no rule selects it: it stays, as an image of its own
    assert chosen(images, Rule(1, "tagged", "imageCountMoreThan", count=0, tag_patterns=("v1",))) == {
        "index": "tagged v1, none kept",
        "arm64": f"child of {digest('index')[:19]}",
    }


def test_keep_tags_are_counted_never_selected_and_keep_their_dependents() -> None:
    images = [
        named("child", days=30),
        named("stable", "stable", "v1", days=30, children=("child",)),
        named("sig", referrer_tag("stable", ".sig"), days=30),
        named("v2", "v2", days=20),
        named("v3", "v3", days=1),
    ]
    # the kept image still counts among the newest, as ECR counts what it will not expire
    assert chosen(images, keep_newest(1), keep_tags=("stab*",)) == {"v2": "beyond the newest 1 tagged"}
    assert chosen(images, keep_newest(1), keep_tags=("*.sig",)) == {
        "stable": "beyond the newest 1 tagged",
        "child": f"child of {digest('stable')[:19]}",
        "v2": "beyond the newest 1 tagged",
    }


def test_cycles_and_dangling_children_do_not_crash_and_keep_what_they_cannot_decide() -> None:
    images = [
        named("loop-a", days=9, children=("loop-b", "missing")),
        named("loop-b", days=9, children=("loop-a",)),
        named("self", "s", days=9, children=("self",), subject="self"),
    ]
    assert chosen(images, older_than(1)) == {"self": "pushed 9d ago, over 1d"}


def test_an_index_inside_an_index_chains() -> None:
    images = [
        named("leaf", days=9),
        named("inner", days=9, children=("leaf",)),
        named("outer", "v1", days=9, children=("inner",)),
    ]
    assert chosen(images, older_than(1)) == {
        "outer": "pushed 9d ago, over 1d",
        "inner": f"child of {digest('outer')[:19]}",
        "leaf": f"child of {digest('inner')[:19]}",
    }


def test_five_thousand_images_in_well_under_a_second() -> None:
    images = []
    for n in range(1250):
        kids = (f"a{n}", f"b{n}")
        images += [image(f"a{n}", days=n), image(f"b{n}", days=n), image(f"i{n}", f"v{n}", days=n, children=kids)]
        images.append(image(f"s{n}", referrer_tag(f"i{n}", ".sig"), days=n))
    started = time.perf_counter()
    result = select(images, Policy((keep_newest(100), UNTAGGED, older_than(30))), NOW)
    assert time.perf_counter() - started < 0.5
    assert len(result) == 4 * 1150
