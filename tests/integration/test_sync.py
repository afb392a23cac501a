"""`ecrtool sync` with the real ecrtool from a plain registry (a docker-registry of no one's, standing in for
Docker Hub) into the local ECR: tags chosen by semver range, regex + newest-N and by name, an image index,
a dry run that changes nothing, a re-run that sends nothing, an interrupted sync finished, and an image
that fails named while the others land. Digests are compared on the registries' own API."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

pytestmark = pytest.mark.integration

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
ACCEPT = f"{OCI_INDEX}, {OCI_MANIFEST}"
Run = Callable[..., subprocess.CompletedProcess[str]]


def sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


class Plain:
    """The open registry's v2 API: blobs, images and indexes put as a client would push them."""

    def __init__(self, host: str) -> None:
        self.url = f"http://{host}"

    def blob(self, repo: str, data: bytes) -> dict[str, Any]:
        digest = sha(data)
        started = requests.post(f"{self.url}/v2/{repo}/blobs/uploads/", timeout=30)
        assert started.status_code == 202, started.text
        location = started.headers["Location"]
        location = location if location.startswith("http") else self.url + location
        done = requests.put(location, params={"digest": digest}, data=data, timeout=30)
        assert done.status_code == 201, done.text
        return {"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": digest, "size": len(data)}

    def put(self, repo: str, tag: str, doc: dict[str, Any]) -> tuple[str, int]:
        data = json.dumps(doc).encode()
        done = requests.put(
            f"{self.url}/v2/{repo}/manifests/{tag}", data=data, headers={"Content-Type": doc["mediaType"]}, timeout=30
        )
        assert done.status_code == 201, done.text
        return sha(data), len(data)

    def image(self, repo: str, tag: str, base: bytes, own: bytes, arch: str = "amd64") -> str:
        layers = [self.blob(repo, base), self.blob(repo, own)]
        made = {"architecture": arch, "os": "linux", "rootfs": {"type": "layers"}}
        config = self.blob(repo, json.dumps(made).encode())
        config["mediaType"] = "application/vnd.oci.image.config.v1+json"
        doc = {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": config, "layers": layers}
        return self.put(repo, tag, doc)[0]

    def index(self, repo: str, tag: str, base: bytes) -> str:
        entries = []
        for arch in ("amd64", "arm64"):
            digest, size = self.put(
                repo,
                f"multi-{arch}",
                {
                    "schemaVersion": 2,
                    "mediaType": OCI_MANIFEST,
                    "config": {
                        **self.blob(repo, json.dumps({"architecture": arch, "os": "linux"}).encode()),
                        "mediaType": "application/vnd.oci.image.config.v1+json",
                    },
                    "layers": [self.blob(repo, base), self.blob(repo, f"{arch} layer".encode() * 50)],
                },
            )
            platform = {"os": "linux", "architecture": arch}
            entries.append({"mediaType": OCI_MANIFEST, "digest": digest, "size": size, "platform": platform})
        return self.put(repo, tag, {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries})[0]


class Ecr:
    """The local ECR's registry through its own v2 API."""

    def __init__(self, stack: Any) -> None:
        self.url = stack.registry_url()
        self.auth = ("AWS", stack.password())
        self.verify = stack.ca_bundle

    def digest(self, repo: str, tag: str) -> str | None:
        reply = requests.get(
            f"{self.url}/v2/{repo}/manifests/{tag}",
            auth=self.auth,
            headers={"Accept": ACCEPT},
            verify=self.verify,
            timeout=30,
        )
        return sha(reply.content) if reply.status_code == 200 else None


BASE = os.urandom(64 * 1024)  # the layer every image of the source shares


@pytest.fixture(scope="module")
def seeded(open_registry: str) -> dict[str, str]:
    """The source registry's images: team/app's versions and team/tool's, and team/tool:multi, an index.
    Returns tag -> digest as "repo:tag" keys."""
    plain = Plain(open_registry)
    digests: dict[str, str] = {}
    for tag in ("1.0.0", "1.1.0", "1.2.0", "1.2.1", "1.2.1-rc1", "2.0.0", "latest"):
        digests[f"team/app:{tag}"] = plain.image("team/app", tag, BASE, f"app {tag}".encode() * 100)
    for tag in ("0.1", "0.2", "0.3", "0.10", "nightly"):
        digests[f"team/tool:{tag}"] = plain.image("team/tool", tag, BASE, f"tool {tag}".encode() * 100)
    digests["team/tool:multi"] = plain.index("team/tool", "multi", BASE)
    return digests


@pytest.fixture
def cleanup(ecrtool: Run) -> Iterator[list[str]]:
    names: list[str] = []
    yield names
    for name in names:
        ecrtool("delete", name, "--force", "--yes")


def spec_file(tmp_path: Path, open_registry: str, repo_name: str, extra: str = "") -> Path:
    path = tmp_path / "sync.yaml"
    path.write_text(
        f"""
images:
  - from: {open_registry}/team/app
    to: {repo_name}-app
    semver: '>=1.1 <2'
  - from: {open_registry}/team/tool
    to: {repo_name}-tool
    tags: ['^0\\.[0-9]+$']
    newest: 2
  - from: {open_registry}/team/tool:multi
    to: {repo_name}-tool
{extra}"""
    )
    return path


def test_a_sync_copies_the_selected_tags_and_a_rerun_sends_nothing(
    ecrtool: Run, stack: Any, open_registry: str, seeded: dict[str, str], repo_name: str, tmp_path: Path,
    cleanup: list[str],
) -> None:  # fmt: skip
    spec = spec_file(tmp_path, open_registry, repo_name)
    cleanup.extend([f"{repo_name}-app", f"{repo_name}-tool"])
    wanted = {
        f"{repo_name}-app:1.1.0": seeded["team/app:1.1.0"],
        f"{repo_name}-app:1.2.0": seeded["team/app:1.2.0"],
        f"{repo_name}-app:1.2.1": seeded["team/app:1.2.1"],
        f"{repo_name}-tool:0.10": seeded["team/tool:0.10"],  # a version: 0.10 is newer than 0.3
        f"{repo_name}-tool:0.3": seeded["team/tool:0.3"],
        f"{repo_name}-tool:multi": seeded["team/tool:multi"],
    }

    plan = ecrtool("sync", str(spec), "--dry-run", "-o", "json")
    assert plan.returncode == 0, plan.stderr
    doc = json.loads(plan.stdout)
    assert {item["destination"]: item["digest"] for item in doc["images"]} == wanted
    assert {item["status"] for item in doc["images"]} == {"planned"}
    assert ecrtool("images", f"{repo_name}-app").returncode == 1  # a dry run creates nothing

    first = ecrtool("sync", str(spec), "-o", "json")
    assert first.returncode == 0, first.stderr
    doc = json.loads(first.stdout)
    assert (doc["copied"], doc["skipped"], doc["failed"]) == (6, 0, 0)
    assert sorted(doc["created_repositories"]) == [f"{repo_name}-app", f"{repo_name}-tool"]
    ecr = Ecr(stack)
    for reference, digest in wanted.items():
        assert ecr.digest(*reference.split(":")) == digest, reference
    assert ecr.digest(f"{repo_name}-app", "1.0.0") is None and ecr.digest(f"{repo_name}-app", "1.2.1-rc1") is None

    again = ecrtool("sync", str(spec), "-o", "json")
    assert again.returncode == 0, again.stderr
    doc = json.loads(again.stdout)
    assert (doc["copied"], doc["skipped"], doc["blobs_copied"]) == (0, 6, 0)

    # an interrupted sync: one image never arrived; the next run finishes it, sending no blob again
    deleted = ecrtool("delete", f"{repo_name}-app", "--tag", "1.2.0")
    assert deleted.returncode == 0, deleted.stderr
    resumed = ecrtool("sync", str(spec), "-o", "json")
    assert resumed.returncode == 0, resumed.stderr
    doc = json.loads(resumed.stdout)
    assert (doc["copied"], doc["skipped"], doc["blobs_copied"]) == (1, 5, 0)
    assert ecr.digest(f"{repo_name}-app", "1.2.0") == seeded["team/app:1.2.0"]

    shown = ecrtool("sync", str(spec), "--dry-run")
    assert shown.returncode == 0, shown.stderr
    assert f"there   {repo_name}-tool:multi" in shown.stdout
    assert "plan: 0 to copy, 6 there already" in shown.stderr


def test_an_image_that_fails_is_named_and_the_others_land(
    ecrtool: Run, stack: Any, open_registry: str, open_registry_process: Any, seeded: dict[str, str],
    repo_name: str, tmp_path: Path, cleanup: list[str],
) -> None:  # fmt: skip
    plain = Plain(open_registry)
    lost = os.urandom(4096)
    plain.image("team/broken", "1.0", BASE, lost)
    plain.image("team/broken", "1.1", BASE, os.urandom(4096))
    # the registry loses a layer of 1.0 (a disk fault): its manifest is served, its blob is not
    data = open_registry_process.config.parent / "data" / "docker" / "registry" / "v2" / "blobs" / "sha256"
    hexed = sha(lost).split(":")[1]
    (data / hexed[:2] / hexed / "data").unlink()
    spec = tmp_path / "sync.yaml"
    spec.write_text(f"images:\n  - from: {open_registry}/team/broken\n    to: {repo_name}\n    tags: ['.*']\n")
    cleanup.append(repo_name)

    done = ecrtool("sync", str(spec))
    assert done.returncode == 1
    assert f"1 of 2 images failed: {repo_name}:1.0 (" in done.stderr
    ecr = Ecr(stack)
    assert ecr.digest(repo_name, "1.1") is not None and ecr.digest(repo_name, "1.0") is None


def test_a_bad_spec_is_one_line_naming_the_line_and_key(ecrtool: Run, tmp_path: Path) -> None:
    spec = tmp_path / "sync.yaml"
    spec.write_text("images:\n  - from: docker.io/library/nginx\n    to: mirror/nginx\n    tags: ['[unclosed']\n")
    done = ecrtool("sync", str(spec))
    assert done.returncode == 2
    assert done.stderr.startswith(f"ecrtool: error: sync spec {spec}:4: images[0].tags[0]: not a regex")
    assert done.stderr.count("\n") == 1


def test_an_ecr_source_a_prefix_and_one_platform_of_an_index(
    ecrtool: Run, stack: Any, open_registry: str, seeded: dict[str, str], repo_name: str, tmp_path: Path,
    cleanup: list[str],
) -> None:  # fmt: skip
    index = requests.get(
        f"http://{open_registry}/v2/team/tool/manifests/multi", headers={"Accept": OCI_INDEX}, timeout=30
    ).json()
    arm64 = next(m["digest"] for m in index["manifests"] if m["platform"]["architecture"] == "arm64")
    first = tmp_path / "first.yaml"
    first.write_text(
        f"images:\n  - from: {open_registry}/team/tool:multi\n    prefix: {repo_name}/\n    platform: linux/arm64\n"
        f"  - from: {open_registry}/team/app\n    to: {repo_name}-app\n    tags: ['1\\.2\\..*']\n"
    )
    cleanup.extend([f"{repo_name}/team/tool", f"{repo_name}-app", f"{repo_name}-newest"])
    done = ecrtool("sync", str(first), "-o", "json")
    assert done.returncode == 0, done.stderr
    ecr = Ecr(stack)
    assert ecr.digest(f"{repo_name}/team/tool", "multi") == arm64  # the platform's image, not the index

    # ECR as the source: its tags from one DescribeImages, the newest version of them copied
    second = tmp_path / "second.yaml"
    second.write_text(f"images:\n  - from: {repo_name}-app\n    to: {repo_name}-newest\n    newest: 1\n")
    done = ecrtool("sync", str(second), "-o", "json")
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert [(item["destination"], item["status"]) for item in doc["images"]] == [
        (f"{repo_name}-newest:1.2.1", "copied")
    ]
    assert ecr.digest(f"{repo_name}-newest", "1.2.1") == seeded["team/app:1.2.1"]


def test_referrers_go_with_their_image_and_their_tag_is_no_image(
    ecrtool: Run, stack: Any, open_registry: str, repo_name: str, tmp_path: Path, cleanup: list[str]
) -> None:
    plain = Plain(open_registry)
    image = plain.image("team/signed", "1.0", BASE, os.urandom(2048))
    image_size = len(requests.get(f"http://{open_registry}/v2/team/signed/manifests/1.0",
                                  headers={"Accept": OCI_MANIFEST}, timeout=30).content)  # fmt: skip
    empty = {**plain.blob("team/signed", b"{}"), "mediaType": "application/vnd.oci.empty.v1+json"}
    signature = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "artifactType": "application/vnd.dev.cosign.artifact.sig.v1+json",
        "config": empty,
        "layers": [plain.blob("team/signed", b"signed " + image.encode())],
        "subject": {"mediaType": OCI_MANIFEST, "digest": image, "size": image_size},
    }
    signed, size = plain.put("team/signed", sha(json.dumps(signature).encode()), signature)
    # the referrers tag, as cosign and oras write it where a registry may lack the referrers API
    entry = {"mediaType": OCI_MANIFEST, "digest": signed, "size": size, "artifactType": signature["artifactType"]}
    listing = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [entry]}
    plain.put("team/signed", image.replace(":", "-"), listing)
    spec = tmp_path / "sync.yaml"
    spec.write_text(f"images:\n  - from: {open_registry}/team/signed\n    to: {repo_name}\n    tags: ['.*']\n"
                    "    referrers: true\n")  # fmt: skip
    cleanup.append(repo_name)

    done = ecrtool("sync", str(spec), "-o", "json")
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert [item["destination"] for item in doc["images"]] == [f"{repo_name}:1.0"]
    ecr = Ecr(stack)
    assert ecr.digest(repo_name, "1.0") == image
    assert ecr.digest(repo_name, signed) == signed  # the signature, byte for byte
