"""Bad input to the local ECR's own commands, and what `up` and `down` do to /etc/hosts.

The hosts file and the loopback address are the test's own (LOCAL_ECR_HOSTS_FILE, LOCAL_ECR_FRONT_IP),
so the shared stack's names stay as they are while these run.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

SCRIPTS = Path(__file__).resolve().parents[2] / "scripts"
LOCAL_ECR = SCRIPTS / "local-ecr"
HOSTS = "127.0.0.1 localhost\n::1 localhost ip6-localhost\n# a comment someone wrote\n"


def localecr(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """`python3 -m localecr ARGS`, as scripts/local-ecr runs it."""
    return subprocess.run(
        [sys.executable, "-m", "localecr", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": str(SCRIPTS), **env},
    )


@pytest.fixture
def state(tmp_path: Path) -> dict[str, str]:
    """A prepared state folder of a stack that is not running, a hosts file and a loopback address of its own."""
    hosts = tmp_path / "hosts"
    hosts.write_text(HOSTS)
    folder = tmp_path / "s"
    env = {"LOCAL_ECR_HOSTS_FILE": str(hosts), "LOCAL_ECR_FRONT_IP": "127.77.0.9", "STATE": str(folder)}
    done = localecr("prepare", "--state", str(folder), env=env)
    assert done.returncode == 0, done.stderr
    return env


def test_faces_map_ecrs_names_and_unfaces_takes_exactly_them_out(state: dict[str, str]) -> None:
    hosts = Path(state["LOCAL_ECR_HOSTS_FILE"])
    done = localecr("faces", "--state", state["STATE"], env=state)
    assert done.returncode == 0, done.stderr
    text = hosts.read_text()
    assert text.startswith(HOSTS)
    assert "127.77.0.9 123456789012.dkr.ecr.ca-west-1.amazonaws.com " in text
    assert " api.ecr.us-east-1.amazonaws.com " in text and " 210987654321.dkr.ecr.us-east-1.amazonaws.com " in text
    assert localecr("faces", "--state", state["STATE"], env=state).returncode == 0  # again: one block still
    assert hosts.read_text() == text

    assert localecr("unfaces", "--state", state["STATE"], env=state).returncode == 0
    assert hosts.read_text() == HOSTS


def test_a_name_someone_else_mapped_stops_up_and_changes_nothing(state: dict[str, str]) -> None:
    hosts = Path(state["LOCAL_ECR_HOSTS_FILE"])
    theirs = HOSTS + "10.1.2.3 api.ecr.ca-west-1.amazonaws.com\n"
    hosts.write_text(theirs)
    done = localecr("faces", "--state", state["STATE"], env=state)
    assert done.returncode == 1
    assert done.stderr == (
        f"local-ecr: {hosts} already maps api.ecr.ca-west-1.amazonaws.com "
        "('10.1.2.3 api.ecr.ca-west-1.amazonaws.com'): remove that line first\n"
    )
    assert hosts.read_text() == theirs


def test_a_taken_port_stops_up_with_one_line(state: dict[str, str]) -> None:
    with socket.socket() as holder:
        holder.bind(("127.77.0.9", 443))
        holder.listen(1)
        done = localecr("faces", "--state", state["STATE"], env=state)
    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        "local-ecr: 127.77.0.9:443 is taken (Address already in use): stop what listens there, "
        "or set LOCAL_ECR_FRONT_IP to another loopback address"
    ]
    assert Path(state["LOCAL_ECR_HOSTS_FILE"]).read_text() == HOSTS


def test_a_dead_stacks_block_is_replaced_and_a_live_ones_is_not(state: dict[str, str], stack) -> None:
    hosts = Path(state["LOCAL_ECR_HOSTS_FILE"])
    left = "# local-ecr BEGIN /tmp/gone\n127.77.0.1 api.ecr.ca-west-1.amazonaws.com\n# local-ecr END /tmp/gone\n"
    hosts.write_text(HOSTS + left)
    assert localecr("faces", "--state", state["STATE"], env=state).returncode == 0
    assert "/tmp/gone" not in hosts.read_text()

    alive = f"# local-ecr BEGIN {stack.home}\n127.77.0.1 sts.amazonaws.com\n# local-ecr END {stack.home}\n"
    hosts.write_text(HOSTS + alive)
    held = localecr("faces", "--state", state["STATE"], env=state)
    assert held.returncode == 1
    assert held.stderr == f"local-ecr: ECR's names are held by the local ECR in {stack.home}: run its `down` first\n"
    assert hosts.read_text() == HOSTS + alive


def test_stop_names_the_components_it_takes(stack) -> None:
    done = subprocess.run([str(LOCAL_ECR), "stop", "bridge"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert done.stderr == "local-ecr: stop/restart take dockerd or registry, not 'bridge'\n"


def test_up_as_another_user_says_it_needs_root(tmp_path: Path) -> None:
    nobody = subprocess.run(
        ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", str(LOCAL_ECR), "up"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "LOCAL_ECR_HOME": str(tmp_path / "s")},
        cwd="/",
    )
    assert nobody.returncode == 1
    assert nobody.stderr.splitlines()[-1] == "local-ecr: up needs root: dockerd runs as root"
