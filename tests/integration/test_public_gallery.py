"""Public gallery references with the real ecrtool: anonymous pulls and runs need no login and no AWS
call at all; a copy from it lands in the local ECR with the source's digest; a registry that wants
credentials gets the advice to log in. An open registry (Debian's
docker-registry without auth) stands in for public.ecr.aws through ECRTOOL_PUBLIC_REGISTRY."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

pytestmark = pytest.mark.integration

HELLO = "hello from the local-ecr test image viruses"
# no credentials and an endpoint where nothing listens: any AWS call would fail the command
NO_AWS = {"AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": "", "AWS_ENDPOINT_URL": "http://127.0.0.1:9"}


@pytest.fixture
def published(open_registry, docker, test_image) -> Iterator[str]:
    """The test image published anonymously as ALIAS/viruses:v1, and not left in the engine."""
    local = f"{open_registry}/team/viruses:v1"
    assert docker("tag", "viruses", local).returncode == 0
    pushed = docker("push", local)
    assert pushed.returncode == 0, pushed.stderr
    docker("image", "rm", local)
    yield "team/viruses:v1"
    docker("image", "rm", local)


@pytest.mark.parametrize("runner", ["api", "cli"])
def test_anonymous_pull_and_run_make_no_aws_call(ecrtool, open_registry, published, runner):
    gallery = {**NO_AWS, "ECRTOOL_PUBLIC_REGISTRY": open_registry}
    pulled = ecrtool("--runner", runner, "pull", f"public.ecr.aws/{published}", "-q", extra_env=gallery)
    assert pulled.returncode == 0, pulled.stderr
    assert pulled.stdout == f"{open_registry}/{published}\n"
    ran = ecrtool("--runner", runner, "run", f"public.ecr.aws/{published}", "--rm", "--pull", "always",
                  extra_env=gallery)  # fmt: skip
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout == HELLO + "\n"


def test_a_registry_that_wants_a_login_says_how(ecrtool, stack, open_registry, test_image):
    done = ecrtool("pull", "public.ecr.aws/team/viruses:v1", extra_env={**NO_AWS,
                   "ECRTOOL_PUBLIC_REGISTRY": stack.registry})  # fmt: skip
    assert done.returncode == 1
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("ecrtool: error: "), done.stderr
    assert "log in with `ecrtool login --public`" in lines[0]


def test_public_references_are_refused_where_ecrtool_works_on_private_ones(ecrtool):
    done = ecrtool("images", "public.ecr.aws/team/viruses")
    assert done.returncode == 2
    assert "is in the public gallery: ecrtool pulls and runs those" in done.stderr


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


def test_copy_from_the_gallery_on_its_own_name_reads_it_with_an_anonymous_token(ecrtool, stack, test_image):
    """The local ECR's public face (public.ecr.aws over TLS, its token flow): its repositories are the first
    account's gallery/… ones in us-east-1, so pushing there publishes; reading takes a token anyone may ask for."""
    import uuid

    import requests

    alias = f"pub{uuid.uuid4().hex[:8]}"
    published = ecrtool("push", "viruses", "--repo", f"gallery/{alias}/viruses", "--tag", "v1", "--region",
                        "us-east-1", "--create", "-q")  # fmt: skip
    assert published.returncode == 0, published.stderr
    ca = stack.env["AWS_CA_BUNDLE"]
    try:
        # as ECR Public answers: a Bearer challenge naming its token endpoint; its token reads one repository
        refused = requests.get(f"https://public.ecr.aws/v2/{alias}/viruses/manifests/v1", verify=ca, timeout=30)
        assert refused.status_code == 401
        assert refused.headers["WWW-Authenticate"] == (
            'Bearer realm="https://public.ecr.aws/token/",service="public.ecr.aws",scope="aws"'
        )
        target = f"{alias}-copy/viruses"
        done = ecrtool("copy", f"public.ecr.aws/{alias}/viruses:v1", f"{target}:v1", "--create", "-o", "json")
        assert done.returncode == 0, done.stderr
        result = json.loads(done.stdout)
        assert result["source"] == f"public.ecr.aws/{alias}/viruses:v1"
        private = ecrtool("images", f"gallery/{alias}/viruses", "--region", "us-east-1", "-o", "json")
        assert result["digest"] in private.stdout  # the gallery's image, byte for byte
        assert result["copies"][0]["digest"] == result["digest"]
        # a push with the anonymous token is refused: publishing needs an ECR Public login
        token = requests.get("https://public.ecr.aws/token/", params={"scope": f"repository:{alias}/viruses:pull"},
                             verify=ca, timeout=30).json()["token"]  # fmt: skip
        pushed = requests.post(f"https://public.ecr.aws/v2/{alias}/viruses/blobs/uploads/", verify=ca, timeout=30,
                               headers={"Authorization": f"Bearer {token}"})  # fmt: skip
        assert pushed.status_code == 401
        # nothing but the gallery's repositories, and nothing but tags, digests and the tag list, is read
        headers = {"Authorization": f"Bearer {token}"}
        for path in (f"gallery/{alias}/viruses/manifests/v1", f"{alias}/viruses/manifests/..%2Fv1",
                     f"{alias}/viruses/blobs/uploads/x"):  # fmt: skip
            assert requests.get(f"https://public.ecr.aws/v2/{path}", headers=headers, verify=ca,
                                timeout=30).status_code in (401, 404), path  # fmt: skip
        ecrtool("delete", target, "--force", "--yes")
    finally:
        ecrtool("delete", f"gallery/{alias}/viruses", "--region", "us-east-1", "--force", "--yes")
