"""The registry client on the wire, against a recording server on 127.0.0.1: what each request carries,
and how the client meets ECR's answers — 403 DENIED for a dead token, redirects to S3, throttling, and
bytes that do not match the digest they were asked for by."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest

from ecrtool.model.errors import AuthError, NotFound, RegistryError
from ecrtool.model.manifests import OCI_INDEX, OCI_MANIFEST, digest_of, parse_manifest
from ecrtool.registry.client import (
    ATTEMPTS,
    HOPS,
    PATIENCE,
    THROTTLED_ATTEMPTS,
    RegistryClient,
    RegistryRefusal,
    next_link,
    redirect_target,
)
from ecrtool.service.copy_plan import ImageCopy

EXPIRED = "Your authorization token has expired. Reauthenticate and try again."


@dataclass
class Request:
    """One request as the server read it."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    complete: bool  # all of the body its Content-Length announced arrived
    peer: int = 0  # the client's port: requests on one kept connection share it


Answer = tuple[int, dict[str, str], bytes]


@dataclass
class Recorder:
    """A registry that records every request and answers as ANSWER says."""

    answer: Callable[[Request], Answer]
    requests: list[Request] = field(default_factory=list)
    host: str = ""

    def paths(self) -> list[str]:
        return [f"{r.method} {r.path}" for r in self.requests]


def _serve(recorder: Recorder) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:
            pass

        def _any(self) -> None:
            headers = {key.lower(): value for key, value in self.headers.items()}
            wanted = int(headers.get("content-length", "0") or 0)
            body = self.rfile.read(wanted) if wanted else b""
            if headers.get("transfer-encoding", "").lower() == "chunked":
                body = self._chunks()
            request = Request(
                self.command, self.path, headers, body, len(body) == wanted or not wanted, self.client_address[1]
            )
            recorder.requests.append(request)
            if not request.complete:
                self.close_connection = True
                return
            status, extra, payload = recorder.answer(request)
            self.send_response(status)
            for key, value in extra.items():
                self.send_header(key, value)
            if "Content-Length" not in extra:
                self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(payload)

        def _chunks(self) -> bytes:
            found = b""
            while True:
                size = int(self.rfile.readline().strip() or b"0", 16)
                found += self.rfile.read(size)
                self.rfile.readline()
                if not size:
                    return found

        do_GET = do_HEAD = do_PUT = do_POST = do_PATCH = _any

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    recorder.host = f"127.0.0.1:{server.server_address[1]}"
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    return server


@pytest.fixture
def serve() -> Iterator[Callable[[Callable[[Request], Answer]], Recorder]]:
    servers: list[ThreadingHTTPServer] = []

    def start(answer: Callable[[Request], Answer]) -> Recorder:
        recorder = Recorder(answer)
        servers.append(_serve(recorder))
        return recorder

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def _basic(password: str) -> str:
    return "Basic " + base64.b64encode(f"AWS:{password}".encode()).decode()


def _error(code: str, message: str) -> bytes:
    return json.dumps({"errors": [{"code": code, "message": message}]}).encode()


def _client(recorder: Recorder, **kwargs: object) -> RegistryClient:
    options: dict[str, object] = {"side": "destination", "basic": ("AWS", "old"), "preemptive": True}
    options.update(kwargs)
    return RegistryClient(recorder.host, **options)  # type: ignore[arg-type]


MANIFEST = json.dumps(
    {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": "sha256:" + "c" * 64, "size": 2},
        "layers": [],
    },
    indent=3,  # not as json.dumps would write it: the bytes must travel unchanged
).encode()


def _manifest_answer(request: Request) -> Answer:
    return 200, {"Content-Type": OCI_MANIFEST, "Docker-Content-Digest": digest_of(MANIFEST)}, MANIFEST


# -- a dead token: 403 DENIED ------------------------------------------------------------------------------


def test_a_403_denied_renews_the_credentials_once_and_asks_again(serve: Callable[..., Recorder]) -> None:
    def answer(request: Request) -> Answer:
        if request.headers.get("authorization") != _basic("new"):
            return 403, {"Content-Type": "application/json"}, _error("DENIED", EXPIRED)
        return _manifest_answer(request)

    recorder = serve(answer)
    renewed: list[tuple[str, str]] = []

    def renew(refused: tuple[str, str]) -> tuple[str, str]:
        renewed.append(refused)
        return "AWS", "new"

    found = _client(recorder, renew=renew).get_manifest("app", "v1")

    assert found is not None and found.data == MANIFEST
    assert renewed == [("AWS", "old")]
    assert [r.headers["authorization"] for r in recorder.requests] == [_basic("old"), _basic("new")]


