"""`ecrtool template` and a push that a creation template covers, on a stubbed ECR client: what each sends to
ECR (the Stubber fails a call it was not told of, so "no CreateRepository" is checked too) and what a user
reads."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

import pytest
from botocore.stub import Stubber

ACCOUNT, OTHER = "123456789012", "210987654321"
HOST = f"{ACCOUNT}.dkr.ecr.ca-west-1.amazonaws.com"
PULL = ["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]


@pytest.fixture
def ecr(stubbed_ecr: Stubber, isolated_env: Any) -> Stubber:
    return stubbed_ecr


def template(prefix: str, **extra: Any) -> dict[str, Any]:
    return {"prefix": prefix, "appliedFor": ["CREATE_ON_PUSH"], "imageTagMutability": "MUTABLE", **extra}


def described(
    ecr: Stubber, *templates: dict[str, Any], scan_filters: tuple[str, ...] = (), scanning: bool = True
) -> None:
    """ECR's answers to listing the templates; with SCANNING, the registry's scan rules too (template list
    shows them; a push asks only which template covers its repository)."""
    ecr.add_response(
        "describe_repository_creation_templates",
        {"registryId": ACCOUNT, "repositoryCreationTemplates": list(templates)},
        {},
    )
    if templates and scanning:
        rules = [
            {"scanFrequency": "SCAN_ON_PUSH", "repositoryFilters": [{"filter": f, "filterType": "WILDCARD"}]}
            for f in scan_filters
        ]
        ecr.add_response(
            "get_registry_scanning_configuration",
            {"registryId": ACCOUNT, "scanningConfiguration": {"scanType": "BASIC", "rules": rules}},
            {},
        )


def test_set_sends_the_template_and_its_scan_filter_and_shows_it(invoke: Any, ecr: Stubber) -> None:
    keep = {"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": 3}
    lifecycle = json.dumps(
        {"rules": [{"rulePriority": 1, "description": "keep the newest 3 images", "selection": keep,
                    "action": {"type": "expire"}}]}
    )  # fmt: skip
    policy = json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Sid": "ecrtool-template-pull", "Effect": "Allow",
                                                 "Principal": {"AWS": [f"arn:aws:iam::{OTHER}:root"]}, "Action": PULL}]}
    )  # fmt: skip
    sent = {
        "prefix": "team",
        "appliedFor": ["CREATE_ON_PUSH", "REPLICATION"],
        "imageTagMutability": "IMMUTABLE",
        "resourceTags": [{"Key": "team", "Value": "payments"}],
        "lifecyclePolicy": lifecycle,
        "repositoryPolicy": policy,
        "description": "set by ecrtool template set",
    }
    ecr.add_response(
        "create_repository_creation_template",
        {"registryId": ACCOUNT, "repositoryCreationTemplate": template("team")},
        sent,
    )
    other_rule = {
        "scanFrequency": "CONTINUOUS_SCAN",
        "repositoryFilters": [{"filter": "prod*", "filterType": "WILDCARD"}],
    }
    ecr.add_response(
        "get_registry_scanning_configuration",
        {"registryId": ACCOUNT, "scanningConfiguration": {"scanType": "ENHANCED", "rules": [other_rule]}},
        {},
    )
    push_rule = {"scanFrequency": "SCAN_ON_PUSH", "repositoryFilters": [{"filter": "team/*", "filterType": "WILDCARD"}]}
    ecr.add_response(
        "put_registry_scanning_configuration",
        {"registryScanningConfiguration": {"scanType": "ENHANCED", "rules": [other_rule, push_rule]}},
        {"scanType": "ENHANCED", "rules": [other_rule, push_rule]},  # the other rule is kept
    )
    described(ecr, {**sent, "encryptionConfiguration": {"encryptionType": "AES256"}}, scan_filters=("team/*",))
    result = invoke(
        "template", "set", "team/", "--immutable", "--lifecycle-keep", "3", "--grant-pull", OTHER,
        "--scan-on-push", "--tag", "team=payments", "--for", "create-on-push,replication",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert result.stderr == "Created the creation template for team\n"
    assert result.stdout == (
        "prefix          team (team/…)\n"
        "for             create-on-push, replication\n"
        "tags            immutable\n"
        "scan on push    yes\n"
        "lifecycle       keep 3\n"
        f"pull granted to {OTHER}\n"
        "resource tags   team=payments\n"
    )


def test_set_replaces_a_template_that_is_there(invoke: Any, ecr: Stubber) -> None:
    ecr.add_client_error(
        "create_repository_creation_template",
        "TemplateAlreadyExistsException",
        f"The repository creation template with prefix 'team' already exists in the registry with id '{ACCOUNT}'",
    )
    ecr.add_response("update_repository_creation_template", {"registryId": ACCOUNT})
    described(ecr, template("team"))
    result = invoke("template", "set", "team")
    assert result.exit_code == 0, result.output
    assert result.stderr == "Replaced the creation template for team\n"
    assert "tags            mutable\n" in result.stdout and "lifecycle       -\n" in result.stdout


def test_list_shows_each_template_in_a_table(invoke: Any, ecr: Stubber) -> None:
    when = datetime(2026, 1, 1, tzinfo=timezone.utc)
    described(
        ecr,
        template("ROOT", createdAt=when),
        template("team", imageTagMutability="IMMUTABLE", resourceTags=[{"Key": "a", "Value": "b"}],
                 lifecyclePolicy='{"rules": []}', createdAt=when),
        scan_filters=("team/*",),
    )  # fmt: skip
    result = invoke("template", "list")
    assert result.exit_code == 0, result.output
    lines = [line.rstrip() for line in result.stdout.splitlines()]
    assert lines[0] == "Creation templates in ca-west-1"
    assert lines[1].split() == ["PREFIX", "FOR", "TAGS", "SCAN", "ON", "PUSH", "LIFECYCLE", "PULL", "GRANTED", "TO",
                                "RESOURCE", "TAGS"]  # fmt: skip
    assert lines[2].split() == ["team", "create-on-push", "immutable", "yes", "custom", "-", "a=b"]
    assert lines[3].split() == ["ROOT", "create-on-push", "mutable", "no", "-", "-", "-"]  # ROOT last: the fallback


def test_a_push_to_a_missing_repository_a_template_covers_creates_nothing_itself(
    invoke: Any, ecr: Stubber, fake_docker: Any
) -> None:
    fake_docker.add_image("viruses")
    ecr.add_client_error("describe_repositories", "RepositoryNotFoundException", "no such repository")
    described(ecr, template("team", imageTagMutability="IMMUTABLE"), template("team/app"), scanning=False)
    token = {"authorizationToken": "QVdTOnNlY3JldA==", "proxyEndpoint": f"https://{HOST}",
             "expiresAt": datetime(2030, 1, 1, tzinfo=timezone.utc)}  # fmt: skip
    ecr.add_response("get_authorization_token", {"authorizationData": [token]})
    result = invoke("push", "viruses", "--repo", "team/new", "--tag", "1", "--no-cache")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[0] == f"{HOST}/team/new:1"
    assert (
        "Repository team/new did not exist: ECR created it on this push, as the registry's creation template "
        "for team says (`ecrtool template list`)"
    ) in result.stderr
    assert "Created repository" not in result.stderr


def test_delete_names_a_prefix_with_no_template(invoke: Any, ecr: Stubber) -> None:
    described(ecr)
    ecr.add_client_error(
        "delete_repository_creation_template",
        "TemplateNotFoundException",
        f"The repository creation template with prefix 'team' does not exist in the registry with id '{ACCOUNT}'",
    )
    result = invoke("template", "delete", "team")
    assert (result.exit_code, result.stderr) == (
        1,
        "ecrtool: error: no repository creation template for prefix 'team': `ecrtool template list` lists them\n",
    )


def scanning(ecr: Stubber, *rules: dict[str, Any], scan_type: str = "BASIC") -> None:
    ecr.add_response(
        "get_registry_scanning_configuration",
        {"registryId": ACCOUNT, "scanningConfiguration": {"scanType": scan_type, "rules": list(rules)}},
        {},
    )


def push_rule(*filters: str) -> dict[str, Any]:
    return {
        "scanFrequency": "SCAN_ON_PUSH",
        "repositoryFilters": [{"filter": f, "filterType": "WILDCARD"} for f in filters],
    }


@pytest.mark.parametrize(
    ("prefix", "options", "theirs"),
    [
        ("ROOT", ("--for", "replication"), "*"),  # the registry-wide filter: scan on push for every repository
        ("team", (), "team/*"),  # a filter the user added themselves
    ],
)
def test_set_without_scan_on_push_leaves_the_registry_scanning_alone(
    invoke: Any, ecr: Stubber, prefix: str, options: tuple[str, ...], theirs: str
) -> None:
    ecr.add_response("create_repository_creation_template", {"registryId": ACCOUNT})
    applied = ["REPLICATION"] if options else ["CREATE_ON_PUSH"]
    described(ecr, template(prefix, appliedFor=applied), scan_filters=(theirs,))  # no PutRegistryScanningConfiguration
    result = invoke("template", "set", prefix, *options)
    assert result.exit_code == 0, result.output
    assert "scan on push    yes\n" in result.stdout  # as the registry has it


def test_set_no_scan_on_push_removes_only_that_filter(invoke: Any, ecr: Stubber) -> None:
    ecr.add_response("create_repository_creation_template", {"registryId": ACCOUNT})
    continuous = {
        "scanFrequency": "CONTINUOUS_SCAN",
        "repositoryFilters": [{"filter": "team/*", "filterType": "WILDCARD"}],
    }
    scanning(ecr, push_rule("team/*", "*", "team/app*"), continuous, scan_type="ENHANCED")
    kept = [push_rule("*", "team/app*"), continuous]
    ecr.add_response("put_registry_scanning_configuration", {}, {"scanType": "ENHANCED", "rules": kept})
    described(ecr, template("team"), scan_filters=("*",))
    result = invoke("template", "set", "team", "--no-scan-on-push")
    assert result.exit_code == 0, result.output
    assert "scan on push    no\n" in result.stdout


def test_set_says_so_when_ecr_does_not_list_the_template_back(invoke: Any, ecr: Stubber) -> None:
    ecr.add_response("create_repository_creation_template", {"registryId": ACCOUNT})
    described(ecr, template("other"))
    result = invoke("template", "set", "team")
    assert (result.exit_code, result.stderr) == (
        1,
        "ecrtool: error: ECR does not list the creation template for team that it just accepted: "
        "`ecrtool template list` shows what the registry has now\n",
    )


def test_delete_leaves_the_scan_filter_and_says_how_to_remove_it(invoke: Any, ecr: Stubber) -> None:
    described(ecr, template("team"), scan_filters=("team/*",))
    ecr.add_response("delete_repository_creation_template", {"registryId": ACCOUNT}, {"prefix": "team"})
    result = invoke("template", "delete", "team")  # no PutRegistryScanningConfiguration
    assert result.exit_code == 0, result.output
    assert result.stdout == "Deleted the creation template for team\n"
    assert result.stderr == (
        "The registry's scan-on-push filter team/* stays (pushes it matches are still scanned): "
        "`ecrtool template delete team --no-scan-on-push` removes it\n"
    )


def test_delete_no_scan_on_push_removes_the_filter(invoke: Any, ecr: Stubber) -> None:
    described(ecr, template("team"), scan_filters=("team/*",))
    ecr.add_response("delete_repository_creation_template", {"registryId": ACCOUNT}, {"prefix": "team"})
    scanning(ecr, push_rule("team/*"))
    ecr.add_response("put_registry_scanning_configuration", {}, {"scanType": "BASIC", "rules": []})
    result = invoke("template", "delete", "team", "--no-scan-on-push", "-o", "json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {
        "deleted": "team", "scan_on_push_filter": "team/*", "scan_on_push_filter_removed": True,
        "scan_on_push_filter_kept": False,
    }  # fmt: skip


def test_delete_no_scan_on_push_after_the_template_is_gone_removes_the_filter(invoke: Any, ecr: Stubber) -> None:
    described(ecr)
    scanning(ecr, push_rule("team/*", "*"))
    ecr.add_response("put_registry_scanning_configuration", {}, {"scanType": "BASIC", "rules": [push_rule("*")]})
    result = invoke("template", "delete", "team", "--no-scan-on-push")
    assert result.exit_code == 0, result.output
    assert result.stdout == "Removed the registry's scan-on-push filter team/*\n"


@pytest.mark.parametrize("args", [("set", "team", "--scan-on-push"), ("delete", "team")])
def test_another_accounts_registry_id_is_refused_before_any_ecr_call(
    invoke: Any, ecr: Stubber, args: tuple[str, ...]
) -> None:
    result = invoke("template", *args, "--registry-id", OTHER)  # the Stubber answers no ECR call
    assert result.exit_code == 2, result.output
    assert result.stderr == (
        f"ecrtool: error: registry id {OTHER} (--registry-id): creation templates belong to the caller's own "
        f"registry, and the caller is account {ACCOUNT}: to act as account {OTHER}, pass --profile NAME or name its "
        f'profile in the config file: [accounts."{OTHER}"] profile = "NAME"\n'
    )


def test_the_callers_own_registry_id_is_accepted(invoke: Any, ecr: Stubber) -> None:
    ecr.add_response("create_repository_creation_template", {"registryId": ACCOUNT})
    described(ecr, template("team"))
    result = invoke("template", "set", "team", "--registry-id", ACCOUNT)
    assert result.exit_code == 0, result.output


def test_a_profile_of_another_account_is_refused_too(
    invoke: Any, ecr: Stubber, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "config.toml"
    config.write_text(f'registry_id = "{OTHER}"\n\n[accounts."{OTHER}"]\nprofile = "theirs"\n')
    monkeypatch.setenv("ECRTOOL_CONFIG", str(config))
    result = invoke("template", "delete", "team")  # the profile's credentials turn out to be ACCOUNT's
    assert result.exit_code == 2, result.output
    assert result.stderr == (
        f"ecrtool: error: registry id {OTHER} ({config}, line 1): creation templates belong to the caller's own "
        f'registry, and the profile theirs ([accounts."{OTHER}"] in {config}, line 3) is account {ACCOUNT}: to act '
        f'as account {OTHER}, pass --profile NAME or name its profile in the config file: [accounts."{OTHER}"] '
        'profile = "NAME"\n'
    )
