"""Repository creation templates with the real ecrtool on a private local ECR (its own call counts): a push to
`team/new-…`, which does not exist, where a template covers `team/`, has ECR create it immutable with the
template's tags, lifecycle policy and repository policy, and ecrtool makes no CreateRepository call; a name
no template covers is refused as ECR refuses it; `push --create` and `copy --create` leave creation to the
template. What was created is read back with boto3 from the stack's ECR API, not from ecrtool."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
import requests

pytestmark = pytest.mark.integration

SECOND = "210987654321"
Run = Callable[..., Any]


@pytest.fixture(scope="module")
def small(private_stack: Any) -> str:
    return private_stack.image("viruses")


@pytest.fixture
def ecr_api(penv: dict[str, str]) -> Any:
    return boto3.client(
        "ecr",
        endpoint_url=penv["AWS_ENDPOINT_URL"],
        region_name=penv["AWS_REGION"],
        aws_access_key_id=penv["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=penv["AWS_SECRET_ACCESS_KEY"],
    )


@pytest.fixture
def team(private_ecrtool: Run, private_stack: Any, ecr_api: Any) -> Iterator[str]:
    """A template for a prefix of this test's own (team-…), and the repositories made under it deleted after."""
    prefix = f"team-{uuid.uuid4().hex[:8]}"
    made = private_ecrtool(
        "template", "set", prefix, "--immutable", "--lifecycle-keep", "5", "--grant-pull", SECOND,
        "--tag", "team=payments", "--tag", 'note=a "quoted" value',
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    private_stack.control("reset-stats", {})
    yield prefix
    assert private_ecrtool("template", "delete", prefix).returncode == 0
    for repo in ecr_api.describe_repositories()["repositories"]:
        if repo["repositoryName"].startswith(prefix + "/"):
            ecr_api.delete_repository(repositoryName=repo["repositoryName"], force=True)


def created_calls(private_stack: Any) -> int:
    return int(private_stack.control("stats").get("CreateRepository", 0))


def test_a_push_to_a_name_the_template_covers_creates_it_as_the_template_says(
    private_ecrtool: Run, private_stack: Any, ecr_api: Any, small: str, team: str
) -> None:
    name = f"{team}/new"
    pushed = private_ecrtool("push", small, "--repo", name, "--tag", "1", "--debug")
    assert pushed.returncode == 0, pushed.stderr
    assert pushed.stdout.splitlines()[0].endswith(f"/{name}:1")
    said = f"Repository {name} did not exist: ECR created it on this push, as the registry's creation template"
    assert f"{said} for {team} says" in pushed.stderr
    assert created_calls(private_stack) == 0  # no CreateRepository call reached the ECR API
    assert "CreateRepository" not in pushed.stderr.replace("CreateRepositoryCreationTemplate", "")

    repo = ecr_api.describe_repositories(repositoryNames=[name])["repositories"][0]
    assert repo["imageTagMutability"] == "IMMUTABLE"
    tags = ecr_api.list_tags_for_resource(resourceArn=repo["repositoryArn"])["tags"]
    assert sorted((tag["Key"], tag["Value"]) for tag in tags) == [("note", 'a "quoted" value'), ("team", "payments")]
    lifecycle = json.loads(ecr_api.get_lifecycle_policy(repositoryName=name)["lifecyclePolicyText"])
    assert lifecycle["rules"][0]["selection"] == {
        "tagStatus": "any",
        "countType": "imageCountMoreThan",
        "countNumber": 5,
    }
    policy = json.loads(ecr_api.get_repository_policy(repositoryName=name)["policyText"])
    assert policy["Statement"][0]["Principal"] == {"AWS": [f"arn:aws:iam::{SECOND}:root"]}
    assert policy["Statement"][0]["Action"] == [
        "ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer",
    ]  # fmt: skip
    assert [image["imageTags"] for image in ecr_api.describe_images(repositoryName=name)["imageDetails"]] == [["1"]]
    assert private_stack.control("templates", {})["created"][-1]["repository"] == name


def test_push_create_and_copy_create_leave_creation_to_the_template(
    private_ecrtool: Run, private_stack: Any, ecr_api: Any, small: str, team: str
) -> None:
    pushed = private_ecrtool("push", small, "--repo", f"{team}/by-push", "--tag", "1", "--create")
    assert pushed.returncode == 0, pushed.stderr
    copied = private_ecrtool("copy", f"{team}/by-push:1", f"{team}/by-copy:1", "--create")
    assert copied.returncode == 0, copied.stderr
    assert created_calls(private_stack) == 0
    for name in (f"{team}/by-push", f"{team}/by-copy"):
        repo = ecr_api.describe_repositories(repositoryNames=[name])["repositories"][0]
        assert repo["imageTagMutability"] == "IMMUTABLE"
    # a name no template covers: --create is ecrtool's CreateRepository, as before
    other = f"plain-{uuid.uuid4().hex[:8]}"
    made = private_ecrtool("push", small, "--repo", other, "--tag", "1", "--create")
    assert made.returncode == 0, made.stderr
    assert created_calls(private_stack) == 1
    ecr_api.delete_repository(repositoryName=other, force=True)


def test_a_name_no_template_covers_is_refused_as_ecr_refuses_it(
    private_ecrtool: Run, private_stack: Any, small: str, team: str
) -> None:
    other = f"elsewhere-{uuid.uuid4().hex[:8]}/app"
    pushed = private_ecrtool("push", small, "--repo", other)
    assert pushed.returncode == 1
    assert pushed.stderr == (
        f"ecrtool: error: repository '{other}' does not exist in ca-west-1: create it with `ecrtool create {other}` "
        "or pass --create, or have a creation template create such repositories on push: "
        "`ecrtool template set PREFIX`\n"
    )
    # the registry itself, as docker push meets it: ECR's NAME_UNKNOWN
    password = private_stack.password()
    url = f"{private_stack.registry_url()}/v2/{other}/blobs/uploads/"
    refused = requests.post(url, auth=("AWS", password), timeout=30)
    assert refused.status_code == 404
    assert refused.json()["errors"][0]["code"] == "NAME_UNKNOWN"
    assert refused.json()["errors"][0]["message"] == (
        f"The repository with name '{other}' does not exist in the registry with id '123456789012'"
    )
    # a template's own name is no repository: `team-…` itself is not under `team-…/`
    own = requests.post(f"{private_stack.registry_url()}/v2/{team}/blobs/uploads/", auth=("AWS", password), timeout=30)
    assert own.status_code == 404


def test_template_list_and_delete(private_ecrtool: Run, team: str) -> None:
    listed = private_ecrtool("template", "list", "-o", "json")
    assert listed.returncode == 0, listed.stderr
    mine = next(item for item in json.loads(listed.stdout) if item["prefix"] == team)
    assert mine["image_tag_mutability"] == "IMMUTABLE"
    assert mine["lifecycle_keep"] == 5 and mine["pull_accounts"] == [SECOND]
    assert mine["tags"] == {"team": "payments", "note": 'a "quoted" value'}
    again = private_ecrtool("template", "set", team, "--lifecycle-keep", "9")  # set replaces it whole
    assert again.returncode == 0, again.stderr
    assert again.stderr.startswith(f"Replaced the creation template for {team}\n")
    assert "tags            mutable\n" in again.stdout and "pull granted to -\n" in again.stdout
    missing = private_ecrtool("template", "delete", "no-such-prefix")
    assert (missing.returncode, missing.stderr) == (
        1,
        "ecrtool: error: no repository creation template for prefix 'no-such-prefix': `ecrtool template list` "
        "lists them\n",
    )
