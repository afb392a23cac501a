"""The local ECR's lifecycle policies (scripts/localecr/lifecycle.py): ECR's current schema taken (storage
classes, transition, sinceImagePulled, sinceImageTransitioned), what ECR refuses refused with its message
shape, and policies kept per repository across a restart of the bridge."""

from __future__ import annotations

import copy
import json
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))

from localecr.face import Scope  # noqa: E402
from localecr.lifecycle import PREFIX, InvalidPolicy, Lifecycle, validate  # noqa: E402

SCOPE = Scope("123456789012", "eu-west-3")
ARCHIVE = {
    "rules": [
        {"rulePriority": 1, "description": "keep 5 releases",
         "selection": {"tagStatus": "tagged", "tagPatternList": ["v*"], "countType": "imageCountMoreThan",
                       "countNumber": 5},
         "action": {"type": "expire"}},
        {"rulePriority": 2, "selection": {"tagStatus": "any", "countType": "sinceImagePulled", "countUnit": "days",
                                          "countNumber": 90},
         "action": {"type": "transition", "targetStorageClass": "archive"}},
        {"rulePriority": 3, "selection": {"tagStatus": "any", "storageClass": "archive",
                                          "countType": "sinceImageTransitioned", "countUnit": "days",
                                          "countNumber": 365},
         "action": {"type": "expire"}},
    ]
}  # fmt: skip


def _with(change: dict[str, Any], rule: int = 0, where: str = "selection", drop: tuple[str, ...] = ()) -> str:
    doc = copy.deepcopy(ARCHIVE)
    part = doc["rules"][rule] if where == "rule" else doc["rules"][rule][where]
    part.update(change)
    for key in drop:
        part.pop(key)
    return json.dumps(doc)


def _reason(text: str) -> str:
    with pytest.raises(InvalidPolicy) as err:
        validate(text)
    message = str(err.value)
    assert message.startswith(PREFIX) and message.endswith("'")
    return message[len(PREFIX) : -1]


def test_the_archive_schema_is_taken() -> None:
    validate(json.dumps(ARCHIVE))


@pytest.mark.parametrize(
    "text",
    [
        # the classic schema, prefixes or patterns, an any rule alone, priorities not in sequence
        _with({"tagPrefixList": ["release-", "v"]}, drop=("tagPatternList",)),
        json.dumps({"rules": [{"rulePriority": 7, "selection": {"tagStatus": "untagged", "countType":
                   "sinceImagePushed", "countUnit": "days", "countNumber": 14}, "action": {"type": "expire"}}]}),
        json.dumps({"rules": [{"rulePriority": 10, "selection": {"tagStatus": "any", "countType":
                   "imageCountMoreThan", "countNumber": 1}, "action": {"type": "expire"}}]}),
        # a tagged transition of standard images after their push, four wildcards in a pattern
        _with({"tagPatternList": ["*a*b*c*"], "countType": "sinceImagePushed", "countUnit": "days"}, rule=0)
        .replace('"action": {"type": "expire"}}, {"rulePriority": 2', '"action": {"type": "transition", '
                 '"targetStorageClass": "archive"}}, {"rulePriority": 2'),
        # the transition rule listed last: priorities decide, not the order of the list
        json.dumps({"rules": list(reversed(ARCHIVE["rules"]))}),
    ],
)  # fmt: skip
def test_valid_policies_are_taken(text: str) -> None:
    validate(text)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("{not json" + " " * 100, "Could not map policyString into LifecyclePolicy."),
        (json.dumps({"rule": ARCHIVE["rules"]}), 'object has missing required properties (["rules"])'),
        (json.dumps({"rules": [], "x": "y" * 100}), "object instance has properties which are not allowed by the "
                                                   'schema: (["x"])'),
        (_with({"rulePriority": 0}, where="rule"), "numeric instance is lower than the required minimum "
                                                   "(minimum: 1, found: 0)"),
        (_with({"rulePriority": "1"}, where="rule"), 'instance type (string) does not match any allowed primitive '
                                                     'type (allowed: ["integer"])'),
        (_with({"countNumber": 0}), "numeric instance is lower than the required minimum (minimum: 1, found: 0)"),
        (_with({"tagStatus": "TAGGED"}), 'instance value ("TAGGED") not found in enum (possible values: '
                                         '["any", "tagged", "untagged"])'),
        (_with({"storageClass": "glacier"}), 'instance value ("glacier") not found in enum (possible values: '
                                             '["archive", "standard"])'),
        (_with({"type": "delete"}, where="action"), 'instance value ("delete") not found in enum'),
        (_with({"targetStorageClass": "standard"}, rule=1, where="action"), 'instance value ("standard") not found'),
        (_with({}, where="rule", drop=("action",)), 'object has missing required properties (["action"])'),
        (_with({"countUnit": "weeks"}, rule=1), 'instance value ("weeks") not found in enum'),
        (_with({"tagPrefixList": ["v"]}), "has both a tagPrefixList and a tagPatternList"),
        (_with({}, drop=("tagPatternList",)), "has tagStatus 'tagged': it needs a tagPrefixList or a tagPatternList"),
        (_with({"tagPrefixList": ["v"]}, rule=1), "has tagStatus 'any': a tagPrefixList or tagPatternList is only"),
        (_with({"tagPatternList": ["*a*b*c*d*"]}), "has more than 4 wildcards"),
        (_with({}, rule=1, drop=("countUnit",)), "countType 'sinceImagePulled': it needs countUnit 'days'"),
        (_with({"countUnit": "days"}), "countType 'imageCountMoreThan': countUnit is only for"),
        (_with({}, rule=2, drop=("storageClass",)), "sinceImageTransitioned': it needs storageClass 'archive'"),
        (_with({"storageClass": "standard"}, rule=2), "its storageClass can only be 'archive'"),
        (_with({"storageClass": "archive"}, rule=0), "countType 'imageCountMoreThan': its storageClass can only be "
                                                     "'standard'"),
        (_with({}, rule=1, where="action", drop=("targetStorageClass",)), "action type 'transition': it needs "
                                                                          "targetStorageClass 'archive'"),
        (_with({"targetStorageClass": "archive"}, where="action"), "targetStorageClass is only for 'transition'"),
        (_with({"type": "transition", "targetStorageClass": "archive"}, rule=2, where="action"),
         "only standard images move to archive"),
        (_with({"countNumber": 89}, rule=2), "archived images are kept for at least 90 days"),
        (_with({"rulePriority": 1}, rule=1, where="rule"), "rulePriority 1 is given to more than one rule"),
        (_with({"rulePriority": 9}, rule=0, where="rule"), "the rule with priority 2 has tagStatus 'any': it must "
                                                           "have the highest rulePriority of the standard rules (9)"),
        (json.dumps({"rules": [{"rulePriority": p, "selection": {"tagStatus": "untagged", "countType":
                    "sinceImagePushed", "countUnit": "days", "countNumber": 1}, "action": {"type": "expire"}}
                    for p in (1, 2)]}), "both select untagged standard images"),
    ],
)  # fmt: skip
def test_what_ecr_refuses_is_refused_with_its_message(text: str, reason: str) -> None:
    assert reason in _reason(text)