def test_a_blob_put_refused_for_a_dead_token_is_sent_again_whole_with_a_fresh_one(
    serve: Callable[..., Recorder],
) -> None:
    data = b"a layer's bytes " * 1000

    def answer(request: Request) -> Answer:
        if request.headers.get("authorization") != _basic("new"):
            return 403, {"Content-Type": "application/json"}, _error("DENIED", EXPIRED)
        return 201, {}, b""

    recorder = serve(answer)
    reopened: list[int] = []

    def reopen() -> io.BytesIO:
        reopened.append(1)
        return io.BytesIO(data)

    client = _client(recorder, renew=lambda refused: ("AWS", "new"))
    client.finish_upload("app", "/v2/app/blobs/uploads/u1", digest_of(data), io.BytesIO(data), len(data),
                         reopen=reopen)  # fmt: skip

    assert reopened == [1]  # the stream sent once cannot be sent again: a fresh one from the source
    assert [r.headers["authorization"] for r in recorder.requests] == [_basic("old"), _basic("new")]
    assert recorder.requests[-1].body == data and recorder.requests[-1].complete


def test_a_blob_put_refused_twice_is_an_error_not_a_loop(serve: Callable[..., Recorder]) -> None:
    data = b"bytes"
    recorder = serve(lambda request: (403, {}, _error("DENIED", EXPIRED)))

    with pytest.raises(AuthError, match="refused uploading the blob"):
        _client(recorder, renew=lambda refused: ("AWS", "new")).finish_upload(
            "app", "/v2/app/blobs/uploads/u1", digest_of(data), io.BytesIO(data), len(data),
            reopen=lambda: io.BytesIO(data),
        )  # fmt: skip
    assert len(recorder.requests) == 2


def test_a_blob_put_a_policy_refuses_is_not_read_again_for_a_fresh_token(serve: Callable[..., Recorder]) -> None:
    refusal = (
        "User: arn:aws:sts::210987654321:assumed-role/ci/x is not authorized to perform: ecr:CompleteLayerUpload"
        " on resource: arn:aws:ecr:ca-west-1:123456789012:repository/app because no resource-based policy allows"
        " the ecr:CompleteLayerUpload action"
    )
    recorder = serve(lambda request: (403, {}, _error("DENIED", refusal)))
    reopened: list[int] = []

    with pytest.raises(AuthError):
        _client(recorder, renew=lambda refused: ("AWS", "new")).finish_upload(
            "app", "/v2/app/blobs/uploads/u1", digest_of(b"x"), io.BytesIO(b"x"), 1,
            reopen=lambda: reopened.append(1) or io.BytesIO(b"x"),  # type: ignore[func-returns-value]
        )  # fmt: skip
    assert reopened == [] and len(recorder.requests) == 1


def test_a_second_denial_is_an_error_saying_what_was_refused(serve: Callable[..., Recorder]) -> None:
    messages = iter([EXPIRED, "The fresh token was refused as well."])
    recorder = serve(lambda request: (403, {}, _error("DENIED", next(messages))))

    with pytest.raises(AuthError) as caught:
        _client(recorder, renew=lambda refused: ("AWS", "new")).get_manifest("app", "v1")

    assert "refused reading the manifest" in str(caught.value)
    assert "The fresh token was refused as well." in str(caught.value)
    assert len(recorder.requests) == 2


def test_a_head_refused_403_without_a_body_is_renewed_as_ecrs_dead_token(serve: Callable[..., Recorder]) -> None:
    def answer(request: Request) -> Answer:
        if request.headers.get("authorization") != _basic("new"):
            return 403, {}, b""  # a HEAD: ECR's DENIED document cannot come with it
        return 200, {"Docker-Content-Digest": digest_of(MANIFEST), "Content-Type": OCI_MANIFEST}, b""

    recorder = serve(answer)
    found = _client(recorder, renew=lambda refused: ("AWS", "new")).manifest_digest("app", "v1")

    assert found == digest_of(MANIFEST)
    assert [r.method for r in recorder.requests] == ["HEAD", "HEAD"]


def test_a_403_other_than_denied_is_not_renewed(serve: Callable[..., Recorder]) -> None:
    recorder = serve(lambda request: (403, {}, _error("FORBIDDEN", "not allowed by the repository policy")))
    renewed: list[tuple[str, str]] = []

    with pytest.raises(AuthError, match="repository policy"):
        _client(recorder, renew=lambda refused: renewed.append(refused) or ("AWS", "new")).get_manifest("app", "v1")

    assert renewed == [] and len(recorder.requests) == 1


