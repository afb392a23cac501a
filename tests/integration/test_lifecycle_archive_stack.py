"""`ecrtool lifecycle` with ECR's current schema (a transition to archive, sinceImagePulled,
sinceImageTransitioned) against the local ECR, which keeps and validates such policies as ECR does
(scripts/localecr/lifecycle.py): set, shown back, previewed; an invalid one refused by the API itself."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

pytestmark = pytest.mark.integration

Run = Callable[..., subprocess.CompletedProcess[str]]
DAY = 86400


def _api(stack: Any) -> Any:
    import boto3

    return boto3.client("ecr", endpoint_url=stack.api, region_name=stack.env["AWS_REGION"],
                        aws_access_key_id=stack.env["AWS_ACCESS_KEY_ID"],
                        aws_secret_access_key=stack.env["AWS_SECRET_ACCESS_KEY"])  # fmt: skip


def _ok(done: subprocess.CompletedProcess[str]) -> Any:
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_archive_rules_are_set_shown_and_previewed_and_an_invalid_policy_is_refused(
    ecrtool: Run, stack: Any, pushed: str
) -> None:
    repo = pushed.partition(":")[0]
    ecr = _api(stack)
    digest = ecr.describe_images(repositoryName=repo)["imageDetails"][0]["imageDigest"]
    # pulled 100 days ago: the --archive-after 90d rule moves it to archive
    stack.control("image-times", {"repository": repo, "digest": digest, "pulled": time.time() - 100 * DAY})

    put = _ok(ecrtool("lifecycle", "set", repo, "--archive-after", "90d", "--expire-archived-after", "365d",
                      "-o", "json"))  # fmt: skip
    rules = put["policy"]["rules"]
    assert [rule["action"] for rule in rules] == [{"type": "transition", "targetStorageClass": "archive"},
                                                  {"type": "expire"}]  # fmt: skip
    assert rules[1]["selection"]["storageClass"] == "archive"

    shown = _ok(ecrtool("lifecycle", "show", repo, "-o", "json"))
    assert shown["policy"]["rules"] == rules  # as the local ECR keeps it
    assert json.loads(ecr.get_lifecycle_policy(repositoryName=repo)["lifecyclePolicyText"])["rules"] == rules

    previewed = _ok(ecrtool("lifecycle", "preview", repo, "-o", "json"))
    assert [image["digest"] for image in previewed["images"]] == [digest]

    # ECR keeps archived images 90 days at least: a policy expiring them sooner is refused by the API
    invalid = json.dumps({"rules": [{**rules[0]}, {**rules[1], "selection": {**rules[1]["selection"],
                                                                            "countNumber": 30}}]})  # fmt: skip
    with pytest.raises(ClientError) as refused:
        ecr.put_lifecycle_policy(repositoryName=repo, lifecyclePolicyText=invalid)
    error = refused.value.response["Error"]
    assert error["Code"] == "InvalidParameterException"
    assert error["Message"].startswith(
        "Invalid parameter at 'LifecyclePolicyText' failed to satisfy constraint: 'Lifecycle policy validation "
        "failure: the rule with priority 2 expires archived images after 30 days"
    )
    assert json.loads(ecr.get_lifecycle_policy(repositoryName=repo)["lifecyclePolicyText"])["rules"] == rules

    ecr.delete_lifecycle_policy(repositoryName=repo)
    with pytest.raises(ClientError) as missing:
        ecr.get_lifecycle_policy(repositoryName=repo)
    assert missing.value.response["Error"]["Code"] == "LifecyclePolicyNotFoundException"
    assert _ok(ecrtool("lifecycle", "show", repo, "-o", "json"))["policy"] is None
