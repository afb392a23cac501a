"""Breaking things on purpose: the registry, the engine and the ECR API fail under a real ecrtool.

Each test shows a clear one-line error, the right exit code and nothing lost or half-done. They run
on a private local ECR (the `private_stack` fixture), since they stop and kill its parts.
"""

from __future__ import annotations

import json
import signal
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from faultkit import Run, Running, assert_consistent, digest_line, error_line, listed, registry_tags

pytestmark = pytest.mark.integration

# -- fixtures: ecrtool and docker on the private stack ---------------------------------------------


@pytest.fixture
def ecr(private_ecrtool: Run) -> Run:
    return private_ecrtool


@pytest.fixture
def engine(penv: dict[str, str]) -> Run:
    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["docker", *args], capture_output=True, text=True, timeout=120, env=penv)

    return run


@pytest.fixture
def control(private_stack: Any) -> Iterator[Callable[..., dict[str, object]]]:
    """The private bridge's test endpoints; faults are cleared and counts reset around each test."""
    private_stack.control("faults", {})
    private_stack.control("reset-stats", {})
    yield private_stack.control
    private_stack.control("faults", {})


@pytest.fixture(scope="module")
def small(private_stack: Any) -> str:
    return private_stack.image("viruses")


@pytest.fixture
def repo(ecr: Run) -> str:
    name = f"forest-{uuid.uuid4().hex[:8]}"
    created = ecr("create", name)
    assert created.returncode == 0, created.stderr
    return name


def local_tags(engine: Run) -> set[str]:
    listed = engine("images", "--format", "{{.Repository}}:{{.Tag}}")
    assert listed.returncode == 0, listed.stderr
    return set(listed.stdout.split())


# -- the registry ----------------------------------------------------------------------------------


def test_tags_are_never_read_as_none_from_a_registry_that_refuses(private_stack: Any, repo: str) -> None:
    assert registry_tags(private_stack, repo) == []  # created in ECR, never pushed: unknown to the registry

    class WrongPassword:
        registry = private_stack.registry
        ca_bundle = private_stack.ca_bundle

        def registry_url(self) -> str:
            return str(private_stack.registry_url())

        def password(self) -> str:
            return "not-the-password"

    with pytest.raises(AssertionError, match=f"tags of {repo}: HTTP 403"):
        registry_tags(WrongPassword(), repo)


def test_registry_stopped_before_a_push(private_stack: Any, ecr: Run, engine: Run, small: str, repo: str) -> None:
    before = local_tags(engine)
    private_stack.stop("registry")
    try:
        started = time.monotonic()
        pushed = ecr("push", small, "--repo", repo, "--tag", "v1")
        took = time.monotonic() - started
    finally:
        private_stack.up()
    assert pushed.returncode == 1
    line = error_line(pushed.stderr)
    assert line.startswith(f"ecrtool: error: push of {private_stack.registry}/{repo}:v1 to registry ")
    assert "connection refused" in line.lower()
    assert took < 30
    assert local_tags(engine) == before  # the name the push added went again

    again = ecr("push", small, "--repo", repo, "--tag", "v1")
    assert again.returncode == 0, again.stderr
    digest = assert_consistent(private_stack, repo, "v1")
    assert digest_line(again.stdout) == digest
    assert listed(ecr, repo) == {"v1": digest}


def test_registry_killed_during_the_upload_of_a_large_layer(
    private_stack: Any, penv: dict[str, str], ecr: Run, engine: Run, repo: str
) -> None:
    image = private_stack.image("heavy:1", "--layers", "5", "--size-mb", "50")
    before = local_tags(engine)
    push = Running(penv, "push", image, "--repo", repo)
    try:
        push.wait_for("Pushing")
        private_stack.kill("registry")
        killed = time.monotonic()
        code, out, err = push.finish()
        took = time.monotonic() - killed
    finally:
        private_stack.up()
    assert code == 1, err
    line = error_line(err)
    assert f"registry {private_stack.registry}" in line
    assert took < 20  # not the engine's 50 s of retries against a registry that is gone
    assert local_tags(engine) == before
    assert registry_tags(private_stack, repo) == []

    again = ecr("push", image, "--repo", repo)
    assert again.returncode == 0, again.stderr
    digest = assert_consistent(private_stack, repo, "1")
    assert digest_line(again.stdout) == digest
    assert listed(ecr, repo) == {"1": digest}