# -- redirects ---------------------------------------------------------------------------------------------

BLOB = b"layer bytes " * 1000
BLOB_DIGEST = digest_of(BLOB)


def test_a_blob_redirected_to_another_host_is_fetched_without_our_authorization(
    serve: Callable[..., Recorder],
) -> None:
    bucket = serve(lambda request: (200, {"Content-Type": "application/octet-stream"}, BLOB))
    registry = serve(lambda request: (307, {"Location": f"http://{bucket.host}/layer?X-Amz-Signature=abc"}, b""))

    stream, length = _client(registry).open_blob("app", BLOB_DIGEST)
    try:
        assert stream.read() == BLOB and length == len(BLOB)
    finally:
        stream.close()

    assert registry.requests[0].headers["authorization"] == _basic("old")
    assert bucket.paths() == ["GET /layer?X-Amz-Signature=abc"]
    assert "authorization" not in bucket.requests[0].headers


def test_blobs_redirected_to_one_bucket_share_a_connection_to_it(serve: Callable[..., Recorder]) -> None:
    """A handshake per layer-bucket host, not per blob: the next blob reuses the connection the last one read
    through (skopeo and docker keep theirs too)."""
    bucket = serve(lambda request: (200, {"Content-Type": "application/octet-stream"}, BLOB))
    registry = serve(lambda request: (307, {"Location": f"http://{bucket.host}/layer?X-Amz-Signature=abc"}, b""))
    client = _client(registry)

    for _ in range(3):
        stream, _ = client.open_blob("app", BLOB_DIGEST)
        assert stream.read() == BLOB
        stream.close()

    assert len(bucket.requests) == 3 and len({r.peer for r in bucket.requests}) == 1


def _hops(count: int) -> Callable[[Request], Answer]:
    def answer(request: Request) -> Answer:
        done = int(request.path.rsplit("/", 1)[-1]) if request.path.startswith("/hop/") else 0
        if done < count:
            return 307, {"Location": f"/hop/{done + 1}"}, b""
        return 200, {}, BLOB

    return answer


def test_five_redirects_are_followed(serve: Callable[..., Recorder]) -> None:
    recorder = serve(_hops(HOPS))

    stream, _ = _client(recorder).open_blob("app", BLOB_DIGEST)
    assert stream.read() == BLOB
    stream.close()

    assert len(recorder.requests) == HOPS + 1
    assert all(r.headers.get("authorization") == _basic("old") for r in recorder.requests)  # the same registry


def test_a_sixth_redirect_is_an_error(serve: Callable[..., Recorder]) -> None:
    recorder = serve(_hops(HOPS + 1))

    with pytest.raises(RegistryError, match=f"more than {HOPS} times"):
        _client(recorder).open_blob("app", BLOB_DIGEST)
    assert len(recorder.requests) == 1 + HOPS  # the sixth redirect is not followed


def test_a_redirect_never_goes_from_https_to_http() -> None:
    with pytest.raises(RegistryError, match="leave https"):
        redirect_target("https://r.example/v2/app/blobs/x", "http://bucket.example/layer", "the registry")
    assert (
        redirect_target("https://r.example/v2/a/blobs/x", "https://b.example/l?s=1", "r") == "https://b.example/l?s=1"
    )
    assert redirect_target("https://r.example/v2/a/blobs/x", "/elsewhere", "r") == "https://r.example/elsewhere"
    assert redirect_target("http://127.0.0.1:5000/v2/a", "https://b.example/l", "r") == "https://b.example/l"


# -- a busy registry: 429, 503 ------------------------------------------------------------------------------


def test_a_429_is_waited_out_as_retry_after_says(serve: Callable[..., Recorder]) -> None:
    answers = iter([(429, {"Retry-After": "2"}, _error("TOOMANYREQUESTS", "slow down")), (201, {}, b"")])
    recorder = serve(lambda request: next(answers))
    slept: list[float] = []
    manifest = parse_manifest(MANIFEST, OCI_MANIFEST, "test")

    _client(recorder, sleep=slept.append).put_manifest("app", "v1", manifest)

    assert len(slept) == 1 and 2 <= slept[0] <= PATIENCE
    assert [r.body for r in recorder.requests] == [MANIFEST, MANIFEST]


