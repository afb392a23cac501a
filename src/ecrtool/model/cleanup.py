"""What `prune` and `lifecycle` return, and the order a cleanup deletes in.

A cleanup's selection is model.retention's (`select`); here are the results around it and the one rule
of deletion ECR imposes: a manifest another live manifest names (an index's child) cannot go first.
ECR refuses to delete a child of a live index (failureCode ImageReferencedByManifestList), so an index
goes before its children. Referrers go the other way, *after* their subject: ECR does not refuse either
order, but deleting the image first means a delete that fails leaves a kept image still signed, never a
kept image stripped of its signature (`goes_first`, `delete_order`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from ecrtool.model.manifests import is_index
from ecrtool.model.results import DeleteFailure
from ecrtool.model.retention import Expiry, StoredImage


@dataclass(frozen=True)
class LifecyclePolicyInfo:
    """A repository's lifecycle policy as ECR holds it: its JSON text (None: the repository has none) and
    when ECR last evaluated it."""

    repository: str
    text: str | None
    last_evaluated_at: datetime | None = None


@dataclass(frozen=True)
class CleanupResult:
    """A selection over a repository's images, and what became of it.

    `source` says where the rules came from ("flags", "file policy.json", "the repository's policy").
    `dry_run`: nothing was deleted (prune without --yes, and every `lifecycle preview`).
    `selected` is oldest first. A selected index's size is its children's (as `ecrtool images` shows it);
    `selected_bytes` counts every manifest once, an index through its children.
    """

    repository: str
    source: str
    dry_run: bool
    examined: int  # the images (manifests) the repository held
    selected: list[Expiry]
    selected_bytes: int
    deleted: frozenset[str] = frozenset()  # digests
    deleted_bytes: int = 0
    failures: list[DeleteFailure] = field(default_factory=list)
    delete_calls: int = 0
    # digest -> why it stayed: read again before its delete, it had gained a tag or a pull since the
    # listing (or was gone already), or it goes with one that had
    spared: dict[str, str] = field(default_factory=dict)
    # digest -> where it is in use (--protect-in-use, --protect-file): never selected, nor what it needs
    in_use: dict[str, str] = field(default_factory=dict)
    # how the links between manifests were learnt: "read" (manifests read by a principal whose pulls ECR
    # does not record), or "listing" (DescribeImages only: an index's children are not known, so an untagged
    # manifest stays while any image index stays)
    links: str = "read"

    def status(self, digest: str) -> str:
        """What became of a selected image: selected (a dry run), deleted, spared, or failed."""
        if self.dry_run:
            return "selected"
        if digest in self.deleted:
            return "deleted"
        return "spared" if digest in self.spared else "failed"


def freed_bytes(images: Iterable[StoredImage]) -> int:
    """The bytes IMAGES hold, each manifest once: an index's own size is its children's, already counted
    through the children it goes with."""
    return sum(image.size_bytes for image in images if not is_index(image.media_type))


def goes_first(images: Sequence[StoredImage]) -> dict[str, set[str]]:
    """For each of IMAGES' digests, the selected manifests that must be deleted before it: the index that
    names it as a child (ECR refuses to delete a child of a live index), and the image it is a referrer of
    (a signature goes after its image, so a failed delete never leaves a kept image unsigned)."""
    selected = {image.digest for image in images}
    first: dict[str, set[str]] = {digest: set() for digest in selected}
    for image in images:
        for child in image.children:
            if child in selected and child != image.digest:
                first[child].add(image.digest)
        if image.subject in selected and image.subject != image.digest:
            first[image.digest].add(image.subject)
    return first


def delete_order(images: Sequence[StoredImage]) -> list[list[str]]:
    """IMAGES' digests in rounds that ECR accepts and that keep what stays whole: every round deletes only
    manifests whose `goes_first` are gone (an index before its children, an image before its referrers).
    Each round is one or more BatchDeleteImage calls of at most 100; a plain repository's cleanup is one
    round.

    A cycle (which a registry cannot hold, as a digest names its content) ends in one last round."""
    first = goes_first(images)
    then: dict[str, list[str]] = {}
    for digest, before in first.items():
        for earlier in before:
            then.setdefault(earlier, []).append(digest)
    waiting_on = {digest: len(before) for digest, before in first.items()}
    rounds: list[list[str]] = []
    ready = sorted(digest for digest, count in waiting_on.items() if count == 0)
    done: set[str] = set()
    while ready:
        rounds.append(ready)
        done.update(ready)
        following: list[str] = []
        for digest in ready:
            for later in then.get(digest, ()):
                waiting_on[later] -= 1
                if waiting_on[later] == 0:
                    following.append(later)
        ready = sorted(following)
    rest = sorted(set(first) - done)
    if rest:
        rounds.append(rest)
    return rounds


def policy_document(text: str) -> object:
    """A policy's JSON text as a JSON value, for `-o json` (the text itself when it is not JSON)."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def iam_principal(arn: str) -> str:
    """The IAM principal (user or role) that STS's caller ARN ARN is: the name a pull-time update exclusion
    (RegisterPullTimeUpdateExclusion's principalArn) gives it. An assumed role's session is its role."""
    found = re.match(r"^arn:(aws[a-z-]*):sts::(\d{12}):(?:user/(.+)|assumed-role/([^/]+)/.+)$", arn)
    if found is None:
        return arn
    partition, account, user, role = found.groups()
    return f"arn:{partition}:iam::{account}:user/{user}" if user else f"arn:{partition}:iam::{account}:role/{role}"