# -- the Docker engine -----------------------------------------------------------------------------


def test_docker_engine_stopped(private_stack: Any, ecr: Run, small: str) -> None:
    fresh = f"forest-{uuid.uuid4().hex[:8]}"
    private_stack.stop("dockerd")
    try:
        pushed = ecr("push", small, "--repo", fresh, "--create")
        pulled = ecr("pull", f"{fresh}:v1")
    finally:
        private_stack.up()
    socket = private_stack.env["DOCKER_HOST"]
    for done in (pushed, pulled):
        assert done.returncode == 1
        line = error_line(done.stderr)
        assert line.startswith(f"ecrtool: error: cannot reach the Docker engine at {socket}: start it")
    # checked before anything was created: the push did not leave an empty repository behind
    assert fresh not in ecr("repos", "-q").stdout.split()


# -- the ECR API: 5xx and throttling ---------------------------------------------------------------


def test_ecr_failing_with_500s_is_retried_five_times_then_reported(
    control: Any, ecr: Run, engine: Run, small: str, repo: str
) -> None:
    before = local_tags(engine)
    control("faults", {"error": {"action": "DescribeRepositories", "status": 500}})
    started = time.monotonic()
    pushed = ecr("push", small, "--repo", repo)
    took = time.monotonic() - started
    assert pushed.returncode == 1
    assert error_line(pushed.stderr) == (
        "ecrtool: error: AWS answered ecr:DescribeRepositories with HTTP 500 (ServerException: local-ecr injected"
        " fault) on all 5 attempts: the service is having trouble; run the command again later"
    )
    assert control("stats")["DescribeRepositories"] == 5
    assert took < 15
    assert local_tags(engine) == before


def test_ecr_throttling_is_backed_off_five_times_then_reported(control: Any, ecr: Run) -> None:
    control("faults", {"error": {"action": "GetAuthorizationToken", "status": 400, "code": "ThrottlingException"}})
    started = time.monotonic()
    logged = ecr("login")
    took = time.monotonic() - started
    assert logged.returncode == 1
    assert error_line(logged.stderr) == (
        "ecrtool: error: AWS throttled ecr:GetAuthorizationToken (ThrottlingException: Rate exceeded) on all 5"
        " attempts, backing off between them: too many calls at once; wait a minute and run the command again"
    )
    assert control("stats")["GetAuthorizationToken"] == 5
    # four waits of at most 1, 2, 4 and 8 s (standard mode's jittered backoff for throttling)
    assert took < 15 + 10


def test_a_few_5xx_are_ridden_out(control: Any, ecr: Run, small: str, repo: str) -> None:
    assert ecr("push", small, "--repo", repo).returncode == 0
    control("reset-stats", {})
    control("faults", {"error": {"action": "DescribeImages", "status": 503, "count": 2}})
    assert list(listed(ecr, repo)) == [small]
    assert control("stats")["DescribeImages"] == 3


# -- tokens that stop working midway -----------------------------------------------------------------


def test_token_revoked_between_tags_is_replaced_once(
    private_stack: Any, control: Any, ecr: Run, engine: Run, small: str, repo: str
) -> None:
    before = private_stack.password()
    tags = [f"v{n}" for n in range(1, 7)]
    control("faults", {"rotate_after_pushes": 1})  # the registry password changes once v1 has landed
    pushed = ecr("push", small, "--repo", repo, *[arg for tag in tags for arg in ("--tag", tag)])
    assert pushed.returncode == 0, pushed.stderr
    assert private_stack.password() != before
    assert control("stats")["GetAuthorizationToken"] == 2
    assert registry_tags(private_stack, repo) == sorted(tags)
    assert sorted(listed(ecr, repo)) == sorted(tags)


