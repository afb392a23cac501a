"""`ecrtool inspect` and `ecrtool digest` on the command line, against a small registry on 127.0.0.1 holding a
two-platform index, an attestation entry and a signature listed under the `sha256-<hex>` tag: what the text
and JSON say, each platform's own size, the exact bytes of --raw and --config, and the exit codes."""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
SIGNATURE = "application/vnd.dev.cosign.artifact.sig.v1+json"


def digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@dataclass
class Store:
    """What the registry holds in repository team/app: manifests by tag and digest, blobs by digest."""

    manifests: dict[str, tuple[bytes, str]] = field(default_factory=dict)
    blobs: dict[str, bytes] = field(default_factory=dict)
    asked: list[str] = field(default_factory=list)

    def blob(self, data: bytes, media_type: str) -> dict[str, Any]:
        self.blobs[digest_of(data)] = data
        return {"mediaType": media_type, "digest": digest_of(data), "size": len(data)}

    def manifest(self, doc: dict[str, Any], media_type: str, *tags: str) -> dict[str, Any]:
        data = json.dumps(doc, indent=3).encode()
        for reference in (digest_of(data), *tags):
            self.manifests[reference] = (data, media_type)
        return {"mediaType": media_type, "digest": digest_of(data), "size": len(data)}

    def image(self, config: dict[str, Any], *layers: bytes, tags: tuple[str, ...] = ()) -> dict[str, Any]:
        doc = {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": self.blob(json.dumps(config).encode(), OCI_CONFIG),
            "layers": [self.blob(layer, LAYER) for layer in layers],
        }
        return self.manifest(doc, OCI_MANIFEST, *tags)


@dataclass
class Built:
    host: str
    store: Store
    index: dict[str, Any]
    amd64: dict[str, Any]
    arm64: dict[str, Any]
    signature: dict[str, Any]
    single: dict[str, Any]


def _serve(store: Store) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:
            pass

        def _answer(self, body: bool) -> None:
            store.asked.append(f"{self.command} {self.path}")
            parts = self.path.split("/")  # /v2/team/app/KIND/REFERENCE
            kind, reference = parts[-2], parts[-1]
            found: tuple[bytes, str] | None = None
            if kind == "manifests":
                found = store.manifests.get(reference)
            elif kind == "blobs" and reference in store.blobs:
                found = (store.blobs[reference], "application/octet-stream")
            # kind == "referrers": this registry has none (404), so the fallback tag lists them
            if found is None:
                self.send_response(404)
                self.send_header("Content-Type", "application/json")
                error = b'{"errors": [{"code": "MANIFEST_UNKNOWN", "message": "unknown"}]}'
                self.send_header("Content-Length", str(len(error)))
                self.end_headers()
                self.wfile.write(error if body else b"")
                return
            data, media_type = found
            self.send_response(200)
            self.send_header("Content-Type", media_type)
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Docker-Content-Digest", digest_of(data))
            self.end_headers()
            if body:
                self.wfile.write(data)

        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            self._answer(True)

        def do_HEAD(self) -> None:  # noqa: N802
            self._answer(False)

    return ThreadingHTTPServer(("127.0.0.1", 0), Handler)