def test_a_registry_busy_for_ever_is_an_error_after_the_bound(serve: Callable[..., Recorder]) -> None:
    recorder = serve(lambda request: (503, {}, _error("UNAVAILABLE", "busy")))
    slept: list[float] = []

    with pytest.raises(RegistryRefusal) as caught:
        _client(recorder, sleep=slept.append).get_manifest("app", "v1")

    assert caught.value.status == 503 and "run the same copy again later" in str(caught.value)
    assert len(recorder.requests) == ATTEMPTS and len(slept) == ATTEMPTS - 1
    assert sum(slept) <= PATIENCE


def test_a_retry_after_beyond_the_patience_is_not_waited(serve: Callable[..., Recorder]) -> None:
    recorder = serve(lambda request: (429, {"Retry-After": str(int(PATIENCE) + 1)}, b""))
    slept: list[float] = []

    with pytest.raises(RegistryRefusal):
        _client(recorder, sleep=slept.append).get_manifest("app", "v1")

    assert slept == [] and len(recorder.requests) == 1


def test_a_streamed_blob_put_is_sent_once_even_when_busy(serve: Callable[..., Recorder]) -> None:
    recorder = serve(lambda request: (429, {"Retry-After": "1"}, b""))
    slept: list[float] = []

    with pytest.raises(RegistryRefusal):
        _client(recorder, sleep=slept.append).finish_upload("app", "/upload/1", BLOB_DIGEST, _Stream(BLOB), len(BLOB))

    assert slept == [] and [r.method for r in recorder.requests] == ["PUT"]  # its body cannot be read twice


# -- what was asked for by digest ----------------------------------------------------------------------------


def test_a_manifest_asked_for_by_digest_must_have_it(serve: Callable[..., Recorder]) -> None:
    recorder = serve(_manifest_answer)
    asked = "sha256:" + "a" * 64

    with pytest.raises(RegistryError) as caught:
        _client(recorder).get_manifest("app", asked)

    assert asked in str(caught.value) and digest_of(MANIFEST) in str(caught.value)
    assert _client(recorder).get_manifest("app", digest_of(MANIFEST)) is not None


def test_a_manifest_digest_looked_up_by_digest_must_be_it(serve: Callable[..., Recorder]) -> None:
    recorder = serve(_manifest_answer)

    with pytest.raises(RegistryError, match=digest_of(MANIFEST)):
        _client(recorder).manifest_digest("app", "sha256:" + "a" * 64)


def test_a_blob_whose_bytes_do_not_match_fails_as_it_is_read(serve: Callable[..., Recorder]) -> None:
    recorder = serve(lambda request: (200, {}, BLOB + b"!"))
    asked = digest_of(BLOB + b"?")

    stream, length = _client(recorder).open_blob("app", asked)
    with pytest.raises(RegistryError) as caught:
        while stream.read(4096):
            pass
    stream.close()

    assert asked in str(caught.value) and digest_of(BLOB + b"!") in str(caught.value)


class _Stream:
    """A source's stream: read block by block, once."""

    def __init__(self, data: bytes) -> None:
        self.data, self.at = data, 0

    def read(self, amount: int = -1, /) -> bytes:
        end = len(self.data) if amount < 0 else self.at + amount
        found, self.at = self.data[self.at : end], min(end, len(self.data))
        return found


def test_an_upload_whose_bytes_do_not_match_is_never_completed(serve: Callable[..., Recorder]) -> None:
    recorder = serve(lambda request: (201, {}, b""))
    wrong = b"x" * len(BLOB)

    with pytest.raises(RegistryError, match=BLOB_DIGEST):
        _client(recorder).finish_upload("app", "/upload/1", BLOB_DIGEST, _Stream(wrong), len(wrong))

    assert all(not r.complete for r in recorder.requests if r.method == "PUT")


# -- what each request carries (issue 18, item 3) ----------------------------------------------------------


def test_a_blob_put_carries_exactly_its_length_and_no_transfer_encoding(serve: Callable[..., Recorder]) -> None:
    recorder = serve(lambda request: (201, {}, b""))

    _client(recorder).finish_upload("app", "/v2/app/blobs/uploads/u1?state=s", BLOB_DIGEST, _Stream(BLOB), len(BLOB))

    (put,) = recorder.requests
    assert put.method == "PUT" and put.complete and put.body == BLOB
    assert put.headers["content-length"] == str(len(BLOB)) and "transfer-encoding" not in put.headers
    query = parse_qs(urlsplit(put.path).query)
    assert query == {"state": ["s"], "digest": [BLOB_DIGEST]}


