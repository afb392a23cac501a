"""A real non-root user on a host like an EC2 instance: outside the Docker socket's group, then with a
NOPASSWD sudo rule for docker (`ecrtool --sudo …`), then inside the group (plain `ecrtool …`).

The test creates the user, a group that alone may use the engine's socket, and a sudoers drop-in,
and takes all of them away again. Root's tests keep working meanwhile: root ignores permissions.
"""

from __future__ import annotations

import fcntl
import grp
import json
import os
import pwd
import shutil
import stat
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
HELLO = "hello from the local-ecr test image viruses"
SECURE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"  # Debian's sudo secure_path


@dataclass
class User:
    name: str
    uid: int
    gid: int
    home: Path
    env: dict[str, str]

    def run(self, *args: str, input: str | None = None) -> subprocess.CompletedProcess[str]:
        """The venv's ecrtool as this user, with its own HOME and Docker config, and the stack's settings."""
        ecrtool = str(Path(sys.executable).parent / "ecrtool")
        argv = ["setpriv", f"--reuid={self.uid}", f"--regid={self.gid}", "--init-groups", "--", ecrtool, *args]
        return subprocess.run(argv, capture_output=True, text=True, env=self.env, input=input, timeout=180)


def _run(*argv: str) -> None:
    subprocess.run(argv, check=True, capture_output=True, text=True)


def _grant_traversal(paths: list[Path]) -> list[tuple[Path, int]]:
    """o+x on every folder above PATHS that lacks it (the stack's 0700 state folder, a 0700 home holding
    the interpreter), so the user can reach the socket and run the venv's ecrtool; returns what to undo."""
    changed: list[tuple[Path, int]] = []
    for path in paths:
        for folder in [*reversed(path.parents)]:
            mode = folder.stat().st_mode
            if not mode & stat.S_IXOTH and folder not in [done for done, _ in changed]:
                folder.chmod(stat.S_IMODE(mode) | stat.S_IXOTH)
                changed.append((folder, stat.S_IMODE(mode)))
    return changed


@pytest.fixture(scope="module")
def socket_group(stack) -> Iterator[str]:
    """The engine's socket usable by one new group only (mode 0660); restored afterwards.

    Two test runs on one stack would undo each other's change, so the module holds a lock meanwhile.
    """
    socket = Path(stack.env["DOCKER_HOST"].removeprefix("unix://"))
    lock = open(stack.home / "socket-permissions.lock", "w")  # held for the whole module
    fcntl.flock(lock, fcntl.LOCK_EX)
    name = f"ecrdock-{uuid.uuid4().hex[:6]}"
    _run("groupadd", name)
    before = socket.stat()
    try:
        os.chown(socket, -1, grp.getgrnam(name).gr_gid)
        socket.chmod(0o660)
        yield name
    finally:
        os.chown(socket, -1, before.st_gid)
        socket.chmod(stat.S_IMODE(before.st_mode))
        _run("groupdel", name)
        lock.close()


@pytest.fixture(scope="module")
def reachable(stack, socket_group) -> Iterator[None]:
    socket = Path(stack.env["DOCKER_HOST"].removeprefix("unix://"))
    targets = [socket, Path(sys.executable).parent / "ecrtool", Path(os.path.realpath(sys.executable)), ROOT / "src"]
    changed = _grant_traversal(targets)
    try:
        yield
    finally:
        for folder, mode in reversed(changed):
            folder.chmod(mode)


@pytest.fixture(scope="module")
def user(stack, socket_group, reachable) -> Iterator[User]:
    name = f"ecr{uuid.uuid4().hex[:8]}"
    base = Path(tempfile.mkdtemp(prefix="ecrtool-user-"))
    base.chmod(0o755)
    home = base / "home"
    _run("useradd", "--create-home", "--home-dir", str(home), "--shell", "/bin/sh", name)
    try:
        entry = pwd.getpwnam(name)
        keep = {k: v for k, v in os.environ.items() if k in ("LANG", "LC_ALL", "TZ")}
        env = {
            **keep,
            **stack.env,
            "HOME": str(home),
            "USER": name,
            "LOGNAME": name,
            "DOCKER_CONFIG": str(home / ".docker"),
            "PATH": f"{Path(sys.executable).parent}:{SECURE_PATH}",
        }
        yield User(name, entry.pw_uid, entry.pw_gid, home, env)
    finally:
        subprocess.run(["pkill", "-KILL", "-u", name], capture_output=True)
        _run("userdel", name)
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def sudo_rule(user) -> Iterator[Path]:
    """A NOPASSWD rule for the docker command sudo finds on its secure_path, and nothing else."""
    docker = shutil.which("docker", path=SECURE_PATH)
    assert docker, "no docker command on sudo's secure_path"
    rule = Path(f"/etc/sudoers.d/{user.name}")
    rule.write_text(f"{user.name} ALL=(root) NOPASSWD: {docker}\n")
    rule.chmod(0o440)
    _run("visudo", "-c", "-f", str(rule))
    try:
        yield rule
    finally:
        rule.unlink()


