"""`ecrtool run` for real, with both Docker runners: output, exit codes, -d, --rm, --pull never, Ctrl-C."""

from __future__ import annotations

import shutil
import signal
import subprocess
import time
import uuid

import pytest

pytestmark = pytest.mark.integration

HELLO = "hello from the local-ecr test image viruses"
RUNNERS = ["api", "cli"]


@pytest.fixture
def container_name(docker):
    name = f"run-{uuid.uuid4().hex[:10]}"
    yield name
    docker("rm", "--force", name)


def containers(docker, name: str) -> list[str]:
    return docker("ps", "--all", "--filter", f"name=^{name}$", "--format", "{{.Status}}").stdout.split("\n")[:-1]


@pytest.mark.parametrize("runner", RUNNERS)
def test_attached_output_and_pull(ecrtool, stack, pushed, runner):
    done = ecrtool("--runner", runner, "run", pushed)
    assert done.returncode == 0, done.stderr
    assert done.stdout == HELLO + "\n"
    assert "Pull" in done.stderr  # it pulled, and showed it


@pytest.mark.parametrize("runner", RUNNERS)
def test_the_exit_code_passes_through(ecrtool, pushed, runner):
    done = ecrtool(
        "--runner", runner, "run", pushed, "-q", "--", "/bin/busybox", "sh", "-c", "echo out; echo err >&2; exit 3"
    )
    assert done.returncode == 3
    assert (done.stdout, done.stderr) == ("out\n", "err\n")


@pytest.mark.parametrize("runner", RUNNERS)
def test_detached_prints_the_id_and_leaves_it_running(ecrtool, docker, pushed, container_name, runner):
    done = ecrtool("--runner", runner, "run", pushed, "-d", "-q", "--name", container_name, "--", "/bin/busybox",
                   "sleep", "30")  # fmt: skip
    assert done.returncode == 0, done.stderr
    container_id = done.stdout.strip()
    assert len(container_id) == 64
    inspected = docker("inspect", "--format", "{{.Id}} {{.State.Running}}", container_name).stdout.split()
    assert inspected == [container_id, "true"]


@pytest.mark.parametrize("runner", RUNNERS)
def test_rm_removes_the_container_and_without_it_it_stays(ecrtool, docker, pushed, container_name, runner):
    assert ecrtool("--runner", runner, "run", pushed, "--rm", "--name", container_name).returncode == 0
    assert containers(docker, container_name) == []
    assert ecrtool("--runner", runner, "run", pushed, "--name", container_name).returncode == 0
    (status,) = containers(docker, container_name)
    assert status.startswith("Exited (0)")


@pytest.mark.parametrize("runner", RUNNERS)
def test_options_reach_the_container(ecrtool, pushed, tmp_path, runner):
    env_file = tmp_path / "app.env"
    env_file.write_text("FROM_FILE=file value\n")
    (tmp_path / "shared").mkdir()
    (tmp_path / "shared" / "note.txt").write_text("mounted\n")
    done = ecrtool(
        "--runner", runner, "run", pushed, "--rm", "-q", "-e", "MODE=prod", "-e", "TOKEN", "--env-file", str(env_file),
        "-v", f"{tmp_path / 'shared'}:/shared:ro", "--",
        "/bin/busybox", "sh", "-c", 'echo "$MODE|$TOKEN|$FROM_FILE"; /bin/busybox cat /shared/note.txt',
        extra_env={"TOKEN": "s3cret from env"},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout == "prod|s3cret from env|file value\nmounted\n"


def test_pull_never_on_a_missing_image_is_a_clear_error(ecrtool, stack, repo_name):
    done = ecrtool("run", f"{repo_name}:nothing", "--pull", "never")
    assert done.returncode == 1
    assert done.stderr == (
        f"ecrtool: error: image {stack.registry}/{repo_name}:nothing is not on this Docker engine and --pull never "
        f"forbids fetching it: pull it with `ecrtool pull {repo_name}:nothing`, or use --pull missing\n"
    )
    assert done.stdout == ""


def test_a_missing_tag_is_explained(ecrtool, pushed):
    repository = pushed.split(":")[0]
    done = ecrtool("run", f"{repository}:nope")
    assert done.returncode == 1
    assert f"tag 'nope' not found in repository '{repository}'" in done.stderr


@pytest.mark.parametrize("runner", RUNNERS)
def test_ctrl_c_stops_the_container(env, docker, pushed, container_name, runner):
    exe = shutil.which("ecrtool", path=env["PATH"])
    # PID 1 in a container ignores SIGTERM unless it traps it: this one does, as a real service would
    loop = 'trap "exit 143" TERM; while true; do /bin/busybox sleep 1; done'
    proc = subprocess.Popen(
        [exe, "--runner", runner, "run", pushed, "--rm", "--name", container_name, "--", "/bin/busybox", "sh", "-c",
         loop],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while not any(status.startswith("Up") for status in containers(docker, container_name)):
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the container never started"
            time.sleep(0.2)
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 130
    assert stderr.splitlines()[-1] == "ecrtool: error: interrupted"
    assert containers(docker, container_name) == []
