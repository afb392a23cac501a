"""`ecrtool replication` with the real ecrtool against the local ECR, which replicates as ECR does across its
two regions and two accounts: a rule set with the other account's registry policy, a push that arrives in
each destination after the delay (and `status` saying so), and a backfill of images pushed before the rule
to a destination added later, byte for byte with their signature, a second run copying nothing.

Each test's rule covers its own repository prefix only, and the registry's configuration is put back
afterwards: other tests' pushes are never replicated."""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests

pytestmark = pytest.mark.integration

FIRST, SECOND = "123456789012", "210987654321"
REGIONS = ("ca-west-1", "us-east-1")
SECOND_KEYS = ("AKIALOCALECRSECOND01", "local-ecr-second-account-secret")
ACCEPT = "application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json, " + (
    "application/vnd.docker.distribution.manifest.v2+json, application/vnd.docker.distribution.manifest.list.v2+json"
)
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
SIGNATURE = "application/vnd.dev.cosign.artifact.sig.v1+json"
Run = Callable[..., Any]


def _ecr(stack: Any, region: str, account: str = FIRST) -> Any:
    import boto3

    keys = SECOND_KEYS if account == SECOND else (stack.env["AWS_ACCESS_KEY_ID"], stack.env["AWS_SECRET_ACCESS_KEY"])
    return boto3.client(
        "ecr",
        region_name=region,
        aws_access_key_id=keys[0],
        aws_secret_access_key=keys[1],
        endpoint_url=stack.env.get("AWS_ENDPOINT_URL"),
        verify=stack.env.get("AWS_CA_BUNDLE"),
    )


def _manifest(stack: Any, account: str, region: str, repo: str, reference: str) -> bytes | None:
    reply = requests.get(
        f"{stack.registry_url(account, region)}/v2/{repo}/manifests/{reference}",
        auth=("AWS", stack.password(account, region)),
        headers={"Accept": ACCEPT},
        verify=stack.ca_bundle,
        timeout=30,
    )
    return reply.content if reply.status_code == 200 else None


def _referrers(stack: Any, account: str, region: str, repo: str, digest: str) -> list[str]:
    reply = requests.get(
        f"{stack.registry_url(account, region)}/v2/{repo}/referrers/{digest}",
        auth=("AWS", stack.password(account, region)),
        verify=stack.ca_bundle,
        timeout=30,
    )
    return [entry["digest"] for entry in reply.json().get("manifests", [])] if reply.status_code == 200 else []


def _sign(stack: Any, repo: str, subject: bytes) -> str:
    """A cosign-like signature of SUBJECT in REPO (first account, ca-west-1), pushed by digest; its digest."""
    url, auth = stack.registry_url(FIRST, "ca-west-1"), ("AWS", stack.password(FIRST, "ca-west-1"))
    blobs = []
    for data in (b"{}", b"signature of " + subject[:16]):
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        started = requests.post(f"{url}/v2/{repo}/blobs/uploads/", auth=auth, verify=stack.ca_bundle, timeout=30)
        location = started.headers["Location"]
        location = location if location.startswith("http") else url + location
        done = requests.put(location, params={"digest": digest}, data=data, auth=auth, verify=stack.ca_bundle)
        assert done.status_code == 201, done.text
        blobs.append({"mediaType": SIGNATURE, "digest": digest, "size": len(data)})
    doc = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "artifactType": SIGNATURE,
        "config": {**blobs[0], "mediaType": "application/vnd.oci.empty.v1+json"},
        "layers": [blobs[1]],
        "subject": {"mediaType": OCI_MANIFEST, "digest": _digest(subject), "size": len(subject)},
    }
    body = json.dumps(doc).encode()
    digest = _digest(body)
    done = requests.put(
        f"{url}/v2/{repo}/manifests/{digest}",
        data=body,
        auth=auth,
        headers={"Content-Type": OCI_MANIFEST},
        verify=stack.ca_bundle,
        timeout=30,
    )
    assert done.status_code == 201, done.text
    return digest


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _policy(client: Any) -> dict[str, str]:
    try:
        return dict(client.get_registry_policy())
    except client.exceptions.RegistryPolicyNotFoundException:
        return {}


def _without_ours(client: Any) -> str | None:
    """The registry policy as it is (None: there is none), and in place of it for the test the same without
    the statement `replication set` puts for the first account (an earlier run's)."""
    text = _policy(client).get("policyText")
    if text is None:
        return None
    doc = json.loads(text)
    kept = [s for s in doc.get("Statement", []) if s.get("Sid") != f"EcrtoolReplicationFrom{FIRST}"]
    if not kept:
        client.delete_registry_policy()
    elif len(kept) != len(doc.get("Statement", [])):
        client.put_registry_policy(policyText=json.dumps({**doc, "Statement": kept}))
    return str(text)