@pytest.fixture
def in_group(user, socket_group) -> Iterator[None]:
    _run("gpasswd", "--add", user.name, socket_group)
    try:
        yield
    finally:
        _run("gpasswd", "--delete", user.name, socket_group)


def one_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("ecrtool: error: "), stderr
    return lines[0]


def test_the_user_is_really_outside_the_group(user, stack):
    done = subprocess.run(
        ["setpriv", f"--reuid={user.uid}", f"--regid={user.gid}", "--init-groups", "--", "id", "-u"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert done.stdout.strip() == str(user.uid) != "0"


@pytest.mark.parametrize("runner", ["api", "cli"])
def test_outside_the_group_the_error_names_the_socket_and_both_fixes(user, stack, pushed, runner):
    socket = stack.env["DOCKER_HOST"].removeprefix("unix://")
    done = user.run("--runner", runner, "pull", pushed)
    assert done.returncode == 1
    line = one_line(done.stderr)
    assert f"permission denied on the Docker socket {socket}" in line
    assert "rerun with --sudo" in line
    assert "sudo usermod -aG docker $USER" in line and "log in again" in line


def test_sudo_without_a_rule_says_what_to_add(user, pushed):
    done = user.run("--sudo", "pull", pushed)
    assert done.returncode == 1
    line = one_line(done.stderr)
    assert "sudo wants a password" in line and "NOPASSWD" in line


def test_with_sudo_login_pull_and_run_work(user, stack, docker, sudo_rule, root_docker_config, pushed):
    logged = user.run("--sudo", "login")
    assert logged.returncode == 0, logged.stderr
    assert logged.stdout.startswith(f"Login Succeeded: {stack.registry} (credentials stored in ")
    assert "root's" in logged.stdout
    # root's docker keeps the login, where a later plain `sudo docker pull` finds it; the user's has none
    auths = json.loads(root_docker_config.read_text())["auths"]
    assert stack.registry in auths
    assert not (user.home / ".docker" / "config.json").exists()
    assert stack.password() not in logged.stdout + logged.stderr

    pulled = user.run("--sudo", "pull", pushed, "-q")
    assert pulled.returncode == 0, pulled.stderr
    assert pulled.stdout == f"{stack.registry}/{pushed}\n"
    assert docker("image", "inspect", f"{stack.registry}/{pushed}").returncode == 0

    ran = user.run("--sudo", "run", pushed, "--rm", "--", "/bin/busybox", "sh", "-c", "echo as $(id -u); exit 3")
    assert ran.returncode == 3, ran.stderr
    assert ran.stdout == "as 0\n"


def test_with_sudo_a_detached_run(user, docker, sudo_rule, pushed):
    name = f"sudo-{uuid.uuid4().hex[:8]}"
    try:
        done = user.run("--sudo", "run", pushed, "-d", "--name", name, "-q", "--", "/bin/busybox", "sleep", "30")
        assert done.returncode == 0, done.stderr
        assert docker("inspect", "--format", "{{.Id}}", name).stdout.strip() == done.stdout.strip()
    finally:
        docker("rm", "--force", name)


def test_in_the_group_everything_works_without_sudo(user, stack, in_group, pushed):
    logged = user.run("login")
    assert logged.returncode == 0, logged.stderr
    assert json.loads((user.home / ".docker" / "config.json").read_text())["auths"][stack.registry]
    for runner in ("api", "cli"):
        pulled = user.run("--runner", runner, "pull", pushed, "-q", "--no-cache")
        assert pulled.returncode == 0, pulled.stderr
        ran = user.run("--runner", runner, "run", pushed, "--rm", "--pull", "never")
        assert ran.returncode == 0, ran.stderr
        assert ran.stdout == HELLO + "\n"
