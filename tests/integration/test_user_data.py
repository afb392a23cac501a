"""`ecrtool ec2 user-data`: the script passes bash -n and shellcheck for every OS, and its ecrtool lines,
run here against the local ECR, log in, pull and run the image, as they would on the instance."""

from __future__ import annotations

import shlex
import shutil
import subprocess
import uuid

import pytest

from ecrtool.service.userdata import RECIPES, Layout

pytestmark = pytest.mark.integration

HELLO = "hello from the local-ecr test image viruses"
ECRTOOL = Layout().ecrtool
# what the instance's pip installs: this checkout is editable, so it has to be named (the boot test installs
# a real wheel of it; here the ecrtool lines run with the installed ecrtool instead)
WHEEL = "https://files.example.com/ecrtool-0.1.0-py3-none-any.whl#sha256=" + "0" * 64


def user_data(ecrtool, *args: str) -> str:
    done = ecrtool("ec2", "user-data", "--region", "ca-west-1", "--install", WHEEL, *args)
    assert done.returncode == 0, done.stderr
    return done.stdout


def ecrtool_lines(script: str) -> list[list[str]]:
    return [shlex.split(line) for line in script.splitlines() if line.startswith(f"{ECRTOOL} ")]


@pytest.mark.parametrize("service", [False, True], ids=["detached", "service"])
@pytest.mark.parametrize("os_name", list(RECIPES))
def test_the_script_passes_bash_n_and_shellcheck(ecrtool, tmp_path, os_name, service):
    args = ["--image", "trees:viruses", "--os", os_name, "-p", "80:8080", "-e", "MODE=a b $x", "--", "serve", "%d"]
    script = tmp_path / "user-data.sh"
    script.write_text(user_data(ecrtool, *args, *(["--service"] if service else [])))
    syntax = subprocess.run(["bash", "-n", str(script)], capture_output=True, text=True)
    assert syntax.returncode == 0, syntax.stderr
    assert shutil.which("shellcheck"), "shellcheck is missing: make test-tools installs it"
    lint = subprocess.run(["shellcheck", "--shell=bash", str(script)], capture_output=True, text=True)
    assert lint.returncode == 0, lint.stdout


def test_its_ecrtool_lines_log_in_pull_and_run(ecrtool, docker, env, stack, pushed):
    name = f"ud-{uuid.uuid4().hex[:8]}"
    script = user_data(ecrtool, "--image", pushed, "--name", name, "--",
                       "/bin/busybox", "sh", "-c", 'echo "from user data: $0"', "a 'quoted' $word")  # fmt: skip
    lines = ecrtool_lines(script)
    assert [line[3] for line in lines] == ["login", "pull", "run"]
    installed = shutil.which("ecrtool", path=env["PATH"]) or "ecrtool"
    try:
        outputs = []
        for line in lines:
            done = subprocess.run([installed, *line[1:]], env=env, capture_output=True, text=True, timeout=180)
            assert done.returncode == 0, done.stderr
            outputs.append(done.stdout)
        output = "".join(outputs)
        assert output.startswith(f"Login Succeeded: {stack.registry}")
        assert f"{stack.registry}/{pushed}" in output.splitlines()  # the pull
        container_id = output.splitlines()[-1]  # the detached run
        docker("wait", container_id)
        assert docker("logs", container_id).stdout == "from user data: a 'quoted' $word\n"
    finally:
        docker("rm", "--force", name)


def test_the_service_units_commands_pull_and_run(ecrtool, docker, env, stack, pushed):
    script = user_data(ecrtool, "--image", pushed, "--service", "--", "/bin/busybox", "echo", "from the unit")
    # the unit's lines, one printf argument each: '  LINE \'
    lines = [shlex.split(line.removesuffix(" \\"))[0] for line in script.splitlines() if line.startswith("  ")]
    unit = {key: value for key, _, value in (line.partition("=") for line in lines) if key.startswith("ExecStart")}
    name = pushed.split(":")[0]
    assert unit["ExecStartPre"] == f"-/usr/bin/docker rm --force {name}"
    # a container left by an earlier start goes first (with none there it fails, which '-' allows)
    assert docker("create", "--name", name, "viruses").returncode == 0
    pre = shlex.split(unit["ExecStartPre"].removeprefix("-"))
    assert subprocess.run(["docker", *pre[1:]], env=env, capture_output=True).returncode == 0
    start = shlex.split(unit["ExecStart"])
    assert start[0] == ECRTOOL
    ecrtool_exe = shutil.which("ecrtool", path=env["PATH"])
    done = subprocess.run([ecrtool_exe, *start[1:]], env=env, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "from the unit\n"
    assert docker("ps", "--all", "--filter", f"name=^{name}$", "--quiet").stdout == ""  # --rm: one container a start


def test_file_and_launch_command(ecrtool, tmp_path):
    target = tmp_path / "data.txt"
    done = ecrtool("ec2", "user-data", "--image", "trees:viruses", "--region", "ca-west-1", "--file", str(target),
                   "--install", WHEEL, "--launch-command", "--launch-template", "lt-0abc",
                   "--instance-profile", "ecr-reader")  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout == (
        f"aws ec2 run-instances --region ca-west-1 --user-data file://{target} "
        "--launch-template LaunchTemplateId=lt-0abc --iam-instance-profile Name=ecr-reader\n"
    )
    assert target.read_text().startswith("#!/bin/bash\n")
    assert "run-instances" not in target.read_text()
    assert oct(target.stat().st_mode & 0o777) == "0o600"


def test_without_a_file_the_launch_command_goes_to_stderr(ecrtool):
    done = ecrtool("ec2", "user-data", "--image", "trees:viruses", "--region", "ca-west-1", "--install", WHEEL,
                   "--launch-command")  # fmt: skip
    assert done.stdout.startswith("#!/bin/bash\n")
    assert done.stderr.startswith("aws ec2 run-instances --region ca-west-1 --user-data file://user-data.sh ")
