"""One HTTP/1.1 exchange on a socket of its own: send a request, read the status, headers and body.

For the hot paths that skip the HTTP libraries (ECR's API without botocore, the engine without
docker-py): importing requests or http.client costs more here than the exchange itself. A body is
read to its Content-Length, chunk by chunk, or to the end of the connection, and can be streamed.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator, Mapping

_READ = 65536


class Reply:
    """An answer whose body has yet to be read: `body()` for all of it, `stream()` piece by piece."""

    def __init__(self, status: int, headers: dict[str, str], conn: socket.socket, rest: bytes = b"") -> None:
        self.status = status
        self.headers = headers  # names lower-cased
        self.conn = conn
        self._rest = rest

    def body(self) -> bytes:
        return b"".join(self.stream())

    def stream(self) -> Iterator[bytes]:
        if "chunked" in self.headers.get("transfer-encoding", "").lower():
            yield from self._chunks()
        elif "content-length" in self.headers:
            left = int(self.headers["content-length"])
            data = self._rest[:left]
            while True:
                if data:
                    yield data
                left -= len(data)
                if left <= 0:
                    return
                data = self._recv()[:left]
        else:
            if self._rest:
                yield self._rest
            yield from iter(lambda: self.conn.recv(_READ), b"")

    def _recv(self) -> bytes:
        data = self.conn.recv(_READ)
        if not data:
            raise ConnectionError("the connection closed in the middle of the answer")
        return data

    def _chunks(self) -> Iterator[bytes]:
        data = self._rest
        while True:
            while b"\r\n" not in data:
                data += self._recv()
            size_line, _, data = data.partition(b"\r\n")
            size = int(size_line.split(b";")[0].strip() or b"0", 16)
            if size == 0:
                return
            while len(data) < size + 2:
                data += self._recv()
            yield data[:size]
            data = data[size + 2 :]


def request(conn: socket.socket, method: str, target: str, headers: Mapping[str, str], body: bytes = b"") -> Reply:
    """Send the request on CONN (which the caller closes) and read the answer's head."""
    lines = [f"{method} {target} HTTP/1.1", *(f"{name}: {value}" for name, value in headers.items())]
    if body or method in ("POST", "PUT"):
        lines.append(f"Content-Length: {len(body)}")
    lines.append("Connection: close")
    conn.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
    buffer = b""
    while b"\r\n\r\n" not in buffer:
        data = conn.recv(_READ)
        if not data:
            raise ConnectionError("the connection closed before an answer")
        buffer += data
    head, _, rest = buffer.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("iso-8859-1").split("\r\n")
    try:
        status = int(status_line.split(" ", 2)[1])
    except (IndexError, ValueError):
        raise ConnectionError(f"not an HTTP answer: {status_line[:80]!r}") from None
    found: dict[str, str] = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        found[name.strip().lower()] = value.strip()
    return Reply(status, found, conn, rest)
