"""The local ECR's replication rules (scripts/localecr/replication.py): the configurations it refuses as ECR
does, which destinations a push goes to, and what a destination's registry policy lets another account do."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))

from localecr.face import Scope  # noqa: E402
from localecr.replication import delay_of, destinations_for, policy_allows, validate  # noqa: E402

A, B = "123456789012", "210987654321"
SOURCE = Scope(A, "ca-west-1")
RESOURCE = f"arn:aws:ecr:ca-west-1:{B}:repository/app"


def _rule(*destinations: tuple[str, str], filters: list[object] | None = None) -> dict[str, object]:
    rule: dict[str, object] = {"destinations": [{"region": r, "registryId": a} for r, a in destinations]}
    if filters is not None:
        rule["repositoryFilters"] = filters
    return rule


def _refusal(config: object) -> tuple[str, str] | None:
    answer = validate(config, SOURCE)
    if answer is None:
        return None
    doc = json.loads(answer.body)
    return doc["__type"], doc["message"]


def test_a_configuration_ecr_takes_is_taken() -> None:
    assert _refusal({"rules": []}) is None
    prefix = [{"filter": "prod/", "filterType": "PREFIX_MATCH"}]
    assert _refusal({"rules": [_rule(("us-east-1", A), ("ca-west-1", B), filters=prefix)]}) is None


@pytest.mark.parametrize(
    ("config", "code", "words"),
    [
        ({"rules": [_rule(("ca-west-1", A))]}, "InvalidParameterException", "cannot be the same as the source"),
        ({"rules": [_rule(("us-east-1", A))] * 11}, "InvalidParameterException", "less than or equal to 10"),
        ({"rules": [{"destinations": []}]}, "InvalidParameterException", "greater than or equal to 1"),
        ({"rules": [_rule(("us-east-1", "12"))]}, "ValidationException", "[0-9]{12}"),
        ({"rules": [_rule(("eu-west-1", A))]}, "InvalidParameterException", "its own registries"),
        (
            {"rules": [_rule(("us-east-1", A), filters=[{"filter": "prod", "filterType": "REGEX"}])]},
            "ValidationException",
            "[PREFIX_MATCH]",
        ),
        (
            {"rules": [_rule(("us-east-1", A), filters=[{"filter": "P", "filterType": "PREFIX_MATCH"}])]},
            "ValidationException",
            "length 2-256",
        ),
        ({"rules": [_rule(("us-east-1", A), filters=[])]}, "InvalidParameterException", "between 1 and 100"),
        ({}, "InvalidParameterException", "'rules' is required"),
    ],
)
def test_a_configuration_ecr_refuses_is_refused_in_its_words(config: object, code: str, words: str) -> None:
    refusal = _refusal(config)
    assert refusal is not None and refusal[0] == code and words in refusal[1]


@pytest.mark.parametrize(
    ("config", "where"),
    [
        ([], "replicationConfiguration"),
        ({"rules": {"destinations": []}}, "replicationConfiguration.rules"),
        ({"rules": ["rule"]}, "rules.1"),
        ({"rules": [{"destinations": {"region": "us-east-1"}}]}, "rules.1.destinations"),
        ({"rules": [{"destinations": ["us-east-1"]}]}, "rules.1.destinations"),
        ({"rules": [{"destinations": [None]}]}, "rules.1.destinations"),
        ({"rules": [{"destinations": [{"region": 1, "registryId": A}]}]}, "rules.1.destinations.region"),
        (
            {"rules": [{"destinations": [{"region": "us-east-1", "registryId": [A]}]}]},
            "rules.1.destinations.registryId",
        ),
        ({"rules": [_rule(("us-east-1", A), filters=["prod/"])]}, "rules.1.repositoryFilters"),
        ({"rules": [_rule(("us-east-1", A), filters=[[]])]}, "rules.1.repositoryFilters"),
        ({"rules": [{**_rule(("us-east-1", A)), "repositoryFilters": "prod/"}]}, "rules.1.repositoryFilters"),
        (
            {"rules": [_rule(("us-east-1", A), filters=[{"filter": ["pr"], "filterType": "PREFIX_MATCH"}])]},
            "rules.1.repositoryFilters.filter",
        ),
        (
            {"rules": [_rule(("us-east-1", A), filters=[{"filter": "prod", "filterType": {}}])]},
            "rules.1.repositoryFilters.filterType",
        ),
    ],
)
def test_a_configuration_of_the_wrong_shape_is_a_validation_error_not_a_crash(config: object, where: str) -> None:
    refusal = _refusal(config)
    assert refusal is not None and refusal[0] == "ValidationException" and f"'{where}'" in refusal[1]


def test_a_push_goes_once_to_each_destination_of_the_rules_covering_its_repository() -> None:
    config = {
        "rules": [
            _rule(("us-east-1", A), filters=[{"filter": "prod/", "filterType": "PREFIX_MATCH"}]),
            _rule(("ca-west-1", B), ("us-east-1", A)),
        ]
    }
    assert destinations_for(config, "prod/api") == [Scope(A, "us-east-1"), Scope(B, "ca-west-1")]
    assert destinations_for({"rules": config["rules"][:1]}, "dev/api") == []


def _policy(effect: str, principal: object, actions: object, resource: object = "*") -> dict[str, object]:
    return {"Statement": [{"Effect": effect, "Principal": principal, "Action": actions, "Resource": resource}]}


@pytest.mark.parametrize(
    "principal", [{"AWS": f"arn:aws:iam::{A}:root"}, {"AWS": A}, {"AWS": [B, A]}, "*", {"AWS": "*"}]
)
def test_the_destinations_registry_policy_lets_the_source_account_replicate(principal: object) -> None:
    policy = _policy("Allow", principal, ["ecr:CreateRepository", "ecr:ReplicateImage"])
    assert policy_allows(policy, A, "ecr:ReplicateImage", RESOURCE)
    assert policy_allows(policy, A, "ecr:CreateRepository", RESOURCE)


def test_without_the_account_the_action_or_the_resource_nothing_is_allowed_and_a_deny_wins() -> None:
    assert not policy_allows({}, A, "ecr:ReplicateImage", RESOURCE)
    assert not policy_allows(_policy("Allow", {"AWS": B}, "ecr:ReplicateImage"), A, "ecr:ReplicateImage", RESOURCE)
    only_create = _policy("Allow", {"AWS": A}, "ecr:CreateRepository")
    assert not policy_allows(only_create, A, "ecr:ReplicateImage", RESOURCE)
    other_region = _policy("Allow", {"AWS": A}, "ecr:*", f"arn:aws:ecr:us-east-1:{B}:repository/*")
    assert not policy_allows(other_region, A, "ecr:ReplicateImage", RESOURCE)
    denied = _policy("Allow", "*", "ecr:*")
    denied["Statement"].append({"Effect": "Deny", "Principal": {"AWS": A}, "Action": "ecr:ReplicateImage"})  # type: ignore[attr-defined]
    assert not policy_allows(denied, A, "ecr:ReplicateImage", RESOURCE)


def test_the_delay_is_seconds_from_the_environment_or_two() -> None:
    assert delay_of(None) == 2.0 and delay_of("0.5") == 0.5 and delay_of("-3") == 0.0 and delay_of("soon") == 2.0
