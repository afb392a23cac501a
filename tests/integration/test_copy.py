"""`ecrtool copy` with the real ecrtool on the local ECR: to another region, to another account (as the
config file's per-registry profile), an image index with a signature byte for byte, immutable tags,
missing repositories, and from a plain registry standing in for Docker Hub. Digests are compared on
the registries' own API, not on what ecrtool says."""

from __future__ import annotations

import hashlib
import json
import subprocess
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

pytestmark = pytest.mark.integration

LOCAL_ECR = Path(__file__).resolve().parents[2] / "scripts" / "local-ecr"
SECOND = "210987654321"
SECOND_KEYS = ("AKIALOCALECRSECOND01", "local-ecr-second-account-secret")
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
ACCEPT = ", ".join(
    [
        OCI_INDEX,
        "application/vnd.docker.distribution.manifest.list.v2+json",
        OCI_MANIFEST,
        "application/vnd.docker.distribution.manifest.v2+json",
    ]
)
SIGNATURE = "application/vnd.dev.cosign.artifact.sig.v1+json"
Run = Callable[..., subprocess.CompletedProcess[str]]


class Registry:
    """One ECR registry of the stack, through its own v2 API (user AWS and the account's password)."""

    def __init__(self, stack: Any, account: str = "123456789012", region: str = "ca-west-1") -> None:
        self.url = stack.registry_url(account, region)
        self.auth = ("AWS", stack.password(account, region))
        self.verify = stack.ca_bundle

    def manifest(self, repo: str, reference: str) -> tuple[int, bytes, str]:
        reply = requests.get(
            f"{self.url}/v2/{repo}/manifests/{reference}",
            auth=self.auth,
            headers={"Accept": ACCEPT},
            verify=self.verify,
            timeout=30,
        )
        return reply.status_code, reply.content, reply.headers.get("Content-Type", "")

    def put_blob(self, repo: str, data: bytes) -> str:
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        started = requests.post(f"{self.url}/v2/{repo}/blobs/uploads/", auth=self.auth, verify=self.verify, timeout=30)
        assert started.status_code == 202, started.text
        location = started.headers["Location"]
        location = location if location.startswith("http") else self.url + location
        done = requests.put(
            location,
            params={"digest": digest},
            data=data,
            auth=self.auth,
            verify=self.verify,
            headers={"Content-Type": "application/octet-stream"},
            timeout=30,
        )
        assert done.status_code == 201, done.text
        return digest

    def put_manifest(self, repo: str, reference: str, data: bytes, media_type: str) -> None:
        done = requests.put(
            f"{self.url}/v2/{repo}/manifests/{reference}",
            data=data,
            auth=self.auth,
            verify=self.verify,
            headers={"Content-Type": media_type},
            timeout=30,
        )
        assert done.status_code == 201, done.text


def digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@pytest.fixture
def repos(ecrtool: Run) -> Iterator[list[tuple[str, ...]]]:
    """Repositories a test made, as (name, *global options): each is deleted afterwards."""
    made: list[tuple[str, ...]] = []
    yield made
    for name, *options in made:
        ecrtool("delete", name, "--force", "--yes", *options)


