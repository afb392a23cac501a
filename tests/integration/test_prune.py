"""`ecrtool prune` and `ecrtool lifecycle` with the real ecrtool on the local ECR: a repository of single
images, two image indexes (one kept, one expired) and a signature of each, listed on the ECR API before
and after to see exactly what went. A signature goes in as cosign and oras put one: a manifest with a
`subject`, and the `sha256-<hex>` referrers tag for registries without the referrers API."""

from __future__ import annotations

import hashlib
import json
import shlex
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

pytestmark = pytest.mark.integration

LOCAL_ECR = Path(__file__).resolve().parents[2] / "scripts" / "local-ecr"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
SIGNATURE = "application/vnd.dev.cosign.artifact.sig.v1+json"
Run = Callable[..., subprocess.CompletedProcess[str]]


def digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


class Registry:
    """The stack's registry for the first account, through its own v2 API."""

    def __init__(self, stack: Any) -> None:
        self.url = stack.registry_url()
        self.auth = ("AWS", stack.password())
        self.verify = stack.ca_bundle

    def put_blob(self, repo: str, data: bytes) -> str:
        digest = digest_of(data)
        started = requests.post(f"{self.url}/v2/{repo}/blobs/uploads/", auth=self.auth, verify=self.verify, timeout=30)
        assert started.status_code == 202, started.text
        location = started.headers["Location"]
        location = location if location.startswith("http") else self.url + location
        done = requests.put(location, params={"digest": digest}, data=data, auth=self.auth, verify=self.verify,
                            headers={"Content-Type": "application/octet-stream"}, timeout=30)  # fmt: skip
        assert done.status_code == 201, done.text
        return digest

    def put_manifest(self, repo: str, reference: str, data: bytes, media_type: str) -> str:
        done = requests.put(f"{self.url}/v2/{repo}/manifests/{reference}", data=data, auth=self.auth,
                            verify=self.verify, headers={"Content-Type": media_type}, timeout=30)  # fmt: skip
        assert done.status_code == 201, done.text
        return digest_of(data)

    def image(self, repo: str, tag: str, name: str) -> str:
        """A small image of its own (a config naming NAME), under TAG: its digest."""
        config = self.put_blob(repo, json.dumps({"architecture": "amd64", "os": "linux", "name": name}).encode())
        layer = self.put_blob(repo, name.encode())
        manifest = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                               "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config,
                                          "size": 60 + len(name)},
                               "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": layer,
                                           "size": len(name)}]}).encode()  # fmt: skip
        return self.put_manifest(repo, tag, manifest, OCI_MANIFEST)

    def sign(self, repo: str, subject: str, media_type: str) -> tuple[str, str]:
        """A signature of SUBJECT (untagged, its `subject` naming it) and the referrers tag's index listing it."""
        config = self.put_blob(repo, b"{}")
        payload = self.put_blob(repo, b'{"critical": {"image": {"docker-manifest-digest": "%s"}}}' % subject.encode())
        signature = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "artifactType": SIGNATURE,
                                "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": config,
                                           "size": 2},
                                "layers": [{"mediaType": "application/vnd.dev.cosign.simplesigning.v1+json",
                                            "digest": payload, "size": 64 + len(subject)}],
                                "subject": {"mediaType": media_type, "digest": subject, "size": 1},
                                }).encode()  # fmt: skip
        signed = self.put_manifest(repo, digest_of(signature), signature, OCI_MANIFEST)
        listing = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [
            {"mediaType": OCI_MANIFEST, "digest": signed, "size": len(signature), "artifactType": SIGNATURE}
        ]}).encode()  # fmt: skip
        return signed, self.put_manifest(repo, subject.replace(":", "-"), listing, OCI_INDEX)


@pytest.fixture
def repo(ecrtool: Run, repo_name: str) -> Iterator[str]:
    created = ecrtool("create", repo_name)
    assert created.returncode == 0, created.stderr
    yield repo_name
    ecrtool("delete", repo_name, "--force", "--yes")


