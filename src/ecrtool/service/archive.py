"""`ecrtool archive` and `ecrtool restore`: images moved between ECR's standard and archive storage classes
(UpdateImageStorageClass), each looked up first by DescribeImages by id, which never counts as a pull."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from datetime import timedelta

from ecrtool.model.archive import IN_ARCHIVE, StorageChange, StorageFailure, StorageResult, shown_reference
from ecrtool.model.durations import format_duration
from ecrtool.model.errors import EcrToolError, InvalidInput
from ecrtool.model.refs import RepoRef, parse_repo_ref
from ecrtool.model.results import ImageInfo
from ecrtool.service.base import ServiceBase, Target

# restore --wait: the first look soon (the local ECR restores in seconds), then no more than one call in 15 s
_FIRST_POLL = 1.0
_LONGEST_POLL = 15.0
_sleep: Callable[[float], None] = time.sleep  # tests put a clock of their own here
_clock: Callable[[], float] = time.monotonic


class Archives(ServiceBase):
    def archive(self, refs: Sequence[str]) -> StorageResult:
        """Move each image REFS names to the archive: an image already there (or being restored) is left alone."""
        images, failures = [], []
        for text, ref, target in self._parse(refs):
            try:
                image = target.ecr.image_in_any_status(ref.repository, _image_id(ref))
                if image.status == "ACTIVATING":
                    failures.append(StorageFailure(text, f"{text} is being restored: archive it once it is ACTIVE"))
                    continue
                after = image.status or "ACTIVE"
                if after not in IN_ARCHIVE:
                    after = target.ecr.update_storage_class(ref.repository, image.digest, "ARCHIVE")
                images.append(_change(text, image, after, changed=image.status not in IN_ARCHIVE))
            except EcrToolError as err:
                failures.append(StorageFailure(text, str(err)))
        return StorageResult("archive", images, failures)

    def restore(
        self,
        refs: Sequence[str],
        *,
        wait: bool = False,
        timeout: timedelta = timedelta(minutes=30),
    ) -> StorageResult:
        """Bring each image REFS names back to the standard class; with WAIT, until every one is ACTIVE (one
        DescribeImages by id per image and poll) or TIMEOUT has passed."""
        sleep, clock = _sleep, _clock
        images: list[StorageChange] = []
        failures: list[StorageFailure] = []
        pending: list[tuple[Target, RepoRef, StorageChange]] = []
        for text, ref, target in self._parse(refs):
            try:
                image = target.ecr.image_in_any_status(ref.repository, _image_id(ref))
                after = image.status or "ACTIVE"
                if after == "ARCHIVED":
                    after = target.ecr.update_storage_class(ref.repository, image.digest, "STANDARD")
                change = _change(text, image, after, changed=image.status == "ARCHIVED")
            except EcrToolError as err:
                failures.append(StorageFailure(text, str(err)))
                continue
            if wait and change.after != "ACTIVE":
                pending.append((target, ref.replace(digest=image.digest, tag=None), change))
            else:
                images.append(change)
        started = clock()
        pause = _FIRST_POLL
        while pending:
            if clock() - started >= timeout.total_seconds():
                span = format_duration(timeout)
                for _, _, change in pending:
                    failures.append(
                        StorageFailure(change.reference, f"{change.reference} is still {change.after} after {span}")
                    )
                    images.append(change)
                break
            sleep(min(pause, max(timeout.total_seconds() - (clock() - started), 0.0)))
            pause = min(pause * 1.5, _LONGEST_POLL)
            still = []
            for target, ref, change in pending:
                try:
                    now = target.ecr.image_in_any_status(ref.repository, _image_id(ref)).status or "ACTIVE"
                except EcrToolError as err:
                    failures.append(StorageFailure(change.reference, str(err)))
                    continue
                waited = round(clock() - started, 1)
                if now == "ACTIVE":
                    images.append(_replace_after(change, now, waited))
                else:
                    still.append((target, ref, _replace_after(change, now, None)))
            pending = still
        return StorageResult("restore", images, failures, waited=wait)

    def _parse(self, refs: Sequence[str]) -> list[tuple[str, RepoRef, Target]]:
        """Every REF checked before any call: an image reference (REPO:TAG, REPO@DIGEST, or a full URI)."""
        if not refs:
            raise InvalidInput("name at least one image: REPO:TAG or REPO@DIGEST")
        parsed = []
        for text in refs:
            ref = parse_repo_ref(text, self.settings.registry_override)
            if not (ref.tag or ref.digest):
                raise InvalidInput(f"{text!r} names a repository: name one image in it, as {text}:TAG or {text}@DIGEST")
            parsed.append((text, ref))
        return [(shown_reference(ref), ref, self._target(ref)) for _, ref in parsed]


def _image_id(ref: RepoRef) -> dict[str, str]:
    return {"imageDigest": ref.digest} if ref.digest else {"imageTag": str(ref.tag)}


def _change(text: str, image: ImageInfo, after: str, *, changed: bool) -> StorageChange:
    return StorageChange(text, image.repository, image.digest, image.tags, image.status or "ACTIVE", after, changed)


def _replace_after(change: StorageChange, after: str, waited: float | None) -> StorageChange:
    from dataclasses import replace

    return replace(change, after=after, waited_seconds=waited)