@pytest.fixture
def index_repo(ecrtool: Run, env: dict[str, str], repo_name: str, repos: list[tuple[str, ...]]) -> str:
    """A repository holding a linux/amd64 + linux/arm64 image index as REPO:multi."""
    created = ecrtool("create", repo_name)
    assert created.returncode == 0, created.stderr
    repos.append((repo_name,))
    done = subprocess.run(
        [str(LOCAL_ECR), "index", f"{repo_name}:multi"], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return repo_name


@pytest.fixture
def blob_mounting(stack: Any) -> Iterator[None]:
    """The first account's registry in ca-west-1 mounts blobs across repositories (ECR's BLOB_MOUNTING
    account setting, off until put), for this test only."""
    import boto3

    env = stack.env
    ecr = boto3.client(
        "ecr",
        region_name="ca-west-1",
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
        endpoint_url=env.get("AWS_ENDPOINT_URL"),
        verify=env.get("AWS_CA_BUNDLE"),
    )
    before = ecr.get_account_setting(name="BLOB_MOUNTING")["value"]
    ecr.put_account_setting(name="BLOB_MOUNTING", value="ENABLED")
    yield
    ecr.put_account_setting(name="BLOB_MOUNTING", value=before)


@pytest.mark.usefixtures("blob_mounting")
def test_a_promote_to_two_regions_keeps_the_digest_and_a_second_run_moves_nothing(
    ecrtool: Run, stack: Any, index_repo: str, repos: list[tuple[str, ...]]
) -> None:
    source = Registry(stack)
    status, data, kind = source.manifest(index_repo, "multi")
    assert status == 200 and kind == OCI_INDEX
    promoted = f"{index_repo}-prod"
    where = ("--to-region", "us-east-1", "--to-region", "ca-west-1", "--repo", promoted)
    copied = ecrtool("copy", f"{index_repo}:multi", *where, "--create", "-o", "json")
    repos.extend([(promoted, "--region", "us-east-1"), (promoted,)])
    assert copied.returncode == 0, copied.stderr
    result = json.loads(copied.stdout)
    references = [f"123456789012.dkr.ecr.{r}.amazonaws.com/{promoted}:multi" for r in ("us-east-1", "ca-west-1")]
    assert [c["reference"] for c in result["copies"]] == references  # in the order asked, though copied at once
    assert result["digest"] == digest_of(data)
    east, west = result["copies"]
    assert east["blobs_copied"] > 0 and east["blobs_mounted"] == 0  # another registry: the bytes travel
    assert west["blobs_mounted"] == east["blobs_copied"] and west["blobs_copied"] == 0  # the same one: mounted
    for region in ("us-east-1", "ca-west-1"):
        assert Registry(stack, region=region).manifest(promoted, "multi") == (200, data, OCI_INDEX)  # same bytes

    before = _api_calls(stack)
    again = ecrtool("copy", f"{index_repo}:multi", *where, "--create", "-o", "json")
    assert again.returncode == 0, again.stderr
    for second in json.loads(again.stdout)["copies"]:
        assert second["already_there"] is True and second["blobs_copied"] == second["blobs_mounted"] == 0
    # the tags already name the image: --create asked ECR nothing about the repositories
    asked = {action: _api_calls(stack).get(action, 0) - before.get(action, 0) for action in _REPOSITORY_CALLS}
    assert asked == dict.fromkeys(_REPOSITORY_CALLS, 0)


_REPOSITORY_CALLS = ("DescribeRepositories", "CreateRepository", "DescribeRepositoryCreationTemplates")


def _api_calls(stack: Any) -> dict[str, int]:
    with urllib.request.urlopen(f"{stack.api}/_bridge/stats", timeout=10) as reply:
        counts: dict[str, int] = json.load(reply)
        return counts


def test_a_copy_to_another_account_uses_the_profile_the_config_names_for_its_registry(
    ecrtool: Run,
    stack: Any,
    second_account_profile: Callable[[list[str]], dict[str, str]],
    index_repo: str,
    repos: list[tuple[str, ...]],
) -> None:
    xdg = second_account_profile([f"{SECOND}.dkr.ecr.ca-west-1.amazonaws.com"])

    copied = ecrtool("copy", f"{index_repo}:multi", "--to-account", SECOND, "--create", extra_env=xdg)
    repos.append((index_repo, "--profile", "prod", "--registry-id", SECOND))
    assert copied.returncode == 0, copied.stderr
    reference = f"{SECOND}.dkr.ecr.ca-west-1.amazonaws.com/{index_repo}:multi"
    _, data, _ = Registry(stack).manifest(index_repo, "multi")
    assert copied.stdout == f"{reference}\ndigest: {digest_of(data)}\n"
    assert Registry(stack, account=SECOND).manifest(index_repo, "multi") == (200, data, OCI_INDEX)


@pytest.fixture(params=["referrers API", "fallback tag"])
def referrers_api(request: pytest.FixtureRequest, stack: Any) -> Iterator[bool]:
    """ECR's registry serves the OCI referrers API (the local ECR's default); a registry without one gets
    the `sha256-…` tag that lists them, as cosign and oras write it."""
    served = request.param == "referrers API"
    stack.control("referrers", {"enabled": served})
    yield served
    stack.control("referrers", {"reset": True})


def test_an_index_and_its_signature_are_copied_byte_for_byte_with_referrers(
    ecrtool: Run, stack: Any, index_repo: str, repo_name: str, repos: list[tuple[str, ...]], referrers_api: bool
) -> None:
    source = Registry(stack)
    _, index, _ = source.manifest(index_repo, "multi")
    subject = digest_of(index)
    config = source.put_blob(index_repo, b"{}")
    payload_bytes = b'{"critical": {"image": {"docker-manifest-digest": "%s"}}}' % subject.encode()
    payload = source.put_blob(index_repo, payload_bytes)
    signature = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "artifactType": SIGNATURE,
            "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": config, "size": 2},
            "layers": [
                {
                    "mediaType": "application/vnd.dev.cosign.simplesigning.v1+json",
                    "digest": payload,
                    "size": len(payload_bytes),  # a copy that streams it (no mount) checks it
                }
            ],
            "subject": {"mediaType": OCI_INDEX, "digest": subject, "size": len(index)},
        }  # fmt: skip
    ).encode()
    source.put_manifest(index_repo, digest_of(signature), signature, OCI_MANIFEST)
    if not referrers_api:  # list the signature under the fallback tag, as cosign and oras do without the API
        listing = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [
            {"mediaType": OCI_MANIFEST, "digest": digest_of(signature), "size": len(signature),
             "artifactType": SIGNATURE}
        ]}  # fmt: skip
        source.put_manifest(index_repo, subject.replace(":", "-"), json.dumps(listing).encode(), OCI_INDEX)

    target = f"{repo_name}-signed"
    copied = ecrtool("copy", f"{index_repo}:multi", f"{target}:release", "--create", "--referrers", "-o", "json")
    repos.append((target,))
    assert copied.returncode == 0, copied.stderr
    assert json.loads(copied.stdout)["copies"][0]["referrers"] == 1
    assert source.manifest(target, "release") == (200, index, OCI_INDEX)
    assert source.manifest(target, digest_of(signature)) == (200, signature, OCI_MANIFEST)
    status, found, _ = source.manifest(target, subject.replace(":", "-"))
    if referrers_api:  # the registry took the subject (OCI-Subject): no tag to keep, the API lists it
        assert status == 404
        listed = requests.get(f"{source.url}/v2/{target}/referrers/{subject}", auth=source.auth,
                              verify=source.verify, timeout=30)  # fmt: skip
        assert listed.status_code == 200, listed.text
        found = listed.content
    else:
        assert status == 200
    assert [m["digest"] for m in json.loads(found)["manifests"]] == [digest_of(signature)]


