"""`ecrtool retag` with the real ecrtool on the local ECR: the new tag names the same digest in the ECR API
and in the registry (plain docker pulls it), an image index keeps its digest, immutable repositories take
the same image again and refuse another; and push's "already there" on an immutable tag."""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.integration

LOCAL_ECR = Path(__file__).resolve().parents[2] / "scripts" / "local-ecr"
DIGEST = re.compile(r"^digest: (sha256:[0-9a-f]{64})$", re.MULTILINE)
Run = Callable[..., subprocess.CompletedProcess[str]]


def digest_line(output: str) -> str:
    match = DIGEST.search(output)
    assert match, f"no digest line in {output!r}"
    return match.group(1)


@pytest.fixture
def repo(ecrtool: Run, repo_name: str) -> Iterator[str]:
    created = ecrtool("create", repo_name)
    assert created.returncode == 0, created.stderr
    yield repo_name
    ecrtool("delete", repo_name, "--force", "--yes")


@pytest.fixture
def frozen(ecrtool: Run, repo_name: str) -> Iterator[str]:
    created = ecrtool("create", repo_name, "--immutable")
    assert created.returncode == 0, created.stderr
    yield repo_name
    ecrtool("delete", repo_name, "--force", "--yes")


def test_retag_by_tag_and_digest_and_plain_docker_pulls_the_new_tags(
    ecrtool: Run, docker: Run, stack: Any, test_image: str, repo: str
) -> None:
    pushed = ecrtool("push", test_image, "--repo", repo, "--tag", "v1", "-q")
    assert pushed.returncode == 0, pushed.stderr
    digest = digest_line(pushed.stdout)

    by_tag = ecrtool("retag", f"{repo}:v1", "stable", "v1.0")
    assert by_tag.returncode == 0, by_tag.stderr
    assert by_tag.stdout.splitlines() == [
        f"{stack.registry}/{repo}:stable",
        f"{stack.registry}/{repo}:v1.0",
        f"digest: {digest}",
    ]
    by_digest = ecrtool("retag", f"{stack.registry}/{repo}@{digest}", "release", "-o", "json")
    assert by_digest.returncode == 0, by_digest.stderr
    assert json.loads(by_digest.stdout)["references"] == [f"{stack.registry}/{repo}:release"]

    listed = ecrtool("images", repo, "-o", "json")
    [image] = json.loads(listed.stdout)
    assert (image["digest"], sorted(image["tags"])) == (digest, ["release", "stable", "v1", "v1.0"])

    assert ecrtool("login", "-q").returncode == 0
    for tag in ("stable", "release"):
        reference = f"{stack.registry}/{repo}:{tag}"
        pulled = docker("pull", reference)
        assert pulled.returncode == 0, pulled.stderr
        assert f"Digest: {digest}" in pulled.stdout
        docker("rmi", reference)


def test_an_image_index_retagged_keeps_its_digest(ecrtool: Run, env: dict[str, str], repo: str) -> None:
    done = subprocess.run(
        [str(LOCAL_ECR), "index", f"{repo}:multi"], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    index = json.loads(done.stdout)["digest"]

    retagged = ecrtool("retag", f"{repo}:multi", "stable", "-o", "json")
    assert retagged.returncode == 0, retagged.stderr
    result = json.loads(retagged.stdout)
    assert (result["digest"], result["media_type"]) == (index, "application/vnd.oci.image.index.v1+json")

    pulled = ecrtool("pull", f"{repo}:stable")  # through the registry: the index under its new tag
    assert pulled.returncode == 0, pulled.stderr
    assert digest_line(pulled.stdout) == index


def test_immutable_repository_takes_the_same_image_again_and_refuses_another(
    ecrtool: Run, stack: Any, test_image: str, frozen: str
) -> None:
    pushed = ecrtool("push", test_image, "--repo", frozen, "--tag", "v1", "-q")
    assert pushed.returncode == 0, pushed.stderr
    digest = digest_line(pushed.stdout)
    assert ecrtool("retag", f"{frozen}:v1", "stable").returncode == 0

    again = ecrtool("retag", f"{frozen}:v1", "stable", "v1")
    assert again.returncode == 0, again.stderr
    assert again.stderr.splitlines() == [
        f"{stack.registry}/{frozen}:stable was already there",
        f"{stack.registry}/{frozen}:v1 was already there",
    ]
    assert digest_line(again.stdout) == digest

    other = f"other-{frozen}"
    built = subprocess.run(
        [str(LOCAL_ECR), "image", other], env={**os.environ, **stack.env}, capture_output=True, text=True, timeout=120
    )
    assert built.returncode == 0, built.stderr
    assert ecrtool("push", other, "--repo", frozen, "--tag", "v2", "-q").returncode == 0
    refused = ecrtool("retag", f"{frozen}:v2", "stable")
    assert refused.returncode == 1
    assert refused.stderr.startswith(
        f"ecrtool: error: tag 'stable' already names another image ({digest}) in repository '{frozen}', "
        "whose tags are immutable"
    )
    listed = json.loads(ecrtool("images", frozen, "-o", "json").stdout)
    assert {image["digest"]: sorted(image["tags"]) for image in listed}[digest] == ["stable", "v1"]


def test_push_of_the_same_image_to_an_immutable_tag_says_it_was_already_there(
    ecrtool: Run, stack: Any, test_image: str, frozen: str
) -> None:
    first = ecrtool("push", test_image, "--repo", frozen, "--tag", "v1", "-q")
    assert first.returncode == 0, first.stderr

    again = ecrtool("push", test_image, "--repo", frozen, "--tag", "v1", "--tag", "v2")
    assert again.returncode == 0, again.stderr
    assert f"{stack.registry}/{frozen}:v1 was already there" in again.stderr
    assert f"{stack.registry}/{frozen}:v2 was already there" not in again.stderr
    assert digest_line(again.stdout) == digest_line(first.stdout)

    as_json = ecrtool("push", test_image, "--repo", frozen, "--tag", "v1", "--tag", "v2", "-o", "json")
    assert as_json.returncode == 0, as_json.stderr
    reference = f"{stack.registry}/{frozen}"
    assert json.loads(as_json.stdout)["already_there"] == [f"{reference}:v1", f"{reference}:v2"]


@pytest.mark.parametrize("missing", ["nope", "@sha256:" + "9" * 64])
def test_a_missing_source_names_the_tag_or_digest_and_the_repository(
    ecrtool: Run, test_image: str, repo: str, missing: str
) -> None:
    ref = f"{repo}{missing}" if missing.startswith("@") else f"{repo}:{missing}"
    done = ecrtool("retag", ref, "stable")
    assert done.returncode == 1
    what = f"digest '{missing[1:]}'" if missing.startswith("@") else f"tag '{missing}'"
    assert done.stderr.startswith(f"ecrtool: error: {what} not found in repository '{repo}'")
    assert "Traceback" not in done.stderr
