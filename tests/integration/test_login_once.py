"""Log in once: configure-docker, docker-credential-ecrtool, the token cache and doctor, against the local ECR.

The plain docker CLI runs the real helper (from its PATH, with its environment) as it would on a host;
GetAuthorizationToken calls are counted where the API receives them (the bridge's /_bridge/stats), on
the session's private local ECR where a count must be exact, so no other test run can add to it.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.integration

HELPER = "docker-credential-ecrtool"
CHECKS = [
    "AWS credentials",
    "region",
    "ecr:GetAuthorizationToken",
    "Docker engine",
    "Docker socket",
    "Docker config",
    "credential helper",
    "token cache",
    "registry",
]
Run = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def cache(env: dict[str, str]) -> Path:
    """This test's token cache folder (its own HOME's, whatever XDG_CACHE_HOME the machine has)."""
    base = Path(env["HOME"]) / ".cache"
    env["XDG_CACHE_HOME"] = str(base)
    return base / "ecrtool" / "tokens"


@pytest.fixture
def helper(env: dict[str, str], cache: Path) -> Run:
    """Run the installed docker-credential-ecrtool as the docker CLI does: one verb, the payload on stdin."""
    program = shutil.which(HELPER, path=env["PATH"])
    assert program, f"{HELPER} is not installed beside ecrtool (make install)"

    def run(verb: str, payload: str = "", environ: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [program, verb], input=payload, capture_output=True, text=True, timeout=60, env=environ or env
        )

    return run


def token_calls(stack) -> int:
    return int(stack.control("stats").get("GetAuthorizationToken", 0))


def without_credentials(env: dict[str, str], tmp_path: Path) -> dict[str, str]:
    """No AWS credentials anywhere: no keys, no files, no instance metadata."""
    empty = tmp_path / "empty-aws-file"
    empty.write_text("")
    bare = {k: v for k, v in env.items() if k not in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE")}
    bare.update(AWS_EC2_METADATA_DISABLED="true", AWS_CONFIG_FILE=str(empty), AWS_SHARED_CREDENTIALS_FILE=str(empty))
    return bare


def doctor_checks(stdout: str) -> dict[str, dict[str, object]]:
    data = json.loads(stdout)
    assert [check["name"] for check in data["checks"]] == CHECKS
    return {check["name"]: check for check in data["checks"]}


# -- the plain docker command through the helper -----------------------------------------------------


def test_plain_docker_pushes_and_pulls_through_the_helper(ecrtool, docker, stack, env, test_image, repo_name, cache):
    assert ecrtool("create", repo_name).returncode == 0
    remote = f"{stack.registry}/{repo_name}:once"
    assert docker("tag", test_image, remote).returncode == 0
    try:
        refused = docker("push", remote)  # a fresh DOCKER_CONFIG and no login
        assert refused.returncode != 0
        assert "no basic auth credentials" in refused.stderr + refused.stdout

        configured = ecrtool("configure-docker")
        assert configured.returncode == 0, configured.stderr
        assert configured.stdout.splitlines() == [stack.registry]
        assert "warning" not in configured.stderr

        pushed = docker("push", remote)
        assert pushed.returncode == 0, pushed.stderr
        assert docker("rmi", remote).returncode == 0
        pulled = docker("pull", remote)
        assert pulled.returncode == 0, pulled.stderr
        assert docker("image", "inspect", remote).returncode == 0
    finally:
        docker("rmi", remote)
    # no password was written anywhere docker keeps them: the helper hands one out on each use
    config = json.loads((Path(env["DOCKER_CONFIG"]) / "config.json").read_text())
    assert config == {"credHelpers": {stack.registry: "ecrtool"}}


def test_the_helper_speaks_the_protocol(helper, ecrtool, stack, env, tmp_path):
    got = helper("get", stack.registry)
    assert got.returncode == 0, got.stderr
    assert got.stderr == ""
    assert json.loads(got.stdout) == {"ServerURL": stack.registry, "Username": "AWS", "Secret": stack.password()}
    assert json.loads(helper("get", f"{stack.registry_url()}/v2/").stdout)["Secret"] == stack.password()

    assert ecrtool("configure-docker", "-q").returncode == 0  # `list` names the registries docker sends it
    listed = helper("list")
    assert listed.returncode == 0 and json.loads(listed.stdout) == {stack.registry: "AWS"}

    for verb, payload in (
        ("store", json.dumps({"ServerURL": "ghcr.io", "Username": "u", "Secret": "s"})),
        ("erase", "ghcr.io"),
    ):
        done = helper(verb, payload)
        assert (done.returncode, done.stdout, done.stderr) == (0, "", "")

    other = helper("get", "ghcr.io")
    assert (other.returncode, other.stdout) == (1, "credentials not found in native keychain\n")

    missing = helper("get", "")
    assert missing.returncode == 2 and missing.stdout == ""  # invalid input
    assert missing.stderr == "docker-credential-ecrtool: error: no credentials server URL\n"

    failed = helper("get", stack.registry, without_credentials(env, tmp_path))
    assert (failed.returncode, failed.stdout) == (1, "")
    lines = failed.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("docker-credential-ecrtool: error: no AWS credentials found")

    wrong = helper("fetch")
    assert wrong.returncode == 2 and wrong.stdout == "" and "usage:" in wrong.stderr


# -- the token cache ----------------------------------------------------------------------------------


@dataclass
class Counted:
    """ecrtool and the helper on the private local ECR, whose API calls no other test's run can add to."""

    stack: Any
    ecrtool: Run
    helper: Run
    cache: Path

    def token_calls(self) -> int:
        return token_calls(self.stack)


