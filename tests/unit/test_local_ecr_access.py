"""The local ECR's cross-account policy evaluation (scripts/localecr/access.py): what a repository policy
lets another account, an organization, a role or a service do, as ECR evaluates it."""

from __future__ import annotations

import sys
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))

from localecr.access import ORGANIZATION, Principal, decide, denied_message  # noqa: E402

A, B = "123456789012", "210987654321"
REPO = f"arn:aws:ecr:ca-west-1:{A}:repository/shared/app"
PULL = ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"]


def _policy(*statements: dict) -> list[tuple[str, dict]]:
    return [("repository policy", {"Version": "2012-10-17", "Statement": list(statements)})]


def _allow(principal: object, actions: list[str], sid: str = "S", **extra: object) -> dict:
    return {"Sid": sid, "Effect": "Allow", "Principal": principal, "Action": actions, **extra}


def test_no_policy_is_an_implicit_deny_in_ecrs_words() -> None:
    who = Principal.user(B)
    decision = decide([], who, "ecr:BatchGetImage", REPO)
    assert not decision.allowed and decision.statement is None
    assert denied_message(who, "ecr:BatchGetImage", REPO, decision) == (
        f"User: arn:aws:sts::{B}:user/moto is not authorized to perform: ecr:BatchGetImage on resource: "
        f"{REPO} because no resource-based policy allows the ecr:BatchGetImage action"
    )


def test_account_id_and_root_arn_grant_the_account_pull_but_not_push() -> None:
    for named in (B, f"arn:aws:iam::{B}:root", [f"arn:aws:iam::{B}:root"]):
        policy = _policy(_allow({"AWS": named}, PULL, "Pull"))
        assert (
            decide(policy, Principal.user(B), "ecr:BatchGetImage", REPO).statement == "repository policy statement Pull"
        )
        assert not decide(policy, Principal.user(B), "ecr:PutImage", REPO).allowed
        assert not decide(policy, Principal.user(B), "ecr:InitiateLayerUpload", REPO).allowed
        assert not decide(policy, Principal.user("111111111111"), "ecr:BatchGetImage", REPO).allowed


def test_an_explicit_deny_wins_over_an_allow() -> None:
    policy = _policy(
        _allow({"AWS": B}, ["ecr:*"]), {"Sid": "No", "Effect": "Deny", "Principal": "*", "Action": "ecr:PutImage"}
    )
    assert decide(policy, Principal.user(B), "ecr:BatchGetImage", REPO).allowed
    decision = decide(policy, Principal.user(B), "ecr:PutImage", REPO)
    assert not decision.allowed and decision.explicit_deny
    assert "with an explicit deny in a resource-based policy" in denied_message(
        Principal.user(B), "ecr:PutImage", REPO, decision
    )


def test_role_arn_matches_only_that_roles_sessions() -> None:
    role = f"arn:aws:iam::{B}:role/deployer"
    policy = _policy(_allow({"AWS": role}, PULL))
    session = Principal.from_arn(B, f"arn:aws:sts::{B}:assumed-role/deployer/i-0abc")
    assert decide(policy, session, "ecr:BatchGetImage", REPO).allowed
    other = Principal.from_arn(B, f"arn:aws:sts::{B}:assumed-role/other/i-0abc")
    assert not decide(policy, other, "ecr:BatchGetImage", REPO).allowed
    assert not decide(policy, Principal.user(B), "ecr:BatchGetImage", REPO).allowed


def test_organization_condition_on_a_star_principal() -> None:
    policy = _policy(_allow("*", PULL, Condition={"StringEquals": {"aws:PrincipalOrgID": ORGANIZATION}}))
    assert decide(policy, Principal.user(B), "ecr:BatchGetImage", REPO).allowed
    other_org = _policy(_allow("*", PULL, Condition={"StringEquals": {"aws:PrincipalOrgID": "o-elsewhere01"}}))
    assert not decide(other_org, Principal.user(B), "ecr:BatchGetImage", REPO).allowed
    outsider = Principal.user("111111111111")  # an account in no organization the stack knows
    assert not decide(policy, outsider, "ecr:BatchGetImage", REPO).allowed


def test_lambda_service_principal_with_source_arn_condition() -> None:
    functions = f"arn:aws:lambda:ca-west-1:{B}:function:*"
    policy = _policy(
        _allow({"Service": "lambda.amazonaws.com"}, PULL[:2], Condition={"StringLike": {"aws:sourceArn": functions}})
    )
    mine = Principal.of_service("lambda.amazonaws.com", f"arn:aws:lambda:ca-west-1:{B}:function:api", B)
    assert decide(policy, mine, "ecr:BatchGetImage", REPO).allowed
    theirs = Principal.of_service("lambda.amazonaws.com", "arn:aws:lambda:ca-west-1:111111111111:function:api")
    assert not decide(policy, theirs, "ecr:BatchGetImage", REPO).allowed
    ecs = Principal.of_service("ecs-tasks.amazonaws.com", f"arn:aws:ecs:ca-west-1:{B}:task/x", B)
    assert not decide(policy, ecs, "ecr:BatchGetImage", REPO).allowed
    assert not decide(policy, Principal.user(B), "ecr:BatchGetImage", REPO).allowed


