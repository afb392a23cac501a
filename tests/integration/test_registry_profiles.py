"""A profile per registry, with the real ecrtool on the local ECR's two accounts: the config file alone
(`[accounts."ID"] profile = …`) chooses the identity of push, pull, images and delete by account B's
URI; an explicit --profile beats it; AWS_PROFILE does not. The AWS credentials file holds both accounts'
keys as profiles a and b, and the environment holds no keys of its own; account B's registry refuses account A
(the local ECR enforces cross-account access as ECR does), so a push succeeds only as B."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests

pytestmark = pytest.mark.integration

FIRST = ("123456789012", "testing", "testing")
SECOND = ("210987654321", "AKIALOCALECRSECOND01", "local-ecr-second-account-secret")
REGION = "ca-west-1"
Run = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def profiles(env: dict[str, str]) -> Callable[[str], None]:
    """Profiles a and b (the two accounts' keys) and nobody (keys the local ECR does not know) in the AWS
    credentials file; writes the ecrtool config file given, and takes the keys out of the environment."""
    home = Path(env["HOME"])
    (home / ".aws").mkdir()
    (home / ".aws" / "credentials").write_text(
        f"[a]\naws_access_key_id = {FIRST[1]}\naws_secret_access_key = {FIRST[2]}\n\n"
        f"[b]\naws_access_key_id = {SECOND[1]}\naws_secret_access_key = {SECOND[2]}\n\n"
        "[nobody]\naws_access_key_id = AKIANOBODYKNOWSTHIS1\naws_secret_access_key = no-such-secret\n"
    )
    (home / ".aws" / "config").write_text(
        f"[profile a]\nregion = {REGION}\n\n[profile b]\nregion = {REGION}\n\n[profile nobody]\nregion = {REGION}\n"
    )
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        env.pop(name, None)
    config = home / ".config" / "ecrtool" / "config.toml"
    config.parent.mkdir(parents=True)

    def write(text: str) -> None:
        config.write_text(text)

    return write


def manifest_in(stack: Any, account: str, repo: str, tag: str) -> int:
    """The status of REPO:TAG's manifest in ACCOUNT's registry, asked with that account's own password."""
    reply = requests.get(
        f"{stack.registry_url(account, REGION)}/v2/{repo}/manifests/{tag}",
        auth=("AWS", stack.password(account, REGION)),
        headers={"Accept": "application/vnd.docker.distribution.manifest.v2+json"},
        verify=stack.ca_bundle,
        timeout=30,
    )
    return reply.status_code


def test_the_config_file_alone_chooses_account_bs_profile_for_its_uri(
    ecrtool: Run, stack: Any, test_image: str, repo_name: str, profiles: Callable[[str], None]
) -> None:
    second = f"{SECOND[0]}.dkr.ecr.{REGION}.amazonaws.com/{repo_name}"
    profiles(f'[accounts."{FIRST[0]}"]\nprofile = "a"\n\n[accounts."{SECOND[0]}"]\nprofile = "b"\n')
    # AWS_PROFILE says a: the config file's entry for B's account beats it
    ambient = {"AWS_PROFILE": "a"}
    try:
        pushed = ecrtool("push", test_image, "--repo", second, "--tag", "1", "--create", "--debug", extra_env=ambient)
        assert pushed.returncode == 0, pushed.stderr
        assert pushed.stdout.startswith(f"{second}:1\n")
        assert f'AWS profile b, from [accounts."{SECOND[0]}"]' in pushed.stderr
        assert manifest_in(stack, SECOND[0], repo_name, "1") == 200  # in B's registry
        assert manifest_in(stack, FIRST[0], repo_name, "1") == 404  # and not in A's

        listed = ecrtool("images", second, "-o", "json", extra_env=ambient)
        assert listed.returncode == 0, listed.stderr
        assert [image["tags"] for image in json.loads(listed.stdout)] == [["1"]]
        pulled = ecrtool("pull", f"{second}:1", "-q", extra_env=ambient)
        assert pulled.returncode == 0, pulled.stderr

        # an explicit --profile beats the config file: A's identity, which B's repository does not let in
        refused = ecrtool("images", second, "--profile", "a", extra_env=ambient)
        assert refused.returncode == 1
        assert refused.stderr.startswith(f"ecrtool: error: account {FIRST[0]} may not call ecr:DescribeImages")
        assert refused.stderr.count("\n") == 1

        # without B's entry, the push is A's (AWS_PROFILE), and B's registry refuses it
        profiles(f'[accounts."{FIRST[0]}"]\nprofile = "a"\n')
        as_first = ecrtool("push", test_image, "--repo", second, "--tag", "2", extra_env=ambient)
        assert as_first.returncode == 1
        assert as_first.stderr.startswith(f"ecrtool: error: account {FIRST[0]} may not call ecr:")
        assert manifest_in(stack, SECOND[0], repo_name, "2") == 404

        # the entry decides: naming a profile whose keys nobody knows fails B's push, and says where it came from
        profiles(f'[accounts."{SECOND[0]}"]\nprofile = "nobody"\n')
        failed = ecrtool("push", test_image, "--repo", second, "--tag", "2", extra_env=ambient)
        assert failed.returncode == 1
        assert failed.stderr.count("\n") == 1 and "ecrtool: error:" in failed.stderr
        assert manifest_in(stack, SECOND[0], repo_name, "2") == 404
        profiles(f'[accounts."{SECOND[0]}"]\nprofile = "gone"\n')
        missing = ecrtool("push", test_image, "--repo", second, "--tag", "2", extra_env=ambient)
        assert missing.returncode == 2
        assert f"AWS profile 'gone' not found: check [accounts.\"{SECOND[0]}\"] in " in missing.stderr
    finally:
        profiles(f'[accounts."{SECOND[0]}"]\nprofile = "b"\n')
        deleted = ecrtool("delete", second, "--force", "--yes", extra_env=ambient)
    assert deleted.returncode == 0, deleted.stderr
    assert manifest_in(stack, SECOND[0], repo_name, "1") == 404


def test_config_show_names_each_accounts_profile(ecrtool: Run, profiles: Callable[[str], None], env: Any) -> None:
    profiles(f'[accounts."{SECOND[0]}"]\nprofile = "b"\n')
    shown = ecrtool("config", "show")
    assert shown.returncode == 0, shown.stderr
    config = Path(env["HOME"]) / ".config" / "ecrtool" / "config.toml"
    assert shown.stdout.endswith(
        f'[accounts."{SECOND[0]}"]  b  {config}, line 1: account {SECOND[0]}\'s registries in every region\n'
    )
