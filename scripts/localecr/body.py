"""Reading a request's body, the one way both the bridge's API calls and the registry's face read it.

A body is either chunked (Transfer-Encoding) or as long as its Content-Length says; anything else has
none. The reader yields it in blocks as it comes, so a blob streams on without being held whole.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

BLOCK = 256 * 1024


def chunked(headers: Any) -> bool:
    """Whether the request's body comes chunked."""
    return "chunked" in (headers.get("Transfer-Encoding") or "").lower()


def length(headers: Any) -> int | None:
    """The body's declared length: None when it is chunked (or the length is not a number)."""
    if chunked(headers):
        return None
    value = (headers.get("Content-Length") or "0").strip()
    return int(value) if value.isdigit() else None


def has_body(headers: Any) -> bool:
    declared = length(headers)
    return declared is None or declared > 0


def read(stream: Any, headers: Any, done: Callable[[], None] = lambda: None) -> Iterator[bytes]:
    """The body of the request with HEADERS from STREAM, in blocks; DONE is called once it is read to its end,
    and ConnectionAbortedError raised when the client went away before it."""
    if chunked(headers):
        yield from _dechunk(stream)
        done()
        return
    left = length(headers) or 0
    while left > 0:
        block = stream.read(min(left, BLOCK))
        if not block:
            # the client went away mid-body: whatever this was sent on to (the docker-registry) must not go on
            # waiting for the rest, holding the face's locks, so the send fails instead of ending short
            raise ConnectionAbortedError(f"the client went away with {left} bytes of its body unsent")
        left -= len(block)
        yield block
    done()


def _dechunk(stream: Any) -> Iterator[bytes]:
    while True:
        size = int(stream.readline().split(b";")[0].strip() or b"0", 16)
        if size == 0:
            while stream.readline() not in (b"\r\n", b"\n", b""):
                pass  # trailers
            return
        yield stream.read(size)
        stream.readline()