@pytest.fixture
def prefix(stack: Any) -> Iterator[str]:
    """A repository prefix of this test's own; afterwards the registry's replication configuration is put
    back, and every repository under the prefix is deleted in each of the four registries."""
    first = _ecr(stack, "ca-west-1")
    before = first.describe_registry()["replicationConfiguration"]
    policies = {region: _without_ours(_ecr(stack, region, SECOND)) for region in REGIONS}
    name = f"repl-{uuid.uuid4().hex[:8]}"
    yield name
    first.put_replication_configuration(replicationConfiguration=before)
    for region, text in policies.items():
        client = _ecr(stack, region, SECOND)
        if text is not None:
            client.put_registry_policy(policyText=text)
        elif "policyText" in _policy(client):
            client.delete_registry_policy()
    stack.control("replication", {"delay": 2})
    for account in (FIRST, SECOND):
        for region in REGIONS:
            client = _ecr(stack, region, account)
            for repo in client.describe_repositories()["repositories"]:
                if repo["repositoryName"].startswith(name + "/"):
                    client.delete_repository(repositoryName=repo["repositoryName"], force=True)


@pytest.fixture
def with_second_account(second_account_profile: Callable[[list[str]], dict[str, str]]) -> dict[str, str]:
    """The second account as profile `prod`, named in the config file for its registries in both regions."""
    return second_account_profile([f"{SECOND}.dkr.ecr.{r}.amazonaws.com" for r in REGIONS])