def test_cached_token_revoked_since_login_is_replaced_from_ecr(
    private_stack: Any, control: Any, ecr: Run, small: str, repo: str
) -> None:
    logged = ecr("login")
    assert logged.returncode == 0, logged.stderr
    control("rotate-password", {})  # the token login cached is revoked
    control("reset-stats", {})
    pushed = ecr("push", small, "--repo", repo)
    assert pushed.returncode == 0, pushed.stderr
    # the cached token was refused, so exactly one fresh one came from ECR, and it is cached now
    assert control("stats")["GetAuthorizationToken"] == 1
    control("reset-stats", {})
    assert ecr("push", small, "--repo", repo, "--tag", "again").returncode == 0
    assert "GetAuthorizationToken" not in control("stats")


def test_a_copy_with_a_cached_token_revoked_since_gets_a_fresh_one(
    private_stack: Any, control: Any, ecr: Run, small: str, repo: str
) -> None:
    pushed = ecr("push", small, "--repo", repo, "--tag", "v1", "-q")  # caches the registry's token
    assert pushed.returncode == 0, pushed.stderr
    control("rotate-password", {})  # the cached token is revoked
    control("reset-stats", {})
    copied = ecr("copy", f"{repo}:v1", f"{repo}-copy:v1", "--create", "-q")
    assert copied.returncode == 0, copied.stderr
    assert copied.stdout.endswith(f"digest: {pushed.stdout.split('digest: ')[1]}")
    # the refused token was replaced once, for the copy's both sides (one registry), and cached for the next
    assert control("stats")["GetAuthorizationToken"] == 1
    control("reset-stats", {})
    assert ecr("copy", f"{repo}:v1", f"{repo}-copy:v2", "-q").returncode == 0
    assert "GetAuthorizationToken" not in control("stats")

    # a fresh token refused as well is reported, once, naming the side and the refusal
    control("rotate-password", {})
    control("faults", {"token_password": "revoked-password-123"})
    refused = ecr("copy", f"{repo}:v1", f"{repo}-copy:v3", "-q")
    assert refused.returncode == 1
    line = error_line(refused.stderr)
    assert line.startswith(f"ecrtool: error: source registry {private_stack.registry} refused reading the manifest")
    assert "revoked-password-123" not in refused.stdout + refused.stderr


def test_token_refused_again_after_renewal_fails_clearly(
    private_stack: Any, control: Any, ecr: Run, engine: Run, small: str, repo: str
) -> None:
    before = local_tags(engine)
    control("faults", {"token_password": "revoked-password-123"})
    pushed = ecr("push", small, "--repo", repo, "--tag", "v1")
    assert pushed.returncode == 1
    line = error_line(pushed.stderr)
    assert line.startswith(f"ecrtool: error: registry {private_stack.registry} refused authentication for push")
    assert "a fresh token from ecr:GetAuthorizationToken was refused as well" in line
    assert "revoked-password-123" not in pushed.stdout + pushed.stderr
    assert control("stats")["GetAuthorizationToken"] == 2
    assert local_tags(engine) == before
    assert registry_tags(private_stack, repo) == []


def test_token_expired_before_use_is_replaced(
    private_stack: Any, control: Any, ecr: Run, small: str, repo: str, tmp_path: Path
) -> None:
    assert ecr("push", small, "--repo", repo, home=tmp_path).returncode == 0
    control("reset-stats", {})
    control("faults", {"token_password": "expired-password-123", "token_count": 1})
    pulled = ecr("pull", f"{repo}:viruses")
    assert pulled.returncode == 0, pulled.stderr
    assert pulled.stdout.splitlines()[0] == f"{private_stack.registry}/{repo}:viruses"
    assert control("stats")["GetAuthorizationToken"] == 2


# -- Ctrl-C ----------------------------------------------------------------------------------------


