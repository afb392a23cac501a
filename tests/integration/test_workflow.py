"""The whole private-ECR workflow, with the real ecrtool against the local ECR (scripts/local-ecr)."""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import urllib.request
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

DIGEST = re.compile(r"^digest: (sha256:[0-9a-f]{64})$", re.MULTILINE)
STACK = Path(__file__).resolve().parents[2] / "scripts" / "local-ecr"


def registry_tags(stack, repo: str) -> list[str]:
    """What the registry itself holds, asked over its own API."""
    import base64

    request = urllib.request.Request(f"{stack.registry_url()}/v2/{repo}/tags/list")
    token = base64.b64encode(f"AWS:{stack.password()}".encode()).decode()
    request.add_header("Authorization", f"Basic {token}")
    try:
        with urllib.request.urlopen(request, timeout=10) as reply:  # SSL_CERT_FILE: the stack's CA
            return sorted(json.load(reply).get("tags") or [])
    except urllib.error.HTTPError as err:
        if err.code == 404 and b"NAME_UNKNOWN" in err.read():
            return []  # no such repository (any other 404 is a fault, not "no tags")
        raise


def api_calls(stack) -> dict[str, int]:
    with urllib.request.urlopen(f"{stack.api}/_bridge/stats", timeout=10) as reply:
        return json.load(reply)


def pushed_digest(output: str) -> str:
    match = DIGEST.search(output)
    assert match, f"no digest line in {output!r}"
    return match.group(1)


def test_push_delivers_the_image_and_images_lists_it(ecrtool, stack, test_image, repo_name):
    created = ecrtool("create", repo_name)
    assert created.returncode == 0, created.stderr
    assert created.stdout.strip() == f"{stack.registry}/{repo_name}"

    pushed = ecrtool("push", "viruses", "--repo", repo_name)
    assert pushed.returncode == 0, pushed.stderr
    assert f"{stack.registry}/{repo_name}:viruses" in pushed.stdout.splitlines()
    digest = pushed_digest(pushed.stdout)

    listed = ecrtool("images", repo_name, "-o", "json")
    assert listed.returncode == 0, listed.stderr
    records = json.loads(listed.stdout)
    assert [(r["tags"], r["digest"]) for r in records] == [(["viruses"], digest)]
    assert records[0]["size_bytes"] > 0

    table = ecrtool("images", repo_name)
    assert "viruses" in table.stdout and digest in table.stdout

    repos = ecrtool("repos", "-q")
    assert repo_name in repos.stdout.split()


def test_push_several_tags_with_options_after_the_command(ecrtool, stack, test_image, repo_name):
    pushed = ecrtool(
        "push",
        "viruses",
        "--repo",
        repo_name,
        "--tag",
        "v1",
        "--tag",
        "latest",
        "--create",
        "--region",
        "ca-west-1",
        "-q",
        "-o",
        "json",
    )
    assert pushed.returncode == 0, pushed.stderr
    result = json.loads(pushed.stdout)
    assert result["references"] == [f"{stack.registry}/{repo_name}:v1", f"{stack.registry}/{repo_name}:latest"]
    assert result["created_repository"] is True
    assert pushed.stderr == ""
    assert registry_tags(stack, repo_name) == ["latest", "v1"]
    listed = json.loads(ecrtool("images", repo_name, "-o", "json").stdout)
    assert [sorted(r["tags"]) for r in listed] == [["latest", "v1"]]
    assert listed[0]["digest"] == result["digest"]


def test_push_without_repo_uses_the_image_name_and_latest(ecrtool, stack, test_image):
    ecrtool("delete", "viruses", "--force", "--yes")
    pushed = ecrtool("push", "viruses", "--create", "-q")
    assert pushed.returncode == 0, pushed.stderr
    assert f"{stack.registry}/viruses:latest" in pushed.stdout.splitlines()
    assert ecrtool("delete", "viruses", "--force", "--yes").returncode == 0