def test_source_account_condition_and_unknown_operators_grant_nothing() -> None:
    ecs = Principal.of_service("ecs-tasks.amazonaws.com", None, B)
    ok = _policy(
        _allow({"Service": "ecs-tasks.amazonaws.com"}, PULL, Condition={"StringEquals": {"aws:SourceAccount": B}})
    )
    assert decide(ok, ecs, "ecr:BatchGetImage", REPO).allowed
    odd = _policy(_allow({"AWS": B}, PULL, Condition={"NumericMadeUp": {"aws:SourceAccount": B}}))
    assert not decide(odd, Principal.user(B), "ecr:BatchGetImage", REPO).allowed


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=10), inner, max_size=3),
    max_leaves=12,
)
_statement = st.fixed_dictionaries(
    {},
    optional={
        "Effect": st.sampled_from(["Allow", "Deny", "allow", 1]),
        "Principal": st.one_of(st.just("*"), st.just({"AWS": B}), _json),
        "Action": st.one_of(st.just("ecr:*"), st.just(PULL), _json),
        "Condition": _json,
        "Resource": _json,
    },
)


@given(doc=st.one_of(_json, st.fixed_dictionaries({"Statement": st.one_of(_json, st.lists(_statement, max_size=4))})))
def test_any_policy_document_is_evaluated_without_failing(doc: object) -> None:
    decision = decide([("repository policy", doc)], Principal.user(B), "ecr:BatchGetImage", REPO)
    assert decision.allowed in (True, False)


def test_a_deny_with_not_principal_refuses_everyone_it_does_not_list() -> None:
    role = f"arn:aws:iam::{B}:role/deployer"
    session_arn = f"arn:aws:sts::{B}:assumed-role/deployer/i-0abc"
    session = Principal.from_arn(B, session_arn)
    listed = [f"arn:aws:iam::{B}:root", role, session_arn]
    policy = _policy(
        _allow({"AWS": B}, PULL),
        {"Sid": "OnlyDeployer", "Effect": "Deny", "NotPrincipal": {"AWS": listed}, "Action": "ecr:*"},
    )
    decision = decide(policy, Principal.user(B), "ecr:BatchGetImage", REPO)
    assert not decision.allowed and decision.explicit_deny
    assert decision.statement == "repository policy statement OnlyDeployer"
    assert decide(policy, session, "ecr:BatchGetImage", REPO).allowed
    # naming the role alone spares none of its sessions (IAM evaluates the account and session too)
    role_only = _policy(_allow({"AWS": B}, PULL), {"Effect": "Deny", "NotPrincipal": {"AWS": role}, "Action": "ecr:*"})
    assert decide(role_only, session, "ecr:BatchGetImage", REPO).explicit_deny


def test_an_allow_with_not_principal_reaches_only_those_it_does_not_list() -> None:
    policy = _policy({"Effect": "Allow", "NotPrincipal": {"AWS": B}, "Action": PULL})
    assert not decide(policy, Principal.user(B), "ecr:BatchGetImage", REPO).allowed
    assert decide(policy, Principal.user("111111111111"), "ecr:BatchGetImage", REPO).allowed


def test_a_deny_whose_condition_the_stand_in_cannot_tell_applies() -> None:
    allow = _allow({"AWS": B}, PULL)
    for condition in (
        {"ForAnyValue:StringEquals": {"aws:PrincipalOrgPaths": ["o-x/r-y/ou-z/"]}},
        {"Bool": {"aws:PrincipalIsAWSService": "false"}},
        {"StringEquals": {"aws:SourceVpce": "vpce-0abc"}},
        {"StringEquals": {"aws:PrincipalAccount": B}, "NumericLessThan": {"aws:MultiFactorAuthAge": "3600"}},
    ):
        deny = {"Sid": "Guard", "Effect": "Deny", "Principal": "*", "Action": "ecr:*", "Condition": condition}
        decision = decide(_policy(allow, deny), Principal.user(B), "ecr:BatchGetImage", REPO)
        assert not decision.allowed and decision.explicit_deny, condition
        # the same condition on an Allow grants nothing
        assert not decide(_policy({**deny, "Effect": "Allow"}), Principal.user(B), "ecr:BatchGetImage", REPO).allowed
    # a condition the stand-in can tell is False keeps the Deny away, whatever else it holds
    spared = {
        "Effect": "Deny",
        "Principal": "*",
        "Action": "ecr:*",
        "Condition": {"StringEquals": {"aws:PrincipalAccount": "111111111111"}, "Bool": {"aws:SecureTransport": "x"}},
    }
    assert decide(_policy(allow, spared), Principal.user(B), "ecr:BatchGetImage", REPO).allowed
