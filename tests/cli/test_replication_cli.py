"""`ecrtool replication` on the command line: bad input refused before AWS is asked, and rules shown and set
through ECR's API (moto's, which holds one rule)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

ACCOUNT = "123456789012"  # moto's default account
Invoke = Callable[..., Any]


@pytest.mark.parametrize(
    "args",
    [
        ["set"],
        ["set", "--to", "us_east_1"],
        ["set", "--to", "us-east-1:123"],
        ["set", "--to", "us-east-1:"],
        ["set", "--to", "us-east-1", "--filter", "P"],
        ["set", "--to", "us-east-1", "--filter", "a b"],
        ["backfill", "Trees"],
        ["backfill", "--filter", "x"],
        ["backfill", "-j", "0"],
        ["status", "Trees:1"],
        ["status", "trees@sha256:abc"],
        ["status", f"{ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com/trees:1"],
    ],
    ids=repr,
)
def test_bad_input_is_one_line_and_exit_2_before_aws_is_asked(
    invoke: Invoke, forbid_backends: list[str], args: list[str]
) -> None:
    result = invoke("replication", *args)
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("ecrtool: error: ") and not forbid_backends


def test_a_rule_is_set_and_shown_and_a_registry_cannot_replicate_to_itself(invoke: Invoke, aws: Any) -> None:
    empty = invoke("replication", "show")
    assert empty.exit_code == 0, empty.output
    assert f"No replication rules in {ACCOUNT}'s registry in ca-west-1." in empty.stdout

    done = invoke("replication", "set", "--to", "us-east-1", "--filter", "prod/", "--filter", "base")
    assert done.exit_code == 0, done.output
    assert f"1     us-east-1:{ACCOUNT}  prod/, base" in done.stdout
    assert "`ecrtool replication backfill` copies the images already there" in done.stderr
    assert aws.describe_registry()["replicationConfiguration"]["rules"] == [
        {
            "destinations": [{"region": "us-east-1", "registryId": ACCOUNT}],
            "repositoryFilters": [
                {"filter": "prod/", "filterType": "PREFIX_MATCH"},
                {"filter": "base", "filterType": "PREFIX_MATCH"},
            ],
        }
    ]
    shown = invoke("replication", "show", "-o", "json")
    assert json.loads(shown.stdout) == {
        "registryId": ACCOUNT,
        "region": "ca-west-1",
        "rules": [{"destinations": [f"us-east-1:{ACCOUNT}"], "filters": ["prod/", "base"]}],
    }
    itself = invoke("replication", "set", "--to", "ca-west-1")
    assert itself.exit_code == 2 and "cannot replicate to itself" in itself.stderr


def test_another_accounts_destination_needs_a_profile_for_its_registry_or_skip_policy(invoke: Invoke, aws: Any) -> None:
    other = "210987654321"
    refused = invoke("replication", "set", "--to", f"us-east-1:{other}")
    assert refused.exit_code == 2
    assert f'[registries."{other}.dkr.ecr.us-east-1.amazonaws.com"] profile = NAME' in refused.stderr
    assert aws.describe_registry()["replicationConfiguration"]["rules"] == []
    left = invoke("replication", "set", "--to", f"us-east-1:{other}", "--skip-policy")
    assert left.exit_code == 0, left.output
    assert f"us-east-1:{other}: its owner's registry policy must allow {ACCOUNT} ecr:ReplicateImage" in left.stderr


def test_backfill_without_rules_says_how_to_make_one(invoke: Invoke, aws: Any) -> None:
    result = invoke("replication", "backfill")
    assert result.exit_code == 1
    assert "has no replication rules: `ecrtool replication set --to REGION` makes one" in result.stderr