@pytest.fixture
def registry() -> Iterator[Built]:
    store = Store()
    amd64 = store.image(
        {
            "architecture": "amd64",
            "os": "linux",
            "created": "2024-05-06T07:08:09.123456789Z",
            "config": {"Entrypoint": ["/app"], "Cmd": ["--serve"], "Labels": {"team": "trees", "tier": "web"}},
        },
        b"a" * 3000,
        b"b" * 500,
    )
    arm64 = store.image({"architecture": "arm64", "os": "linux", "variant": "v8"}, b"c" * 40)
    attestation = store.manifest(
        {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": store.blob(b"{}", OCI_CONFIG), "layers": []},
        OCI_MANIFEST,
    )
    index = store.manifest(
        {
            "schemaVersion": 2,
            "mediaType": OCI_INDEX,
            "manifests": [
                {**amd64, "platform": {"os": "linux", "architecture": "amd64"}},
                {**arm64, "platform": {"os": "linux", "architecture": "arm64", "variant": "v8"}},
                {
                    **attestation,
                    "platform": {"os": "unknown", "architecture": "unknown"},
                    "annotations": {"vnd.docker.reference.type": "attestation-manifest"},
                },
            ],
        },
        OCI_INDEX,
        "multi",
    )
    signature = store.manifest(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "artifactType": SIGNATURE,
            "config": store.blob(b"{}", "application/vnd.oci.empty.v1+json"),
            "layers": [store.blob(b"signed", "application/vnd.dev.cosign.simplesigning.v1+json")],
            "subject": index,
        },
        OCI_MANIFEST,
    )
    listing = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [{**signature, "artifactType": SIGNATURE}]}
    store.manifest(listing, OCI_INDEX, index["digest"].replace(":", "-"))
    single = store.image({"architecture": "amd64", "os": "linux"}, b"d" * 10, tags=("single",))
    server = _serve(store)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Built(f"127.0.0.1:{server.server_address[1]}", store, index, amd64, arm64, signature, single)
    finally:
        server.shutdown()
        server.server_close()


def own_size(store: Store, manifest: dict[str, Any]) -> int:
    """An image's config and layers summed, from its manifest as the registry holds it."""
    doc = json.loads(store.manifests[manifest["digest"]][0])
    return int(doc["config"]["size"]) + sum(int(layer["size"]) for layer in doc["layers"])


