"""A repository of more images than one page of ECR's answers: `images` and `delete --force` count them all.

ECR answers DescribeImages and ListImages 100 at a time unless asked for more (never more than 1000),
and so does the local ECR. The images are put straight into its registry over the registry's own API,
as `docker push` would put them, but many to a second: one shared config and layer, and manifests told
apart by an annotation. The registry tells the local ECR API of each, as it tells it of any push.
"""

from __future__ import annotations

import hashlib
import json
import time
from typing import Any

import pytest
import requests

pytestmark = pytest.mark.integration

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
IMAGES = 130  # more than one page of DescribeImages (100)
TWICE_TAGGED = 20  # ListImages lists one id per tag: 150 ids, more than one page of those too


def digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


class Registry:
    """The local ECR's registry over its own HTTP API, one kept-alive connection for many requests."""

    def __init__(self, stack: Any, repo: str) -> None:
        self.base = f"{stack.registry_url()}/v2/{repo}"
        self.session = requests.Session()
        self.session.auth = ("AWS", stack.password())
        self.verify = stack.ca_bundle  # per request: a Session's own verify is not applied to a pooled https one

    def blob(self, data: bytes) -> dict[str, object]:
        started = self.session.post(f"{self.base}/blobs/uploads/", timeout=30, verify=self.verify)
        assert started.status_code == 202, started.text
        location = started.headers["Location"]
        if location.startswith("/"):
            location = self.base.split("/v2/")[0] + location
        done = self.session.put(location, params={"digest": digest_of(data)}, data=data, timeout=30, verify=self.verify)
        assert done.status_code == 201, done.text
        return {"digest": digest_of(data), "size": len(data)}

    def manifest(self, tag: str, body: bytes) -> str:
        for _ in range(60):  # ECR paces manifest PUTs (429 TOOMANYREQUESTS): wait as Retry-After says
            done = self.session.put(
                f"{self.base}/manifests/{tag}",
                data=body,
                headers={"Content-Type": OCI_MANIFEST},
                timeout=30,
                verify=self.verify,
            )
            if done.status_code != 429:
                break
            time.sleep(float(done.headers.get("Retry-After") or 1))
        assert done.status_code == 201, done.text
        assert done.headers["Docker-Content-Digest"] == digest_of(body)
        return digest_of(body)


def test_images_and_delete_count_every_page(ecrtool, stack, repo_name):
    created = ecrtool("create", repo_name)
    assert created.returncode == 0, created.stderr
    registry = Registry(stack, repo_name)
    config = registry.blob(json.dumps({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers"}}).encode())
    layer = registry.blob(b"one small layer, shared by every image")
    digests: dict[str, str] = {}
    for n in range(IMAGES):
        manifest = {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", **config},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", **layer}],
            "annotations": {"org.example.image": str(n)},  # a manifest, and so a digest, of its own
        }
        body = json.dumps(manifest).encode()
        digests[registry.manifest(f"v{n}", body)] = f"v{n}"
        if n < TWICE_TAGGED:
            registry.manifest(f"also-v{n}", body)
    assert len(digests) == IMAGES

    listed = ecrtool("images", repo_name, "-o", "json")
    assert listed.returncode == 0, listed.stderr
    images = json.loads(listed.stdout)
    assert len(images) == IMAGES
    twice = {f"v{n}" for n in range(TWICE_TAGGED)}
    assert {image["digest"]: sorted(image["tags"]) for image in images} == {
        digest: sorted([tag, f"also-{tag}"] if tag in twice else [tag]) for digest, tag in digests.items()
    }

    table = ecrtool("images", repo_name)
    assert table.returncode == 0, table.stderr
    lines = table.stdout.splitlines()
    assert lines[0].split() == [f"{repo_name}:", str(IMAGES), "image(s)"]
    rows = [next(word for word in line.split() if word.startswith("sha256:")) for line in lines[2:]]
    assert sorted(rows) == sorted(digests)  # every image, one row each

    refused = ecrtool("delete", repo_name, "--yes")
    assert refused.returncode == 1 and "--force" in refused.stderr

    deleted = ecrtool("delete", repo_name, "--force", "--yes")
    assert deleted.returncode == 0, deleted.stderr
    assert deleted.stdout.strip() == f"deleted repository {repo_name} and its {IMAGES} image(s)"
    assert repo_name not in ecrtool("repos", "-q").stdout.split()
