"""What `ecrtool images` shows: the filters (`--untagged`, `--older-than`, `--archived`, `--not-pulled-for`),
the listing they give, and its total size with every manifest counted once.

Filters apply to the images as people see them, after an index's children are folded into it
(group_indexes): a child is part of its index, never an "untagged image" of its own.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from ecrtool.model.archive import IN_ARCHIVE
from ecrtool.model.durations import format_duration
from ecrtool.model.manifests import DOCKER_MANIFEST, Descriptor, is_index
from ecrtool.model.results import ImageInfo


@dataclass(frozen=True)
class ImageFilter:
    """Which images to show: untagged ones, those pushed longer than OLDER_THAN ago, those in ECR's archive
    (ARCHIVED, or ACTIVATING: being restored), those not pulled for NOT_PULLED_FOR; several together: all (AND)."""

    untagged: bool = False
    older_than: timedelta | None = None
    archived: bool = False
    not_pulled_for: timedelta | None = None

    def keeps(self, image: ImageInfo, now: datetime) -> bool:
        if self.untagged and image.tags:
            return False
        if self.archived and image.status not in IN_ARCHIVE:
            return False
        if self.not_pulled_for is not None:
            # ECR's lastRecordedPullTime; an image never pulled counts from its push, and one with neither
            # time cannot be shown to be unused for that long
            last = image.last_pulled_at or image.pushed_at
            if last is None or last >= now - self.not_pulled_for:
                return False
        if self.older_than is not None:
            # an image without a push time cannot be shown to be old enough
            return image.pushed_at is not None and image.pushed_at < now - self.older_than
        return True

    def count(self, count: int) -> str:
        """COUNT images in words, with what they are: `3 images`, `1 untagged image pushed over 30d ago`,
        `2 archived images not pulled for over 90d`."""
        kind = ("untagged " if self.untagged else "") + ("archived " if self.archived else "")
        kind += "image" if count == 1 else "images"
        age = f" pushed over {format_duration(self.older_than)} ago" if self.older_than is not None else ""
        if self.not_pulled_for is not None:
            age += (" and" if age else "") + f" not pulled for over {format_duration(self.not_pulled_for)}"
        return f"{count} {kind}{age}"


@dataclass(frozen=True)
class ImageListing:
    """The images shown, newest first; their total size (each manifest once: an index with its children's
    sizes, a child that is also listed by its tag not again); and whether ECR refused the manifests that
    fold an index's children and an image's referrers in (then they may be listed on their own)."""

    repository: str
    images: list[ImageInfo]
    total_bytes: int
    filter: ImageFilter = ImageFilter()
    manifests_unread: bool = False


def total_bytes(
    shown: Iterable[ImageInfo], found: Sequence[ImageInfo], indexes: Mapping[str, Sequence[Descriptor]]
) -> int:
    """The bytes SHOWN holds, each manifest counted once: a listed index stands for its children (those of
    FOUND whose sizes are known; else ECR's own figure for the index), so a child listed by its tag as well,
    or shared by two listed indexes, adds nothing more."""
    sizes = {image.digest: image.size_bytes for image in found}
    counted: set[str] = set()
    total = 0
    for image in shown:
        parts = [
            (child.digest, size)
            for child in indexes.get(image.digest, ())
            if (size := sizes.get(child.digest)) is not None
        ]
        for digest, size in parts or [(image.digest, image.size_bytes or 0)]:
            if digest not in counted:
                counted.add(digest)
                total += size or 0
    return total


def maybe_referrer(image: ImageInfo) -> bool:
    """An untagged image that could be a referrer (a signature, SBOM or attestation naming its `subject`):
    an untagged image manifest but a Docker v2 one, whose format has no subject, so its manifest is not read
    (an index stands for its children: shown as an image of its own)."""
    return not image.tags and image.media_type != DOCKER_MANIFEST and not is_index(image.media_type)


def group_indexes(images: Sequence[ImageInfo], indexes: Mapping[str, Sequence[Descriptor]]) -> list[ImageInfo]:
    """IMAGES with each index in INDEXES (digest -> children) shown once: its platforms, and as its size the
    sum of its children's sizes when the listing has them (ECR's own figure for an index is not that).
    An untagged child of a listed index is left out; a tagged one stays, as people know it by its tag.

    ECR's DescribeImages lists an index as one image and each of its child manifests as an untagged image
    of its own; people think of the index as the image, so a listing folds the children into it."""
    children = {child.digest for found in indexes.values() for child in found}
    sizes = {image.digest: image.size_bytes for image in images if image.digest in children}
    grouped: list[ImageInfo] = []
    for image in images:
        if image.digest in children and not image.tags:
            continue
        found = indexes.get(image.digest)
        if found is not None:
            known = [size for child in found if (size := sizes.get(child.digest)) is not None]
            platforms = tuple(dict.fromkeys(child.platform for child in found if child.platform))
            image = replace(image, platforms=platforms, size_bytes=sum(known) if known else image.size_bytes)
        grouped.append(image)
    return grouped
