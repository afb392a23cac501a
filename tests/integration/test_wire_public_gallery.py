"""`ecrtool copy` from the public gallery with the real ecrtool: a public face stands in for public.ecr.aws
through ECRTOOL_PUBLIC_REGISTRY (an open registry, as tests/integration/test_public_gallery.py uses), and
the copy lands in the local ECR with the source's digest."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

pytestmark = pytest.mark.integration


@pytest.fixture
def published(open_registry, docker, test_image) -> Iterator[str]:
    """The test image published anonymously as team/viruses:v1, and not left in the engine."""
    local = f"{open_registry}/team/viruses:v1"
    assert docker("tag", "viruses", local).returncode == 0
    pushed = docker("push", local)
    assert pushed.returncode == 0, pushed.stderr
    docker("image", "rm", local)
    yield "team/viruses:v1"
    docker("image", "rm", local)


def test_copy_from_the_public_gallery_lands_with_the_source_digest(ecrtool, open_registry, published, repo_name):
    gallery = {"ECRTOOL_PUBLIC_REGISTRY": open_registry}
    done = ecrtool("copy", f"public.ecr.aws/{published}", f"{repo_name}:v1", "--create", "-o", "json",
                   extra_env=gallery)  # fmt: skip
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["source"] == f"{open_registry}/{published}"
    (copied,) = result["copies"]
    assert copied["digest"] == result["digest"] and copied["blobs_copied"] >= 2

    listed = ecrtool("images", repo_name, "-o", "json")
    ecrtool("delete", repo_name, "--force", "--yes")
    assert listed.returncode == 0, listed.stderr
    assert result["digest"] in listed.stdout


def test_copy_of_a_missing_public_image_says_so_and_leaves_no_repository(ecrtool, open_registry, repo_name):
    gallery = {"ECRTOOL_PUBLIC_REGISTRY": open_registry}
    done = ecrtool("copy", "public.ecr.aws/team/nothing-here:v1", f"{repo_name}:v1", "--create", extra_env=gallery)
    assert done.returncode == 1
    assert "not found" in done.stderr and f"{open_registry}/team/nothing-here:v1" in done.stderr
    assert ecrtool("images", repo_name).returncode != 0
