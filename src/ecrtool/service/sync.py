"""`ecrtool sync SPEC`: many repositories' selected tags from any registry into ECR, what is there skipped.

The spec is read and every reference checked first (model/sync_spec: exit 2 naming the line and key).
Then the plan: each source's tags are listed (a registry's tag list, or one DescribeImages for an ECR
source) and selected, each selected tag's digest looked up with a HEAD (no blob is read), and each
destination repository listed once (ListImages): a tag the destination holds with the source's
digest is skipped before anything moves, so a sync run again, finished or interrupted, sends only what
is missing. `--dry-run` stops at the plan.

The copies go through copy's public function (service/copy.Copies.copy), an image at a time per worker,
JOBS images at once, all under one pacer shared by every destination: ECR allows some 10 PutImage a
second per account and region (containerd/containerd#10447 is what a registry answers beyond it); the
pacer takes a put before each image and charges each further manifest the copy wrote (an index's
children, referrers) after it, and the registry client still waits out a 429 should another client
share the quota. An image that fails is reported and the others go on.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from ecrtool.model.errors import AlreadyExists, EcrToolError, InvalidInput, NotFound
from ecrtool.model.refs import ImageRef, RepoRef, parse_repo_ref
from ecrtool.model.results import Progress, ProgressEvent
from ecrtool.model.sync_spec import MAX_JOBS, MAX_RATE, SyncEntry, SyncItem, SyncResult, SyncSpec, parse_spec
from ecrtool.registry.client import RegistryClient
from ecrtool.service.sources import parse_source, registry_client
from ecrtool.service.tokens import Tokens

if TYPE_CHECKING:
    from ecrtool.service.copy import Copies

LOOKUPS = 16  # digests looked up (HEAD) at once while planning, for each of
ENTRIES = 4  # spec entries planned at once
BLOB_JOBS = 4  # blobs each image's copy moves at once (copy's default)


class Pacer:
    """A token bucket shared by every worker: RATE puts a second, a burst of one second's worth. `take` waits
    for a put; `charge` books puts already made (they may run the bucket into debt: the next take waits)."""

    def __init__(self, rate: float, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:  # fmt: skip
        self.rate = rate
        self.capacity = max(1.0, rate)
        self.tokens = self.capacity
        self.clock, self.sleep = clock, sleep
        self.last = clock()
        self.lock = threading.Lock()

    def _refill(self) -> None:
        now = self.clock()
        self.tokens = min(self.capacity, self.tokens + (now - self.last) * self.rate)
        self.last = now

    def take(self) -> None:
        while True:
            with self.lock:
                self._refill()
                if self.tokens >= 1 - 1e-9:  # a clock's rounding must not leave a put waiting for ever
                    self.tokens -= 1
                    return
                wait = max((1 - self.tokens) / self.rate, 0.001)
            self.sleep(wait)

    def charge(self, puts: int) -> None:
        if puts > 0:
            with self.lock:
                self._refill()
                self.tokens -= puts


@dataclass(frozen=True)
class _Entry:
    """A spec entry with its references read: the source, the destination repository and how to name both."""

    spec: SyncEntry
    source: RepoRef | ImageRef
    destination: RepoRef
    shown: str  # the destination repository as the spec gives it (name or URI)


@dataclass(frozen=True)
class _Held:
    """A destination repository as listed once: tag -> digest, whether it exists, and why it could not be
    listed (its images then fail, the others go on)."""

    tags: dict[str, str]
    exists: bool
    error: str | None = None


def load_spec(path: str) -> SyncSpec:
    """The spec file at PATH, read and checked (InvalidInput, exit 2, naming what is wrong)."""
    try:
        data = Path(path).read_bytes()
    except OSError as err:
        raise InvalidInput(f"cannot read the sync spec {path}: {err.strerror or err}") from None
    return parse_spec(data, path)


class Syncs(Tokens):
    def sync(
        self,
        spec_path: str,
        *,
        dry_run: bool = False,
        jobs: int | None = None,
        rate: float | None = None,
        progress: Progress | None = None,
    ) -> SyncResult:
        """Copy what SPEC_PATH's spec selects into ECR, skipping what is there; with DRY_RUN, the plan only."""
        spec = load_spec(spec_path)
        if jobs is not None and not 1 <= jobs <= MAX_JOBS:
            raise InvalidInput(f"invalid -j {jobs}: copy 1 to {MAX_JOBS} images at once")
        if rate is not None and not 0 < rate <= MAX_RATE:
            raise InvalidInput(f"invalid --rate {rate}: manifests put a second, above 0 and at most {MAX_RATE:g}")
        entries = [self._read(entry, spec.name) for entry in spec.entries]  # every reference checked before any call
        held, items = self._plan(entries)
        if dry_run:
            return SyncResult(spec.name, True, items)
        created = self._create_repositories(entries, items, held)
        pacer = Pacer(rate or spec.rate)
        from ecrtool.service.copy import Copies  # only when something is to be copied: a re-run loads none of it

        copies = Copies(self.settings, self.aws)
        done = self._run(copies, items, jobs or spec.jobs, pacer, progress)
        return SyncResult(spec.name, False, done, created)

    # -- the spec's references ---------------------------------------------------------------------

    def _read(self, entry: SyncEntry, name: str) -> _Entry:
        try:
            source = parse_source(entry.source, self.settings)
        except InvalidInput as err:
            raise InvalidInput(f"sync spec {entry.where(name, 'from')}: {err}") from None
        if source.tag or source.digest:
            raise InvalidInput(
                f"sync spec {entry.where(name, 'from')}: name the repository; tags are selected by `tags`"
            )
        shown = entry.destination or entry.prefix + source.repository
        key = "to" if entry.destination else "prefix"
        try:
            destination = parse_repo_ref(shown, self.settings.registry_override)
        except InvalidInput as err:
            raise InvalidInput(f"sync spec {entry.where(name, key)}: {shown!r}: {err}") from None
        if destination.tag or destination.digest or destination.public:
            raise InvalidInput(
                f"sync spec {entry.where(name, key)}: {shown!r} is no ECR repository: give a repository name or URI,"
                " without a tag (each image keeps its source's)"
            )
        return _Entry(entry, source, destination, shown)

    # -- the plan ----------------------------------------------------------------------------------

    def _plan(self, entries: list[_Entry]) -> tuple[dict[tuple[str | None, str | None, str], _Held], list[SyncItem]]:
        held: dict[tuple[str | None, str | None, str], _Held] = {}
        keys = list(dict.fromkeys(_key(entry.destination) for entry in entries))
        # the destinations are listed while the sources' tags are: an entry waits for its own only to compare
        with ThreadPoolExecutor(max_workers=min(LOOKUPS, len(keys)), thread_name_prefix="listing") as lister:
            listed = {key: lister.submit(self._held, self._first(entries, key)) for key in keys}
            with ThreadPoolExecutor(max_workers=min(ENTRIES, len(entries)), thread_name_prefix="plan") as pool:
                planned = list(
                    pool.map(lambda entry: self._plan_entry(entry, listed[_key(entry.destination)]), entries)
                )
            held.update({key: future.result() for key, future in listed.items()})
        return held, [item for found in planned for item in found]

    @staticmethod
    def _first(entries: list[_Entry], key: tuple[str | None, str | None, str]) -> RepoRef:
        return next(entry.destination for entry in entries if _key(entry.destination) == key)

    def _held(self, ref: RepoRef) -> _Held:
        """REF's repository's tags and digests, one listing (ListImages); none when it does not exist."""
        target = self.speaker(ref)._target(ref)
        try:
            return _Held(target.ecr.tagged(ref.repository), True)
        except NotFound:
            return _Held({}, False)
        except EcrToolError as err:  # not allowed to list it, say: its images fail, the others go on
            return _Held({}, True, f"listing the destination {ref.repository}: {err}")

    def _plan_entry(self, entry: _Entry, listed: Future[_Held]) -> list[SyncItem]:
        source_text = entry.spec.source
        try:
            client, digests = self._source_tags(entry)
            tags = entry.spec.rule.select(list(digests))
        except EcrToolError as err:
            where = f"{entry.shown}:*"
            return [SyncItem(source_text, where, None, "fail", "failed", f"listing the source's tags: {err}")]
        if not tags:
            return []

        def plan(tag: str) -> SyncItem:
            destination = f"{entry.shown}:{tag}"
            try:
                digest = digests[tag] or client.manifest_digest(entry.source.repository, tag)
                if digest is None:
                    raise NotFound(f"{source_text}:{tag} is gone from the source registry")
                if entry.spec.platform:
                    digest = self._platform_digest(client, entry, tag, digest)
            except EcrToolError as err:
                return SyncItem(f"{source_text}:{tag}", destination, None, "fail", "failed", str(err))
            return SyncItem(
                f"{source_text}:{tag}", destination, digest, "copy", "planned", referrers=entry.spec.referrers
            )

        with ThreadPoolExecutor(max_workers=min(LOOKUPS, len(tags)), thread_name_prefix="lookup") as pool:
            found = list(pool.map(plan, tags))
        held = listed.result()
        if held.error is not None:
            return [replace(item, action="fail", status="failed", error=held.error) for item in found]
        return [
            replace(item, action="skip", status="skipped")
            if item.action == "copy" and held.tags.get(_tag(item)) == item.digest
            else item
            for item in found
        ]

    def _source_tags(self, entry: _Entry) -> tuple[RegistryClient, dict[str, str | None]]:
        """A client of the source's registry and its tags, each with its digest where the listing gave it."""
        source = entry.source
        if isinstance(source, ImageRef):
            client = registry_client(source, "source")
            return client, dict.fromkeys(client.tags(source.repository))
        speaker = self.speaker(source)
        found: dict[str, str | None] = {}
        for image in speaker._target(source).ecr.images(source.repository):
            for tag in image.tags:
                found[tag] = image.digest
        return self.registry_client(source, "source", speaker), found

    @staticmethod
    def _platform_digest(client: RegistryClient, entry: _Entry, tag: str, digest: str) -> str:
        """Of the index DIGEST, the digest of the spec's platform's image; an image's own when it is none."""
        manifest = client.get_manifest(entry.source.repository, digest)
        if manifest is None:
            raise NotFound(f"{entry.spec.source}@{digest} is gone from the source registry")
        if not manifest.is_index:
            return digest
        for child in manifest.children:
            if child.platform == entry.spec.platform:
                return child.digest
        platforms = ", ".join(manifest.platforms) or "none"
        raise NotFound(f"{entry.spec.source}:{tag} has no {entry.spec.platform} image (its platforms: {platforms})")

    # -- the copies --------------------------------------------------------------------------------

    def _create_repositories(
        self, entries: list[_Entry], items: list[SyncItem], held: dict[tuple[str | None, str | None, str], _Held]
    ) -> list[str]:
        """The destination repositories some image is planned for, created where missing and the spec says
        `create`, unless a creation template of the registry covers them (as `copy --create` does): then, and
        with `create: false`, the first push leaves the repository to the template, as ECR does."""
        wanted = {item.destination.rsplit(":", 1)[0] for item in items if item.action == "copy"}
        created: list[str] = []
        seen: set[tuple[str | None, str | None, str]] = set()
        for entry in entries:
            key = _key(entry.destination)
            if key in seen or entry.shown not in wanted or not entry.spec.create or held[key].exists:
                continue
            seen.add(key)
            speaker = self.speaker(entry.destination)
            target = speaker._target(entry.destination)
            if speaker.covering_template(target, entry.destination.repository) is not None:
                continue  # the registry creates it at the first upload, with the template's settings
            try:
                target.ecr.create_repository(entry.destination.repository)
                created.append(entry.shown)
            except AlreadyExists:
                pass
        return created

    def _run(
        self, copies: Copies, items: list[SyncItem], jobs: int, pacer: Pacer, progress: Progress | None
    ) -> list[SyncItem]:
        done: list[SyncItem] = list(items)
        for item in items:
            if item.action != "copy":
                _report(progress, item)
        work = [n for n, item in enumerate(items) if item.action == "copy"]
        if not work:
            return done

        def copy(n: int) -> None:
            item = items[n]
            pacer.take()
            try:
                # by digest: the image planned, even if the tag moved since
                result = copies.copy(
                    f"{item.source.rsplit(':', 1)[0]}@{item.digest}",
                    item.destination,
                    referrers=item.referrers,
                    jobs=BLOB_JOBS,
                )
            except EcrToolError as err:
                done[n] = replace(item, status="failed", error=str(err))
            else:
                copied = result.copies[0]
                pacer.charge(copied.manifests_written - 1)
                done[n] = replace(
                    item,
                    status="copied",
                    blobs_copied=copied.blobs_copied,
                    blobs_mounted=copied.blobs_mounted,
                    blobs_skipped=copied.blobs_skipped,
                    bytes_copied=copied.bytes_copied,
                    manifests_written=copied.manifests_written,
                )
            _report(progress, done[n])

        pool = ThreadPoolExecutor(max_workers=min(jobs, len(work)), thread_name_prefix="sync")
        try:
            for future in [pool.submit(copy, n) for n in work]:
                future.result()
        except BaseException:
            pool.shutdown(wait=False, cancel_futures=True)
            raise
        pool.shutdown(wait=True)
        return done


def _tag(item: SyncItem) -> str:
    return item.destination.rsplit(":", 1)[1]


def _key(ref: RepoRef) -> tuple[str | None, str | None, str]:
    return (ref.account, ref.region, ref.repository)


def _report(progress: Progress | None, item: SyncItem) -> None:
    if progress is None:
        return
    status = {"copied": "copied", "skipped": "already there", "failed": f"failed: {item.error}"}.get(
        item.status, item.status
    )
    progress(
        ProgressEvent(action="sync", reference=item.destination, layer=None, status=f"{item.destination} {status}")
    )
