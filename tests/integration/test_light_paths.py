"""The light paths, with the real ecrtool against the local ECR: with the keys in the environment, a
login, a push and a pull make their ECR calls without botocore, and their engine calls on the socket
without docker-py (each costs more than the whole login); ECRTOOL_AWS_CLIENT=botocore sends the ECR
calls through botocore again."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.integration

PROBE = (
    "import sys\n"
    "sys.argv = ['ecrtool', *sys.argv[1:]]\n"
    "from ecrtool.cli.main import main\n"
    "try:\n    main()\nexcept SystemExit as done:\n    code = done.code\n"
    "heavy = sorted({m.split('.')[0] for m in sys.modules} & {'boto3', 'botocore', 'docker', 'requests', 'rich'})\n"
    "print('loaded:', ','.join(heavy), 'exit:', code, file=sys.stderr)\n"
)


def loaded(env: dict[str, str], *args: str) -> str:
    done = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True, text=True, env=env, timeout=60)
    last = done.stderr.strip().splitlines()[-1]
    assert last.endswith("exit: 0"), done.stderr
    return last.removeprefix("loaded: ").removesuffix(" exit: 0").strip()


def test_a_login_loads_neither_botocore_nor_docker_py(env: dict[str, str]) -> None:
    env = {**env, "PYTHONPATH": os.pathsep.join(sys.path)}
    assert loaded(env, "login") == ""  # the first fetches the token, signing the call itself
    assert loaded(env, "login") == ""  # the second has it from the cache
    assert loaded(env, "login", "--no-cache") == ""
    assert loaded({**env, "ECRTOOL_AWS_CLIENT": "botocore"}, "login", "--no-cache") == "botocore"


def test_push_and_pull_load_neither_botocore_nor_docker_py(
    env: dict[str, str], test_image: str, repo_name: str
) -> None:
    env = {**env, "PYTHONPATH": os.pathsep.join(sys.path)}
    assert loaded(env, "push", test_image, "--repo", repo_name, "--create", "-q") == ""
    assert loaded(env, "push", test_image, "--repo", repo_name, "--tag", "again", "-q") == ""
    assert loaded(env, "pull", f"{repo_name}:again", "-q") == ""
