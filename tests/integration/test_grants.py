"""Cross-account pulls with the real ecrtool on the local ECR's two accounts: account A's repository is
closed to account B until A grants B pull, open to B's pulls (never its pushes) while the grant stands, and
closed again once A revokes it; each refusal is one line naming the grant and the command that adds it.

B's identity comes from the ecrtool config file alone (`[registries."A's host"] profile = "b"`): the AWS
credentials file holds both accounts' keys as profiles a and b, the environment holds no keys, and A's own
commands say --profile a."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests

pytestmark = pytest.mark.integration

A = ("123456789012", "testing", "testing")
B = ("210987654321", "AKIALOCALECRSECOND01", "local-ecr-second-account-secret")
REGION = "ca-west-1"
HOST = f"{A[0]}.dkr.ecr.{REGION}.amazonaws.com"
REPO = "shared/app"
GRANT = f"`ecrtool grant {REPO} --pull --account {B[0]}`"
Run = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def as_b(env: dict[str, str]) -> None:
    """Profiles a and b in the AWS files; the ecrtool config names b for A's registry; no keys in the environment."""
    home = Path(env["HOME"])
    (home / ".aws").mkdir()
    (home / ".aws" / "credentials").write_text(
        f"[a]\naws_access_key_id = {A[1]}\naws_secret_access_key = {A[2]}\n\n"
        f"[b]\naws_access_key_id = {B[1]}\naws_secret_access_key = {B[2]}\n"
    )
    (home / ".aws" / "config").write_text(f"[profile a]\nregion = {REGION}\n\n[profile b]\nregion = {REGION}\n")
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        env.pop(name, None)
    config = home / ".config" / "ecrtool" / "config.toml"
    config.parent.mkdir(parents=True)
    config.write_text(f'[registries."{HOST}"]\nprofile = "b"\n')


def tag_in_a(stack: Any, tag: str) -> int:
    """The status of REPO:TAG's manifest in A's registry, asked with A's own password."""
    reply = requests.get(
        f"{stack.registry_url(A[0], REGION)}/v2/{REPO}/manifests/{tag}",
        auth=("AWS", stack.password(A[0], REGION)),
        headers={"Accept": "application/vnd.docker.distribution.manifest.v2+json"},
        verify=stack.ca_bundle,
        timeout=30,
    )
    return reply.status_code


def one_line_naming_the_grant(done: subprocess.CompletedProcess[str]) -> None:
    assert done.returncode == 1, done.stdout + done.stderr
    assert done.stderr.count("\n") == 1, done.stderr
    assert done.stderr.startswith(f"ecrtool: error: account {B[0]} may not pull {A[0]}'s {REPO}: "), done.stderr
    assert done.stderr.rstrip().endswith(f"account {A[0]} adds it with {GRANT}"), done.stderr


def test_a_grants_b_pull_not_push_and_revokes_it(
    ecrtool: Run, docker: Run, stack: Any, test_image: str, as_b: None
) -> None:
    a = ("--profile", "a")
    ecrtool("delete", REPO, "--force", "--yes", *a)  # a run before that did not finish
    pushed = ecrtool("push", test_image, "--repo", REPO, "--tag", "1", "--create", "-q", *a)
    assert pushed.returncode == 0, pushed.stderr
    image = f"{HOST}/{REPO}:1"
    try:
        docker("image", "rm", image)
        one_line_naming_the_grant(ecrtool("pull", image))

        granted = ecrtool("grant", REPO, "--pull", "--account", B[0], "-o", "json", *a)
        assert granted.returncode == 0, granted.stderr
        statements = json.loads(granted.stdout)["Statement"]
        assert [s["Principal"] for s in statements] == [{"AWS": f"arn:aws:iam::{B[0]}:root"}]
        again = ecrtool("grant", REPO, "--pull", "--account", B[0], "-o", "json", *a)
        assert json.loads(again.stdout)["Statement"] == statements  # granting twice leaves one statement

        pulled = ecrtool("pull", image, "-q")
        assert pulled.returncode == 0, pulled.stderr
        assert docker("image", "inspect", image).returncode == 0

        checked = ecrtool("doctor", "--can-pull", image, "-o", "json")
        assert checked.returncode == 0, checked.stderr
        assert json.loads(checked.stdout)["caller_account"] == B[0]

        # pull does not grant push: B's push to A's repository fails, and no tag 2 lands there
        refused = ecrtool("push", test_image, "--repo", f"{HOST}/{REPO}", "--tag", "2")
        assert refused.returncode == 1, refused.stdout
        assert refused.stderr.count("\n") == 1 and refused.stderr.startswith(f"ecrtool: error: account {B[0]} may not")
        assert tag_in_a(stack, "2") == 404

        revoked = ecrtool("revoke", REPO, "--pull", "--account", B[0], "-o", "json", *a)
        assert revoked.returncode == 0, revoked.stderr
        assert json.loads(revoked.stdout) is None  # nothing left: the policy is gone
        docker("image", "rm", image)
        one_line_naming_the_grant(ecrtool("pull", image))
        assert ecrtool("doctor", "--can-pull", image).returncode == 1

        # ECR refuses a principal that does not exist: one line saying so, and the policy stays as it was
        role = f"arn:aws:iam::{B[0]}:role/not-created-yet"
        early = ecrtool("grant", REPO, "--pull", "--role", role, *a)
        assert early.returncode == 2, early.stdout
        assert early.stderr.count("\n") == 1 and "ECR takes only principals that exist" in early.stderr
        assert ecrtool("policy", "show", REPO, "-o", "json", *a).stdout == "null\n"
    finally:
        deleted = ecrtool("delete", REPO, "--force", "--yes", *a)
    assert deleted.returncode == 0, deleted.stderr