def test_an_index_shows_each_platforms_own_size_and_the_sum(registry: Built, invoke: Any) -> None:
    ref = f"{registry.host}/team/app:multi"
    result = invoke("inspect", ref, "-o", "json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    amd64, arm64 = own_size(registry.store, registry.amd64), own_size(registry.store, registry.arm64)
    assert amd64 > 3500 and arm64 < 200  # not the largest child's size for each, nor for the index
    assert (doc["reference"], doc["digest"], doc["media_type"], doc["is_index"]) == (
        ref, registry.index["digest"], OCI_INDEX, True
    )  # fmt: skip
    assert [(p["platform"], p["digest"], p["size_bytes"]) for p in doc["platforms"]] == [
        ("linux/amd64", registry.amd64["digest"], amd64),
        ("linux/arm64/v8", registry.arm64["digest"], arm64),
        (None, doc["platforms"][2]["digest"], 2),
    ]
    assert doc["size_bytes"] == amd64 + arm64  # the attestation is no platform's image
    first = doc["platforms"][0]
    assert first["created"] == "2024-05-06T07:08:09.123456+00:00"
    assert (first["entrypoint"], first["cmd"], first["labels"]) == (
        ["/app"],
        ["--serve"],
        {"team": "trees", "tier": "web"},
    )
    assert (first["layers"], doc["referrers"]) == (2, None)
    assert "manifest" not in doc and "config" not in first


def test_the_text_of_an_index_is_a_table_of_platforms_and_with_platforms_each_in_full(
    registry: Built, invoke: Any
) -> None:
    result = invoke("inspect", f"{registry.host}/team/app:multi")
    assert result.exit_code == 0, result.output
    lines = [line.rstrip() for line in result.stdout.splitlines()]
    assert lines[1] == f"Digest:      {registry.index['digest']}"
    assert lines[2] == f"Media type:  {OCI_INDEX}"
    assert lines[3].startswith("Size:") and "(2 platforms, each its config and layers)" in lines[3]
    rows = {line.split()[0]: line.split() for line in lines if line.startswith(("linux/", "(attestation)"))}
    assert rows["linux/amd64"][1:3] == [registry.amd64["digest"], "3.7"]
    assert rows["linux/arm64/v8"][1] == registry.arm64["digest"]
    assert "(attestation)" in rows
    assert "Entrypoint" not in result.stdout

    full = invoke("inspect", f"{registry.host}/team/app:multi", "--platforms")
    assert full.exit_code == 0, full.output
    assert '\n  Entrypoint:  ["/app"]\n  Command:     ["--serve"]\n' in full.stdout
    assert "\n  Labels:      team=trees\n               tier=web\n" in full.stdout


def test_a_single_image_shows_its_platform_size_and_config(registry: Built, invoke: Any) -> None:
    result = invoke("inspect", f"{registry.host}/team/app:single")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[1:] == [
        f"Digest:      {registry.single['digest']}",
        f"Media type:  {OCI_MANIFEST}",
        "Platform:    linux/amd64",
        f"Size:        {own_size(registry.store, registry.single)} B (config and 1 layer)",
        "Created:     -",
        "Labels:      -",
    ]


def test_referrers_are_a_tree_from_the_fallback_tag_where_there_is_no_api(registry: Built, invoke: Any) -> None:
    result = invoke("inspect", f"{registry.host}/team/app:multi", "--referrers", "-o", "json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["referrers"] == [
        {
            "digest": registry.signature["digest"],
            "media_type": OCI_MANIFEST,
            "artifact_type": SIGNATURE,
            "size_bytes": registry.signature["size"],
            "referrers": [],
        }
    ]
    assert [p["referrers"] for p in doc["platforms"]] == [[], [], []]
    index_hex = registry.index["digest"].removeprefix("sha256:")
    assert f"GET /v2/team/app/referrers/sha256:{index_hex}" in registry.store.asked
    assert f"GET /v2/team/app/manifests/sha256-{index_hex}" in registry.store.asked

    text = invoke("inspect", f"{registry.host}/team/app:multi", "--referrers")
    assert f"Referrers:\n  └── {registry.signature['digest']}  {SIGNATURE}  " in text.stdout


def test_raw_and_config_print_the_registrys_exact_bytes(registry: Built, invoke: Any) -> None:
    raw = invoke("inspect", f"{registry.host}/team/app:multi", "--raw")
    assert raw.exit_code == 0, raw.output
    assert raw.stdout_bytes == registry.store.manifests["multi"][0]
    assert digest_of(raw.stdout_bytes) == registry.index["digest"]

    config = invoke("inspect", f"{registry.host}/team/app:single", "--config")
    assert config.exit_code == 0, config.output
    single = json.loads(registry.store.manifests["single"][0])
    assert digest_of(config.stdout_bytes) == single["config"]["digest"]

    configs = invoke("inspect", f"{registry.host}/team/app:multi", "--config")
    assert configs.exit_code == 0, configs.output
    assert {key: value.get("variant") for key, value in json.loads(configs.stdout).items()} == {
        "linux/amd64": None,
        "linux/arm64/v8": "v8",
    }


def test_digest_prints_one_line(registry: Built, invoke: Any) -> None:
    result = invoke("digest", f"{registry.host}/team/app:multi")
    assert (result.exit_code, result.stdout) == (0, registry.index["digest"] + "\n")
    assert registry.store.asked == ["HEAD /v2/team/app/manifests/multi"]
    doc = json.loads(invoke("digest", f"{registry.host}/team/app:single", "-o", "json").stdout)
    assert doc == {"reference": f"{registry.host}/team/app:single", "digest": registry.single["digest"]}


@pytest.mark.parametrize("command", ["inspect", "digest"])
def test_a_missing_image_is_exit_1_naming_it(registry: Built, invoke: Any, command: str) -> None:
    result = invoke(command, f"{registry.host}/team/app:gone")
    assert result.exit_code == 1
    assert result.stderr.startswith(f"ecrtool: error: image {registry.host}/team/app:gone not found")
    assert result.stdout == ""


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["ghcr.io/Owner/App:1"], "invalid image reference"),
        (["trees:v1", "--raw", "--config"], "--raw and --config"),
        (["trees:bad tag"], "invalid"),
    ],
)
def test_bad_input_is_exit_2_before_any_call(
    argv: list[str], words: str, invoke: Any, forbid_backends: list[str]
) -> None:
    result = invoke("inspect", *argv)
    assert result.exit_code == 2, result.output
    assert words in result.stderr and result.stdout == ""
    assert forbid_backends == []
