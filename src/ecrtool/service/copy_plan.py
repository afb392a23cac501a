"""How one image moves from one registry to another, byte for byte, without Docker: the copy's plan.

The order keeps every tag whole: the blobs first (up to N at once), then each child manifest of an
index, then the index, and the tag last, so an interrupted copy never leaves a tag naming a broken
image, and the same copy run again finishes it. Nothing moves twice: a manifest the destination holds
by digest is not read further (a registry takes a manifest only once all it names is there), a blob it
has is skipped, and within one registry a blob is mounted from the source repository before it is
uploaded. With referrers, every manifest's OCI 1.1 referrers (signatures, SBOMs, attestations) follow
it, and where the destination has no referrers API its `sha256-<hex>` tag lists them.

The two sides are registry clients (registry/client.py), or fakes of them in the unit tests.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from http.client import HTTPException
from types import EllipsisType
from typing import Any, BinaryIO, Protocol

from ecrtool.model.errors import NotFound, RegistryError
from ecrtool.model.manifests import OCI_INDEX, Descriptor, Manifest, index_of, parse_manifest, referrers_tag
from ecrtool.model.results import ProgressEvent
from ecrtool.registry.client import BLOCK, Cancelled, Readable, RegistryRefusal
from ecrtool.service.shared_reads import SharedReads

Report = Callable[[ProgressEvent], None]


class Side(Protocol):
    """What a copy asks of each registry (registry.client.RegistryClient has it all)."""

    host: str

    @property
    def label(self) -> str: ...

    def get_manifest(self, repository: str, reference: str) -> Manifest | None: ...
    def manifest_digest(self, repository: str, reference: str) -> str | None: ...
    def put_manifest(self, repository: str, reference: str, manifest: Manifest) -> bool: ...
    def has_blob(self, repository: str, digest: str) -> bool: ...
    def start_upload(self, repository: str, *, mount: str | None = None, source: str | None = None) -> str | None: ...
    def open_blob(self, repository: str, digest: str, *, check: bool = True) -> tuple[BinaryIO, int | None]: ...
    def finish_upload(
        self,
        repository: str,
        location: str,
        digest: str,
        body: Readable,
        size: int,
        reopen: Callable[[], Readable] | None = None,
    ) -> None: ...
    def referrers(self, repository: str, digest: str) -> list[Descriptor] | None: ...


@dataclass
class Tally:
    """What one copy did: blobs copied, mounted and skipped, bytes sent, manifests written, referrers."""

    blobs_copied: int = 0
    blobs_mounted: int = 0
    blobs_skipped: int = 0
    bytes_copied: int = 0
    manifests_written: int = 0
    referrers: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add(self, **counts: int) -> None:
        with self.lock:
            for name, value in counts.items():
                setattr(self, name, getattr(self, name) + value)


class ImageCopy:
    """One image (and, when asked, its referrers) from SOURCE's repository to DEST's."""

    def __init__(
        self,
        source: Side,
        source_repo: str,
        dest: Side,
        dest_repo: str,
        *,
        jobs: int = 6,
        referrers: bool = False,
        progress: Report | None = None,
        label: str = "",
        cancelled: threading.Event | None = None,
        empty: bool = False,
        immutable: Callable[[], bool] = lambda: False,
        shared: SharedReads | None = None,
    ) -> None:
        self.source, self.source_repo = source, source_repo
        self.dest, self.dest_repo = dest, dest_repo
        self.jobs = jobs
        self.with_referrers = referrers
        self.progress = progress
        self.label = label or f"{dest.host}/{dest_repo}"
        self.tally = Tally()
        # set on Ctrl-C or a failed blob (here or, when shared, in a copy to another destination): the
        # others stop at their next block
        self.cancelled = cancelled or threading.Event()
        # a repository created for this copy holds nothing: no need to ask it for each blob and manifest
        self.empty = empty
        # whether the destination's tags cannot move (asked only of a tag held by another image, which then
        # ends the copy before any blob moves)
        self.immutable = immutable
        # within one registry a blob can be mounted from the source repository instead of sent again
        self.same_registry = source.host == dest.host
        # with other destinations of the same source: the image's blobs read once for all (shared_reads.py)
        self.shared = shared

    def run(self, root: Manifest, tag: str | None, *, there: str | None | EllipsisType = ...) -> bool:
        """Copy ROOT under TAG (by its digest when None); True when the tag already held it. THERE: the
        digest TAG names in the destination (None: nothing) when the caller has asked already."""
        try:
            if there is ...:
                there = self._dest_manifest(tag) if tag else None
            already = there == root.digest
            if there is not None and not already and self.immutable():
                raise _tag_taken(self.dest.host, self.dest_repo, tag, there)  # before any blob moves
            if not already:
                self._tree(root, tag, holder=there)
        finally:
            if self.shared is not None:  # its blobs never asked for (there already, or failed first): none
                self.shared.plan(())
                self.shared = None
        self.empty = False
        if self.with_referrers:
            self._referrers(self._digests(root), seen={root.digest})
        return already

    # -- manifests ---------------------------------------------------------------------------------

    def _tree(self, root: Manifest, tag: str | None, holder: str | None = None) -> None:
        """ROOT and all it names: the blobs, then the children, then ROOT itself (under TAG)."""
        order: list[Manifest] = []
        self._walk(root, order, top=True)
        blobs: dict[str, Descriptor] = {}
        for manifest in order:
            for blob in manifest.blobs:
                blobs.setdefault(blob.digest, blob)
        self._blobs(list(blobs.values()))
        for manifest in order:
            reference = tag if manifest is root and tag else manifest.digest
            self._put(manifest, reference, holder if manifest is root else None)

    def _walk(self, manifest: Manifest, order: list[Manifest], *, top: bool = False) -> None:
        """Post-order: children before their index; a manifest the destination has ends the walk there."""
        if any(item.digest == manifest.digest for item in order):
            return
        if top and not manifest.children:
            order.append(manifest)  # its blobs are asked for one by one anyway: asking for it first saves nothing
            return
        if self._dest_manifest(manifest.digest) == manifest.digest:
            if top:
                order.append(manifest)  # all it names is there: only its tag is missing
            return
        for child in manifest.children:
            self._walk(self._source_manifest(child.digest), order)
        order.append(manifest)

    def _dest_manifest(self, reference: str) -> str | None:
        return None if self.empty else self.dest.manifest_digest(self.dest_repo, reference)

    def _source_manifest(self, digest: str) -> Manifest:
        found = self.source.get_manifest(self.source_repo, digest)
        if found is None:
            raise NotFound(f"{self.source.label} has no manifest {digest} in {self.source_repo}, which the image names")
        if found.digest != digest:
            raise RegistryError(
                f"{self.source.label} answered for {digest} with a manifest whose digest is {found.digest}"
            )
        return found

    def _put(self, manifest: Manifest, reference: str, holder: str | None) -> None:
        try:
            took_subject = self.dest.put_manifest(self.dest_repo, reference, manifest)
        except RegistryRefusal as err:
            if holder and reference != manifest.digest and err.status == 400:
                raise _tag_taken(self.dest.host, self.dest_repo, reference, holder) from err
            raise
        self.tally.add(manifests_written=1)
        self._event(
            None,
            f"Wrote {_kind(manifest)} {manifest.digest}" + (f" as {reference}" if reference != manifest.digest else ""),
        )
        if manifest.subject is not None and not took_subject:
            self._list_referrer(manifest)

    # -- blobs -------------------------------------------------------------------------------------

    def _blobs(self, blobs: list[Descriptor]) -> None:
        """Find what the destination lacks (asking, or mounting, up to N blobs at once), then upload it,
        in the image's order, up to N at once: with other destinations, each blob read once for all."""
        shared, self.shared = self.shared, None  # the image's own blobs only: referrers are read as they come
        uploads: list[tuple[Descriptor, str]] = []
        try:
            found = self._each(self._prepare, blobs)
            uploads = [(blob, location) for blob, location in zip(blobs, found, strict=True) if location is not None]
        finally:
            if shared is not None:  # once, whatever happens, so no other destination waits for this one
                shared.plan(blob.digest for blob, _ in uploads)
        self._each(lambda upload: self._send(upload[0], upload[1], shared), uploads)

    def _each(self, work: Callable[[Any], Any], items: Sequence[Any]) -> list[Any]:
        """WORK on each of ITEMS, up to N at once, started in their order; the results in that order."""
        if not items:
            return []
        pool = ThreadPoolExecutor(max_workers=max(1, min(self.jobs, len(items))), thread_name_prefix="copy")
        futures: list[Future[Any]] = []
        try:
            futures = [pool.submit(work, item) for item in items]
            done, _ = wait(futures, return_when=FIRST_EXCEPTION)
            for future in done:
                if future.exception() is not None:
                    raise first_failure(futures)
        except BaseException:
            # Ctrl-C or a failed blob: the others stop at their next block, none starts
            self.cancelled.set()
            pool.shutdown(wait=False, cancel_futures=True)
            raise
        pool.shutdown(wait=True)
        return [future.result() for future in futures]

    def _prepare(self, blob: Descriptor) -> str | None:
        """Where to upload BLOB, or None when the destination has it (or mounted it)."""
        short = blob.digest.split(":")[-1][:12]
        if self.cancelled.is_set():
            raise Cancelled()
        if not self.empty and self.dest.has_blob(self.dest_repo, blob.digest):
            self.tally.add(blobs_skipped=1)
            self._event(short, "Already exists", blob.size, blob.size)
            return None
        if self.same_registry and self.source_repo != self.dest_repo:
            location = self.dest.start_upload(self.dest_repo, mount=blob.digest, source=self.source_repo)
            if location is None:
                self.tally.add(blobs_mounted=1)
                self._event(short, f"Mounted from {self.source_repo}", blob.size, blob.size)
            return location
        return self.dest.start_upload(self.dest_repo)

    def _send(self, blob: Descriptor, location: str, shared: SharedReads | None) -> None:
        short = blob.digest.split(":")[-1][:12]
        if self.cancelled.is_set():
            raise Cancelled()
        # the upload checks the bytes against the digest (finish_upload): the source's stream need not
        opener = lambda: self.source.open_blob(self.source_repo, blob.digest, check=False)  # noqa: E731
        stream, length = opener() if shared is None else shared.open(blob.digest, opener)
        size = blob.size or length or 0
        streams = [stream]
        report = lambda done: self._event(short, "Copying", done, size)  # noqa: E731

        def reopen() -> Readable:  # the token was renewed mid-blob: the blob again, read afresh from the source
            fresh, _ = opener()
            streams.append(fresh)
            return _Reader(fresh, size, report, self.source, blob, self.cancelled)

        try:
            reader = _Reader(stream, size, report, self.source, blob, self.cancelled)
            self.dest.finish_upload(self.dest_repo, location, blob.digest, reader, size, reopen=reopen)
        finally:
            for opened in streams:
                opened.close()
        self.tally.add(blobs_copied=1, bytes_copied=size)
        self._event(short, "Copied", size, size)

    # -- referrers ---------------------------------------------------------------------------------

    def _digests(self, root: Manifest) -> list[str]:
        return [root.digest, *(child.digest for child in root.children)]

    def _referrers(self, subjects: Iterable[str], seen: set[str]) -> None:
        """Every referrer of SUBJECTS, with what it names and its own referrers, after its subject."""
        for subject in subjects:
            for found in self._source_referrers(subject):
                if found.digest in seen:
                    continue
                seen.add(found.digest)
                manifest = self._source_manifest(found.digest)
                if self.dest.manifest_digest(self.dest_repo, manifest.digest) != manifest.digest:
                    self._tree(manifest, None)
                elif manifest.subject is not None:
                    self._list_referrer(manifest)
                self.tally.add(referrers=1)
                self._referrers([manifest.digest], seen)

    def _source_referrers(self, digest: str) -> list[Descriptor]:
        listed = self.source.referrers(self.source_repo, digest)
        if listed is not None:
            return listed
        fallback = self.source.get_manifest(self.source_repo, referrers_tag(digest))
        return list(fallback.children) if fallback is not None and fallback.is_index else []

    def _list_referrer(self, manifest: Manifest) -> None:
        """The destination has no referrers API: list MANIFEST in its subject's `sha256-<hex>` tag."""
        assert manifest.subject is not None
        if self.dest.referrers(self.dest_repo, manifest.subject.digest) is not None:
            return  # the API answers after all: it found the subject itself
        tag = referrers_tag(manifest.subject.digest)
        current = self.dest.get_manifest(self.dest_repo, tag)
        listed = list(current.children) if current is not None and current.is_index else []
        if any(item.digest == manifest.digest for item in listed):
            return
        artifact = _artifact_type(manifest)
        listed.append(Descriptor(manifest.digest, len(manifest.data), manifest.media_type, artifact))
        data = index_of(listed)
        index = parse_manifest(data, OCI_INDEX, f"the referrers of {manifest.subject.digest}")
        self.dest.put_manifest(self.dest_repo, tag, index)

    # -- progress ----------------------------------------------------------------------------------

    def _event(self, layer: str | None, status: str, current: int | None = None, total: int | None = None) -> None:
        # once cancelled, a blob that still ends (its last block was already sent) says nothing: the error
        # line, printed as the copy stops, stays the last
        if self.progress is not None and not self.cancelled.is_set():
            self.progress(
                ProgressEvent(
                    action="copy", reference=self.label, layer=layer, status=status, current=current, total=total
                )
            )