def put_index(env: dict[str, str], reference: str, *options: str) -> dict[str, Any]:
    done = subprocess.run([str(LOCAL_ECR), "index", reference, *options], env=env, capture_output=True, text=True,
                          timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr
    printed: dict[str, Any] = json.loads(done.stdout)
    return printed


def api(stack: Any) -> Any:
    import boto3

    return boto3.client("ecr", endpoint_url=stack.api, region_name=stack.env["AWS_REGION"],
                        aws_access_key_id=stack.env["AWS_ACCESS_KEY_ID"],
                        aws_secret_access_key=stack.env["AWS_SECRET_ACCESS_KEY"])  # fmt: skip


def listing(stack: Any, repo: str) -> dict[str, list[str]]:
    """Every manifest the ECR API holds in REPO (digest -> tags), children and signatures included."""
    found: dict[str, list[str]] = {}
    for page in api(stack).get_paginator("describe_images").paginate(repositoryName=repo):
        for item in page["imageDetails"]:
            found[item["imageDigest"]] = sorted(item.get("imageTags") or [])
    return found


def pulled(stack: Any, repo: str) -> set[str]:
    """The images of REPO with a recorded pull, in any storage class."""
    pages = api(stack).get_paginator("describe_images").paginate(repositoryName=repo, filter={"imageStatus": "ANY"})
    return {item["imageDigest"] for page in pages for item in page["imageDetails"] if item.get("lastRecordedPullTime")}


def instance(stack: Any, env: dict[str, str]) -> Run:
    """Run ecrtool as the stack's instance role (`scripts/local-ecr env --instance`): no keys, no region."""
    exported = subprocess.run([str(LOCAL_ECR), "env", "--instance"], capture_output=True, text=True, timeout=30,
                              env={**env, "LOCAL_ECR_HOME": str(stack.home)})  # fmt: skip
    assert exported.returncode == 0, exported.stderr
    role_env = {k: v for k, v in env.items() if not k.startswith("AWS_")}
    role_env.update(dict(shlex.split(line)[1].split("=", 1) for line in exported.stdout.splitlines()))

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["ecrtool", *args], capture_output=True, text=True, timeout=180, env=role_env)

    return run


def selected(done: subprocess.CompletedProcess[str]) -> set[str]:
    assert done.returncode == 0, done.stderr
    return {image["digest"] for image in json.loads(done.stdout)["images"]}


