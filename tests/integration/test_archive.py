"""`ecrtool archive`, `restore` and `images` with the real ecrtool on the local ECR: a pull records the image's
last pull, an archived image is listed as such and cannot be pulled or copied (the error says how to
restore it), `restore --wait` brings it back; a principal excluded from pull times pulls unrecorded."""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.integration

Run = Callable[..., subprocess.CompletedProcess[str]]
LOCAL_ECR = Path(__file__).resolve().parents[2] / "scripts" / "local-ecr"
SECOND = {"AWS_ACCESS_KEY_ID": "AKIALOCALECRSECOND01", "AWS_SECRET_ACCESS_KEY": "local-ecr-second-account-secret"}


@pytest.fixture
def fresh(ecrtool: Run, docker: Run, stack: Any, repo_name: str) -> Iterator[str]:
    """An image of its own (no other test's image shares its layers' config) pushed as REPO:v1, then gone from
    the engine, so that a pull has to GET its manifest: the engine skips that for an image it holds."""
    name = repo_name.replace("trees", "archive")
    env = {**os.environ, **stack.env}
    subprocess.run([str(LOCAL_ECR), "image", name], check=True, capture_output=True, env=env, timeout=120)
    done = ecrtool("push", name, "--repo", repo_name, "--tag", "v1", "--create", "-q")
    assert done.returncode == 0, done.stderr
    docker("image", "rm", name, f"{stack.registry}/{repo_name}:v1")
    yield f"{repo_name}:v1"
    docker("image", "rm", f"{stack.registry}/{repo_name}:v1")
    ecrtool("delete", repo_name, "--force", "--yes")


def listed(ecrtool: Run, repo: str, *options: str, extra_env: dict[str, str] | None = None) -> list[dict[str, Any]]:
    done = ecrtool("images", repo, "-o", "json", *options, extra_env=extra_env)
    assert done.returncode == 0, done.stderr
    return list(json.loads(done.stdout))