@pytest.fixture
def counted(private_stack: Any, tmp_path: Path) -> Counted:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "ECRTOOL_", "DOCKER_", "XDG_"))}
    base.update(private_stack.env)
    home = tmp_path / "private-home"
    home.mkdir()
    base.update(HOME=str(home), DOCKER_CONFIG=str(home / ".docker"), XDG_CACHE_HOME=str(home / ".cache"))
    base["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{base.get('PATH', '')}"

    def command(name: str) -> Run:
        program = shutil.which(name, path=base["PATH"])
        assert program, f"{name} is not installed (make install)"

        def run(*args: str, input: str | None = None) -> subprocess.CompletedProcess[str]:
            return subprocess.run([program, *args], input=input, capture_output=True, text=True, timeout=120, env=base)

        return run

    private_stack.control("faults", {})
    return Counted(private_stack, command("ecrtool"), command(HELPER), home / ".cache" / "ecrtool" / "tokens")


def test_a_second_command_inside_the_window_makes_no_token_call(counted, repo_name):
    image = counted.stack.image("viruses")
    assert counted.ecrtool("create", repo_name).returncode == 0
    before = counted.token_calls()
    pushed = counted.ecrtool("push", image, "--repo", repo_name, "-q")
    assert pushed.returncode == 0, pushed.stderr
    assert counted.token_calls() == before + 1

    assert counted.ecrtool("pull", f"{repo_name}:viruses", "-q").returncode == 0
    assert counted.ecrtool("login", "-q").returncode == 0
    assert counted.helper("get", input=counted.stack.registry).returncode == 0
    assert counted.token_calls() == before + 1  # pull, login and the helper all took the cached token

    assert counted.ecrtool("login", "-q", "--no-cache").returncode == 0
    assert counted.token_calls() == before + 2


def test_an_expiring_cached_token_is_refreshed(counted):
    registry = counted.stack.registry
    assert counted.helper("get", input=registry).returncode == 0
    files = sorted(counted.cache.glob("*.json"))
    assert files
    soon = datetime.now(timezone.utc) + timedelta(minutes=10)  # inside the 15-minute margin
    for path in files:
        doc = json.loads(path.read_text())
        doc["expires_at"] = soon.isoformat()
        path.write_text(json.dumps(doc))
    before = counted.token_calls()
    got = counted.helper("get", input=registry)
    assert got.returncode == 0 and json.loads(got.stdout)["Secret"] == counted.stack.password()
    assert counted.token_calls() == before + 1
    refreshed = [datetime.fromisoformat(json.loads(p.read_text())["expires_at"]) for p in files]
    assert all(moment > datetime.now(timezone.utc) + timedelta(hours=11) for moment in refreshed)
    # and the refreshed token is reused again
    assert counted.helper("get", input=registry).returncode == 0
    assert counted.token_calls() == before + 1


def test_cache_and_docker_config_files_are_private(ecrtool, helper, stack, env, cache):
    config = Path(env["DOCKER_CONFIG"]) / "config.json"
    config.parent.mkdir()
    config.write_text(json.dumps({"auths": {"ghcr.io": {"auth": "dXNlcjpwYXNz"}}}))
    config.chmod(0o644)
    assert ecrtool("configure-docker").returncode == 0
    assert stat.S_IMODE(config.stat().st_mode) == 0o600
    backup = config.with_name("config.json.bak")
    assert json.loads(backup.read_text()) == {"auths": {"ghcr.io": {"auth": "dXNlcjpwYXNz"}}}
    assert stat.S_IMODE(backup.stat().st_mode) == 0o600

    assert helper("get", stack.registry).returncode == 0
    assert stat.S_IMODE(cache.stat().st_mode) == 0o700
    files = list(cache.iterdir())
    assert files and all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in files)
    assert all(p.suffix == ".json" for p in files)  # no temporary file left behind


