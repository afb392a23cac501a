"""Replication as values (model/replication.py): what `--to` and `--filter` accept, the rules ECR's limits
allow, which destinations a repository replicates to, and the registry policy statement a cross-account
destination needs, built so that no input changes the policy's structure."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ecrtool.model.errors import InvalidInput
from ecrtool.model.replication import (
    Destination,
    ReplicationConfig,
    Rule,
    configured,
    merged_policy,
    new_rule,
    parse_destination,
    replication_statement,
    rules_from_api,
    validate_filter,
)

A, B = "123456789012", "210987654321"
SOURCE = (A, "ca-west-1")


def test_a_destination_is_a_region_of_this_account_or_region_colon_account() -> None:
    assert parse_destination("us-east-1", A) == Destination("us-east-1", A)
    assert parse_destination(f"ca-west-1:{B}", A) == Destination("ca-west-1", B)
    assert str(Destination("ca-west-1", B)) == f"ca-west-1:{B}"


@pytest.mark.parametrize("text", ["", "us-east-1:", "us_east_1", "us-east-1:12345", f"{B}:us-east-1", "a:b:c"])
def test_a_malformed_destination_is_refused_naming_the_form(text: str) -> None:
    with pytest.raises(InvalidInput, match="REGION|region|12 digits"):
        parse_destination(text, A)


@pytest.mark.parametrize("prefix", ["prod", "team/", "base-images/x", "a.b_c-d"])
def test_filters_are_ecrs_repository_prefixes(prefix: str) -> None:
    assert validate_filter(prefix) == prefix


@pytest.mark.parametrize("prefix", ["p", "Prod", "a b", "x" * 257, "../etc", "a//b"])
def test_a_filter_ecr_would_refuse_is_refused_first(prefix: str) -> None:
    with pytest.raises(InvalidInput, match="--filter"):
        validate_filter(prefix)


def test_a_rule_never_replicates_a_registry_to_itself_and_names_each_destination_once() -> None:
    with pytest.raises(InvalidInput, match="cannot replicate to itself"):
        new_rule([Destination("ca-west-1", A)], [], SOURCE)
    rule = new_rule([Destination("us-east-1", A), Destination("us-east-1", A)], ["prod", "prod"], SOURCE)
    assert rule == Rule((Destination("us-east-1", A),), ("prod",))
    with pytest.raises(InvalidInput, match="--to"):
        new_rule([], [], SOURCE)


def test_set_replaces_the_rules_and_add_keeps_them_up_to_ecrs_ten() -> None:
    one = Rule((Destination("us-east-1", A),))
    two = Rule((Destination("ca-west-1", B),), ("prod",))
    current = ReplicationConfig(A, "ca-west-1", (one,))
    assert configured(current, two, add=False).rules == (two,)
    assert configured(current, two, add=True).rules == (one, two)
    full = ReplicationConfig(A, "ca-west-1", (one,) * 10)
    with pytest.raises(InvalidInput, match="at most 10 replication rules"):
        configured(full, two, add=True)
    many = Rule(tuple(Destination(f"us-east-{n}", B) for n in range(26)))
    with pytest.raises(InvalidInput, match="at most 25 destinations"):
        configured(current, many, add=False)


def test_a_repository_replicates_to_every_destination_of_each_rule_covering_it_once() -> None:
    east, west_b = Destination("us-east-1", A), Destination("ca-west-1", B)
    config = ReplicationConfig(A, "ca-west-1", (Rule((east,), ("prod/",)), Rule((west_b, east))))
    assert config.destinations_for("prod/api") == [east, west_b]
    assert config.destinations_for("dev/api") == [west_b, east]
    only = ReplicationConfig(A, "ca-west-1", (Rule((east,), ("prod/",)),))
    assert only.destinations_for("dev/api") == [] and not only.covers("production")


def test_rules_go_to_the_api_and_come_back_the_same() -> None:
    rules = (Rule((Destination("us-east-1", A), Destination("ca-west-1", B)), ("prod/", "base")),)
    doc = ReplicationConfig(A, "ca-west-1", rules).to_api()
    assert doc["rules"][0]["repositoryFilters"] == [
        {"filter": "prod/", "filterType": "PREFIX_MATCH"},
        {"filter": "base", "filterType": "PREFIX_MATCH"},
    ]
    assert rules_from_api(json.loads(json.dumps(doc))) == rules
    assert rules_from_api({"rules": []}) == () and rules_from_api(None) == ()


def test_the_policy_statement_is_ecrs_own_example_for_cross_account_replication() -> None:
    assert replication_statement(A, Destination("ca-west-1", B)) == {
        "Sid": f"EcrtoolReplicationFrom{A}",
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:aws:iam::{A}:root"},
        "Action": ["ecr:CreateRepository", "ecr:ReplicateImage"],
        "Resource": f"arn:aws:ecr:ca-west-1:{B}:repository/*",
    }


def test_the_statement_joins_the_policy_there_and_a_second_time_changes_nothing() -> None:
    dest = Destination("ca-west-1", B)
    other = {"Sid": "Theirs", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:root"},
             "Action": "ecr:ReplicateImage", "Resource": "*"}  # fmt: skip
    text = merged_policy(json.dumps({"Version": "2012-10-17", "Statement": other}), A, dest)
    assert text is not None
    doc = json.loads(text)
    assert doc["Statement"] == [other, replication_statement(A, dest)]
    assert merged_policy(text, A, dest) is None
    stale = json.dumps({"Statement": [{**replication_statement(A, dest), "Action": "ecr:ReplicateImage"}]})
    assert json.loads(merged_policy(stale, A, dest) or "")["Statement"] == [replication_statement(A, dest)]
    with pytest.raises(InvalidInput, match="not JSON"):
        merged_policy("{", A, dest)


@given(account=st.text(), region=st.text(), dest_account=st.text())
def test_no_account_or_region_text_changes_the_policys_structure(account: str, region: str, dest_account: str) -> None:
    try:
        text = merged_policy(None, account, Destination(region, dest_account))
    except InvalidInput:
        return
    assert text is not None
    doc = json.loads(text)
    assert set(doc) == {"Version", "Statement"} and len(doc["Statement"]) == 1
    statement = doc["Statement"][0]
    assert set(statement) == {"Sid", "Effect", "Principal", "Action", "Resource"}
    assert statement["Principal"] == {"AWS": f"arn:aws:iam::{account}:root"}
    assert statement["Resource"] == f"arn:aws:ecr:{region}:{dest_account}:repository/*"
    assert account.isdigit() and len(account) == 12 and '"' not in region


@given(
    existing=st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(),
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
        max_leaves=12,
    )
)
def test_whatever_policy_is_there_the_result_is_json_holding_the_statement_or_a_refusal(existing: object) -> None:
    dest = Destination("ca-west-1", B)
    try:
        text = merged_policy(json.dumps(existing), A, dest)
    except InvalidInput:
        return
    if text is None:
        return
    assert replication_statement(A, dest) in json.loads(text)["Statement"]
