"""Bad input and broken surroundings: the real ecrtool says what is wrong in one line, with the right exit code."""

from __future__ import annotations

import json
import os
import subprocess
import urllib.request

import pytest

pytestmark = pytest.mark.integration


def api_calls(stack) -> dict[str, int]:
    with urllib.request.urlopen(f"{stack.api}/_bridge/stats", timeout=10) as reply:
        return json.load(reply)


def one_error_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert lines[0].startswith("ecrtool: error: ")
    assert "Traceback" not in stderr
    return lines[0]


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["create", "Trees"], "invalid repository name 'Trees'"),
        (["create", "a"], "invalid repository name 'a'"),
        (["create", "trees", "--tag", "novalue"], "expected KEY=VALUE"),
        (["push", "viruses", "--repo", "trees", "--tag", ".hidden"], "invalid tag '.hidden'"),
        (["push", "viruses", "--repo", "trees", "--tag", "$(id)"], "invalid tag '$(id)'"),
        (["push", "--repo", "trees", "--", "--privileged"], "invalid image '--privileged'"),
        (["pull", "trees@sha256:1234"], "invalid digest"),
        (["pull", "docker.io/library/busybox:latest"], "not an ECR registry"),
        (["delete", "trees", "--digest", "md5:00"], "invalid digest"),
        (["delete", "trees", "--tag", "x" * 129], "invalid tag"),
        (["images", "trees//x"], "invalid repository name"),
        (["--region", "Mars", "repos"], "invalid region 'Mars'"),
        (["--registry-id", "12", "repos"], "invalid registry id '12'"),
    ],
)
def test_invalid_input_exits_2_before_calling_aws(ecrtool, stack, args, says):
    before = api_calls(stack)
    done = ecrtool(*args)
    assert done.returncode == 2, done.stderr
    assert says in one_error_line(done.stderr)
    assert done.stdout == ""
    assert api_calls(stack) == before


def test_missing_local_image(ecrtool, repo_name):
    done = ecrtool("push", "no-such-image:1.0", "--repo", repo_name, "--create")
    assert done.returncode == 1
    assert "local image 'no-such-image:1.0' not found" in one_error_line(done.stderr)
    assert repo_name not in ecrtool("repos", "-q").stdout.split()


def test_missing_repository(ecrtool):
    done = ecrtool("images", "no-such-repo")
    assert done.returncode == 1
    assert "repository 'no-such-repo' does not exist" in one_error_line(done.stderr)


def test_no_credentials(ecrtool, tmp_path):
    empty = tmp_path / "empty"
    empty.write_text("")
    done = ecrtool(
        "repos",
        extra_env={
            "AWS_ACCESS_KEY_ID": "",
            "AWS_SECRET_ACCESS_KEY": "",
            "AWS_SHARED_CREDENTIALS_FILE": str(empty),
            "AWS_CONFIG_FILE": str(empty),
            "AWS_EC2_METADATA_DISABLED": "true",
        },
    )
    assert done.returncode == 1
    assert "no AWS credentials" in one_error_line(done.stderr)


def test_no_region(ecrtool, tmp_path):
    empty = tmp_path / "empty"
    empty.write_text("")
    done = ecrtool("repos", extra_env={"AWS_REGION": "", "AWS_DEFAULT_REGION": "", "AWS_CONFIG_FILE": str(empty)})
    assert done.returncode == 2
    assert "--region" in one_error_line(done.stderr)


def test_docker_engine_unreachable(ecrtool, tmp_path):
    socket = tmp_path / "nothing.sock"
    done = ecrtool("push", "viruses", "--repo", "trees", "--docker-host", f"unix://{socket}")
    assert done.returncode == 1
    assert str(socket) in one_error_line(done.stderr)


def test_docker_socket_not_permitted(env, stack, test_image):
    # A user outside the socket's group, as on an EC2 host before `usermod -aG docker`.
    socket = env["DOCKER_HOST"].removeprefix("unix://")
    done = subprocess.run(
        [
            "setpriv",
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "--",
            env["PATH"].split(os.pathsep)[0] + "/ecrtool",
            "push",
            "viruses",
            "--repo",
            "trees",
        ],
        capture_output=True,
        text=True,
        env={**env, "HOME": "/tmp"},
        timeout=60,
    )
    assert done.returncode == 1, done.stderr
    line = one_error_line(done.stderr)
    assert f"permission denied on the Docker socket {socket}" in line
    assert "--sudo" in line and "usermod -aG docker" in line  # both fixes


def test_access_denied_names_the_action(ecrtool, faults, test_image, repo_name):
    assert ecrtool("create", repo_name).returncode == 0
    faults(deny=["BatchDeleteImage"])
    done = ecrtool("delete", repo_name, "--tag", "v1")
    assert done.returncode == 1
    line = one_error_line(done.stderr)
    assert "access denied for ecr:BatchDeleteImage" in line
    assert "IAM policy must allow ecr:BatchDeleteImage" in line


def test_registry_refusing_the_token(ecrtool, docker, faults, stack, test_image, repo_name):
    assert ecrtool("create", repo_name).returncode == 0
    faults(token_password="not-the-registry-password")
    pushed = ecrtool("push", "viruses", "--repo", repo_name, "-q")
    assert pushed.returncode == 1
    line = one_error_line(pushed.stderr)
    assert f"registry {stack.registry} refused authentication" in line
    assert "not-the-registry-password" not in pushed.stdout + pushed.stderr
    # nothing half-done: the local name the push added is gone again
    assert docker("image", "inspect", f"{stack.registry}/{repo_name}:viruses").returncode != 0

    logged = ecrtool("login")
    assert logged.returncode == 1
    assert "refused authentication" in one_error_line(logged.stderr)