@pytest.mark.parametrize("planted", ["garbage", "another-owner", "readable-by-others"])
def test_a_planted_cache_file_is_not_used(helper, stack, cache, planted):
    assert helper("get", stack.registry).returncode == 0
    files = sorted(cache.glob("*.json"))
    for path in files:
        if planted == "garbage":
            path.write_text("{not json")
            continue
        doc = json.loads(path.read_text())
        doc["password"] = "planted-password"  # would fail at the registry if it were handed out
        path.write_text(json.dumps(doc))
        if planted == "another-owner":
            os.chown(path, 65534, 65534)
        else:
            path.chmod(0o644)
    before = token_calls(stack)
    got = helper("get", stack.registry)
    assert got.returncode == 0, got.stderr
    assert json.loads(got.stdout)["Secret"] == stack.password()
    assert token_calls(stack) >= before + 1  # fetched anew (>=: another test may ask the shared stack too)
    for path in files:  # replaced by the fresh token, ours and private again
        info = path.stat()
        assert (info.st_uid, stat.S_IMODE(info.st_mode)) == (os.geteuid(), 0o600)
        assert json.loads(path.read_text())["password"] == stack.password()


# -- doctor ---------------------------------------------------------------------------------------------


def test_doctor_healthy(ecrtool, stack, cache):
    assert ecrtool("configure-docker").returncode == 0
    done = ecrtool("doctor")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "every check passed" in done.stdout
    assert done.stdout.count("✓") == len(CHECKS) and "✗" not in done.stdout

    found = doctor_checks(ecrtool("doctor", "-o", "json").stdout)
    assert all(check["status"] == "ok" for check in found.values()), found
    assert "account 123456789012" in str(found["AWS credentials"]["detail"])
    assert str(found["region"]["detail"]).startswith("ca-west-1")
    assert "API" in str(found["Docker engine"]["detail"])
    assert f"uses {HELPER} for {stack.registry}" in str(found["Docker config"]["detail"])
    assert found["registry"]["detail"] == f"{stack.registry_url()}/v2/ answers (HTTP 401)"

    # the docker command as the runner reports the same engine
    through_cli = doctor_checks(ecrtool("doctor", "--runner", "cli", "-o", "json").stdout)
    assert through_cli["Docker engine"]["status"] == "ok"
    assert through_cli["Docker engine"]["detail"] == found["Docker engine"]["detail"]