def test_prune_and_lifecycle_keep_what_kept_images_need_and_agree(
    ecrtool: Run, stack: Any, env: dict[str, str], test_image: str, repo: str
) -> None:
    registry = Registry(stack)
    # oldest first: an index (Docker's format) and its signature, an image that loses its tag to a newer
    # one (so it is left untagged), an OCI index and its signature, and the viruses image, newest. The
    # local ECR dates a manifest put through the registry when its ECR API next looks (listing does), to
    # the second: it looks after each step, and v2 and multi, which --keep 2 tells apart, are a second apart
    old = put_index(env, f"{repo}:multi-old", "--docker")
    old_children = {child["digest"] for child in old["manifests"]}
    old_signature, old_listing = registry.sign(repo, old["digest"], old["mediaType"])
    listing(stack, repo)
    orphan = registry.image(repo, "v2", "orphan")
    listing(stack, repo)
    v2 = registry.image(repo, "v2", "second")
    listing(stack, repo)
    time.sleep(1.1)
    multi = put_index(env, f"{repo}:multi")
    multi_children = {child["digest"] for child in multi["manifests"]}
    multi_signature, multi_listing = registry.sign(repo, multi["digest"], multi["mediaType"])
    listing(stack, repo)
    pushed = ecrtool("push", test_image, "--repo", repo, "--tag", "latest", "-o", "json")
    assert pushed.returncode == 0, pushed.stderr
    latest = json.loads(pushed.stdout)["digest"]

    before = listing(stack, repo)
    assert before[orphan] == [] and before[v2] == ["v2"]
    assert len(before) == 13
    expired = {old["digest"], *old_children, old_signature, old_listing, v2}
    kept = {multi["digest"], *multi_children, multi_signature, multi_listing, latest}

    # a dry run selects, says so and deletes nothing. The caller's pulls are recorded, so prune reads no
    # manifest (a read counts as a pull): ECR names the signatures' subjects, but not an index's children,
    # so an untagged manifest stays while any index stays (the orphan and the old index's children)
    dry = ecrtool("prune", repo, "--keep", "2", "--untagged", "-o", "json")
    cautious = {old["digest"], old_signature, old_listing, v2}
    assert selected(dry) == cautious
    doc = json.loads(dry.stdout)
    assert (doc["dry_run"], doc["examined"], doc["deleted"], doc["delete_calls"], doc["links"]) == (
        True, 13, 0, 0, "listing")  # fmt: skip
    reasons = {image["digest"]: image["reason"] for image in doc["images"]}
    assert reasons[v2] == reasons[old["digest"]] == "beyond the newest 2 tagged"
    assert reasons[old_signature] == f"referrer of {old['digest'][:19]}"
    table = ecrtool("prune", repo, "--keep", "2", "--untagged")
    assert table.returncode == 0, table.stderr
    assert table.stdout.splitlines()[0].rstrip() == f"{repo}: 4 of 13 image(s) selected"
    assert "register-pull-time-update-exclusion" in table.stderr
    assert listing(stack, repo) == before
    assert not pulled(stack, repo), "planning recorded a pull"

    # the same rules as the repository's lifecycle policy: set, shown back, previewed
    put = ecrtool("lifecycle", "set", repo, "--keep", "2", "-o", "json")
    assert put.returncode == 0, put.stderr
    shown = ecrtool("lifecycle", "show", repo, "-o", "json")
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["policy"] == json.loads(put.stdout)["policy"]
    assert json.loads(shown.stdout)["policy"]["rules"][0]["selection"]["countNumber"] == 2
    assert selected(ecrtool("lifecycle", "preview", repo, "-o", "json")) == cautious

    # as a principal whose pulls ECR does not record (the instance role, registered for exclusion), prune
    # reads the indexes' manifests and knows their children: they go with the old index, and stay with multi
    role = "arn:aws:iam::123456789012:role/ecrtool-local-instance-role"
    ecr = api(stack)
    ecr.register_pull_time_update_exclusion(principalArn=role)
    try:
        as_role = instance(stack, env)
        previewed = selected(as_role("lifecycle", "preview", repo, "-o", "json"))
        assert previewed == expired

        # prune --yes deletes exactly what the preview selected: the kept index keeps its children and signature
        pruned = as_role("prune", repo, "--keep", "2", "--yes", "-o", "json")
        assert selected(pruned) == previewed
        doc = json.loads(pruned.stdout)
        assert (doc["dry_run"], doc["deleted"], doc["failures"], doc["links"]) == (False, 7 - 1, [], "read")
        assert doc["deleted_bytes"] == doc["selected_bytes"] > 0
        after = listing(stack, repo)
        assert set(after) == kept | {orphan}
        assert after[multi_listing] == [multi["digest"].replace(":", "-")]

        # the untagged image left behind goes alone: nothing a kept image needs is untagged to prune
        untagged = as_role("prune", repo, "--untagged", "--yes")
        assert untagged.returncode == 0, untagged.stderr
        assert untagged.stdout.splitlines()[-1].startswith("deleted 1 image(s), ")
        assert set(listing(stack, repo)) == kept
        assert not pulled(stack, repo), "reading as an excluded principal recorded a pull"
    finally:
        ecr.deregister_pull_time_update_exclusion(principalArn=role)
