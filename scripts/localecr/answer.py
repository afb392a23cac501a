"""A whole HTTP answer made by the bridge or read from moto, and the shapes AWS gives its errors."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

# hop-by-hop headers, and the two the bridge sets itself (length, and identity encoding so that
# answers can be rewritten)
NOT_FORWARDED = {
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "content-length",
    "accept-encoding",
}
ECR_JSON = "application/x-amz-json-1.1"


@dataclass
class Answer:
    """A whole (buffered) HTTP response, from moto or made here."""

    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""

    def json(self) -> Any:
        return json.loads(self.body)

    def with_json(self, doc: Any) -> Answer:
        return Answer(self.status, self.headers, json.dumps(doc).encode())


def ecr_error(status: int, code: str, message: str, headers: list[tuple[str, str]] | None = None) -> Answer:
    body = json.dumps({"__type": code, "message": message}).encode()
    return Answer(status, [("Content-Type", ECR_JSON), *(headers or [])], body)


def json_answer(status: int, doc: Any, content_type: str = "application/json") -> Answer:
    return Answer(status, [("Content-Type", content_type)], json.dumps(doc).encode())


def end_to_end(headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """moto's headers as the bridge passes them on: its Server and Date would follow our own, and the
    length is set for the body we send."""
    skip = NOT_FORWARDED | {"server", "date"}
    return [(k, v) for k, v in headers if k.lower() not in skip]