def test_push_to_a_missing_repository_says_how_to_create_it(ecrtool, test_image, repo_name):
    pushed = ecrtool("push", "viruses", "--repo", repo_name)
    assert pushed.returncode == 1
    assert f"ecrtool create {repo_name}" in pushed.stderr and "--create" in pushed.stderr
    assert "Traceback" not in pushed.stderr


def test_push_to_an_immutable_tag_takes_the_same_image_and_refuses_another(ecrtool, stack, test_image, repo_name):
    assert ecrtool("create", repo_name, "--immutable").returncode == 0
    first = ecrtool("push", test_image, "--repo", repo_name, "--tag", "v1", "-q")
    assert first.returncode == 0, first.stderr
    again = ecrtool("push", test_image, "--repo", repo_name, "--tag", "v1", "-q")
    assert again.returncode == 0, again.stderr  # the same image: already there
    assert pushed_digest(again.stdout) == pushed_digest(first.stdout)

    other = f"other-{repo_name}"
    built = subprocess.run(
        [str(STACK), "image", other], env={**os.environ, **stack.env}, capture_output=True, text=True, timeout=120
    )
    assert built.returncode == 0, built.stderr
    refused = ecrtool("push", other, "--repo", repo_name, "--tag", "v1")
    assert refused.returncode == 1
    [line] = [line for line in refused.stderr.splitlines() if line.startswith("ecrtool: error: ")]
    assert line.endswith(
        f"tag invalid: The image tag 'v1' already exists in the '{repo_name}' repository and cannot be overwritten "
        "because the repository is immutable."
    )
    assert refused.stderr.rstrip("\n").splitlines()[-1] == line
    assert "Traceback" not in refused.stderr


def test_login_lets_plain_docker_pull(ecrtool, docker, env, stack, test_image, repo_name):
    assert ecrtool("push", "viruses", "--repo", repo_name, "--create", "-q").returncode == 0
    reference = f"{stack.registry}/{repo_name}:viruses"
    assert docker("rmi", reference).returncode == 0

    logged = ecrtool("login")
    assert logged.returncode == 0, logged.stderr
    assert "Login Succeeded" in logged.stdout
    assert stack.password() not in logged.stdout + logged.stderr

    config = Path(env["DOCKER_CONFIG"]) / "config.json"
    assert stat.S_IMODE(config.stat().st_mode) == 0o600
    assert stack.registry in json.loads(config.read_text())["auths"]

    pulled = docker("pull", reference)
    assert pulled.returncode == 0, pulled.stderr


def test_plain_docker_pull_without_login_is_refused(docker, ecrtool, stack, test_image, repo_name):
    assert ecrtool("push", "viruses", "--repo", repo_name, "--create", "-q").returncode == 0
    reference = f"{stack.registry}/{repo_name}:viruses"
    docker("rmi", reference)
    refused = docker("pull", reference)
    assert refused.returncode != 0
    assert "no basic auth credentials" in refused.stderr or "unauthorized" in refused.stderr


def test_pull_by_tag_digest_and_full_reference(ecrtool, docker, stack, test_image, repo_name):
    pushed = ecrtool("push", "viruses", "--repo", repo_name, "--tag", "v1", "--create")
    assert pushed.returncode == 0, pushed.stderr
    digest = pushed_digest(pushed.stdout)
    local = f"{stack.registry}/{repo_name}"
    docker("rmi", f"{local}:v1")

    by_tag = ecrtool("pull", f"{repo_name}:v1")
    assert by_tag.returncode == 0, by_tag.stderr
    assert by_tag.stdout.splitlines()[0] == f"{local}:v1"
    assert f"digest: {digest}" in by_tag.stdout

    by_digest = ecrtool("pull", f"{repo_name}@{digest}", "-q")
    assert by_digest.returncode == 0, by_digest.stderr
    assert by_digest.stdout.strip() == f"{local}@{digest}"

    docker("rmi", f"{local}:v1")
    full = ecrtool("pull", f"123456789012.dkr.ecr.ca-west-1.amazonaws.com/{repo_name}:v1", "-q")
    assert full.returncode == 0, full.stderr
    assert full.stdout.strip() == f"{local}:v1"
    assert docker("image", "inspect", f"{local}:v1").returncode == 0


