"""Which images a cleanup removes: ECR's lifecycle rules evaluated over a repository, the way ECR does,
but with a multi-arch image and its signatures as one thing.

ECR's own evaluation counts an index's untagged children and a signature as images of their own, so a
rule like "expire untagged images" breaks indexes and strips signatures from images still in use. Here
the rules see only the *top-level* images; an index's children and an image's referrers (OCI 1.1
`subject`, the `sha256-<hex>` referrers tag, cosign's `sha256-<hex>.sig|.att|.sbom` tags) follow their
parent, and nothing a kept image needs is ever selected.

`prune` and `lifecycle preview` both call `select`; `prune` then deletes what it returns.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from fnmatch import fnmatchcase
from typing import Literal

from ecrtool.model.durations import format_duration

TagStatus = Literal["tagged", "untagged", "any"]
CountType = Literal["imageCountMoreThan", "sinceImagePushed", "sinceImagePulled", "sinceImageTransitioned"]
# a rule's storageClass: ECR's two, and prune's own "any" (its flags apply to every image, whatever its class)
StorageClass = Literal["standard", "archive", "any"]
Action = Literal["expire", "transition"]
# DescribeImages' imageStatus each storage class holds (ACTIVATING: on its way back, in neither yet)
_CLASS_STATUSES = {"standard": ("ACTIVE",), "archive": ("ARCHIVED",), "any": ("ACTIVE", "ARCHIVED", "ACTIVATING")}


@dataclass(frozen=True, slots=True)  # slots: a prune holds one of each per image
class StoredImage:
    """One manifest in a repository as a cleanup sees it (from DescribeImages, plus the manifest itself for
    an index, to know its children, and for an untagged image, to know its subject)."""

    digest: str
    tags: tuple[str, ...]
    pushed_at: datetime
    size_bytes: int
    media_type: str | None = None
    children: tuple[str, ...] = ()  # the manifests an index names
    subject: str | None = None  # the image this one refers to (a signature, SBOM or attestation)
    last_pulled_at: datetime | None = None  # DescribeImages' lastRecordedPullTime; None: never pulled
    status: str = "ACTIVE"  # DescribeImages' imageStatus: ACTIVE, ARCHIVED or ACTIVATING
    archived_at: datetime | None = None  # DescribeImages' lastArchivedAt

    def idle_since(self) -> datetime:
        """When IMAGE was last pulled, or pushed if never (ECR's sinceImagePulled counts so)."""
        return self.last_pulled_at or self.pushed_at


@dataclass(frozen=True)
class Rule:
    """One lifecycle rule, as ECR's policy JSON has it. `age` is the span of a since* count type (ECR's is
    whole days; prune's --older-than may be 12h); `count` is imageCountMoreThan's number. `storage_class`
    says which images the rule sees (standard: ACTIVE ones, archive: ARCHIVED ones); `action` is expire
    or transition (to archive, the only target ECR has)."""

    priority: int
    tag_status: TagStatus
    count_type: CountType
    count: int = 0
    age: timedelta = timedelta(0)
    tag_prefixes: tuple[str, ...] = ()
    tag_patterns: tuple[str, ...] = ()
    description: str = ""
    storage_class: StorageClass = "standard"
    action: Action = "expire"


@dataclass(frozen=True)
class Policy:
    """Rules in any order (evaluated by priority), and tag globs that are never selected (prune's
    --keep-tag: ECR's policies have no such thing). `idle`: prune's --not-pulled-for beside other flags,
    a further condition on every rule (an image pulled within it is never expired, yet still counted)."""

    rules: tuple[Rule, ...]
    keep_tags: tuple[str, ...] = ()
    idle: timedelta | None = None
    every_class: bool = False  # prune's: every rule sees every image, whatever its storage class


@dataclass(frozen=True, slots=True)  # slots: a prune holds one of each per image
class Expiry:
    """An image selected, and why in words a person reads ("beyond the newest 5 tagged release-*",
    "untagged", "pushed 41d ago, over 30d", "child of sha256:ab12…", "signature of sha256:…").
    `rule` is the priority of the rule that expired it; None for one that goes with its parent."""

    image: StoredImage
    reason: str
    rule: int | None
    action: Action = "expire"  # transition: the image moves to archive (lifecycle preview only)


# The OCI referrers fallback tag (`sha256-<hex>`, an index of an image's referrers) and cosign's tags for
# a signature, an attestation and an SBOM (`sha256-<hex>.sig|.att|.sbom`): a manifest tagged only so
# belongs to the image the tag names.
_REFERRER_TAG = re.compile(r"sha256-([0-9a-f]{64})(?:\.(sig|att|sbom))?")
_TAG_KINDS = {None: "referrers of", "sig": "signature of", "att": "attestation of", "sbom": "SBOM of"}
_CHILD, _REFERRER = "child of", "referrer of"
_ORDER = {_CHILD: 0, _REFERRER: 1}


def select(
    images: Iterable[StoredImage], policy: Policy, now: datetime, in_use: Iterable[str] = ()
) -> list[Expiry]:
    """The images POLICY expires (or transitions) in a repository holding IMAGES at NOW, oldest first
    (then by digest).

    The rules see the top-level images only and follow ECR's evaluation rules ("Lifecycle policy
    evaluation rules", https://docs.aws.amazon.com/AmazonECR/latest/userguide/LifecyclePolicies.html):
    by priority, lowest first; a rule expires only images that no earlier rule's tag selection matched,
    yet counts every image it matches (expired or not) when it keeps the newest N; an image is expired by
    one rule at most. An image with a `keep_tags` tag is counted like any other but never expired.

    The rules do not see referrer tags: a manifest tagged only with one whose image is not there (a
    leftover signature) is untagged to them.

    A dependent (an index's child, a referrer of an image by `subject` or by a referrer tag) goes when
    every parent present goes and stays when any stays, so nothing a kept image needs is ever selected.
    A child that also has a tag of its own is a top-level image too: it goes only when a rule expires it
    and every parent goes. Dependents of dependents chain; a cycle stays, and a reference to a manifest
    that is not there makes no parent (nothing is deleted on a guess).

    Storage classes as ECR has them: a standard rule sees ACTIVE images, an archive rule ARCHIVED ones
    (prune's "any" all of them), while every image, whatever its class, is a parent its dependents stay
    with. A transition is reported with action "transition" and takes nothing with it.

    IN_USE digests (running workloads' images) are never selected, nor what they need: the indexes that
    name them, and through those their siblings, and their referrers. They are counted like any other.
    """
    stored = _unique(images)
    parents = _parents(stored)
    top = {digest for digest, image in stored.items() if digest not in parents or _has_own_tag(image)}
    held = _held(stored, parents, in_use)
    found = _evaluate([stored[digest] for digest in top], policy, now, held)
    expired = {digest: expiry for digest, expiry in found.items() if expiry.action == "expire"}
    moved = [expiry for expiry in found.values() if expiry.action == "transition"]

    # What goes: the parentless images a rule expired, then, parent by parent, each dependent whose last
    # parent went (a top-level child only if a rule expired it too). Linear in images plus references.
    waiting = {digest: len(ups) for digest, ups in parents.items()}
    dependents: dict[str, list[str]] = {}
    for digest, ups in parents.items():
        for parent in ups:
            dependents.setdefault(parent, []).append(digest)
    gone = {digest: expiry for digest, expiry in expired.items() if digest not in parents}
    queue = list(gone)
    while queue:
        for child in dependents.get(queue.pop(), ()):
            waiting[child] -= 1
            if waiting[child] or child in gone or child in held or _keep_tagged(stored[child], policy.keep_tags):
                continue
            if child in expired:
                gone[child] = expired[child]
            elif child not in top:
                gone[child] = Expiry(stored[child], _dependent_reason(parents[child]), None)
            else:
                continue
            queue.append(child)
    chosen = [*gone.values(), *moved]
    return sorted(chosen, key=lambda expiry: (expiry.image.pushed_at, expiry.image.digest))


def _held(stored: dict[str, StoredImage], parents: dict[str, dict[str, str]], in_use: Iterable[str]) -> set[str]:
    """IN_USE's digests present, and every image above them (the index naming a child in use, the image a
    referrer in use refers to): what stays so the images in use stay whole."""
    held: set[str] = set()
    queue = [digest for digest in in_use if digest in stored]
    while queue:
        digest = queue.pop()
        if digest not in held:
            held.add(digest)
            queue.extend(parents.get(digest, ()))
    return held


def _unique(images: Iterable[StoredImage]) -> dict[str, StoredImage]:
    """IMAGES by digest; of two listings of one digest the same one wins whatever the input order."""
    stored: dict[str, StoredImage] = {}
    for image in images:
        other = stored.get(image.digest)
        if other is None or _listing_key(image) < _listing_key(other):
            stored[image.digest] = image
    return stored


def _listing_key(image: StoredImage) -> tuple[object, ...]:
    return (image.pushed_at, image.tags, image.size_bytes, image.media_type or "", image.children,
            image.subject or "", image.status, image.idle_since(), image.archived_at or image.pushed_at)


def _parents(stored: dict[str, StoredImage]) -> dict[str, dict[str, str]]:
    """For each dependent, the images present that it belongs to and how ("child of", "referrer of"...)."""
    parents: dict[str, dict[str, str]] = {}

    def link(child: str, parent: str, relation: str) -> None:
        if child != parent and child in stored and parent in stored:
            known = parents.setdefault(child, {})
            # of two ways to belong to one parent (a child that is also a referrer), name the same one
            # whatever the input order
            if parent not in known or _rank(relation) < _rank(known[parent]):
                known[parent] = relation

    for image in stored.values():
        for child in image.children:
            link(child, image.digest, _CHILD)
        if image.subject:
            link(image.digest, image.subject, _REFERRER)
        if image.tags and not _has_own_tag(image):
            for tag in image.tags:
                found = _REFERRER_TAG.fullmatch(tag)
                if found:
                    link(image.digest, f"sha256:{found.group(1)}", _TAG_KINDS[found.group(2)])
    return parents


def _has_own_tag(image: StoredImage) -> bool:
    """Whether IMAGE has a tag of its own, not just the tag that names it a referrer of another image."""
    return any(not _REFERRER_TAG.fullmatch(tag) for tag in image.tags)


def _keep_tagged(image: StoredImage, keep_tags: tuple[str, ...]) -> bool:
    return any(fnmatchcase(tag, pattern) for tag in image.tags for pattern in keep_tags)


def _evaluate(top: list[StoredImage], policy: Policy, now: datetime, held: set[str]) -> dict[str, Expiry]:
    """ECR's evaluation of POLICY over the top-level images TOP: what each rule expires or transitions,
    by digest. HELD images are counted but never chosen."""
    newest_first = sorted(top, key=lambda image: (image.pushed_at, image.digest), reverse=True)
    claimed: set[str] = set()  # matched by an earlier rule's tag selection: no later rule expires them
    expired: dict[str, Expiry] = {}
    for rule in sorted(policy.rules, key=lambda rule: rule.priority):
        statuses = _CLASS_STATUSES["any" if policy.every_class else rule.storage_class]
        matched = [image for image in newest_first
                   if image.status in statuses and _matches(rule, _own_tags(image))]
        if rule.count_type == "imageCountMoreThan":
            chosen = [(image, _count_reason(rule)) for image in matched[rule.count:]]
        else:
            aged = [(image, now - _since(rule, image)) for image in matched]
            chosen = [(image, _age_reason(rule, age)) for image, age in aged
                      if rule.age <= timedelta(0) or age > rule.age]
        for image, reason in chosen:
            if image.digest in claimed or image.digest in held or _keep_tagged(image, policy.keep_tags):
                continue
            if policy.idle is not None and now - image.idle_since() <= policy.idle:
                continue
            if policy.idle is not None:
                reason = f"{reason}; {_pull_words(image, now)}"
            expired[image.digest] = Expiry(image, reason, rule.priority, rule.action)
        claimed.update(image.digest for image in matched)
    return expired


def _since(rule: Rule, image: StoredImage) -> datetime:
    """The moment RULE's count type measures IMAGE's age from: its push, its last pull (its push if never
    pulled, as ECR counts it), or its move to archive (its push if ECR does not say)."""
    if rule.count_type == "sinceImagePulled":
        return image.idle_since()
    if rule.count_type == "sinceImageTransitioned":
        return image.archived_at or image.pushed_at
    return image.pushed_at


def _pull_words(image: StoredImage, now: datetime) -> str:
    if image.last_pulled_at is None:
        return f"never pulled, pushed {_ago(now - image.pushed_at)} ago"
    return f"last pulled {_ago(now - image.last_pulled_at)} ago"


def _own_tags(image: StoredImage) -> tuple[str, ...]:
    """The tags the rules see: not the referrer tags, so a signature whose image is gone is an untagged
    leftover (`--untagged` takes it) rather than one of the newest N tagged images."""
    return tuple(tag for tag in image.tags if not _REFERRER_TAG.fullmatch(tag))


def _matches(rule: Rule, tags: tuple[str, ...]) -> bool:
    """Whether an image with TAGS meets RULE's tag selection. With several prefixes or patterns, an image
    matches only when it has a tag for each of them (ECR: "If you specify multiple tags, only the images
    with all specified tags are selected", Lifecycle policy properties,
    https://docs.aws.amazon.com/AmazonECR/latest/userguide/lifecycle_policy_parameters.html)."""
    if rule.tag_status == "any":
        return True
    if rule.tag_status == "untagged":
        return not tags
    if rule.tag_prefixes:
        return all(any(tag.startswith(prefix) for tag in tags) for prefix in rule.tag_prefixes)
    return bool(tags) and all(any(_pattern(pattern).fullmatch(tag) for tag in tags) for pattern in rule.tag_patterns)


_PATTERNS: dict[str, re.Pattern[str]] = {}


def _pattern(glob: str) -> re.Pattern[str]:
    """ECR's tag pattern: `*` is any run of characters, everything else is itself."""
    found = _PATTERNS.get(glob)
    if found is None:
        found = _PATTERNS[glob] = re.compile(".*".join(re.escape(part) for part in glob.split("*")), re.S)
    return found


def describe(rule: Rule) -> str:
    """What RULE's tag selection takes, in words: "tagged release-*", "untagged", "tagged", ""."""
    if rule.tag_status == "untagged":
        return "untagged"
    if rule.tag_status == "any":
        return ""
    lists = [f"{prefix}*" for prefix in rule.tag_prefixes] or [p for p in rule.tag_patterns if p != "*"]
    return " ".join(["tagged", " and ".join(lists)]) if lists else "tagged"


def _count_reason(rule: Rule) -> str:
    what = describe(rule) or "images"
    if rule.count <= 0:
        return f"{what}, none kept"
    return f"beyond the newest {rule.count} {what}"


_SINCE_WORDS = {"sinceImagePushed": "pushed", "sinceImagePulled": "not pulled for",
                "sinceImageTransitioned": "archived"}


def _age_reason(rule: Rule, age: timedelta) -> str:
    what = describe(rule)
    if rule.age <= timedelta(0):
        return what or "any image"
    if rule.count_type == "sinceImagePulled":
        since = f"not pulled for {_ago(age)}, over {span_words(rule.age)}"
    else:
        since = f"{_SINCE_WORDS[rule.count_type]} {_ago(age)} ago, over {span_words(rule.age)}"
    return f"{what}, {since}" if what else since


def span_words(span: timedelta) -> str:
    """SPAN as a rule's limit reads: in days when whole days (30d, not 4w2d), else as typed (12h, 1d6h)."""
    if span > timedelta(0) and span % timedelta(days=1) == timedelta(0):
        return f"{span.days}d"
    return format_duration(span)


def _ago(span: timedelta) -> str:
    """SPAN in its largest whole unit, as a person reads an age: 41d, 5h, 12m, 30s."""
    seconds = max(int(span.total_seconds()), 0)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def _dependent_reason(parents: dict[str, str]) -> str:
    """Why a dependent goes with its parents: "child of sha256:abcdef123456" (and how many more)."""
    parent, relation = min(parents.items(), key=lambda item: (_rank(item[1]), item[0]))
    more = f" and {len(parents) - 1} more" if len(parents) > 1 else ""
    return f"{relation} {short_digest(parent)}{more}"


def _rank(relation: str) -> tuple[int, str]:
    return _ORDER.get(relation, 2), relation


def short_digest(digest: str) -> str:
    """DIGEST as people quote it: its algorithm and the first 12 hex characters."""
    algorithm, _, hexpart = digest.partition(":")
    return f"{algorithm}:{hexpart[:12]}" if hexpart else digest[:12]
