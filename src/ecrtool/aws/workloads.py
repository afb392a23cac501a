"""The workloads that run images: ECS (task definitions, services, running tasks) and Lambda (functions
packaged as images, every version), read for `prune --protect-in-use`. Only List/Describe/Get calls: nothing
here pulls an image or touches its last pull time."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

from ecrtool.aws.errors import translate
from ecrtool.model.errors import EcrToolError
from ecrtool.model.inuse import InUse

T = TypeVar("T")


@dataclass
class WorkloadScan:
    """What the workloads use, and how many calls it took to find out (by API action)."""

    uses: list[InUse] = field(default_factory=list)
    calls: dict[str, int] = field(default_factory=dict)

    def count(self, action: str, number: int = 1) -> None:
        self.calls[action] = self.calls.get(action, 0) + number


class Workloads:
    """ECS and Lambda in one region, through boto3 clients built lazily by the caller."""

    def __init__(self, ecs: Any, lambda_: Any) -> None:
        self._ecs = ecs
        self._lambda = lambda_

    def in_use(self) -> WorkloadScan:
        """Every image reference ECS and Lambda use: ECS task definitions that are ACTIVE or that a service or
        a running task uses (an INACTIVE revision still running counts), the images running tasks report
        (with the digest they run), and every version of every Lambda function packaged as an image (an
        alias names a version, so aliases are covered)."""
        scan = WorkloadScan()
        self._ecs_uses(scan)
        self._lambda_uses(scan)
        return scan

    # -- ECS -------------------------------------------------------------------------------------

    def _pages(self, client: Any, operation: str, action: str, key: str, scan: WorkloadScan,
               **params: Any) -> Iterator[Any]:
        with translate(action):
            for page in client.get_paginator(operation).paginate(**params):
                scan.count(action)
                yield from page.get(key, [])

    def _ecs_uses(self, scan: WorkloadScan) -> None:
        definitions: dict[str, str] = {}  # task definition ARN -> why it counts
        for arn in self._pages(self._ecs, "list_task_definitions", "ecs:ListTaskDefinitions", "taskDefinitionArns",
                               scan, status="ACTIVE"):
            definitions.setdefault(arn, "ACTIVE")
        for cluster in list(self._pages(self._ecs, "list_clusters", "ecs:ListClusters", "clusterArns", scan)):
            try:
                self._cluster_uses(cluster, definitions, scan)
            except EcrToolError as err:
                if _code(err) != "ClusterNotFoundException":  # deleted since it was listed: it runs nothing
                    raise
        self._definition_uses(definitions, scan)

    def _cluster_uses(self, cluster: str, definitions: dict[str, str], scan: WorkloadScan) -> None:
        """The task definitions CLUSTER's services use, and the images its running tasks run."""
        services = list(self._pages(self._ecs, "list_services", "ecs:ListServices", "serviceArns", scan,
                                    cluster=cluster))
        for start in range(0, len(services), 10):  # DescribeServices takes 10
            with translate("ecs:DescribeServices"):
                reply = self._ecs.describe_services(cluster=cluster, services=services[start : start + 10])
            scan.count("ecs:DescribeServices")
            for service in reply.get("services", []):
                if service.get("status") == "INACTIVE":  # deleted: ECS lists it a while, running nothing
                    continue
                why = f"service {service.get('serviceName')}"
                for deployment in service.get("deployments") or [service]:
                    if deployment.get("taskDefinition"):
                        definitions.setdefault(deployment["taskDefinition"], why)
        tasks = list(self._pages(self._ecs, "list_tasks", "ecs:ListTasks", "taskArns", scan, cluster=cluster,
                                 desiredStatus="RUNNING"))
        for start in range(0, len(tasks), 100):  # DescribeTasks takes 100
            with translate("ecs:DescribeTasks"):
                reply = self._ecs.describe_tasks(cluster=cluster, tasks=tasks[start : start + 100])
            scan.count("ecs:DescribeTasks")
            for task in reply.get("tasks", []):
                if task.get("taskDefinitionArn"):
                    definitions.setdefault(task["taskDefinitionArn"], "a running task")
                for container in task.get("containers", []):
                    if container.get("image"):
                        scan.uses.append(InUse(container["image"], f"ECS task {_last(task.get('taskArn', ''))}",
                                               container.get("imageDigest")))

    def _definition_uses(self, definitions: dict[str, str], scan: WorkloadScan) -> None:
        """The images of each task definition in DEFINITIONS (one DescribeTaskDefinition each: ECS has no batch,
        so WORKERS at once)."""

        def describe(arn: str) -> dict[str, Any]:
            with translate("ecs:DescribeTaskDefinition"):
                found: dict[str, Any] = self._ecs.describe_task_definition(taskDefinition=arn)
            return found

        replies = concurrently(describe, list(definitions))
        scan.count("ecs:DescribeTaskDefinition", len(replies))
        for (arn, why), reply in zip(definitions.items(), replies, strict=True):
            definition = reply.get("taskDefinition", {})
            name = f"{definition.get('family', _last(arn))}:{definition.get('revision', '?')}"
            for container in definition.get("containerDefinitions", []):
                if container.get("image"):
                    scan.uses.append(InUse(container["image"], f"ECS task definition {name} ({why})"))

    # -- Lambda ----------------------------------------------------------------------------------

    def _lambda_uses(self, scan: WorkloadScan) -> None:
        """Every version of every image function: ListFunctions has no image URI, so one GetFunction each,
        WORKERS at once."""
        versions = [(function.get("FunctionName", ""), function.get("Version", "$LATEST"))
                    for function in self._pages(self._lambda, "list_functions", "lambda:ListFunctions", "Functions",
                                                scan, FunctionVersion="ALL")
                    if function.get("PackageType") == "Image"]  # fmt: skip

        def get(version: tuple[str, str]) -> dict[str, Any]:
            with translate("lambda:GetFunction"):
                found: dict[str, Any] = self._lambda.get_function(FunctionName=version[0], Qualifier=version[1])
            return found

        replies = concurrently(get, versions)
        scan.count("lambda:GetFunction", len(replies))
        for (name, version), reply in zip(versions, replies, strict=True):
            code = reply.get("Code") or {}
            uri = code.get("ImageUri")
            if uri:
                resolved = str(code.get("ResolvedImageUri") or "")
                digest = resolved.partition("@")[2] or None
                scan.uses.append(InUse(uri, f"Lambda function {name}:{version}", digest))


WORKERS = 8  # describes at once: each is a round trip of its own


def concurrently(call: Callable[[T], dict[str, Any]], items: list[T]) -> list[dict[str, Any]]:
    """CALL of each of ITEMS, WORKERS at once (boto3's clients are thread-safe), answers in ITEMS' order."""
    if len(items) < 2:
        return [call(item) for item in items]
    with ThreadPoolExecutor(max_workers=min(WORKERS, len(items))) as pool:
        return list(pool.map(call, items))


def _code(err: Exception) -> str:
    """The AWS error code behind a translated error ("" when there is none)."""
    response = getattr(err.__cause__, "response", None) or {}
    return str(response.get("Error", {}).get("Code", ""))


def _last(arn: str) -> str:
    return arn.rsplit("/", 1)[-1]