def test_pull_of_a_missing_tag_or_repository(ecrtool, test_image, repo_name):
    assert ecrtool("push", "viruses", "--repo", repo_name, "--create", "-q").returncode == 0
    missing_tag = ecrtool("pull", f"{repo_name}:nope")
    assert missing_tag.returncode == 1
    assert f"tag 'nope' not found in repository '{repo_name}'" in missing_tag.stderr
    missing_repo = ecrtool("pull", "no-such-repo:v1")
    assert missing_repo.returncode == 1
    assert "repository 'no-such-repo' does not exist" in missing_repo.stderr


def test_delete_tags_and_then_the_repository(ecrtool, stack, test_image, repo_name):
    pushed = ecrtool("push", "viruses", "--repo", repo_name, "--tag", "a", "--tag", "b", "--create", "-q")
    assert pushed.returncode == 0, pushed.stderr

    deleted = ecrtool("delete", repo_name, "--tag", "a", "--tag", "nope")
    assert deleted.returncode == 1
    assert f"deleted {repo_name} a" in deleted.stdout
    assert "nope" in deleted.stderr and "ImageNotFound" in deleted.stderr
    assert [r["tags"] for r in json.loads(ecrtool("images", repo_name, "-o", "json").stdout)] == [["b"]]
    assert registry_tags(stack, repo_name) == ["b"]

    not_empty = ecrtool("delete", repo_name, "--yes")
    assert not_empty.returncode == 1
    assert "--force" in not_empty.stderr

    no_terminal = ecrtool("delete", repo_name, "--force")
    assert no_terminal.returncode == 2
    assert "--yes" in no_terminal.stderr

    gone = ecrtool("delete", repo_name, "--force", "--yes")
    assert gone.returncode == 0, gone.stderr
    assert gone.stdout.strip() == f"deleted repository {repo_name} and its 1 image(s)"
    assert repo_name not in ecrtool("repos", "-q").stdout.split()
    assert registry_tags(stack, repo_name) == []


def test_create_existing_repository_needs_exist_ok(ecrtool, repo_name):
    assert ecrtool("create", repo_name, "--scan-on-push", "--immutable", "--tag", "team=data").returncode == 0
    again = ecrtool("create", repo_name)
    assert again.returncode == 1
    assert "--exist-ok" in again.stderr
    ok = ecrtool("create", repo_name, "--exist-ok", "-o", "json")
    assert ok.returncode == 0
    assert json.loads(ok.stdout)["created"] is False


def test_tag_names_the_local_image_for_ecr(ecrtool, docker, stack, test_image, repo_name):
    tagged = ecrtool("tag", "viruses", "--repo", repo_name)
    assert tagged.returncode == 0, tagged.stderr
    assert tagged.stdout.strip() == f"{stack.registry}/{repo_name}:viruses"
    assert docker("image", "inspect", tagged.stdout.strip()).returncode == 0


def test_push_to_a_full_repository_uri(ecrtool, stack, test_image, repo_name):
    uri = f"123456789012.dkr.ecr.ca-west-1.amazonaws.com/{repo_name}"
    pushed = ecrtool("push", "viruses", "--repo", uri, "--tag", "v9", "--create", "-q", "--region", "us-east-1")
    assert pushed.returncode == 0, pushed.stderr
    assert pushed.stdout.splitlines()[0] == f"{stack.registry}/{repo_name}:v9"
    # the URI's region won over --region: the repository is in ca-west-1
    assert repo_name in ecrtool("repos", "-q", "--region", "ca-west-1").stdout.split()
    assert repo_name not in ecrtool("repos", "-q", "--region", "us-east-1").stdout.split()
