"""Repository creation templates as ecrtool builds and reads them: prefixes, --for, tags, the policies (json.dumps
of checked values, whatever the input), and which template covers a name (the longest prefix, else ROOT)."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ecrtool.model.errors import InvalidInput
from ecrtool.model.templates import (
    PULL_ACTIONS,
    TemplateInfo,
    build_spec,
    covering,
    normal_prefix,
    template_info,
)


def info(prefix: str, *applied: str) -> TemplateInfo:
    return TemplateInfo(prefix=prefix, applied_for=list(applied or ("CREATE_ON_PUSH",)), mutability="IMMUTABLE")


@pytest.mark.parametrize(
    ("name", "wanted"),
    [
        ("team/app", "team"),
        ("team/app/api", "team/app"),
        ("team", "ROOT"),  # a prefix covers what is under it, not itself
        ("teamx/app", "ROOT"),  # nor a longer name that merely starts like it
        ("other/app", "ROOT"),
    ],
)
def test_the_longest_prefix_covers_a_name_else_root(name: str, wanted: str) -> None:
    templates = [info("ROOT"), info("team"), info("team/app"), info("other", "REPLICATION")]
    found = covering(templates, name)
    assert found is not None and found.prefix == wanted


def test_no_template_covers_when_none_is_for_create_on_push() -> None:
    assert covering([info("team", "REPLICATION"), info("ROOT", "PULL_THROUGH_CACHE")], "team/app") is None
    assert covering([], "team/app") is None


@pytest.mark.parametrize(
    ("text", "kept"), [("team/", "team"), ("team/app", "team/app"), ("ROOT", "ROOT"), ("a-b.c_d", "a-b.c_d")]
)
def test_a_prefix_is_kept_as_ecr_reads_it(text: str, kept: str) -> None:
    assert normal_prefix(text) == kept


@pytest.mark.parametrize("text", ["Team", "team//app", "/team", "-team", "team app", "Root", "", "a" * 257, "t*"])
def test_a_prefix_ecr_refuses_is_invalid_input(text: str) -> None:
    with pytest.raises(InvalidInput, match="invalid prefix"):
        normal_prefix(text)


def test_options_become_ecrs_parameters() -> None:
    spec = build_spec(
        "team/", immutable=True, lifecycle_keep=30, grant_pull=["210987654321", "210987654321"],
        for_="create-on-push, replication", tags=["team=payments", "empty="],
    )  # fmt: skip
    params = spec.api_params()
    assert params["prefix"] == "team"
    assert params["appliedFor"] == ["CREATE_ON_PUSH", "REPLICATION"]
    assert params["imageTagMutability"] == "IMMUTABLE"
    assert params["resourceTags"] == [{"Key": "team", "Value": "payments"}, {"Key": "empty", "Value": ""}]
    policy = json.loads(params["repositoryPolicy"])
    assert policy["Statement"] == [
        {
            "Sid": "ecrtool-template-pull",
            "Effect": "Allow",
            "Principal": {"AWS": ["arn:aws:iam::210987654321:root"]},
            "Action": list(PULL_ACTIONS),
        }
    ]
    read = template_info({**params, "lifecyclePolicy": params["lifecyclePolicy"]}, ["team/*"])
    assert (read.lifecycle_keep, read.pull_accounts, read.scan_on_push) == (30, ["210987654321"], True)
    assert read.tags == {"team": "payments", "empty": ""}


def test_set_without_policies_clears_them() -> None:
    params = build_spec("team").api_params()
    assert (params["lifecyclePolicy"], params["repositoryPolicy"], params["resourceTags"]) == ("", "", [])
    assert params["appliedFor"] == ["CREATE_ON_PUSH"] and params["imageTagMutability"] == "MUTABLE"


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"lifecycle_keep": 0}, "invalid --lifecycle-keep 0"),
        ({"grant_pull": ["12345"]}, "invalid --grant-pull '12345'"),
        ({"for_": "everything"}, "invalid --for 'everything'"),
        ({"tags": ["novalue"]}, "invalid --tag 'novalue'"),
        ({"tags": ["k" * 129 + "=v"]}, "a key of 1 to 128 characters"),
    ],
)
def test_bad_options_are_invalid_input(options: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidInput, match=message.replace("(", r"\(")):
        build_spec("team", **options)  # type: ignore[arg-type]


def test_a_policy_ecrtool_did_not_write_reads_as_custom() -> None:
    theirs = {"Statement": [{"Sid": "theirs", "Principal": {"AWS": "arn:aws:iam::210987654321:root"}}]}
    other = {
        "prefix": "team",
        "appliedFor": ["CREATE_ON_PUSH"],
        "lifecyclePolicy": '{"rules": [{"x": 1}]}',
        "repositoryPolicy": json.dumps(theirs),
    }
    read = template_info(other)
    assert (read.lifecycle_keep, read.pull_accounts) == (None, [])
    assert read.lifecycle_policy and read.repository_policy


# -- hostile input: the documents keep their structure, or the input is refused ------------------------

_TEXT = st.text(alphabet=st.characters(codec="utf-8"), max_size=300)


@given(key=_TEXT.filter(lambda text: "=" not in text), value=_TEXT)
def test_any_tag_is_carried_as_data_or_refused(key: str, value: str) -> None:  # KEY=VALUE splits at the first =
    try:
        spec = build_spec("team", tags=[f"{key}={value}"])
    except InvalidInput as err:
        assert "invalid --tag" in str(err)
        return
    assert spec.api_params()["resourceTags"] == [{"Key": key, "Value": value}]


@given(accounts=st.lists(_TEXT, min_size=1, max_size=4), keep=st.integers(min_value=-5, max_value=20000))
def test_any_account_or_count_leaves_the_policies_well_formed_or_is_refused(accounts: list[str], keep: int) -> None:
    try:
        spec = build_spec("team", grant_pull=accounts, lifecycle_keep=keep)
    except InvalidInput as err:
        assert str(err).startswith(("invalid --grant-pull", "invalid --lifecycle-keep"))
        return
    params = spec.api_params()
    policy = json.loads(params["repositoryPolicy"])
    assert list(policy) == ["Version", "Statement"] and len(policy["Statement"]) == 1
    principals = policy["Statement"][0]["Principal"]["AWS"]
    assert principals == [f"arn:aws:iam::{account}:root" for account in dict.fromkeys(accounts)]
    lifecycle = json.loads(params["lifecyclePolicy"])
    assert lifecycle["rules"][0]["selection"]["countNumber"] == keep and len(lifecycle["rules"]) == 1


@given(prefix=_TEXT)
def test_any_prefix_is_a_namespace_or_refused(prefix: str) -> None:
    try:
        kept = normal_prefix(prefix)
    except InvalidInput:
        return
    assert kept == "ROOT" or all(part and part.isascii() and part == part.lower() for part in kept.split("/"))


def test_scan_on_push_is_left_alone_unless_asked() -> None:
    assert build_spec("team").scan_on_push is None  # the registry's scanning configuration stays as it is
    assert build_spec("team", scan_on_push=True).scan_on_push is True
    assert build_spec("team", scan_on_push=False).scan_on_push is False
    assert "scan" not in json.dumps(build_spec("team", scan_on_push=True).api_params()).lower()
