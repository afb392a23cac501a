"""Cleanups: `prune` and `lifecycle show|set|preview`, over one evaluation of a repository's images.

A repository is read as model.retention's StoredImages: DescribeImages page by page (one call a page), every
storage class at once (imageStatus ANY), each referrer's subject as ECR names it (subjectManifestDigest).
Planning never updates a pull time, as `prune --not-pulled-for` relies on pull times: BatchGetImage counts
as a pull, so the manifests of image indexes (for their children) and of untagged images ECR names no
subject for are read only when the caller's principal is registered for pull-time update exclusion
(ListPullTimeUpdateExclusions). Otherwise an index's children are not known, and an untagged manifest stays
while any image index stays. `select` then picks what a policy expires, with a multi-arch image and its
signatures as one thing. `lifecycle preview` stops there; `prune` is the same evaluation followed by the
delete.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ecrtool.aws.ecr import Ecr
from ecrtool.model import inuse
from ecrtool.model.cleanup import (
    CleanupResult,
    LifecyclePolicyInfo,
    delete_order,
    freed_bytes,
    goes_first,
    iam_principal,
)
from ecrtool.model.durations import parse_duration
from ecrtool.model.errors import EcrToolError, InvalidInput, NotFound
from ecrtool.model.lifecycle import lifecycle_policy, parse_policy, policy_json, prune_policy, validate_for_ecr
from ecrtool.model.manifests import is_index, manifest_links
from ecrtool.model.refs import RepoRef, chunks, parse_repo_ref
from ecrtool.model.results import DeleteFailure, ImageId, ImageInfo
from ecrtool.model.retention import Policy, StoredImage, select, short_digest
from ecrtool.service.base import ServiceBase, Target

# what a tag prefix may hold (a tag's characters), and a --keep-tag glob (those and fnmatch's * ? [ ] !)
_PREFIX = re.compile(r"[A-Za-z0-9_.-]{1,128}")
_GLOB = re.compile(r"[A-Za-z0-9_.*?\[\]!-]{1,128}")


class Cleanup(ServiceBase):
    def prune(
        self,
        ref_text: str,
        *,
        keep: int | None = None,
        untagged: bool = False,
        older_than: str | None = None,
        tag_prefixes: Sequence[str] = (),
        keep_tags: Sequence[str] = (),
        yes: bool = False,
        not_pulled_for: str | None = None,
        protect_in_use: bool = False,
        protect_files: Sequence[str] = (),
    ) -> CleanupResult:
        """Select what the flags expire and, with YES, delete it. Every flag is checked before AWS is asked
        (model.lifecycle.prune_policy says what the flags mean). Images in use (PROTECT_IN_USE: ECS and
        Lambda; PROTECT_FILES: references one a line) are never selected, nor what they need."""
        ref = self._cleanup_ref(ref_text, "prune")
        age = parse_duration(older_than, "--older-than") if older_than is not None else None
        idle = parse_duration(not_pulled_for, "--not-pulled-for") if not_pulled_for is not None else None
        prefixes = _checked(tag_prefixes, _PREFIX, "--tag-prefix", "a tag's start, such as release-")
        globs = _checked(keep_tags, _GLOB, "--keep-tag", "a tag or a glob, such as 'v*' or 'latest'")
        policy = prune_policy(keep, prefixes, untagged, age, globs, not_pulled_for=idle)
        uses = [
            use for name in protect_files for use in inuse.file_references(_read_text(name, "--protect-file"), name)
        ]
        target = self._target(ref)
        if protect_in_use:
            uses.extend(self._workloads(target).in_use().uses)
        place = inuse.Place(ref.repository, target.region, target.account, self.settings.registry_override)
        result = self._evaluate(target, ref.repository, policy, "flags", (uses, place))
        return self._delete(target, result) if yes else result

    def _workloads(self, target: Target) -> Any:
        from ecrtool.aws.workloads import Workloads

        aws = target.aws or self.aws
        return Workloads(aws.lazy_client("ecs", target.region), aws.lazy_client("lambda", target.region))

    def lifecycle_show(self, ref_text: str) -> LifecyclePolicyInfo:
        ref = self._cleanup_ref(ref_text, "lifecycle show")
        return self._target(ref).ecr.lifecycle_policy(ref.repository)

    def lifecycle_set(
        self,
        ref_text: str,
        *,
        file: str | None = None,
        keep: int | None = None,
        tag_prefixes: Sequence[str] = (),
        untagged_older_than: str | None = None,
        archive_after: str | None = None,
        expire_archived_after: str | None = None,
    ) -> LifecyclePolicyInfo:
        """Put a policy (a file's, or one built from the flags) once it passes ECR's rules here."""
        ref = self._cleanup_ref(ref_text, "lifecycle set")
        found = self._policy(file, keep, tag_prefixes, untagged_older_than, archive_after, expire_archived_after)
        if found is None:
            raise InvalidInput(
                "say which policy to set: --file policy.json, or --keep N / --untagged-older-than DURATION / "
                "--archive-after DURATION / --expire-archived-after DURATION"
            )
        policy, text, _ = found
        validate_for_ecr(policy)
        target = self._target(ref)
        target.ecr.put_lifecycle_policy(ref.repository, text)
        return LifecyclePolicyInfo(ref.repository, text)

    def lifecycle_preview(
        self,
        ref_text: str,
        *,
        file: str | None = None,
        keep: int | None = None,
        tag_prefixes: Sequence[str] = (),
        untagged_older_than: str | None = None,
        archive_after: str | None = None,
        expire_archived_after: str | None = None,
    ) -> CleanupResult:
        """What a policy (a file's, the flags', else the repository's own) expires now, with prune's selection."""
        ref = self._cleanup_ref(ref_text, "lifecycle preview")
        found = self._policy(file, keep, tag_prefixes, untagged_older_than, archive_after, expire_archived_after)
        target = self._target(ref)
        if found is None:
            held = target.ecr.lifecycle_policy(ref.repository)
            if held.text is None:
                raise NotFound(
                    f"repository {ref.repository!r} has no lifecycle policy: preview one with --file policy.json"
                    f" or --keep N, or set one with `ecrtool lifecycle set {ref.repository} ...`"
                )
            policy, source = parse_policy(held.text), "the repository's lifecycle policy"
        else:
            policy, _, source = found
        return self._evaluate(target, ref.repository, policy, source)

    # -- the shared path --------------------------------------------------------------------------

    def _cleanup_ref(self, ref_text: str, command: str) -> RepoRef:
        ref = parse_repo_ref(ref_text, self.settings.registry_override)
        if ref.tag or ref.digest:
            raise InvalidInput(f"{command} takes a repository, not an image: drop the tag or digest from {ref_text!r}")
        return ref

    def _policy(
        self,
        file: str | None,
        keep: int | None,
        tag_prefixes: Sequence[str],
        untagged_older_than: str | None,
        archive_after: str | None = None,
        expire_archived_after: str | None = None,
    ) -> tuple[Policy, str, str] | None:
        """The policy, its JSON text and where it came from, from a file or from the flags; None for neither."""
        flags = keep is not None or bool(tag_prefixes) or untagged_older_than is not None
        flags = flags or archive_after is not None or expire_archived_after is not None
        if file is not None:
            if flags:
                raise InvalidInput("give the policy as --file or as flags (--keep, --tag-prefix, ...), not both")
            text = _read_text(file, "policy file")
            try:
                return parse_policy(text), text, f"file {file}"
            except InvalidInput as err:
                raise InvalidInput(f"policy file {file!r}: {err}") from None
        if not flags:
            return None
        age = parse_duration(untagged_older_than, "--untagged-older-than") if untagged_older_than else None
        archive = parse_duration(archive_after, "--archive-after") if archive_after else None
        expire = parse_duration(expire_archived_after, "--expire-archived-after") if expire_archived_after else None
        prefixes = _checked(tag_prefixes, _PREFIX, "--tag-prefix", "a tag's start, such as release-")
        policy = lifecycle_policy(keep, prefixes, age, archive, expire)
        return policy, policy_json(policy), "flags"

    def _evaluate(
        self,
        target: Target,
        repository: str,
        policy: Policy,
        source: str,
        uses: tuple[list[inuse.InUse], inuse.Place] | None = None,
    ) -> CleanupResult:
        """Every image of REPOSITORY read once, and what POLICY selects among them now, keeping USES (images
        in use, matched to this repository's digests through its tags)."""
        now = datetime.now(timezone.utc)
        read = self._may_read_manifests(target)
        images = stored_images(target.ecr, repository, now, read_manifests=read)
        held: dict[str, str] = {}
        if uses is not None:
            tags = {tag: image.digest for image in images for tag in image.tags}
            held = inuse.in_use_digests(uses[0], uses[1], tags)
        selected = select(images, policy, now, held)
        return CleanupResult(
            repository=repository,
            source=source,
            dry_run=True,
            examined=len(images),
            selected=selected,
            selected_bytes=freed_bytes(expiry.image for expiry in selected if expiry.action == "expire"),
            in_use=held,
            links="listing" if any(_unread_index(image, read) for image in images) else "read",
        )

    def _may_read_manifests(self, target: Target) -> bool:
        """Whether reading manifests leaves pull times alone: the caller's principal is registered for pull-time
        update exclusion. No (and no error) when ECR or the caller's rights cannot say."""
        try:
            excluded = target.ecr.pull_time_exclusions()
            if not excluded:
                return False
            from ecrtool.aws.errors import translate

            with translate("sts:GetCallerIdentity"):
                arn = str((target.aws or self.aws).client("sts", target.region).get_caller_identity()["Arn"])
        except EcrToolError:
            return False
        return iam_principal(arn) in excluded

    def _delete(self, target: Target, result: CleanupResult) -> CleanupResult:
        """Delete RESULT's selection by digest, in rounds ECR accepts (model.cleanup.delete_order), at most 100
        a call. A manifest named by one that could not be deleted is left alone: it is still in use.

        Before each call the batch is read again (DescribeImages by id, which never counts as a pull): an
        image that gained a tag or was pulled since the listing is spared, not deleted, and so is what
        depends on it (its index's children, its referrers); one already gone is left out."""
        images = [expiry.image for expiry in result.selected if expiry.action == "expire"]
        planned = {image.digest: image for image in images}
        first = goes_first(images)
        subjects = {image.digest: image.subject for image in images}
        deleted: set[str] = set()
        blocked: set[str] = set()
        spared: dict[str, str] = {}
        failures: list[DeleteFailure] = []
        calls = 0
        rounds = delete_order(images)
        for number, batch in enumerate(rounds):
            going = []
            for digest in batch:
                stuck = sorted(first.get(digest, set()) & blocked)
                if not stuck:
                    going.append(digest)
                    continue
                blocked.add(digest)
                held = [up for up in stuck if up in spared]
                if held:
                    spared[digest] = f"goes with {short_digest(held[0])}, which was spared"
                    continue
                why = (
                    f"it refers to {stuck[0]}, which was not deleted"
                    if subjects.get(digest) == stuck[0]
                    else f"{stuck[0]}, which names it, was not deleted"
                )
                failures.append(DeleteFailure(ImageId(digest=digest), "Kept", why))
            stopped: EcrToolError | None = None
            for start in range(0, len(going), 100):  # BatchDeleteImage's limit
                chunk = going[start : start + 100]
                try:
                    changed = _changed(planned, chunk, target.ecr.images_by_digest(result.repository, chunk))
                    spared.update(changed)
                    blocked.update(changed)
                    chunk = [digest for digest in chunk if digest not in changed]
                    if not chunk:
                        continue
                    _, failed, made = target.ecr.batch_delete(result.repository, [{"imageDigest": d} for d in chunk])
                except EcrToolError as err:
                    stopped = err  # what went is reported, and what did not, with the reason
                    # this chunk, the round's later ones and the later rounds: the earlier ones went or were refused
                    untried = chunk + going[start + 100 :] + [d for later in rounds[number + 1 :] for d in later]
                    failures.extend(DeleteFailure(ImageId(digest=d), "NotDeleted", str(err)) for d in untried)
                    break
                calls += made
                failures.extend(failed)
                # an id not among the failures is gone: ECR lists it among imageIds, but moto (so the local
                # ECR) leaves out an untagged image deleted by digest
                refused = {failure.image.digest for failure in failed if failure.image.digest}
                deleted.update(digest for digest in chunk if digest not in refused)
                blocked.update(refused)
            if stopped is not None:
                break
        return replace(
            result,
            dry_run=False,
            deleted=frozenset(deleted),
            deleted_bytes=freed_bytes(image for image in images if image.digest in deleted),
            failures=failures,
            delete_calls=calls,
            spared=spared,
        )


def _changed(planned: dict[str, StoredImage], chunk: list[str], now: list[ImageInfo]) -> dict[str, str]:
    """Of CHUNK, the digests planned to go, those that must stay now that they were read again (NOW), and
    why: gone already, tagged since the listing, or pulled since (a lastRecordedPullTime later than the
    one the listing showed)."""
    seen = {info.digest: info for info in now}
    changed: dict[str, str] = {}
    for digest in chunk:
        info, before = seen.get(digest), planned[digest]
        if info is None:
            changed[digest] = "no longer in the repository"
            continue
        gained = sorted(set(info.tags) - set(before.tags))
        pulled = info.last_pulled_at
        if gained:
            changed[digest] = f"tagged {', '.join(gained)} since it was selected"
        elif pulled is not None and (before.last_pulled_at is None or pulled > before.last_pulled_at):
            changed[digest] = f"pulled at {pulled.isoformat(timespec='seconds')}, since it was selected"
    return changed


def _checked(values: Sequence[str], shape: re.Pattern[str], option: str, example: str) -> tuple[str, ...]:
    for value in values:
        if not shape.fullmatch(value):
            raise InvalidInput(f"{option} {value!r} is not valid: give {example}")
    return tuple(dict.fromkeys(values))


def stored_images(ecr: Ecr, repository: str, now: datetime, *, read_manifests: bool = False) -> list[StoredImage]:
    """REPOSITORY's images as a cleanup sees them, every storage class: DescribeImages page by page, then,
    with READ_MANIFESTS only (BatchGetImage counts as a pull), the manifests of its indexes and of untagged
    images ECR names no subject for (100 a call) for their children and subjects. An index's size is its
    children's, as `ecrtool images` shows it. An index whose manifest was not read (no READ_MANIFESTS, or
    archived: ECR serves no archived manifest) may name any untagged manifest that nothing else claims, so
    each such manifest is counted its child: it goes only when every such index goes. An image without a
    push time counts as pushed now: no age rule expires what it cannot date."""
    images: list[StoredImage] = []
    wanted: list[str] = []
    for info in ecr.images(repository, status="ANY"):
        images.append(
            StoredImage(
                digest=info.digest,
                tags=tuple(info.tags),
                pushed_at=info.pushed_at or now,
                size_bytes=info.size_bytes or 0,
                media_type=info.media_type,
                subject=info.subject,
                last_pulled_at=info.last_pulled_at,
                status=info.status or "ACTIVE",
                archived_at=info.archived_at,
            )
        )
        active = (info.status or "ACTIVE") == "ACTIVE"
        if read_manifests and active and ((not info.tags and not info.subject) or is_index(info.media_type)):
            wanted.append(info.digest)
    if not wanted:
        return _unknown_children(images, set())
    links: dict[str, tuple[tuple[str, ...], str | None]] = {}
    for chunk in chunks([{"imageDigest": digest} for digest in wanted]):
        for manifest in ecr.manifests(repository, chunk):
            children, subject = manifest_links(manifest.text)
            if children or subject:
                links[manifest.digest] = (children, subject)
    if not links:
        return _unknown_children(images, set(wanted))
    sizes = {image.digest: image.size_bytes for image in images}
    found = []
    for image in images:
        children, subject = links.get(image.digest, ((), None))
        if children or subject:
            size = sum(sizes.get(child, 0) for child in children) if is_index(image.media_type) else image.size_bytes
            image = replace(image, children=children, subject=subject or image.subject,
                            size_bytes=size or image.size_bytes)
        found.append(image)
    return _unknown_children(found, set(wanted))


def _unread_index(image: StoredImage, read: bool) -> bool:
    """An index whose children are not known: manifests were not read, or it is archived (not served)."""
    return is_index(image.media_type) and (not read or image.status != "ACTIVE")


def _unknown_children(images: list[StoredImage], read: set[str]) -> list[StoredImage]:
    """IMAGES with each index whose manifest was not READ naming, as its possible children, every untagged
    manifest (not an index, no subject) that no read index names: what such an index needs is not known,
    so nothing it might need goes before it. Nothing changes in a repository without such an index."""
    unread = [image.digest for image in images if is_index(image.media_type) and image.digest not in read]
    if not unread:
        return images
    named = {child for image in images for child in image.children}
    maybe = tuple(
        image.digest
        for image in images
        if not image.tags and not image.subject and not is_index(image.media_type) and image.digest not in named
    )
    if not maybe:
        return images
    return [replace(image, children=maybe) if image.digest in unread else image for image in images]


def _read_text(name: str, what: str) -> str:
    try:
        return Path(name).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        reason = getattr(err, "strerror", None) or str(err)
        raise InvalidInput(f"cannot read {what} {name!r}: {reason}") from None