def test_a_manifest_put_carries_the_source_bytes_and_media_type_unchanged(serve: Callable[..., Recorder]) -> None:
    recorder = serve(lambda request: (201, {}, b""))
    manifest = parse_manifest(MANIFEST, OCI_MANIFEST, "test")

    _client(recorder).put_manifest("app", "v1", manifest)

    (put,) = recorder.requests
    assert put.path == "/v2/app/manifests/v1" and put.body == MANIFEST
    assert put.headers["content-type"] == OCI_MANIFEST
    assert hashlib.sha256(put.body).hexdigest() == manifest.digest.split(":")[1]


class _Registry:
    """Just enough of a registry, in memory, for a copy: it declines every mount, as ECR does without
    BLOB_MOUNTING, answering 202 with an upload session."""

    def __init__(self) -> None:
        self.blobs: dict[tuple[str, str], bytes] = {}
        self.manifests: dict[tuple[str, str], tuple[str, bytes]] = {}

    def __call__(self, request: Request) -> Answer:
        parts = urlsplit(request.path)
        _, _, repo, kind, rest = parts.path.split("/", 4)
        if kind == "manifests" and request.method == "PUT":
            self.manifests[(repo, rest)] = (request.headers["content-type"], request.body)
            self.manifests[(repo, digest_of(request.body))] = (request.headers["content-type"], request.body)
            return 201, {"Docker-Content-Digest": digest_of(request.body)}, b""
        if kind == "manifests":
            if (repo, rest) not in self.manifests:
                return 404, {}, _error("MANIFEST_UNKNOWN", "no such manifest")
            media_type, data = self.manifests[(repo, rest)]
            return 200, {"Content-Type": media_type, "Docker-Content-Digest": digest_of(data)}, data
        if request.method == "POST":
            return 202, {"Location": f"/v2/{repo}/blobs/uploads/session"}, b""
        if request.method == "PUT":
            digest = parse_qs(parts.query)["digest"][0]
            self.blobs[(repo, digest)] = request.body
            return 201, {}, b""
        if (repo, rest) not in self.blobs:
            return 404, {}, _error("BLOB_UNKNOWN", "no such blob")
        return 200, {}, self.blobs[(repo, rest)]


def test_a_declined_mount_is_uploaded_not_counted_as_mounted(serve: Callable[..., Recorder]) -> None:
    registry = _Registry()
    config, layer = b"{}", BLOB
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": digest_of(config), "size": 2},
            "layers": [
                {"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": BLOB_DIGEST, "size": len(layer)}
            ],
        }
    ).encode()
    registry.blobs.update({("src", digest_of(config)): config, ("src", BLOB_DIGEST): layer})
    recorder = serve(registry)
    client = _client(recorder)
    copy = ImageCopy(client, "src", client, "dst")

    copy.run(parse_manifest(manifest, OCI_MANIFEST, "test"), "v1")

    assert copy.tally.blobs_mounted == 0 and copy.tally.blobs_copied == 2
    mounts = [r for r in recorder.requests if r.method == "POST"]
    assert len(mounts) == 2 and all("mount=" in r.path for r in mounts)
    assert registry.blobs[("dst", BLOB_DIGEST)] == layer and registry.blobs[("dst", digest_of(config))] == config
    assert registry.manifests[("dst", "v1")] == (OCI_MANIFEST, manifest)


def _image(registry: _Registry, config: bytes) -> tuple[bytes, bytes]:
    """An index of one image whose config names CONFIG's digest, the image in src: the index and the image."""
    child = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": digest_of(config), "size": 2},
            "layers": [],
        }
    ).encode()
    index = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": OCI_INDEX,
            "manifests": [{"mediaType": OCI_MANIFEST, "digest": digest_of(child), "size": len(child)}],
        }
    ).encode()
    registry.manifests[("src", digest_of(child))] = (OCI_MANIFEST, child)
    return index, child


def test_an_index_children_are_put_by_digest_and_only_the_index_gets_the_tag(
    serve: Callable[..., Recorder],
) -> None:
    registry = _Registry()
    index, child = _image(registry, b"{}")
    registry.blobs[("src", digest_of(b"{}"))] = b"{}"
    recorder = serve(registry)
    client = _client(recorder)

    ImageCopy(client, "src", client, "dst").run(parse_manifest(index, OCI_INDEX, "test"), "v1")

    puts = [r.path for r in recorder.requests if r.method == "PUT" and "/manifests/" in r.path]
    assert puts == [f"/v2/dst/manifests/{digest_of(child)}", "/v2/dst/manifests/v1"]
    assert registry.manifests[("dst", "v1")] == (OCI_INDEX, index)