def test_a_push_is_replicated_after_the_delay_to_each_region_and_account_and_status_says_when(
    ecrtool: Run, stack: Any, test_image: str, prefix: str, with_second_account: dict[str, str]
) -> None:
    stack.control("replication", {"delay": 10})  # long enough for the status asked at once
    done = ecrtool(
        "replication", "set", "--to", "us-east-1", "--to", f"ca-west-1:{SECOND}", "--filter", f"{prefix}/",
        extra_env=with_second_account,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert f"Registry policy of ca-west-1:{SECOND} now lets {FIRST} replicate there" in done.stderr
    assert f"us-east-1:{FIRST}, ca-west-1:{SECOND}" in done.stdout and f"{prefix}/" in done.stdout
    policy = json.loads(_ecr(stack, "ca-west-1", SECOND).get_registry_policy()["policyText"])
    assert {"ecr:ReplicateImage", "ecr:CreateRepository"} <= set(policy["Statement"][-1]["Action"])

    repo = f"{prefix}/app"
    pushed = ecrtool("push", test_image, "--repo", repo, "--create", "-q")
    assert pushed.returncode == 0, pushed.stderr
    early = ecrtool("replication", "status", f"{repo}:{test_image}", "-o", "json", extra_env=with_second_account)
    assert early.returncode == 1, early.stderr
    assert {r["status"] for r in json.loads(early.stdout)["replicas"]} == {"IN_PROGRESS"}
    assert all(r["present"] is False for r in json.loads(early.stdout)["replicas"])

    deadline = time.monotonic() + 60
    while True:
        later = ecrtool("replication", "status", f"{repo}:{test_image}", extra_env=with_second_account)
        # a replica can be seen a moment before ECR calls it COMPLETE: both, or the deadline
        if (later.returncode == 0 and later.stdout.count("COMPLETE") == 2) or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert later.returncode == 0, later.stdout + later.stderr
    assert f"us-east-1:{FIRST}  yes" in later.stdout and f"ca-west-1:{SECOND}  yes" in later.stdout
    assert later.stdout.count("COMPLETE") == 2
    source = _manifest(stack, FIRST, "ca-west-1", repo, test_image)
    assert source is not None
    assert _manifest(stack, FIRST, "us-east-1", repo, test_image) == source
    assert _manifest(stack, SECOND, "ca-west-1", repo, test_image) == source
    # the destination repository was created by the replication, with ECR's default settings
    created = _ecr(stack, "us-east-1").describe_repositories(repositoryNames=[repo])["repositories"][0]
    assert created["imageTagMutability"] == "MUTABLE"

    # a signature pushed later (by digest, naming the image as its subject) is a push too: it follows
    stack.control("replication", {"delay": 1})
    signature = _sign(stack, repo, source)
    deadline = time.monotonic() + 60
    where = [(FIRST, "us-east-1"), (SECOND, "ca-west-1")]
    while time.monotonic() < deadline:
        found = [_referrers(stack, account, region, repo, _digest(source)) for account, region in where]
        if found == [[signature], [signature]]:
            break
        time.sleep(0.5)
    assert found == [[signature], [signature]]


def test_backfill_copies_what_was_there_before_the_rule_to_a_destination_added_later_and_then_nothing(
    ecrtool: Run, stack: Any, test_image: str, prefix: str, with_second_account: dict[str, str]
) -> None:
    repo = f"{prefix}/base"
    for tag in ("one", "two"):
        done = ecrtool("push", test_image, "--repo", repo, "--tag", tag, "--create", "-q")
        assert done.returncode == 0, done.stderr
    subject = _manifest(stack, FIRST, "ca-west-1", repo, "one")
    assert subject is not None
    signature = _sign(stack, repo, subject)

    done = ecrtool("replication", "set", "--to", "us-east-1", "--filter", f"{prefix}/")
    assert done.returncode == 0, done.stderr
    first = ecrtool("replication", "backfill", "--filter", prefix, "-o", "json", extra_env=with_second_account)
    assert first.returncode == 0, first.stderr
    report = json.loads(first.stdout)
    assert (report["copied"], report["present"], report["failed"]) == (2, 0, 0)
    assert _manifest(stack, FIRST, "us-east-1", repo, "one") == subject
    assert _manifest(stack, FIRST, "us-east-1", repo, signature) is not None
    assert _referrers(stack, FIRST, "us-east-1", repo, _digest(subject)) == [signature]

    # a destination added later: only it gets the images; a digest a destination holds is skipped
    added = ecrtool(
        "replication", "set", "--add", "--to", f"us-east-1:{SECOND}", "--filter", f"{prefix}/",
        extra_env=with_second_account,
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    second = ecrtool("replication", "backfill", repo, "-o", "json", extra_env=with_second_account)
    assert second.returncode == 0, second.stderr
    by_destination = {(i["destination"], i["reference"]): i["status"] for i in json.loads(second.stdout)["images"]}
    assert by_destination == {
        (f"us-east-1:{FIRST}", "one"): "present",
        (f"us-east-1:{FIRST}", "two"): "present",
        (f"us-east-1:{SECOND}", "one"): "copied",
        (f"us-east-1:{SECOND}", "two"): "copied",
    }
    assert _manifest(stack, SECOND, "us-east-1", repo, "two") == subject
    assert _referrers(stack, SECOND, "us-east-1", repo, _digest(subject)) == [signature]

    third = ecrtool("replication", "backfill", repo, extra_env=with_second_account)
    assert third.returncode == 0, third.stderr
    assert third.stdout.startswith("0 copied (0 blobs, 0 B), 4 already there, 0 failed")


def test_a_destination_backfill_may_not_reach_fails_its_images_by_name_and_the_others_are_copied(
    ecrtool: Run, stack: Any, test_image: str, prefix: str
) -> None:
    repo = f"{prefix}/app"
    pushed = ecrtool("push", test_image, "--repo", repo, "--create", "-q")
    assert pushed.returncode == 0, pushed.stderr
    # no profile speaks for the other account here: its owner's policy is left to it, and allows nothing
    done = ecrtool("replication", "set", "--to", "us-east-1", "--to", f"us-east-1:{SECOND}", "--filter", repo,
                   "--skip-policy")  # fmt: skip
    assert done.returncode == 0, done.stderr
    backfill = ecrtool("replication", "backfill", repo)
    assert backfill.returncode == 1
    assert backfill.stdout.startswith("1 copied (")
    assert backfill.stdout.rstrip().endswith("0 already there, 1 failed")
    failed = [line for line in backfill.stderr.splitlines() if line.startswith("failed: ")]
    assert len(failed) == 1 and failed[0].startswith(f"failed: {repo}:{test_image} -> us-east-1:{SECOND}: ")
    assert _manifest(stack, FIRST, "us-east-1", repo, test_image) == _manifest(
        stack, FIRST, "ca-west-1", repo, test_image
    )
    status = ecrtool("replication", "status", f"{repo}:{test_image}", "-o", "json")
    assert status.returncode == 1, status.stderr
    replicas = {r["destination"]: r for r in json.loads(status.stdout)["replicas"]}
    assert replicas[f"us-east-1:{FIRST}"]["present"] is True
    assert replicas[f"us-east-1:{SECOND}"]["present"] is None
    assert "DescribeImages" in replicas[f"us-east-1:{SECOND}"]["failure"]
