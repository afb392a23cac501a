"""The ECS and Lambda gateway on stubbed botocore clients (every call checked, in order): which task
definitions count (ACTIVE, a live service's, a running task's), the digests tasks run, every version of an
image function, and a cluster deleted between the listing and its reading."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from ecrtool.aws import workloads
from ecrtool.aws.workloads import Workloads

IMAGE = "123456789012.dkr.ecr.ca-west-1.amazonaws.com/web"
DIGEST = "sha256:" + "d" * 64
TD = "arn:aws:ecs:ca-west-1:123456789012:task-definition/"


@pytest.fixture
def clients() -> Iterator[tuple[Any, Stubber, Any, Stubber]]:
    made = {name: boto3.client(name, region_name="ca-west-1", aws_access_key_id="k", aws_secret_access_key="s")
            for name in ("ecs", "lambda")}  # fmt: skip
    with Stubber(made["ecs"]) as ecs, Stubber(made["lambda"]) as lam:
        yield made["ecs"], ecs, made["lambda"], lam
        ecs.assert_no_pending_responses()
        lam.assert_no_pending_responses()


def definition(name: str, revision: int, image: str) -> dict[str, Any]:
    return {"taskDefinition": {"family": name, "revision": revision, "containerDefinitions": [
        {"name": "app", "image": image}]}}  # fmt: skip


def test_every_workload_that_runs_an_image_is_found(
    clients: tuple[Any, Stubber, Any, Stubber], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(workloads, "WORKERS", 1)  # the Stubber answers in the order it was given
    ecs_client, ecs, lambda_client, lam = clients
    ecs.add_response("list_task_definitions", {"taskDefinitionArns": [TD + "web:3"]}, {"status": "ACTIVE"})
    ecs.add_response("list_clusters", {"clusterArns": ["prod", "gone"]}, {})
    ecs.add_response("list_services", {"serviceArns": ["api", "old"]}, {"cluster": "prod"})
    ecs.add_response("describe_services", {"services": [
        {"serviceName": "api", "status": "ACTIVE", "deployments": [{"taskDefinition": TD + "api:1"}]},
        {"serviceName": "old", "status": "INACTIVE", "taskDefinition": TD + "old:1"},  # deleted: runs nothing
    ]}, {"cluster": "prod", "services": ["api", "old"]})  # fmt: skip
    ecs.add_response("list_tasks", {"taskArns": ["t1"]}, {"cluster": "prod", "desiredStatus": "RUNNING"})
    ecs.add_response("describe_tasks", {"tasks": [{"taskArn": "arn:task/prod/t1", "taskDefinitionArn": TD + "job:9",
                                                   "containers": [{"image": f"{IMAGE}:v1", "imageDigest": DIGEST}]}]},
                     {"cluster": "prod", "tasks": ["t1"]})  # fmt: skip
    ecs.add_client_error("list_services", "ClusterNotFoundException", "Cluster not found.",
                         expected_params={"cluster": "gone"})  # fmt: skip
    for name, revision in (("web", 3), ("api", 1), ("job", 9)):
        ecs.add_response("describe_task_definition", definition(name, revision, f"{IMAGE}:{name}"),
                         {"taskDefinition": f"{TD}{name}:{revision}"})  # fmt: skip
    lam.add_response("list_functions", {"Functions": [
        {"FunctionName": "fn", "Version": "$LATEST", "PackageType": "Image"},
        {"FunctionName": "fn", "Version": "4", "PackageType": "Image"},
        {"FunctionName": "zip", "Version": "$LATEST", "PackageType": "Zip"},
    ]}, {"FunctionVersion": "ALL"})  # fmt: skip
    for version, tag in (("$LATEST", "fn-2"), ("4", "fn-1")):
        lam.add_response("get_function", {"Code": {"ImageUri": f"{IMAGE}:{tag}",
                                                   "ResolvedImageUri": f"{IMAGE}@{DIGEST}"}},
                         {"FunctionName": "fn", "Qualifier": version})  # fmt: skip

    scan = Workloads(ecs_client, lambda_client).in_use()
    assert [(use.reference, use.where, use.digest) for use in scan.uses] == [
        (f"{IMAGE}:v1", "ECS task t1", DIGEST),
        (f"{IMAGE}:web", "ECS task definition web:3 (ACTIVE)", None),
        (f"{IMAGE}:api", "ECS task definition api:1 (service api)", None),
        (f"{IMAGE}:job", "ECS task definition job:9 (a running task)", None),
        (f"{IMAGE}:fn-2", "Lambda function fn:$LATEST", DIGEST),
        (f"{IMAGE}:fn-1", "Lambda function fn:4", DIGEST),
    ]
    assert scan.calls["ecs:DescribeTaskDefinition"] == 3 and scan.calls["lambda:GetFunction"] == 2


def test_describes_run_several_at_once_and_answer_in_order() -> None:
    import threading
    import time

    seen: set[int] = set()

    def slow(n: int) -> dict[str, Any]:
        seen.add(threading.get_ident())
        time.sleep(0.01)
        return {"n": n}

    assert [reply["n"] for reply in workloads.concurrently(slow, list(range(40)))] == list(range(40))
    assert len(seen) > 1