def test_a_source_blob_that_does_not_match_its_digest_ends_the_copy_before_any_manifest(
    serve: Callable[..., Recorder],
) -> None:
    registry = _Registry()
    index, _ = _image(registry, b"{}")
    registry.blobs[("src", digest_of(b"{}"))] = b"[]"  # a mirror serving other bytes than asked for
    recorder = serve(registry)
    client = _client(recorder)

    with pytest.raises(RegistryError, match=digest_of(b"[]")):
        ImageCopy(client, "src", client, "dst").run(parse_manifest(index, OCI_INDEX, "test"), "v1")

    assert ("dst", digest_of(b"{}")) not in registry.blobs
    assert not [r for r in recorder.requests if r.method == "PUT" and "/manifests/" in r.path]


# -- referrers ----------------------------------------------------------------------------------------------

SUBJECT = digest_of(MANIFEST)


def _signature(number: int) -> bytes:
    return json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "artifactType": "application/vnd.dev.cosign.simplesigning.v1+json",
            "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": digest_of(b"{}"), "size": 2},
            "layers": [],
            "subject": {"mediaType": OCI_MANIFEST, "digest": SUBJECT, "size": len(MANIFEST)},
            "annotations": {"number": str(number)},
        }
    ).encode()


def _page(*manifests: bytes) -> bytes:
    items = [{"mediaType": OCI_MANIFEST, "digest": digest_of(m), "size": len(m)} for m in manifests]
    return json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": items}).encode()


def _copy_with_referrers(recorder: Recorder) -> ImageCopy:
    client = _client(recorder, sleep=lambda seconds: None)
    copy = ImageCopy(client, "src", client, "dst", referrers=True)
    copy.run(parse_manifest(MANIFEST, OCI_MANIFEST, "test"), "v1")
    return copy


@pytest.mark.parametrize(("status", "code"), [(500, "INTERNAL"), (502, ""), (503, ""), (429, "TOOMANYREQUESTS")])
def test_a_failing_referrers_api_is_an_error_not_no_referrers(
    serve: Callable[..., Recorder], status: int, code: str
) -> None:
    registry = _Registry()
    registry.manifests[("dst", "v1")] = (OCI_MANIFEST, MANIFEST)  # the image is there: only the referrers remain

    def answer(request: Request) -> Answer:
        if "/referrers/" in request.path:
            return status, {"Content-Type": "application/json"}, _error(code, "the referrers are not to be had")
        return registry(request)

    recorder = serve(answer)

    with pytest.raises(RegistryRefusal, match=f"listing the referrers of {SUBJECT} in src: {status}") as caught:
        _copy_with_referrers(recorder)

    assert caught.value.status == status
    assert not [r for r in recorder.requests if "/manifests/sha256-" in r.path]  # no fallback to the tag scheme
    if status in (429, 503):  # asked again after a pause, as long as the bounds allow, before giving up
        asked = len([r for r in recorder.requests if "/referrers/" in r.path])
        assert asked == ATTEMPTS if status == 503 else 1 < asked <= THROTTLED_ATTEMPTS


def test_a_registry_without_the_referrers_api_falls_back_to_the_tag_scheme(serve: Callable[..., Recorder]) -> None:
    registry = _Registry()
    signature = _signature(1)
    registry.manifests[("src", digest_of(signature))] = (OCI_MANIFEST, signature)
    registry.manifests[("src", SUBJECT.replace(":", "-"))] = (OCI_INDEX, _page(signature))
    registry.blobs[("src", digest_of(b"{}"))] = b"{}"

    def answer(request: Request) -> Answer:
        if "/referrers/" in request.path:
            return 404, {"Content-Type": "text/plain"}, b"404 page not found"
        return registry(request)

    recorder = serve(answer)
    registry.manifests[("dst", "v1")] = (OCI_MANIFEST, MANIFEST)

    copy = _copy_with_referrers(recorder)

    assert copy.tally.referrers == 1
    assert registry.manifests[("dst", digest_of(signature))] == (OCI_MANIFEST, signature)
    listed = parse_manifest(registry.manifests[("dst", SUBJECT.replace(":", "-"))][1], OCI_INDEX, "test")
    assert [child.digest for child in listed.children] == [digest_of(signature)]