def moment(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def test_pull_archive_refused_pull_restore_and_pull_again(
    ecrtool: Run, docker: Run, stack: Any, fresh: str, repo_name: str
) -> None:
    pushed = fresh
    started = datetime.now(timezone.utc) - timedelta(seconds=2)
    pulled = ecrtool("pull", pushed, "-q")
    assert pulled.returncode == 0, pulled.stderr
    [image] = listed(ecrtool, repo_name)
    digest = image["digest"]
    assert (image["status"], image["storage_class"]) == ("ACTIVE", "STANDARD")
    last = moment(image["last_pulled_at"])
    assert last is not None and last >= started

    archived = ecrtool("archive", pushed)
    assert archived.returncode == 0, archived.stderr
    assert archived.stdout == f"archived: {pushed} ({digest[:19]})\n"
    again = ecrtool("archive", pushed)
    assert again.stdout == f"already archived: {pushed} ({digest[:19]})\n"

    table = ecrtool("images", repo_name)
    assert table.returncode == 0, table.stderr
    header, row = [line.split() for line in table.stdout.splitlines()[1:]]
    assert header == ["TAGS", "DIGEST", "SIZE", "PUSHED", "AT", "LAST", "PULL", "STATUS", "CLASS"]
    assert row[-2:] == ["ARCHIVED", "ARCHIVE"]
    assert ecrtool("images", repo_name, "--archived", "-q").stdout.split() == [digest]

    docker("image", "rm", f"{stack.registry}/{pushed}")
    refused = ecrtool("pull", pushed)
    assert refused.returncode == 1
    assert refused.stderr.startswith(f"ecrtool: error: image {pushed} is archived: `ecrtool restore {pushed}`")
    copied = ecrtool("copy", pushed, f"{repo_name}:copy")
    assert copied.returncode == 1
    assert f"is archived: `ecrtool restore {pushed}`" in copied.stderr
    # the refused pulls recorded nothing
    [still] = listed(ecrtool, repo_name)
    assert moment(still["last_pulled_at"]) == last and moment(still["archived_at"]) is not None

    restored = ecrtool("restore", pushed, "--wait", "--timeout", "2m")
    assert restored.returncode == 0, restored.stderr
    assert restored.stdout.startswith("restored in ") and restored.stdout.endswith(f": {pushed} ({digest[:19]})\n")
    [active] = listed(ecrtool, repo_name)
    assert (active["status"], active["storage_class"]) == ("ACTIVE", "STANDARD")
    assert moment(active["activated_at"]) >= moment(active["archived_at"])  # type: ignore[operator]

    pulled_again = ecrtool("pull", pushed, "-q")
    assert pulled_again.returncode == 0, pulled_again.stderr
    [after] = listed(ecrtool, repo_name)
    assert moment(after["last_pulled_at"]) > last  # type: ignore[operator]


def test_restore_without_wait_is_activating_and_a_pull_meanwhile_says_to_wait(
    ecrtool: Run, docker: Run, stack: Any, pushed: str, repo_name: str
) -> None:
    assert ecrtool("archive", pushed).returncode == 0
    restoring = ecrtool("restore", pushed)
    assert restoring.returncode == 0, restoring.stderr
    assert restoring.stdout.endswith(": ACTIVATING\n") and "--wait" in restoring.stderr
    refused = ecrtool("pull", pushed)  # the stand-in restores in LOCAL_ECR_RESTORE_SECONDS (3 s)
    assert refused.returncode == 1
    assert f"is archived and being restored: `ecrtool restore {pushed} --wait`" in refused.stderr
    assert ecrtool("restore", pushed, "--wait").returncode == 0
    assert ecrtool("pull", pushed, "-q").returncode == 0


def test_not_pulled_for_uses_the_last_pull_and_else_the_push(
    ecrtool: Run, stack: Any, pushed: str, repo_name: str
) -> None:
    [image] = listed(ecrtool, repo_name)
    assert listed(ecrtool, repo_name, "--not-pulled-for", "90d") == []
    now = time.time()
    times = {"repository": repo_name, "digest": image["digest"], "pushed": now - 200 * 86400, "pulled": None}
    stack.control("image-times", times)
    [never] = listed(ecrtool, repo_name, "--not-pulled-for", "90d")
    assert never["last_pulled_at"] is None  # never pulled: counted from its push, 200 days ago
    stack.control("image-times", {**times, "pulled": now - 30 * 86400})
    assert listed(ecrtool, repo_name, "--not-pulled-for", "90d") == []
    [idle] = listed(ecrtool, repo_name, "--not-pulled-for", "4w")
    assert abs(moment(idle["last_pulled_at"]).timestamp() - (now - 30 * 86400)) < 1  # type: ignore[union-attr]


def test_an_excluded_principal_pulls_without_updating_the_last_pull(
    ecrtool: Run, docker: Run, stack: Any, repo_name: str
) -> None:
    """On the second account's registry, so that no other test's pulls are excluded meanwhile."""
    import boto3

    name = repo_name.replace("trees", "excluded")
    env = {**os.environ, **stack.env}
    subprocess.run([str(LOCAL_ECR), "image", name], check=True, capture_output=True, env=env, timeout=120)
    pushed = ecrtool("push", name, "--repo", repo_name, "--tag", "v1", "--create", "-q", extra_env=SECOND)
    assert pushed.returncode == 0, pushed.stderr
    reference = f"{stack.registry.replace('123456789012', '210987654321')}/{repo_name}:v1"
    docker("image", "rm", name, reference)
    ecr = boto3.client("ecr", region_name="ca-west-1", **{k.lower(): v for k, v in SECOND.items()})
    principal = "arn:aws:iam::210987654321:user/moto"
    ecr.register_pull_time_update_exclusion(principalArn=principal)
    try:
        assert ecr.list_pull_time_update_exclusions()["pullTimeUpdateExclusions"] == [principal]
        pulled = ecrtool("pull", f"{repo_name}:v1", "-q", extra_env=SECOND)  # a manifest GET, as this principal
        assert pulled.returncode == 0, pulled.stderr
        ecr.batch_get_image(repositoryName=repo_name, imageIds=[{"imageTag": "v1"}])
        [image] = ecr.describe_images(repositoryName=repo_name)["imageDetails"]
        assert "lastRecordedPullTime" not in image
    finally:
        ecr.deregister_pull_time_update_exclusion(principalArn=principal)
        docker("image", "rm", reference)
    ecr.batch_get_image(repositoryName=repo_name, imageIds=[{"imageTag": "v1"}])
    [image] = ecr.describe_images(repositoryName=repo_name)["imageDetails"]
    assert image["lastRecordedPullTime"] > datetime.now(timezone.utc) - timedelta(minutes=1)
    ecr.delete_repository(repositoryName=repo_name, force=True)
