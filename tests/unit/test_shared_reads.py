"""A copy to several destinations reads each source blob once: the shared stream hands every block to
each reader, keeps memory to a window, passes a source failure to all, and never leaves a reader
waiting for a destination that failed."""

from __future__ import annotations

import io
import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, BinaryIO

import pytest

from ecrtool.model.errors import RegistryError
from ecrtool.model.manifests import OCI_MANIFEST, Manifest, digest_of, parse_manifest
from ecrtool.registry.client import Cancelled
from ecrtool.service.copy_plan import ImageCopy
from ecrtool.service.shared_reads import WINDOW, SharedReads


class CountingSource:
    """A blob source that counts how often it is opened and how many blocks are read."""

    def __init__(self, data: bytes, block: int = 1000, fail_after: int | None = None) -> None:
        self.data, self.block, self.fail_after = data, block, fail_after
        self.opened = 0
        self.reads = 0

    def open(self) -> tuple[BinaryIO, int | None]:
        self.opened += 1
        source = self

        class Stream(io.BytesIO):
            def read(self, amount: int | None = -1, /) -> bytes:
                source.reads += 1
                if source.fail_after is not None and source.reads > source.fail_after:
                    raise RegistryError("the source stopped answering")
                return super().read(source.block)

        return Stream(self.data), len(self.data)


def drain(stream: BinaryIO) -> bytes:
    try:
        return b"".join(iter(lambda: stream.read(1000), b""))
    finally:
        stream.close()


def test_two_destinations_get_every_byte_from_one_read_of_the_source() -> None:
    data = bytes(range(256)) * 400  # 100 blocks of 1000 bytes, a last one shorter
    source = CountingSource(data)
    shared = SharedReads(2, threading.Event())
    shared.plan(["sha256:a"])
    shared.plan(["sha256:a"])
    with ThreadPoolExecutor(2) as pool:
        got = list(pool.map(lambda _: drain(shared.open("sha256:a", source.open)[0]), range(2)))
    assert got == [data, data]
    assert source.opened == 1
    assert source.reads == len(data) // 1000 + 2  # every block once, and the empty read that ends it


def test_a_fast_reader_waits_for_a_slow_one_beyond_the_window() -> None:
    source = CountingSource(b"x" * 1000 * (WINDOW * 4))
    shared = SharedReads(2, threading.Event())
    shared.plan(["sha256:a"])
    shared.plan(["sha256:a"])
    fast, _ = shared.open("sha256:a", source.open)
    slow, _ = shared.open("sha256:a", source.open)
    done = threading.Event()

    def run_fast() -> None:
        drain(fast)
        done.set()

    worker = threading.Thread(target=run_fast)
    worker.start()
    assert not done.wait(0.5)  # held: the slow reader has read nothing
    assert source.reads == WINDOW  # the source read only as far as the window allows
    assert drain(slow) == source.data
    worker.join(5)
    assert done.is_set()


def test_a_source_failure_reaches_every_reader() -> None:
    source = CountingSource(b"y" * 10_000, fail_after=3)
    shared = SharedReads(2, threading.Event())
    shared.plan(["sha256:a"])
    shared.plan(["sha256:a"])
    streams = [shared.open("sha256:a", source.open)[0] for _ in range(2)]
    for stream in streams:
        with pytest.raises(RegistryError, match="stopped answering"):
            drain(stream)


def test_a_reader_waiting_for_a_destination_that_failed_stops() -> None:
    stop = threading.Event()
    shared = SharedReads(2, stop)
    shared.plan(["sha256:a"])  # the other destination never plans: it failed, and the copy stops
    threading.Timer(0.2, stop.set).start()
    with pytest.raises(Cancelled):
        shared.open("sha256:a", CountingSource(b"z").open)


