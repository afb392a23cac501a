"""The copy's plan with fake registries: the order (blobs, children, index, tag), what is skipped, mounted or
sent, referrers, and that a failure leaves no tag behind. Also the references `ecrtool copy` reads."""

from __future__ import annotations

import io
import json
from typing import Any, BinaryIO

import pytest

from ecrtool.model.errors import InvalidInput, RegistryError
from ecrtool.model.manifests import OCI_INDEX, OCI_MANIFEST, Manifest, digest_of, parse_manifest
from ecrtool.model.refs import ImageRef, is_generic_reference, parse_image_ref
from ecrtool.service.copy_plan import ImageCopy

SIGNATURE = "application/vnd.dev.cosign.artifact.sig.v1+json"


class FakeRegistry:
    """A registry in memory that logs every call that changes it."""

    def __init__(self, host: str) -> None:
        self.host = host
        self.blobs: dict[tuple[str, str], bytes] = {}
        self.manifests: dict[tuple[str, str], Manifest] = {}
        self.log: list[str] = []
        self.fail_blob: str | None = None

    @property
    def label(self) -> str:
        return f"fake registry {self.host}"

    def get_manifest(self, repository: str, reference: str) -> Manifest | None:
        return self.manifests.get((repository, reference))

    def manifest_digest(self, repository: str, reference: str) -> str | None:
        found = self.manifests.get((repository, reference))
        return found.digest if found else None

    def put_manifest(self, repository: str, reference: str, manifest: Manifest) -> bool:
        self.log.append(f"manifest {reference}")
        self.manifests[(repository, reference)] = manifest
        self.manifests[(repository, manifest.digest)] = manifest
        return False  # no referrers API

    def has_blob(self, repository: str, digest: str) -> bool:
        return (repository, digest) in self.blobs

    def start_upload(self, repository: str, *, mount: str | None = None, source: str | None = None) -> str | None:
        if mount and source and (source, mount) in self.blobs:
            self.log.append(f"mount {mount}")
            self.blobs[(repository, mount)] = self.blobs[(source, mount)]
            return None
        return f"/upload/{repository}"

    def open_blob(self, repository: str, digest: str, *, check: bool = True) -> tuple[BinaryIO, int | None]:
        data = self.blobs[(repository, digest)]
        return io.BytesIO(data), len(data)

    def finish_upload(self, repository: str, location: str, digest: str, body: Any, size: int, **_: Any) -> None:
        if digest == self.fail_blob:
            raise RegistryError(f"{self.label} stopped answering")
        data = b"".join(iter(lambda: body.read(7), b""))
        assert len(data) == size and digest_of(data) == digest
        self.log.append(f"blob {digest}")
        self.blobs[(repository, digest)] = data

    def referrers(self, repository: str, digest: str) -> list[Any] | None:
        return None


def blob(registry: FakeRegistry, repository: str, data: bytes) -> dict[str, Any]:
    registry.blobs[(repository, digest_of(data))] = data
    return {"mediaType": "application/octet-stream", "digest": digest_of(data), "size": len(data)}


def manifest(registry: FakeRegistry, repository: str, doc: dict[str, Any], media_type: str, *tags: str) -> Manifest:
    data = json.dumps(doc).encode()
    found = parse_manifest(data, media_type, "test")
    for reference in (found.digest, *tags):
        registry.manifests[(repository, reference)] = found
    return found