def test_the_referrers_are_read_page_by_page_as_the_link_header_says(serve: Callable[..., Recorder]) -> None:
    signatures = [_signature(n) for n in range(3)]

    def answer(request: Request) -> Answer:
        query = parse_qs(urlsplit(request.path).query)
        if "last" not in query:
            link = f'</v2/src/referrers/{SUBJECT}?n=2&last={digest_of(signatures[1])}>; rel="next"'
            return 200, {"Content-Type": OCI_INDEX, "Link": link}, _page(*signatures[:2])
        assert query == {"n": ["2"], "last": [digest_of(signatures[1])]}
        return 200, {"Content-Type": OCI_INDEX}, _page(signatures[2])

    recorder = serve(answer)

    found = _client(recorder).referrers("src", SUBJECT)

    assert found is not None and [item.digest for item in found] == [digest_of(s) for s in signatures]
    assert len(recorder.requests) == 2
    assert all(r.headers["accept"] == OCI_INDEX for r in recorder.requests)


def test_a_next_page_that_is_a_404_is_an_error_not_the_end(serve: Callable[..., Recorder]) -> None:
    def answer(request: Request) -> Answer:
        if "last=" not in request.path:
            link = f'<http://{recorder.host}/v2/src/referrers/{SUBJECT}?last=x>; rel="next"'
            return 200, {"Content-Type": OCI_INDEX, "Link": link}, _page(_signature(0))
        return 404, {}, _error("NAME_UNKNOWN", "gone")

    recorder = serve(answer)

    with pytest.raises(NotFound, match="gone"):
        _client(recorder).referrers("src", SUBJECT)


def test_a_next_page_on_another_host_or_the_same_page_again_is_refused(serve: Callable[..., Recorder]) -> None:
    elsewhere = serve(lambda request: (200, {"Content-Type": OCI_INDEX}, _page()))
    links = iter([f'<http://{elsewhere.host}/v2/src/referrers/{SUBJECT}>; rel="next"', '<?last=a>; rel="next"'])
    recorder = serve(lambda request: (200, {"Content-Type": OCI_INDEX, "Link": next(links)}, _page()))

    with pytest.raises(RegistryError, match="another registry"):
        _client(recorder).referrers("src", SUBJECT)
    assert elsewhere.requests == []

    looping = serve(lambda request: (200, {"Content-Type": OCI_INDEX, "Link": f"<{request.path}>; rel=next"}, _page()))
    with pytest.raises(RegistryError, match="kept paging"):
        _client(looping).referrers("src", SUBJECT)
    assert len(looping.requests) == 1


def test_next_link_reads_rfc_8288() -> None:
    assert next_link('</v2/a/referrers/d?last=x>; rel="next"') == "/v2/a/referrers/d?last=x"
    assert next_link('<https://r/a?b=1,2>; rel="prev", <https://r/a?n=3>; rel=next') == "https://r/a?n=3"
    assert next_link('<https://r/a>; rel="prev"') is None
    assert next_link(None) is None


# -- Bearer tokens ------------------------------------------------------------------------------------------


def test_an_anonymous_bearer_token_is_fetched_from_the_realm_as_the_public_gallery_asks(
    serve: Callable[..., Recorder],
) -> None:
    tokens = serve(lambda request: (200, {"Content-Type": "application/json"}, b'{"token": "anonymous"}'))

    def answer(request: Request) -> Answer:
        if request.headers.get("authorization") != "Bearer anonymous":
            challenge = f'Bearer realm="http://{tokens.host}/token/",service="public.ecr.aws",scope="aws"'
            return 401, {"WWW-Authenticate": challenge}, _error("UNAUTHORIZED", "authentication required")
        return _manifest_answer(request)

    gallery = serve(answer)

    found = RegistryClient(gallery.host, side="source").get_manifest("team/app", "v1")

    assert found is not None and found.data == MANIFEST
    (asked,) = tokens.requests
    assert "authorization" not in asked.headers
    assert urlsplit(asked.path).path == "/token/"
    assert parse_qs(urlsplit(asked.path).query) == {"service": ["public.ecr.aws"], "scope": ["aws"]}
    assert [r.headers.get("authorization") for r in gallery.requests] == [None, "Bearer anonymous"]


def _bearer_registry(serve: Callable[..., Recorder], realm: str) -> Recorder:
    def answer(request: Request) -> Answer:
        if request.headers.get("authorization") != "Bearer fresh":
            challenge = f'Bearer realm="{realm}",service="registry.example",scope="repository:team/app:pull"'
            return 401, {"WWW-Authenticate": challenge}, _error("UNAUTHORIZED", "authentication required")
        return _manifest_answer(request)

    return serve(answer)