class _Reader:
    """A source blob as the destination's PUT reads it: block by block, reporting, stopping when cancelled."""

    def __init__(
        self,
        stream: BinaryIO,
        size: int,
        report: Callable[[int], None],
        source: Side,
        blob: Descriptor,
        cancelled: threading.Event,
    ) -> None:
        self.stream, self.size, self.report = stream, size, report
        self.source, self.blob, self.cancelled = source, blob, cancelled
        self.done = 0
        self.reported = 0

    def read(self, amount: int = -1) -> bytes:
        if self.cancelled.is_set():
            raise Cancelled()
        try:
            data = self.stream.read(min(amount if amount > 0 else BLOCK, max(self.size - self.done, 0)) or 0)
        except (OSError, HTTPException) as err:
            raise RegistryError(
                f"{self.source.label} stopped answering while sending the blob {self.blob.digest}"
                f" ({err or type(err).__name__}): check that it is up, then run the same copy again"
                " (what arrived is not copied twice)"
            ) from err
        if not data and self.done < self.size:
            raise RegistryError(
                f"{self.source.label} ended the blob {self.blob.digest} after {self.done} of {self.size} bytes:"
                " run the same copy again"
            )
        self.done += len(data)
        if self.done - self.reported >= 4 * BLOCK or self.done == self.size:
            self.reported = self.done
            self.report(self.done)
        return data


def first_failure(futures: Sequence[Future[Any]]) -> BaseException:
    """The failure to report: an error of the project's before an interruption's Cancelled."""
    failures = [f.exception() for f in futures if f.done() and not f.cancelled() and f.exception() is not None]
    real = [err for err in failures if not isinstance(err, Cancelled)]
    found = (real or failures)[0]
    assert found is not None
    return found


def _tag_taken(host: str, repository: str, tag: str | None, holder: str) -> RegistryError:
    return RegistryError(
        f"tag {tag!r} of {host}/{repository} already holds another image ({holder})"
        " and the repository's tags are immutable: copy to another tag, or delete that image first"
    )


def _kind(manifest: Manifest) -> str:
    return "index" if manifest.is_index else "manifest"


def _artifact_type(manifest: Manifest) -> str | None:
    try:
        doc = json.loads(manifest.data)
        value = doc.get("artifactType") or (doc.get("config") or {}).get("mediaType")
    except (ValueError, AttributeError):
        return None
    return str(value) if value else None