@pytest.mark.parametrize(
    ("size", "bound"), [(99, "greater than or equal to 100"), (30721, "less than or equal to 30720")]
)
def test_a_text_too_short_or_too_long_is_refused(size: int, bound: str) -> None:
    with pytest.raises(InvalidPolicy, match=f"Member must have length {bound}"):
        validate(" " * size)


@given(st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=5),
                    lambda inner: st.lists(inner, max_size=3)
                    | st.dictionaries(st.text(max_size=12), inner, max_size=4),
                    max_leaves=12))  # fmt: skip
def test_any_json_is_taken_or_refused_never_a_crash(doc: Any) -> None:
    for candidate in (doc, {"rules": [doc]}, {"rules": [{**ARCHIVE["rules"][0], "selection": doc}]}):
        text = json.dumps(candidate).ljust(100)
        try:
            validate(text)
        except InvalidPolicy as err:
            assert str(err).startswith("Invalid parameter at 'LifecyclePolicyText' failed to satisfy constraint:")


def _store(folder: Path, repositories: set[str]) -> Lifecycle:
    class Settings:
        def all(self) -> list[tuple[Scope, str, dict[str, Any]]]:
            return []

    return Lifecycle(folder / "lifecycle.json", lambda scope, repo: repo in repositories, Settings())


def _call(store: Lifecycle, action: str, **params: Any) -> tuple[int, dict[str, Any]]:
    answer = store.answer(action, SCOPE, params)
    return answer.status, json.loads(answer.body)


def test_a_policy_is_kept_per_repository_and_outlives_a_restart(tmp_path: Path) -> None:
    text = json.dumps(ARCHIVE)
    store = _store(tmp_path, {"app", "other"})
    assert _call(store, "PutLifecyclePolicy", repositoryName="app", lifecyclePolicyText=text)[0] == 200
    again = _store(tmp_path, {"app", "other"})  # the bridge started again
    status, doc = _call(again, "GetLifecyclePolicy", repositoryName="app")
    assert status == 200 and doc["lifecyclePolicyText"] == text and doc["registryId"] == SCOPE.account
    status, doc = _call(again, "GetLifecyclePolicy", repositoryName="other")
    assert status == 400 and doc == {
        "__type": "LifecyclePolicyNotFoundException",
        "message": "Lifecycle policy does not exist for the repository with name 'other' in the registry with id "
        "'123456789012'",
    }
    assert _call(again, "DeleteLifecyclePolicy", repositoryName="app")[1]["lifecyclePolicyText"] == text
    assert _call(_store(tmp_path, {"app"}), "GetLifecyclePolicy", repositoryName="app")[0] == 400


def test_a_missing_repository_and_an_invalid_policy_are_refused(tmp_path: Path) -> None:
    store = _store(tmp_path, {"app"})
    status, doc = _call(store, "PutLifecyclePolicy", repositoryName="gone", lifecyclePolicyText=json.dumps(ARCHIVE))
    assert (status, doc["__type"]) == (400, "RepositoryNotFoundException")
    assert doc["message"] == "The repository with name 'gone' does not exist in the registry with id '123456789012'"
    invalid = _with({"countNumber": 0})
    status, doc = _call(store, "PutLifecyclePolicy", repositoryName="app", lifecyclePolicyText=invalid)
    assert (status, doc["__type"]) == (400, "InvalidParameterException")
    assert _call(store, "GetLifecyclePolicy", repositoryName="app")[0] == 400  # nothing was kept


def test_a_deleted_repository_takes_its_policy_with_it(tmp_path: Path) -> None:
    store = _store(tmp_path, {"app"})
    _call(store, "PutLifecyclePolicy", repositoryName="app", lifecyclePolicyText=json.dumps(ARCHIVE))
    store.forget(SCOPE, "app")
    assert _call(store, "GetLifecyclePolicy", repositoryName="app")[1]["__type"] == "LifecyclePolicyNotFoundException"
