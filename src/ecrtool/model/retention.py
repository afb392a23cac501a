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

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

TagStatus = Literal["tagged", "untagged", "any"]
CountType = Literal["imageCountMoreThan", "sinceImagePushed"]


@dataclass(frozen=True)
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


@dataclass(frozen=True)
class Rule:
    """One lifecycle rule, as ECR's policy JSON has it. `age` is sinceImagePushed's span (ECR's is whole
    days; prune's --older-than may be 12h); `count` is imageCountMoreThan's number."""

    priority: int
    tag_status: TagStatus
    count_type: CountType
    count: int = 0
    age: timedelta = timedelta(0)
    tag_prefixes: tuple[str, ...] = ()
    tag_patterns: tuple[str, ...] = ()
    description: str = ""


@dataclass(frozen=True)
class Policy:
    """Rules in any order (evaluated by priority), and tag globs that are never selected (prune's
    --keep-tag: ECR's policies have no such thing)."""

    rules: tuple[Rule, ...]
    keep_tags: tuple[str, ...] = ()


@dataclass(frozen=True)
class Expiry:
    """An image selected, and why in words a person reads ("beyond the newest 5 tagged release-*",
    "untagged", "pushed 41d ago, over 30d", "child of sha256:ab12…", "signature of sha256:…").
    `rule` is the priority of the rule that expired it; None for one that goes with its parent."""

    image: StoredImage
    reason: str
    rule: int | None