def docker_config_files(penv: dict[str, str]) -> list[str]:
    folder = Path(penv["DOCKER_CONFIG"])
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_ctrl_c_during_a_push(private_stack: Any, penv: dict[str, str], engine: Run, repo: str) -> None:
    image = private_stack.image("heavy:2", "--layers", "5", "--size-mb", "50")
    before, files = local_tags(engine), docker_config_files(penv)
    push = Running(penv, "push", image, "--repo", repo, "--tag", "v1")
    push.wait_for("Pushing")
    push.proc.send_signal(signal.SIGINT)
    code, out, err = push.finish()
    assert code == 130
    assert error_line(err) == "ecrtool: error: interrupted"
    assert out == ""
    assert local_tags(engine) == before
    assert docker_config_files(penv) == files
    assert registry_tags(private_stack, repo) == []


def test_ctrl_c_during_a_pull(private_stack: Any, penv: dict[str, str], ecr: Run, engine: Run, repo: str) -> None:
    image = private_stack.image("heavy:3", "--layers", "5", "--size-mb", "50")
    assert ecr("push", image, "--repo", repo, "--tag", "v1").returncode == 0
    # drop every local copy so the pull has layers to download
    assert engine("rmi", image, f"{private_stack.registry}/{repo}:v1").returncode == 0
    before, files = local_tags(engine), docker_config_files(penv)
    pull = Running(penv, "pull", f"{repo}:v1")
    pull.wait_for("Downloading")
    pull.proc.send_signal(signal.SIGINT)
    code, out, err = pull.finish()
    assert code == 130
    assert error_line(err) == "ecrtool: error: interrupted"
    assert local_tags(engine) == before
    assert docker_config_files(penv) == files


# -- concurrency -----------------------------------------------------------------------------------


def test_eight_concurrent_pushes_to_one_repository_all_land(
    private_stack: Any, ecr: Run, small: str, repo: str
) -> None:
    tags = [f"c{n}" for n in range(8)]
    with ThreadPoolExecutor(len(tags)) as pool:
        results = list(pool.map(lambda tag: ecr("push", small, "--repo", repo, "--tag", tag), tags))
    for done in results:
        assert done.returncode == 0, done.stderr
    digests = {digest_line(done.stdout) for done in results}
    assert len(digests) == 1
    digest = digests.pop()
    assert registry_tags(private_stack, repo) == sorted(tags)
    assert listed(ecr, repo) == dict.fromkeys(tags, digest)


def test_repositories_settings_and_images_survive_down_and_up(
    private_stack: Any, ecr: Run, engine: Run, small: str
) -> None:
    name = f"kept-{uuid.uuid4().hex[:8]}"
    assert ecr("create", name, "--immutable", "--scan-on-push").returncode == 0
    pushed = ecr("push", small, "--repo", name, "--tag", "v1", "-q")
    assert pushed.returncode == 0, pushed.stderr
    digest = digest_line(pushed.stdout)

    down = private_stack.run("down")
    assert down.returncode == 0, down.stderr
    private_stack.up()

    repos = json.loads(ecr("repos", "-o", "json").stdout)
    kept = next(repo for repo in repos if repo["name"] == name)
    assert (kept["tag_mutability"], kept["scan_on_push"]) == ("IMMUTABLE", True)
    assert listed(ecr, name) == {"v1": digest}
    engine("rmi", f"{private_stack.registry}/{name}:v1")
    pulled = ecr("pull", f"{name}:v1", "-q")
    assert pulled.returncode == 0, pulled.stderr
    # still immutable for the registry too: another image under v1 is refused
    other = private_stack.image(f"other-{uuid.uuid4().hex[:6]}")
    refused = ecr("push", other, "--repo", name, "--tag", "v1")
    assert refused.returncode == 1
    assert refused.stderr.splitlines()[-1].endswith(
        f"tag invalid: The image tag 'v1' already exists in the '{name}' repository and cannot be overwritten "
        "because the repository is immutable."
    )
