"""Source blobs read once for all the destinations of one copy (`copy --to-region A --to-region B`).

Each destination first finds which blobs it must upload (the others it has, or mounts), and says so
with `plan`. Once every destination has, a blob two destinations need is read from the source once:
its readers share one stream (`_Tee`), each block handed to all of them, the source read no faster than
the slowest of them allows (a window of blocks, so memory stays flat whatever the blob's size).

Deadlock-free because every destination uploads its blobs in the image's order: the earliest blob
anyone still waits on is being read by every destination that needs it. A destination that fails
withdraws (its stop event is shared with the others, which stop too), so no reader waits forever.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterable
from typing import BinaryIO

from ecrtool.registry.client import Cancelled

Opener = Callable[[], tuple[BinaryIO, int | None]]

WINDOW = 16  # blocks the fastest reader may run ahead of the slowest (16 x 256 KiB)
_POLL = 0.5  # how often a waiting reader looks at the stop event


class SharedReads:
    """One copy's source reads, shared by its DESTINATIONS destinations."""

    def __init__(self, destinations: int, stop: threading.Event) -> None:
        self.expected = destinations
        self.stop = stop
        self.planned = 0
        self.wanted: Counter[str] = Counter()
        self.tees: dict[str, _Tee] = {}
        self.ready = threading.Condition()

    def plan(self, uploads: Iterable[str]) -> None:
        """One destination's blobs to upload (its digests; none when it needs nothing). Once each."""
        with self.ready:
            self.wanted.update(set(uploads))
            self.planned += 1
            self.ready.notify_all()

    def open(self, digest: str, opener: Opener) -> tuple[BinaryIO, int | None]:
        """DIGEST's bytes for one planned upload, read from the source once for all who planned it."""
        with self.ready:
            while self.planned < self.expected:
                if self.stop.is_set():
                    raise Cancelled()
                self.ready.wait(_POLL)
            tee = self.tees.get(digest)
            if tee is None:
                tee = self.tees[digest] = _Tee(opener, self.wanted[digest], self.stop)
        return tee.reader(), tee.length()


class _Tee:
    """One source stream read by READERS readers, each block kept until all of them have it."""

    def __init__(self, opener: Opener, readers: int, stop: threading.Event) -> None:
        self.opener, self.readers, self.stop = opener, max(readers, 1), stop
        self.lock = threading.Condition()
        self.stream: BinaryIO | None = None
        self.size: int | None = None
        self.failure: BaseException | None = None
        self.blocks: list[bytes] = []  # blocks[i] is block number first + i
        self.first = 0
        self.positions: dict[int, int] = {}  # reader id -> next block it reads
        self.opened = 0
        self.ended = False
        self.reading = False  # a reader is fetching the next block from the source

    def length(self) -> int | None:
        with self.lock:
            self._open()
            return self.size

    def reader(self) -> BinaryIO:
        with self.lock:
            key = self.opened
            self.opened += 1
            self.positions[key] = 0
        return _TeeReader(self, key)  # type: ignore[return-value]

    def _open(self) -> None:
        if self.stream is None and self.failure is None:
            try:
                self.stream, self.size = self.opener()
            except BaseException as err:
                self.failure = err
        if self.failure is not None:
            raise self.failure

    def read(self, key: int, amount: int) -> bytes:
        with self.lock:
            position = self.positions[key]
            if position < self.first:  # only as many readers as were planned open: none comes after a trim
                raise RuntimeError("a shared blob stream was opened by more readers than planned it")
            while True:
                self._open()
                if position < self.first + len(self.blocks):
                    data = self.blocks[position - self.first]
                    self.positions[key] = position + 1
                    self._trim()
                    self.lock.notify_all()
                    return data
                if self.ended:
                    return b""
                # the next block is new: this reader fetches it, unless another is fetching one or this
                # one is too far ahead of a slower reader
                if not self.reading and position - self._slowest() < WINDOW:
                    self.reading = True
                    break
                if self.stop.is_set():
                    raise Cancelled()
                self.lock.wait(_POLL)
        assert self.stream is not None
        try:
            data = self.stream.read(amount)  # outside the lock: the others keep sending what they have
        except BaseException as err:
            with self.lock:
                self.failure, self.reading = err, False
                self.lock.notify_all()
            raise
        with self.lock:
            self.reading = False
            if data:
                self.blocks.append(data)
                self.positions[key] = position + 1
                self._trim()
            else:
                self.ended = True
            self.lock.notify_all()
            return data

    def close(self, key: int) -> None:
        with self.lock:
            self.positions.pop(key, None)
            self._trim()
            self.lock.notify_all()
            # the last reader is done, or the copy stopped before every planned reader came: the source's
            # connection is not left holding an unread answer
            done = self.opened >= self.readers or self.stop.is_set()
            if not self.positions and done and self.stream is not None:
                self.stream.close()

    def _slowest(self) -> int:
        # a reader still to come starts at block 0
        waiting = [0] if self.opened < self.readers else []
        return min([*self.positions.values(), *waiting], default=self.first)

    def _trim(self) -> None:
        drop = self._slowest() - self.first
        if drop > 0:
            del self.blocks[:drop]
            self.first += drop


class _TeeReader:
    """One reader's view of a shared stream: `read` and `close`, as a blob's stream has them."""

    def __init__(self, tee: _Tee, key: int) -> None:
        self.tee, self.key = tee, key

    def read(self, amount: int = -1, /) -> bytes:
        return self.tee.read(self.key, amount)

    def close(self) -> None:
        self.tee.close(self.key)