def test_an_identity_token_is_traded_at_the_realm_by_the_oauth2_refresh_token_flow(
    serve: Callable[..., Recorder],
) -> None:
    tokens = serve(lambda request: (200, {"Content-Type": "application/json"}, b'{"access_token": "fresh"}'))
    registry = _bearer_registry(serve, f"http://{tokens.host}/oauth2/token")

    client = RegistryClient(registry.host, side="source", basic=("<token>", "refresh-me"), refresh_token="refresh-me")
    found = client.get_manifest("team/app", "v1")

    assert found is not None and found.data == MANIFEST
    (asked,) = tokens.requests
    assert asked.method == "POST" and asked.path == "/oauth2/token"
    assert asked.headers["content-type"] == "application/x-www-form-urlencoded"
    assert "authorization" not in asked.headers  # the token goes in the form, never as a Basic password
    assert parse_qs(asked.body.decode()) == {
        "grant_type": ["refresh_token"],
        "refresh_token": ["refresh-me"],
        "service": ["registry.example"],
        "scope": ["repository:team/app:pull"],
        "client_id": ["ecrtool"],
    }
    assert [r.headers.get("authorization") for r in registry.requests] == [None, "Bearer fresh"]


@pytest.mark.parametrize("status", [404, 405])
def test_a_realm_without_oauth2_is_asked_by_get_without_the_identity_token(
    serve: Callable[..., Recorder], status: int
) -> None:
    def answer(request: Request) -> Answer:
        if request.method == "POST":
            return status, {}, b""
        return 200, {"Content-Type": "application/json"}, b'{"token": "fresh"}'

    tokens = serve(answer)
    registry = _bearer_registry(serve, f"http://{tokens.host}/token")

    client = RegistryClient(registry.host, side="source", basic=("<token>", "refresh-me"), refresh_token="refresh-me")
    assert client.get_manifest("team/app", "v1") is not None

    post, get = tokens.requests
    assert post.method == "POST" and get.method == "GET"
    assert "authorization" not in get.headers  # the identity token is a refresh token, never a password
    wanted = {"service": ["registry.example"], "scope": ["repository:team/app:pull"]}
    assert parse_qs(urlsplit(get.path).query) == wanted


def test_a_refused_identity_token_says_so(serve: Callable[..., Recorder]) -> None:
    tokens = serve(lambda request: (401, {}, b'{"error": "invalid_grant"}'))
    registry = _bearer_registry(serve, f"http://{tokens.host}/oauth2/token")

    client = RegistryClient(registry.host, side="source", basic=("<token>", "stale"), refresh_token="stale")
    with pytest.raises(AuthError, match="identity token in your Docker config .401.: log in with `docker login"):
        client.get_manifest("team/app", "v1")
    assert [r.method for r in tokens.requests] == ["POST"]


def test_a_throttling_registry_is_waited_out_for_longer_than_a_failing_one(serve: Callable[..., Recorder]) -> None:
    """ECR paces manifest PUTs: a queue of copies is refused 429 until it drains, more often than a 503's bound."""
    answers = iter([(429, {"Retry-After": "1"}, b"")] * (ATTEMPTS + 3) + [(201, {}, b"")])
    recorder = serve(lambda request: next(answers))
    slept: list[float] = []

    _client(recorder, sleep=slept.append).put_manifest("app", "v1", parse_manifest(MANIFEST, OCI_MANIFEST, "test"))

    assert len(recorder.requests) == ATTEMPTS + 4 and len(slept) == ATTEMPTS + 3
    assert all(1 <= pause <= 1.25 for pause in slept)  # Retry-After, with a little jitter


# -- tags ------------------------------------------------------------------------------------------------


def test_tags_are_read_page_by_page_and_a_name_that_is_no_tag_is_left_out(serve: Callable[..., Recorder]) -> None:
    def answer(request: Request) -> Answer:
        if "last=" not in request.path:
            doc = {"name": "app", "tags": ["v1", "x?y=1", "../../other/manifests/v9"]}
            return 200, {"Link": '</v2/app/tags/list?n=1000&last=v1>; rel="next"'}, json.dumps(doc).encode()
        return 200, {}, json.dumps({"name": "app", "tags": ["v2", "-dash", "a" * 129, 7]}).encode()

    recorder = serve(answer)
    assert _client(recorder).tags("app") == ["v1", "v2"]
    assert recorder.paths() == ["GET /v2/app/tags/list?n=1000", "GET /v2/app/tags/list?n=1000&last=v1"]
