"""`ecrtool inspect` and `ecrtool digest` with the real ecrtool on the local ECR: a two-platform index shows
each platform's own size (its config and layers, as the registry's manifests give them, not ECR's figure
for the index), a pushed image its platform and created time, a signature as a referrer; sizes and digests
are checked on the registry's own API, not on what ecrtool says."""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
import subprocess
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.integration

LOCAL_ECR = Path(__file__).resolve().parents[2] / "scripts" / "local-ecr"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
ACCEPT = f"{OCI_INDEX}, {OCI_MANIFEST}, application/vnd.docker.distribution.manifest.v2+json"
SIGNATURE = "application/vnd.dev.cosign.artifact.sig.v1+json"
Run = Callable[..., subprocess.CompletedProcess[str]]


def digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


class Registry:
    """The first account's registry, through its own v2 API (user AWS and the account's password)."""

    def __init__(self, stack: Any) -> None:
        self.url = stack.registry_url()
        self.auth = "Basic " + base64.b64encode(f"AWS:{stack.password()}".encode()).decode()
        import ssl

        bundle = stack.ca_bundle
        self.context = ssl.create_default_context(cafile=bundle if isinstance(bundle, str) else None)

    def _open(self, request: urllib.request.Request) -> tuple[int, bytes]:
        request.add_header("Authorization", self.auth)
        with urllib.request.urlopen(request, timeout=30, context=self.context) as reply:
            return reply.status, reply.read()

    def manifest(self, repo: str, reference: str) -> bytes:
        request = urllib.request.Request(f"{self.url}/v2/{repo}/manifests/{reference}", headers={"Accept": ACCEPT})
        return self._open(request)[1]

    def put_manifest(self, repo: str, reference: str, data: bytes, media_type: str) -> None:
        request = urllib.request.Request(
            f"{self.url}/v2/{repo}/manifests/{reference}", data=data, method="PUT", headers={"Content-Type": media_type}
        )
        assert self._open(request)[0] == 201


def own_size(manifest: bytes) -> int:
    doc = json.loads(manifest)
    return int(doc["config"]["size"]) + sum(int(layer["size"]) for layer in doc["layers"])


@pytest.fixture
def repo(ecrtool: Run, repo_name: str) -> Iterator[str]:
    created = ecrtool("create", repo_name)
    assert created.returncode == 0, created.stderr
    yield repo_name
    ecrtool("delete", repo_name, "--force", "--yes")


def test_an_index_shows_each_platforms_own_size_and_digest(
    ecrtool: Run, stack: Any, env: dict[str, str], repo: str
) -> None:
    done = subprocess.run(
        [str(LOCAL_ECR), "index", f"{repo}:multi"], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    printed = json.loads(done.stdout)
    registry = Registry(stack)
    sizes = {child["platform"]: own_size(registry.manifest(repo, child["digest"])) for child in printed["manifests"]}
    assert sizes["linux/amd64"] > 100 * sizes["linux/arm64/v8"]  # busybox against a text file

    inspected = ecrtool("inspect", f"{repo}:multi", "-o", "json")
    assert inspected.returncode == 0, inspected.stderr
    doc = json.loads(inspected.stdout)
    assert (doc["digest"], doc["media_type"], doc["is_index"]) == (printed["digest"], OCI_INDEX, True)
    assert doc["reference"] == f"{stack.registry}/{repo}:multi"
    assert [(p["platform"], p["digest"], p["size_bytes"]) for p in doc["platforms"]] == [
        (child["platform"], child["digest"], sizes[child["platform"]]) for child in printed["manifests"]
    ]
    assert doc["size_bytes"] == sum(sizes.values())
    assert doc["platforms"][0]["cmd"][:2] == ["/bin/busybox", "echo"]

    table = ecrtool("inspect", f"{repo}:multi")
    assert table.returncode == 0, table.stderr
    rows = [line.split() for line in table.stdout.splitlines() if line.startswith("linux/")]
    assert [row[:2] for row in rows] == [[c["platform"], c["digest"]] for c in printed["manifests"]]

    raw = subprocess.run(
        [str(shutil.which("ecrtool", path=env["PATH"])), "inspect", f"{repo}:multi", "--raw"],
        capture_output=True,
        env=env,
        timeout=60,
    )
    assert raw.returncode == 0 and raw.stdout == registry.manifest(repo, "multi")
    digest = ecrtool("digest", f"{repo}:multi")
    assert (digest.returncode, digest.stdout) == (0, printed["digest"] + "\n")


def test_a_pushed_image_shows_its_platform_created_time_and_signature(ecrtool: Run, stack: Any, pushed: str) -> None:
    repo, _, tag = pushed.partition(":")
    registry = Registry(stack)
    manifest = registry.manifest(repo, tag)
    subject = digest_of(manifest)
    # a signature with the image as its subject, listed under the fallback tag as cosign and oras write it
    signature = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "artifactType": SIGNATURE,
            "config": json.loads(manifest)["config"],
            "layers": [],
            "subject": {"mediaType": OCI_MANIFEST, "digest": subject, "size": len(manifest)},
        }
    ).encode()
    registry.put_manifest(repo, digest_of(signature), signature, OCI_MANIFEST)
    listing = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [
        {"mediaType": OCI_MANIFEST, "digest": digest_of(signature), "size": len(signature), "artifactType": SIGNATURE}
    ]}  # fmt: skip
    registry.put_manifest(repo, subject.replace(":", "-"), json.dumps(listing).encode(), OCI_INDEX)

    inspected = ecrtool("inspect", pushed, "--referrers", "-o", "json")
    assert inspected.returncode == 0, inspected.stderr
    doc = json.loads(inspected.stdout)
    assert (doc["digest"], doc["is_index"], doc["size_bytes"]) == (subject, False, own_size(manifest))
    [image] = doc["platforms"]
    assert image["platform"] == "linux/amd64" and image["created"]
    assert [(r["digest"], r["artifact_type"]) for r in doc["referrers"]] == [(digest_of(signature), SIGNATURE)]

    text = ecrtool("inspect", pushed, "--referrers")
    assert text.returncode == 0, text.stderr
    assert "Platform:    linux/amd64" in text.stdout
    assert f"Referrers:\n  └── {digest_of(signature)}  {SIGNATURE}" in text.stdout

    missing = ecrtool("inspect", f"{repo}:gone")
    assert missing.returncode == 1
    assert f"tag 'gone' not found in repository '{repo}'" in missing.stderr