class Registry:
    """Just enough of a registry for one image's copy, counting the source blobs it opens."""

    def __init__(self, host: str) -> None:
        self.host, self.label = host, host
        self.blobs: dict[str, bytes] = {}
        self.manifests: dict[str, Manifest] = {}
        self.opened: list[str] = []

    def get_manifest(self, repository: str, reference: str) -> Manifest | None:
        return self.manifests.get(reference)

    def manifest_digest(self, repository: str, reference: str) -> str | None:
        found = self.manifests.get(reference)
        return found.digest if found else None

    def put_manifest(self, repository: str, reference: str, manifest: Manifest) -> bool:
        self.manifests[reference] = self.manifests[manifest.digest] = manifest
        return True

    def has_blob(self, repository: str, digest: str) -> bool:
        return digest in self.blobs

    def start_upload(self, repository: str, *, mount: str | None = None, source: str | None = None) -> str | None:
        return "/upload"

    def open_blob(self, repository: str, digest: str, *, check: bool = True) -> tuple[BinaryIO, int | None]:
        self.opened.append(digest)
        return io.BytesIO(self.blobs[digest]), len(self.blobs[digest])

    def finish_upload(self, repository: str, location: str, digest: str, body: Any, size: int, **_: Any) -> None:
        data = b"".join(iter(lambda: body.read(4096), b""))
        assert digest_of(data) == digest
        self.blobs[digest] = data

    def referrers(self, repository: str, digest: str) -> list[Any] | None:
        return []


def test_a_copy_to_two_destinations_reads_each_source_blob_once() -> None:
    source = Registry("src.example")
    layers = []
    for n in range(4):
        data = f"layer {n} ".encode() * 100_000
        source.blobs[digest_of(data)] = data
        layers.append({"mediaType": "application/octet-stream", "digest": digest_of(data), "size": len(data)})
    config, *layers = layers
    doc = {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": config, "layers": layers}
    root = parse_manifest(json.dumps(doc).encode(), OCI_MANIFEST, "test")
    east, west = Registry("east.example"), Registry("west.example")
    west.blobs[layers[0]["digest"]] = source.blobs[layers[0]["digest"]]  # one the west has already
    stop = threading.Event()
    shared = SharedReads(2, stop)
    with ThreadPoolExecutor(2) as pool:
        runs = [pool.submit(ImageCopy(source, "app", d, "app", cancelled=stop, shared=shared).run, root, "v1")
                for d in (east, west)]  # fmt: skip
        assert [run.result(timeout=10) for run in runs] == [False, False]
    for dest in (east, west):
        assert dest.get_manifest("app", "v1").data == root.data  # type: ignore[union-attr]
        assert dest.blobs == source.blobs
    assert sorted(source.opened) == sorted(source.blobs)  # each blob read from the source once


def test_a_stopped_copy_closes_the_source_though_a_planned_reader_never_came() -> None:
    closed: list[int] = []

    class Stream(io.BytesIO):
        def close(self) -> None:
            closed.append(1)
            super().close()

    stop = threading.Event()
    shared = SharedReads(2, stop)
    shared.plan(["sha256:a"])
    shared.plan(["sha256:a"])  # the second destination failed before opening its reader
    stream, _ = shared.open("sha256:a", lambda: (Stream(b"q" * 10), 10))
    stream.read(4)
    stop.set()
    stream.close()
    assert closed == [1]


def test_a_reader_that_comes_a_window_late_gets_every_byte_and_releases_the_other(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import ecrtool.service.shared_reads as shared_reads

    monkeypatch.setattr(shared_reads, "_POLL", 60.0)  # a waiter only a notification wakes within the test's time
    source = CountingSource(b"w" * 1000 * (WINDOW * 2))
    shared = SharedReads(2, threading.Event())
    shared.plan(["sha256:a"])
    shared.plan(["sha256:a"])
    first, _ = shared.open("sha256:a", source.open)
    got: list[bytes] = []
    worker = threading.Thread(target=lambda: got.append(drain(first)), daemon=True)
    worker.start()
    time.sleep(0.1)  # the first reader is a window ahead, waiting for the second to come
    second, _ = shared.open("sha256:a", source.open)
    assert drain(second) == source.data
    worker.join(10)
    assert got == [source.data]
