"""The local ECR's repository creation templates (scripts/localecr/templates.py): a template of the wrong
shape is ECR's ValidationException, and a repository a template creates has its policies or is not kept."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))

from localecr.answer import Answer  # noqa: E402
from localecr.face import Scope  # noqa: E402
from localecr.lifecycle import Lifecycle  # noqa: E402
from localecr.templates import Templates  # noqa: E402

SCOPE = Scope("123456789012", "ca-west-1")
LIFECYCLE = json.dumps({"rules": [{"rulePriority": 1, "description": "expire untagged images", "selection": {
    "tagStatus": "untagged", "countType": "sinceImagePushed", "countUnit": "days", "countNumber": 7}, "action": {
    "type": "expire"}}]})
REFUSED_LIFECYCLE = json.dumps({"rules": [], "description": "a policy without rules, which ECR refuses"})
POLICY = json.dumps({"Version": "2012-10-17", "Statement": []})


class _AlreadyExists(Exception):
    pass


class _Client:
    """moto's ECR as the template sees it: what was done, and a policy call that may be refused."""

    class exceptions:  # noqa: N801 - as boto3's client names it
        RepositoryAlreadyExistsException = _AlreadyExists

    def __init__(self, refuse: str = "") -> None:
        self.refuse = refuse
        self.repositories: set[str] = set()
        self.calls: list[str] = []

    def get_registry_scanning_configuration(self) -> dict[str, Any]:
        return {"scanningConfiguration": {"rules": []}}

    def create_repository(self, repositoryName: str, **_: Any) -> None:  # noqa: N803
        self.calls.append("CreateRepository")
        self.repositories.add(repositoryName)

    def delete_repository(self, repositoryName: str, force: bool = False) -> None:  # noqa: N803
        self.calls.append("DeleteRepository")
        self.repositories.discard(repositoryName)

    def _policy(self, action: str) -> None:
        self.calls.append(action)
        if action == self.refuse:
            raise ValueError(f"{action} refused")

    def put_lifecycle_policy(self, **_: Any) -> None:
        self._policy("PutLifecyclePolicy")

    def set_repository_policy(self, **_: Any) -> None:
        self._policy("SetRepositoryPolicy")


class _Mirror:
    def create_repository(self, repo: str, forward: Callable[[], Answer]) -> Answer:
        return forward()

    def delete_repository(self, repo: str, forward: Callable[[], Answer]) -> Answer:
        return forward()


class _Settings:
    def __init__(self) -> None:
        self.recorded: list[str] = []

    def record(self, scope: Scope, action: str, params: dict[str, Any]) -> None:
        self.recorded.append(action)

    def all(self) -> list[tuple[Scope, str, dict[str, Any]]]:
        return []


class _Bridge:
    def __init__(self, client: _Client, folder: Path) -> None:
        self.client = client
        self.mirror = _Mirror()
        self.settings = _Settings()
        exists = lambda scope, repo: repo in client.repositories  # noqa: E731
        self.lifecycle = Lifecycle(folder / "lifecycle.json", exists, self.settings)

    def ecr(self, account: str, region: str) -> _Client:
        return self.client


def _templates(tmp_path: Path, refuse: str = "") -> tuple[Templates, _Bridge]:
    bridge = _Bridge(_Client(refuse), tmp_path)
    templates = Templates(tmp_path / "templates.json", bridge)
    lifecycle = REFUSED_LIFECYCLE if refuse == "PutLifecyclePolicy" else LIFECYCLE  # the bridge's own check
    answer = templates.answer(
        "CreateRepositoryCreationTemplate",
        SCOPE,
        {"prefix": "team", "appliedFor": ["CREATE_ON_PUSH"], "lifecyclePolicy": lifecycle, "repositoryPolicy": POLICY},
    )
    assert answer.status == 200
    return templates, bridge


def _refusal(tmp_path: Path, **fields: object) -> tuple[str, str] | None:
    templates = Templates(tmp_path / "templates.json", _Bridge(_Client(), tmp_path))
    params = {"prefix": "team", "appliedFor": ["CREATE_ON_PUSH"], **fields}
    answer = templates.answer("CreateRepositoryCreationTemplate", SCOPE, params)
    if answer.status == 200:
        return None
    doc = json.loads(answer.body)
    return doc["__type"], doc["message"]


@pytest.mark.parametrize(
    ("fields", "where"),
    [
        ({"appliedFor": "CREATE_ON_PUSH"}, "appliedFor"),
        ({"appliedFor": [["CREATE_ON_PUSH"]]}, "appliedFor"),
        ({"resourceTags": ["team=a"]}, "resourceTags"),
        ({"resourceTags": [{"Key": "team", "Value": 1}]}, "resourceTags"),
        ({"resourceTags": {"Key": "team", "Value": "a"}}, "resourceTags"),
        ({"description": ["x"]}, "description"),
        ({"repositoryPolicy": {"Statement": []}}, "repositoryPolicy"),
        ({"lifecyclePolicy": {"rules": []}}, "lifecyclePolicy"),
        ({"imageTagMutability": ["MUTABLE"]}, "imageTagMutability"),
        ({"encryptionConfiguration": "AES256"}, "encryptionConfiguration"),
        ({"imageTagMutabilityExclusionFilters": ["v*"]}, "imageTagMutabilityExclusionFilters"),
    ],
)
def test_a_field_of_the_wrong_type_is_a_validation_error_not_a_crash(
    tmp_path: Path, fields: dict[str, object], where: str
) -> None:
    refusal = _refusal(tmp_path, **fields)
    assert refusal is not None and refusal[0] == "ValidationException" and f"'{where}'" in refusal[1]


def test_a_template_of_the_right_shape_is_taken(tmp_path: Path) -> None:
    assert _refusal(tmp_path, resourceTags=[{"Key": "team", "Value": "a"}], description="d") is None


def test_a_repository_made_on_push_gets_the_templates_policies(tmp_path: Path) -> None:
    templates, bridge = _templates(tmp_path)
    assert templates.create_on_push(SCOPE, "team/app", "POST", "blobs")
    assert bridge.client.repositories == {"team/app"}
    assert bridge.settings.recorded == ["CreateRepository", "SetRepositoryPolicy"]
    kept = bridge.lifecycle.answer("GetLifecyclePolicy", SCOPE, {"repositoryName": "team/app"})
    assert json.loads(kept.body)["lifecyclePolicyText"] == LIFECYCLE  # kept by the bridge, not moto (lifecycle.py)
    assert [m["repository"] for m in templates.made] == ["team/app"]


@pytest.mark.parametrize("refused", ["PutLifecyclePolicy", "SetRepositoryPolicy"])
def test_a_policy_refused_after_creation_removes_the_half_made_repository(tmp_path: Path, refused: str) -> None:
    templates, bridge = _templates(tmp_path, refuse=refused)
    assert not templates.create_on_push(SCOPE, "team/app", "PUT", "manifests")  # the push is refused
    assert bridge.client.repositories == set()
    assert bridge.client.calls[-1] == "DeleteRepository"
    assert bridge.settings.recorded == []
    assert templates.made == []
    assert "team/app" not in (tmp_path / "lifecycle.json").read_text()  # nor its lifecycle policy
