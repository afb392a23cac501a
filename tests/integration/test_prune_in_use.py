"""`prune --not-pulled-for --protect-in-use` against moto's ECS and Lambda behind the local ECR's face, on
their real names (a plain botocore client with the stack's environment): images an ACTIVE task definition,
a service (on an INACTIVE revision) and a Lambda version use stay with their platforms; an unused one goes."""

from __future__ import annotations

import json
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

pytestmark = pytest.mark.integration

LOCAL_ECR = Path(__file__).resolve().parents[2] / "scripts" / "local-ecr"
HOST = "123456789012.dkr.ecr.ca-west-1.amazonaws.com"
Run = Callable[..., subprocess.CompletedProcess[str]]
DAY = 86400


def client(env: dict[str, str], service: str) -> Any:
    """A plain boto3 client on the stack's environment: AWS's own endpoint names, the stack's CA."""
    import boto3

    return boto3.session.Session(
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"], aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
        region_name=env["AWS_REGION"],
    ).client(service, verify=env["AWS_CA_BUNDLE"])


def put_index(env: dict[str, str], reference: str, *options: str) -> dict[str, Any]:
    done = subprocess.run([str(LOCAL_ECR), "index", reference, *options], env=env, capture_output=True, text=True,
                          timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr
    printed: dict[str, Any] = json.loads(done.stdout)
    return printed


def age(stack: Any, repo: str, digest: str, days: int) -> None:
    """Make DIGEST pushed DAYS ago and never pulled (POST /_bridge/image-times)."""
    done = requests.post(f"{stack.api}/_bridge/image-times", timeout=30, json={
        "repository": repo, "digest": digest, "pulled": None, "pushed": time.time() - days * DAY})  # fmt: skip
    assert done.status_code == 200, done.text


@pytest.fixture
def workloads(env: dict[str, str]) -> Iterator[dict[str, Any]]:
    """An IAM role for Lambda, an ECS cluster, and what the test made in them, removed afterwards."""
    iam, ecs, lam = client(env, "iam"), client(env, "ecs"), client(env, "lambda")
    name = f"prune-{uuid.uuid4().hex[:8]}"
    trust = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
    role = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    ecs.create_cluster(clusterName=name)
    made: dict[str, Any] = {"name": name, "role": role, "ecs": ecs, "lambda": lam}
    yield made
    for function in made.get("functions", []):
        lam.delete_function(FunctionName=function)
    for service in made.get("services", []):
        ecs.delete_service(cluster=name, service=service, force=True)
    for arn in made.get("definitions", []):
        ecs.deregister_task_definition(taskDefinition=arn)
    ecs.delete_cluster(cluster=name)
    iam.delete_role(RoleName=name)


def test_prune_keeps_what_ecs_and_lambda_use_and_what_they_need(
    ecrtool: Run, stack: Any, env: dict[str, str], repo_name: str, workloads: dict[str, Any], tmp_path: Path
) -> None:
    created = ecrtool("create", repo_name)
    assert created.returncode == 0, created.stderr
    try:
        # four images, each an index of two platforms (OCI and Docker formats give distinct digests)
        web = put_index(env, f"{repo_name}:web-1")
        fn = put_index(env, f"{repo_name}:fn-1", "--docker")
        for index in (web, fn):
            for digest in [index["digest"], *(child["digest"] for child in index["manifests"])]:
                age(stack, repo_name, digest, 200)
        ecs, lam, name = workloads["ecs"], workloads["lambda"], workloads["name"]

        # nothing uses them yet: both go (with their platforms) for nobody pulled them for 90 days
        dry = ecrtool("prune", repo_name, "--not-pulled-for", "90d", "-o", "json")
        assert dry.returncode == 0, dry.stderr
        tops = {image["digest"] for image in json.loads(dry.stdout)["images"] if image["rule"] is not None}
        assert tops == {web["digest"], fn["digest"]}

        # an ECS service on a task definition revision since deregistered, and a Lambda image function
        definition = ecs.register_task_definition(family=name, containerDefinitions=[
            {"name": "web", "image": f"{HOST}/{repo_name}:web-1", "memory": 64}])["taskDefinition"]["taskDefinitionArn"]
        workloads["definitions"] = [definition]
        ecs.create_service(cluster=name, serviceName=name, taskDefinition=definition, desiredCount=0)
        workloads["services"] = [name]
        ecs.deregister_task_definition(taskDefinition=definition)  # INACTIVE, yet the service uses it
        lam.create_function(FunctionName=name, PackageType="Image", Code={"ImageUri": f"{HOST}/{repo_name}:fn-1"},
                            Role=workloads["role"], Publish=True)  # fmt: skip
        workloads["functions"] = [name]

        kept = ecrtool("prune", repo_name, "--not-pulled-for", "90d", "--protect-in-use", "-o", "json")
        assert kept.returncode == 0, kept.stderr
        doc = json.loads(kept.stdout)
        assert doc["selected"] == 0
        where = {use["digest"]: use["where"] for use in doc["in_use_images"]}
        assert where[web["digest"]] == f"ECS task definition {name}:1 (service {name})"
        assert where[fn["digest"]].startswith(f"Lambda function {name}:")

        # a file of references protects too; without it and with --yes the web image goes
        pods = tmp_path / "pods.txt"
        pods.write_text(f"{HOST}/{repo_name}:web-1 docker.io/library/nginx:1.25\n")
        ecs.delete_service(cluster=name, service=name, force=True)
        workloads["services"] = []
        filed = ecrtool("prune", repo_name, "--not-pulled-for", "90d", "--protect-in-use", "--protect-file",
                        str(pods), "-o", "json")  # fmt: skip
        assert json.loads(filed.stdout)["selected"] == 0, filed.stdout
        pruned = ecrtool("prune", repo_name, "--not-pulled-for", "90d", "--protect-in-use", "--yes", "-o", "json")
        assert pruned.returncode == 0, pruned.stderr
        doc = json.loads(pruned.stdout)
        gone = {image["digest"] for image in doc["images"] if image["status"] == "deleted"}
        # the stack's keys' pulls are recorded, so prune read no manifest: the web index goes, and its
        # platforms, which it cannot tell from the Lambda image's, stay while that index stays
        assert (gone, doc["links"]) == ({web["digest"]}, "listing")
        listed = {item["imageDigest"] for item in client(env, "ecr").describe_images(repositoryName=repo_name)[
            "imageDetails"]}
        platforms = {child["digest"] for index in (web, fn) for child in index["manifests"]}
        assert listed == {fn["digest"], *platforms}
    finally:
        ecrtool("delete", repo_name, "--force", "--yes")