def test_doctor_without_an_engine(ecrtool, tmp_path):
    missing = tmp_path / "missing.sock"
    done = ecrtool("doctor", "--docker-host", f"unix://{missing}", "-o", "json")
    assert done.returncode == 1
    found = doctor_checks(done.stdout)
    assert found["Docker engine"]["status"] == "fail"
    assert "cannot reach the Docker engine" in str(found["Docker engine"]["detail"])
    assert "systemctl start docker" in str(found["Docker engine"]["fix"])
    assert found["Docker socket"]["status"] == "fail"
    assert found["Docker socket"]["detail"] == f"no socket at {missing}"
    assert found["AWS credentials"]["status"] == "ok"


def test_doctor_without_credentials(env, tmp_path):
    bare = without_credentials(env, tmp_path)
    program = shutil.which("ecrtool", path=env["PATH"])
    assert program
    done = subprocess.run([program, "doctor"], capture_output=True, text=True, timeout=120, env=bare)
    assert done.returncode == 1
    assert "✗" in done.stdout and "FIX" in done.stdout
    assert "AWS_ACCESS_KEY_ID" in done.stdout  # the fix, in the table
    found = doctor_checks(
        subprocess.run([program, "doctor", "-o", "json"], capture_output=True, text=True, timeout=120, env=bare).stdout
    )
    assert found["AWS credentials"]["status"] == "fail"
    assert "no AWS credentials found" in str(found["AWS credentials"]["detail"])
    assert found["ecr:GetAuthorizationToken"]["status"] == "fail"
    assert found["Docker engine"]["status"] == "ok"


def test_doctor_without_the_helper_on_path(env, stack):
    program = shutil.which("ecrtool", path=env["PATH"])
    assert program
    bin_dir = Path(program).parent
    docker_dir = Path(shutil.which("docker") or "/usr/bin/docker").parent
    path = os.pathsep.join(dict.fromkeys([str(docker_dir), "/usr/bin", "/bin"]))
    assert shutil.which(HELPER, path=path) is None
    bare = {**env, "PATH": path}
    configured = subprocess.run([program, "configure-docker"], capture_output=True, text=True, timeout=60, env=bare)
    assert configured.returncode == 0
    assert f"ecrtool: warning: {HELPER} is not on PATH" in configured.stderr

    done = subprocess.run([program, "doctor", "-o", "json"], capture_output=True, text=True, timeout=120, env=bare)
    assert done.returncode == 1
    found = doctor_checks(done.stdout)
    assert [name for name, check in found.items() if check["status"] == "fail"] == ["credential helper"]
    assert found["credential helper"]["fix"] == (
        f"put {bin_dir} on PATH, or: sudo ln -s {bin_dir / HELPER} /usr/local/bin/{HELPER}"
    )


def test_doctor_names_a_socket_you_cannot_use(env, stack):
    # a user outside the socket's group, as on an EC2 host before `usermod -aG docker`
    program = shutil.which("ecrtool", path=env["PATH"])
    assert program
    socket = env["DOCKER_HOST"].removeprefix("unix://")
    done = subprocess.run(
        ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--", program, "doctor", "-o", "json"],
        capture_output=True,
        text=True,
        env={**env, "HOME": "/tmp", "DOCKER_CONFIG": "/tmp/nowhere"},
        timeout=120,
    )
    assert done.returncode == 1
    found = doctor_checks(done.stdout)
    assert found["Docker socket"]["status"] == "fail"
    # the local ECR's socket sits in a root-only folder; an EC2 host's is srw-rw---- root:docker
    assert found["Docker socket"]["detail"] == f"permission denied for nobody on {socket} (or a folder above it)"
    assert found["Docker socket"]["fix"] == (
        "join the socket's group (sudo usermod -aG docker $USER, then log in again) or pass --sudo"
    )
