"""`ecrtool grant`, `revoke` and `policy show` through click, on moto's ECR: the policy merged and shown as a
table, -o json the document itself, a foreign statement kept byte for byte, the registry policy likewise."""

from __future__ import annotations

import json
from typing import Any

ACCOUNT_B = "210987654321"
FOREIGN = {
    "Sid": "HandWritten",
    "Effect": "Allow",
    "Principal": {"AWS": "arn:aws:iam::123456789012:root"},
    "Action": ["ecr:DescribeImages"],
}


def test_grant_merges_shows_and_revoke_keeps_foreign_statements(aws: Any, invoke: Any) -> None:
    aws.create_repository(repositoryName="shared/app")
    aws.set_repository_policy(
        repositoryName="shared/app", policyText=json.dumps({"Version": "2008-10-17", "Statement": [FOREIGN]})
    )
    granted = invoke("grant", "shared/app", "--pull", "--push", "--account", ACCOUNT_B)
    assert granted.exit_code == 0, granted.stderr
    assert "repository policy of shared/app (3 statement(s)" in granted.stdout
    assert "HandWritten " in granted.stdout and f"EcrtoolPullAccount{ACCOUNT_B} *" in granted.stdout
    assert f"arn:aws:iam::{ACCOUNT_B}:root" in granted.stdout
    assert f"EcrtoolPushAccount{ACCOUNT_B}: written" in granted.stderr

    again = invoke("grant", "shared/app", "--pull", "--account", ACCOUNT_B, "-o", "json")
    assert again.exit_code == 0
    document = json.loads(again.stdout)
    assert [s["Sid"] for s in document["Statement"]] == [
        "HandWritten",
        f"EcrtoolPullAccount{ACCOUNT_B}",
        f"EcrtoolPushAccount{ACCOUNT_B}",
    ]
    assert document["Version"] == "2008-10-17"

    revoked = invoke("revoke", "shared/app", "--pull", "--push", "--account", ACCOUNT_B, "-o", "json")
    assert revoked.exit_code == 0, revoked.stderr
    assert json.loads(revoked.stdout)["Statement"] == [FOREIGN]
    stored = json.loads(aws.get_repository_policy(repositoryName="shared/app")["policyText"])
    assert stored["Statement"] == [FOREIGN]

    shown = invoke("policy", "show", "shared/app", "-o", "json")
    assert json.loads(shown.stdout)["Statement"] == [FOREIGN]


def test_revoking_the_last_statement_deletes_the_policy(aws: Any, invoke: Any) -> None:
    aws.create_repository(repositoryName="solo")
    assert invoke("grant", "solo", "--pull", "--org", "o-abcdefghij").exit_code == 0
    revoked = invoke("revoke", "solo", "--pull", "--org", "o-abcdefghij")
    assert revoked.exit_code == 0, revoked.stderr
    assert revoked.stdout == "solo: no repository policy (only its own account's IAM policies give access)\n"
    assert invoke("policy", "show", "solo", "-o", "json").stdout == "null\n"


def test_a_lambda_grant_without_a_source_arn_is_the_registrys_own_account(aws: Any, invoke: Any) -> None:
    aws.create_repository(repositoryName="fn")
    done = invoke("grant", "fn", "--pull", "--lambda", "-o", "json")
    assert done.exit_code == 0, done.stderr
    [statement] = json.loads(done.stdout)["Statement"]
    assert statement["Principal"] == {"Service": "lambda.amazonaws.com"}
    assert statement["Condition"] == {"StringEquals": {"aws:SourceAccount": "123456789012"}}


def test_a_missing_repository_is_one_error_line(aws: Any, invoke: Any) -> None:
    done = invoke("grant", "nowhere", "--pull", "--account", ACCOUNT_B)
    assert done.exit_code == 1
    assert done.stderr.count("\n") == 1 and "ecrtool create nowhere" in done.stderr


def test_the_registry_policy_takes_replication_grants_with_their_resource(aws: Any, invoke: Any) -> None:
    done = invoke("grant", "--registry", "--replicate", "--account", ACCOUNT_B, "-o", "json")
    assert done.exit_code == 0, done.stderr
    [statement] = json.loads(done.stdout)["Statement"]
    assert statement["Action"] == ["ecr:CreateRepository", "ecr:ReplicateImage"]
    assert statement["Resource"] == "arn:aws:ecr:ca-west-1:123456789012:repository/*"
    again = invoke("grant", "--registry", "--replicate", "--account", ACCOUNT_B)
    assert "already there, unchanged" in again.stderr and "nothing sent to ECR" in again.stderr
    shown = invoke("policy", "show", "--registry")
    assert "registry policy of 123456789012's registry in ca-west-1 (1 statement(s)" in shown.stdout
    assert invoke("revoke", "--registry", "--replicate", "--account", ACCOUNT_B).exit_code == 0
    assert invoke("policy", "show", "--registry", "-o", "json").stdout == "null\n"