def image(registry: FakeRegistry, repository: str, name: str, *tags: str) -> Manifest:
    config = blob(registry, repository, f'{{"config": "{name}"}}'.encode())
    layer = blob(registry, repository, f"layer of {name}".encode() * 50)
    doc = {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": config, "layers": [layer]}
    return manifest(registry, repository, doc, OCI_MANIFEST, *tags)


def index(registry: FakeRegistry, repository: str, *tags: str) -> Manifest:
    children = [image(registry, repository, arch) for arch in ("amd64", "arm64")]
    entries = [{"mediaType": OCI_MANIFEST, "digest": c.digest, "size": len(c.data)} for c in children]
    return manifest(registry, repository, {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries},
                    OCI_INDEX, *tags)  # fmt: skip


def test_blobs_go_first_then_the_children_then_the_index_under_its_tag() -> None:
    source, dest = FakeRegistry("src.example"), FakeRegistry("dst.example")
    root = index(source, "app", "v1")
    already = ImageCopy(source, "app", dest, "app", jobs=3).run(root, "v1")
    assert already is False
    kinds = [entry.split()[0] for entry in dest.log]
    assert kinds == ["blob"] * 4 + ["manifest"] * 3
    assert dest.log[-1] == "manifest v1"
    assert dest.manifest_digest("app", "v1") == root.digest
    assert dest.get_manifest("app", "v1").data == root.data  # byte for byte


def test_what_the_destination_has_is_not_sent_again() -> None:
    source, dest = FakeRegistry("src.example"), FakeRegistry("dst.example")
    root = index(source, "app", "v1")
    first = ImageCopy(source, "app", dest, "app")
    first.run(root, "v1")
    dest.log.clear()
    again = ImageCopy(source, "app", dest, "app")
    assert again.run(root, "v1") is True
    assert dest.log == []
    # under another tag: only the tag is written
    assert ImageCopy(source, "app", dest, "app").run(root, "v2") is False
    assert dest.log == ["manifest v2"]


def test_a_blob_the_destination_has_is_skipped_and_one_in_the_same_registry_is_mounted() -> None:
    registry = FakeRegistry("one.example")
    root = image(registry, "app", "amd64", "v1")
    registry.blobs[("mirror", root.blobs[0].digest)] = registry.blobs[("app", root.blobs[0].digest)]
    job = ImageCopy(registry, "app", registry, "mirror")
    job.run(root, "v1")
    assert job.tally.blobs_skipped == 1 and job.tally.blobs_mounted == 1 and job.tally.blobs_copied == 0
    assert registry.log == [f"mount {root.blobs[1].digest}", "manifest v1"]


def test_a_failed_blob_leaves_no_manifest_and_no_tag() -> None:
    source, dest = FakeRegistry("src.example"), FakeRegistry("dst.example")
    root = index(source, "app", "v1")
    dest.fail_blob = root.children and source.get_manifest("app", root.children[1].digest).blobs[1].digest
    with pytest.raises(RegistryError, match="stopped answering"):
        ImageCopy(source, "app", dest, "app", jobs=1).run(root, "v1")
    assert not any(entry.startswith("manifest") for entry in dest.log)
    assert dest.manifest_digest("app", "v1") is None
    # the same copy again finishes it, sending only what had not arrived
    dest.fail_blob = None
    sent_before = {entry for entry in dest.log}
    ImageCopy(source, "app", dest, "app", jobs=1).run(root, "v1")
    assert not sent_before & set(dest.log[len(sent_before) :])
    assert dest.manifest_digest("app", "v1") == root.digest


def test_referrers_follow_their_subject_and_are_listed_under_the_fallback_tag() -> None:
    source, dest = FakeRegistry("src.example"), FakeRegistry("dst.example")
    root = image(source, "app", "amd64", "v1")
    payload = blob(source, "app", b"signature")
    signature = manifest(source, "app", {
        "schemaVersion": 2, "mediaType": OCI_MANIFEST, "artifactType": SIGNATURE,
        "config": blob(source, "app", b"{}"), "layers": [payload],
        "subject": {"mediaType": OCI_MANIFEST, "digest": root.digest, "size": len(root.data)},
    }, OCI_MANIFEST)  # fmt: skip
    fallback = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [
        {"mediaType": OCI_MANIFEST, "digest": signature.digest, "size": len(signature.data)}]}  # fmt: skip
    manifest(source, "app", fallback, OCI_INDEX, root.digest.replace(":", "-"))
    job = ImageCopy(source, "app", dest, "app", referrers=True)
    job.run(root, "v1")
    assert job.tally.referrers == 1
    assert dest.get_manifest("app", signature.digest).data == signature.data
    listed = dest.get_manifest("app", root.digest.replace(":", "-"))
    assert [child.digest for child in listed.children] == [signature.digest]
    assert dest.log.index("manifest v1") < dest.log.index(f"manifest {signature.digest}")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("docker.io/busybox:1.36", ImageRef("registry-1.docker.io", "library/busybox", "1.36")),
        ("docker.io/library/busybox:1.36", ImageRef("registry-1.docker.io", "library/busybox", "1.36")),
        ("index.docker.io/team/app", ImageRef("registry-1.docker.io", "team/app")),
        ("ghcr.io/owner/image:t", ImageRef("ghcr.io", "owner/image", "t")),
        ("localhost:5000/app:1", ImageRef("localhost:5000", "app", "1")),
        ("127.0.0.1:5000/a/b@sha256:" + "a" * 64, ImageRef("127.0.0.1:5000", "a/b", None, "sha256:" + "a" * 64)),
    ],
)
def test_a_registry_reference_reads_as_docker_reads_it(text: str, expected: ImageRef) -> None:
    assert parse_image_ref(text) == expected


@pytest.mark.parametrize("text", ["busybox:1.36", "ghcr.io/Owner/app", "ghcr.io/app:bad tag", "-x/y", "ghcr.io/"])
def test_a_bad_registry_reference_is_invalid_input(text: str) -> None:
    with pytest.raises(InvalidInput):
        parse_image_ref(text)


def test_ecr_references_are_not_another_registrys() -> None:
    assert not is_generic_reference("trees:v1")
    assert not is_generic_reference("123456789012.dkr.ecr.ca-west-1.amazonaws.com/trees:v1")
    assert not is_generic_reference("127.0.0.1:5000/trees:v1", registry_override="127.0.0.1:5000")
    assert is_generic_reference("127.0.0.1:5001/trees:v1", registry_override="127.0.0.1:5000")
    assert is_generic_reference("ghcr.io/owner/image:t")


def test_an_immutable_tag_held_by_another_image_ends_the_copy_before_any_blob_moves() -> None:
    source, dest = FakeRegistry("src.example"), FakeRegistry("dst.example")
    root = index(source, "app", "v1")
    held = image(dest, "app", "older", "v1")
    dest.log.clear()
    with pytest.raises(RegistryError) as caught:
        ImageCopy(source, "app", dest, "app", immutable=lambda: True).run(root, "v1")
    assert str(caught.value) == (
        f"tag 'v1' of dst.example/app already holds another image ({held.digest}) and the repository's tags are"
        " immutable: copy to another tag, or delete that image first"
    )
    assert dest.log == []
    # a mutable one moves the tag
    assert ImageCopy(source, "app", dest, "app").run(root, "v1") is False
    assert dest.manifest_digest("app", "v1") == root.digest


def test_a_destination_created_for_the_copy_is_not_asked_what_it_holds() -> None:
    source, dest = FakeRegistry("src.example"), FakeRegistry("dst.example")
    root = index(source, "app", "v1")
    asked: list[str] = []
    dest.has_blob = lambda repository, digest: asked.append(digest) or False  # type: ignore[method-assign]
    dest.manifest_digest = lambda repository, reference: asked.append(reference) or None  # type: ignore[method-assign]
    ImageCopy(source, "app", dest, "app", empty=True).run(root, "v1")
    assert asked == []
    assert [entry.split()[0] for entry in dest.log] == ["blob"] * 4 + ["manifest"] * 3
