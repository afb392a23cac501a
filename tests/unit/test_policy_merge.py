"""The policy statements `ecrtool grant` writes (model/policy.py): hostile ids refused or kept as exact JSON
strings, grants idempotent, revoke removing only ecrtool's statement for that grantee, and every statement
ecrtool did not write left identical and in place; what a policy says of another account's pull."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ecrtool.model.errors import InvalidInput
from ecrtool.model.policy import (
    PULL_ACTIONS,
    PUSH_ACTIONS,
    Grant,
    Grantee,
    can_pull,
    document_text,
    grant,
    missing_grant,
    parse_document,
    revoke,
)

A, B = "123456789012", "210987654321"
hostile = st.text(min_size=0, max_size=60) | st.sampled_from(
    [
        '1234"}',
        "12345678901\n",
        "*",
        'arn:aws:iam::210987654321:role/x"],"Effect":"Allow',
        "o-UPPERCASE00",
        " 210987654321",
    ]
)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=10,
)
# statements someone else wrote: any JSON objects, some with a Sid of their own (never ecrtool's prefix)
foreign_statements = st.lists(
    st.dictionaries(
        st.sampled_from(["Sid", "Effect", "Principal", "Action", "Condition", "x"]), json_values, max_size=5
    ).map(lambda s: {**s, "Sid": f"Theirs{s['Sid']}"} if isinstance(s.get("Sid"), str) else s),
    max_size=5,
)
grantees = st.one_of(
    st.from_regex(r"\A\d{12}\Z").map(lambda v: Grantee.parse("account", v)),
    st.from_regex(r"\Ao-[a-z0-9]{10,32}\Z").map(lambda v: Grantee.parse("org", v)),
    st.from_regex(r"\A[\w+=,.@-]{1,64}\Z").map(lambda n: Grantee.parse("role", f"arn:aws:iam::{B}:role/{n}")),
    st.just(Grantee.parse("lambda", home=A)),
    st.from_regex(r"\A[\w-]{1,40}\Z").map(
        lambda n: Grantee.parse("lambda", f"arn:aws:lambda:ca-west-1:{B}:function:{n}")
    ),
    st.just(Grantee.parse("ecs-tasks", home=A)),
)
grants = st.lists(st.builds(Grant, st.sampled_from(["pull", "push"]), grantees), min_size=1, max_size=4)


@settings(max_examples=300)
@given(kind=st.sampled_from(["account", "org", "role", "lambda", "ecs-tasks"]), value=hostile)
def test_a_hostile_id_is_refused_or_kept_as_one_exact_json_string(kind: str, value: str) -> None:
    try:
        grantee = Grantee.parse(kind, value, home=A)
    except InvalidInput as err:
        assert "\n" not in str(err)
        return
    statement = Grant("pull", grantee).statement()
    parsed = json.loads(document_text({"Version": "2012-10-17", "Statement": [statement]}))
    assert parsed["Statement"] == [statement]
    assert set(statement) <= {"Sid", "Effect", "Principal", "Action", "Condition"}
    assert statement["Sid"].isalnum()
    if value:
        assert value in json.dumps(statement["Principal"]) + json.dumps(statement.get("Condition"))


@given(foreign=foreign_statements, wanted=grants)
def test_grant_twice_is_one_statement_each_and_foreign_statements_stay_in_order(foreign: list, wanted: list) -> None:
    doc = {"Version": "2008-10-17", "Statement": foreign}
    once = grant(doc, wanted).document
    assert once is not None
    twice = grant(once, wanted)
    assert twice.document == once and not twice.changed
    sids = [s.get("Sid") for s in once["Statement"] if isinstance(s, dict)]
    ours = [g.grantee.sid(g.access) for g in wanted]
    assert all(sids.count(sid) == 1 for sid in ours)
    assert [s for s in once["Statement"] if s.get("Sid") not in ours] == foreign
    assert doc["Statement"] == foreign  # the input is not changed in place


@given(foreign=foreign_statements, wanted=grants)
def test_grant_then_revoke_leaves_foreign_statements_identical(foreign: list, wanted: list) -> None:
    doc = {"Version": "2012-10-17", "Statement": foreign}
    granted = grant(doc, wanted).document
    assert granted is not None
    after = revoke(granted, wanted)
    if not foreign:
        assert after.document is None  # nothing left: the policy is deleted
    else:
        assert after.document is not None
        assert [json.dumps(s) for s in after.document["Statement"]] == [json.dumps(s) for s in foreign]


def test_revoking_pull_keeps_the_same_grantees_push_and_other_grantees() -> None:
    b, org = Grantee.parse("account", B), Grantee.parse("org", "o-abcdefghij")
    doc = grant(parse_document(None), [Grant("pull", b), Grant("push", b), Grant("pull", org)]).document
    assert doc is not None
    after = revoke(doc, [Grant("pull", b)])
    assert after.removed == ("EcrtoolPullAccount210987654321",)
    assert after.document is not None
    assert [s["Sid"] for s in after.document["Statement"]] == [
        "EcrtoolPushAccount210987654321",
        doc["Statement"][2]["Sid"],
    ]
    assert after.document["Statement"][0]["Action"] == list(PUSH_ACTIONS)


def test_revoke_names_a_foreign_statement_that_still_grants_the_account() -> None:
    theirs = {"Sid": "Legacy", "Effect": "Allow", "Principal": {"AWS": B}, "Action": "ecr:*"}
    doc = grant({"Statement": [theirs]}, [Grant("pull", Grantee.parse("account", B))]).document
    assert doc is not None
    after = revoke(doc, [Grant("pull", Grantee.parse("account", B))])
    assert after.still_granting == ("Legacy",)
    assert after.document == {"Statement": [theirs]}


def test_pull_verdict_names_the_deciding_statement() -> None:
    doc = grant(parse_document(None), [Grant("pull", Grantee.parse("account", B))]).document
    assert doc is not None
    arn = f"arn:aws:sts::{B}:user/moto"
    assert can_pull([("repository policy", doc)], B, arn, A).statement == (
        "repository policy statement EcrtoolPullAccount210987654321"
    )
    denied = can_pull([], B, arn, A)
    assert denied.allowed is False and denied.missing == ("ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer")
    assert can_pull([], A, f"arn:aws:sts::{A}:user/moto", A).reason.startswith("same account")
    org = grant(parse_document(None), [Grant("pull", Grantee.parse("org", "o-abcdefghij"))]).document
    assert org is not None
    assert can_pull([("repository policy", org)], B, arn, A).allowed is None  # ecrtool cannot see the org
    push_only = grant(parse_document(None), [Grant("push", Grantee.parse("account", B))]).document
    assert push_only is not None
    assert can_pull([("repository policy", push_only)], B, arn, A).allowed is False


def test_pull_actions_are_ecrs_and_do_not_include_push() -> None:
    assert not set(PULL_ACTIONS) & {"ecr:PutImage", "ecr:InitiateLayerUpload", "ecr:UploadLayerPart"}


@pytest.mark.parametrize("text", ["[]", "not json", '"x"'])
def test_a_current_policy_that_is_not_an_object_is_refused(text: str) -> None:
    with pytest.raises(InvalidInput):
        parse_document(text)


def test_another_accounts_refusal_becomes_one_line_naming_the_grant() -> None:
    resource = f"arn:aws:ecr:ca-west-1:{A}:repository/shared/app"
    text = (
        f"pull access denied for x, repository does not exist or may require 'docker login': denied: User: "
        f"arn:aws:sts::{B}:user/moto is not authorized to perform: ecr:BatchGetImage on resource: {resource} "
        "because no resource-based policy allows the ecr:BatchGetImage action"
    )
    found = missing_grant(text)
    assert found is not None and "\n" not in str(found)
    assert str(found).endswith(f"`ecrtool grant shared/app --pull --account {B}`")
    push = missing_grant(text.replace("ecr:BatchGetImage", "ecr:InitiateLayerUpload"))
    assert push is not None and f"--push --account {B}" in str(push)
    # the caller's own account: IAM's refusal, not a missing grant
    assert missing_grant(text.replace(f"sts::{B}", f"sts::{A}")) is None
    assert missing_grant("denied: Your authorization token has expired. Reauthenticate and try again.") is None


def test_pull_verdict_weighs_not_principal_and_conditions_it_cannot_see() -> None:
    arn = f"arn:aws:sts::{B}:assumed-role/deployer/ci"
    role = f"arn:aws:iam::{B}:role/deployer"
    allow = {"Sid": "Pull", "Effect": "Allow", "Principal": {"AWS": B}, "Action": "ecr:*"}

    def verdict(deny: dict) -> bool | None:
        doc = {"Statement": [allow, {"Sid": "Guard", "Effect": "Deny", "Action": "ecr:*", **deny}]}
        return can_pull([("repository policy", doc)], B, arn, A).allowed

    # "deny everyone except role X": another role's caller is refused
    assert verdict({"NotPrincipal": {"AWS": f"arn:aws:iam::{B}:role/other"}}) is False
    # the caller's account, role and session all listed: the Deny spares it
    assert verdict({"NotPrincipal": {"AWS": [f"arn:aws:iam::{B}:root", role, arn]}}) is True
    # only its role listed: IAM's answer depends on the identities it weighs, ecrtool does not guess
    assert verdict({"NotPrincipal": {"AWS": role}}) is None
    doc = {"Statement": [allow, {"Sid": "Guard", "Effect": "Deny", "Action": "ecr:*", "NotPrincipal": {"AWS": role}}]}
    assert can_pull([("repository policy", doc)], B, arn, A).reason == (
        "may be denied by repository policy statement Guard: ecrtool cannot check all it names"
    )
    assert verdict({"Principal": "*", "Condition": {"Bool": {"aws:PrincipalIsAWSService": "false"}}}) is None
    assert verdict({"Principal": "*", "Condition": {"ForAnyValue:StringEquals": {"aws:PrincipalAccount": B}}}) is None
    # an Allow by NotPrincipal reaches only the callers it does not list
    not_me = {"Statement": [{"Effect": "Allow", "NotPrincipal": {"AWS": B}, "Action": "ecr:*"}]}
    assert can_pull([("repository policy", not_me)], B, arn, A).allowed is False
    not_them = {"Statement": [{"Effect": "Allow", "NotPrincipal": {"AWS": "111111111111"}, "Action": "ecr:*"}]}
    assert can_pull([("repository policy", not_them)], B, arn, A).allowed is True