def test_an_immutable_tag_takes_the_same_image_again_and_refuses_another(
    ecrtool: Run, index_repo: str, repo_name: str, repos: list[tuple[str, ...]], test_image: str
) -> None:
    target = f"{repo_name}-frozen"
    assert ecrtool("create", target, "--immutable").returncode == 0
    repos.append((target,))
    first = ecrtool("copy", f"{index_repo}:multi", f"{target}:v1", "-q")
    assert first.returncode == 0, first.stderr
    again = ecrtool("copy", f"{index_repo}:multi", f"{target}:v1")
    assert again.returncode == 0, again.stderr
    assert "already holds" in again.stderr

    pushed = ecrtool("push", test_image, "--repo", index_repo, "--tag", "other", "-q")
    assert pushed.returncode == 0, pushed.stderr
    refused = ecrtool("copy", f"{index_repo}:other", f"{target}:v1", "-q")
    assert refused.returncode == 1
    assert "tag 'v1'" in refused.stderr and "immutable" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1


def test_a_missing_destination_repository_says_create_and_a_missing_source_names_itself(
    ecrtool: Run, index_repo: str, repo_name: str, repos: list[tuple[str, ...]]
) -> None:
    missing = ecrtool("copy", f"{index_repo}:multi", f"{repo_name}-absent:v1")
    assert missing.returncode == 1
    assert f"{repo_name}-absent" in missing.stderr and "--create" in missing.stderr
    no_tag = ecrtool("copy", f"{index_repo}:nope", f"{repo_name}-absent:v1", "--create")
    assert no_tag.returncode == 1
    assert f"{index_repo}:nope" in no_tag.stderr and "not found" in no_tag.stderr
    # nothing is created for a source that is not there
    assert ecrtool("images", f"{repo_name}-absent").returncode == 1

    # a promote whose one destination is missing names it, in its region, in one line
    assert ecrtool("create", f"{repo_name}-west").returncode == 0
    repos.append((f"{repo_name}-west",))
    one = ecrtool("copy", f"{index_repo}:multi", "--to-region", "ca-west-1", "--to-region", "us-east-1",
                  "--repo", f"{repo_name}-west", "-q")  # fmt: skip
    assert one.returncode == 1
    assert one.stderr.strip().splitlines() == [
        f"ecrtool: error: repository '{repo_name}-west' does not exist in us-east-1: create it with "
        f"`ecrtool create {repo_name}-west` or pass --create, or have a creation template create such "
        "repositories on push: `ecrtool template set PREFIX`"
    ]


def test_an_image_from_another_registry_lands_in_ecr_with_its_digest(
    ecrtool: Run,
    docker: Run,
    stack: Any,
    open_registry: str,
    test_image: str,
    repo_name: str,
    repos: list[tuple[str, ...]],
) -> None:
    local = f"{open_registry}/team/viruses:v1"
    assert docker("tag", test_image, local).returncode == 0
    pushed = docker("push", local)
    docker("image", "rm", local)
    assert pushed.returncode == 0, pushed.stderr
    request = urllib.request.Request(f"http://{open_registry}/v2/team/viruses/manifests/v1", headers={"Accept": ACCEPT})
    with urllib.request.urlopen(request, timeout=10) as reply:
        data, kind = reply.read(), reply.headers["Content-Type"]

    copied = ecrtool("copy", local, f"{repo_name}:v1", "--create")
    repos.append((repo_name,))
    assert copied.returncode == 0, copied.stderr
    assert copied.stdout.endswith(f"digest: {digest_of(data)}\n")
    assert Registry(stack).manifest(repo_name, "v1") == (200, data, kind)
