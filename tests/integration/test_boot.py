"""The user data's first boot, end to end, as an instance runs it.

`ecrtool ec2 user-data` makes the script for al2023, al2 and ubuntu, detached and --service, installing a
wheel built from this checkout (`--install file://…whl#sha256=…`). The script runs as root under
`env -i`, with nothing but PATH and what `scripts/local-ecr env --instance` prints: no keys, no region, no
~/.aws, no HOME (as cloud-init runs it), the stack's instance metadata (IMDSv2) the only credential and
region source. Its Docker is the stack's dockerd, its socket bound where an instance has Docker's,
/var/run/docker.sock (so DOCKER_HOST goes too).

The host is not changed: each boot runs in a mount namespace of its own (unshare --mount) in which
/etc, /root and /usr/local/bin are overlays (writes go to a folder of the test) and /opt, /home and /run
are empty tmpfs; the default user is made there with useradd and goes with it. The package manager is a
shim that records its calls; so is systemctl, which starts a unit's ExecStart as systemd would split it
(a background process) and stops it with SIGTERM. Python, pip, ln, install, usermod and ecrtool are real.
The stack's dockerd gives containers no network (--bridge=none), so the container's port is asked from
inside it, and its publishing checked as the binding Docker holds.

pip installs from a wheelhouse made once a session (`pip wheel` of the checkout, `pip download` of its
dependencies), through PIP_NO_INDEX and PIP_FIND_LINKS: each boot installs for real, as an instance
would, but needs no network. Amazon Linux 2's python3.8 and the uv it installs are shims too (uv's
`venv` makes the virtualenv with this machine's Python).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
STACK = ROOT / "scripts" / "local-ecr"
PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
PYTHON = "/usr/bin/python3"  # the instance's Python stands in for each OS's: outside /root, which is 0700
USERS = {"al2023": "ec2-user", "al2": "ec2-user", "ubuntu": "ubuntu"}
GREETING = "hello from the boot: \"$HOME\" 'quoted' %d"
# the container: -e GREETING's value served on port 8080 (a shell as PID 1 that ends on SIGTERM, as
# `systemctl stop` sends it through ecrtool, rather than httpd's ignoring it until docker's SIGKILL)
SERVE = (
    "trap 'exit 0' TERM; /bin/busybox mkdir -p /www && echo \"$GREETING\" >/www/index.html"
    " && /bin/busybox httpd -f -p 8080 -h /www & wait"
)

# a shim appends its argc and argv, NUL-separated, to LOG
RECORD = 'printf "%s\\0" "$#" "$0" "$@" >>{log}\n'

# Amazon Linux 2: `python3.8 -m pip install --require-hashes --target /opt/uv -r FILE` puts a uv there;
# that uv's `venv … DIR` makes DIR a virtualenv with pip, as `uv venv --seed` does
PYTHON38 = """#!/bin/sh
{record}target=""
while [ $# -gt 0 ]; do
  case "$1" in --target) target="$2"; shift ;; esac
  shift
done
[ -n "$target" ] || exit 2
mkdir -p "$target/bin"
printf '#!/bin/sh\\n%s' '{uv}' >"$target/bin/uv"
chmod 755 "$target/bin/uv"
"""
UV = """{record}[ "$1" = venv ] || exit 2
for dir; do :; done
exec {python} -m venv "$dir"
"""

SYSTEMCTL = r'''#!/usr/bin/python3
"""systemctl for the boot test: records its calls; enable --now, restart and stop a unit from its file."""
import os, re, signal, subprocess, sys, time

LOG, STATE, UNITS = sys.argv.pop(1), sys.argv.pop(1), "/etc/systemd/system"
with open(LOG, "ab") as log:
    log.write(b"".join(os.fsencode(word) + b"\0" for word in [str(len(sys.argv) - 1), "systemctl", *sys.argv[1:]]))

ESCAPES = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v", "\\": "\\", '"': '"',
           "'": "'", "s": " "}


def split(line):
    """An Exec= line as systemd makes it an argv: words outside quotes, C escapes, then %% and $$."""
    words, i, n = [], 0, len(line)
    while True:
        while i < n and line[i] in " \t":
            i += 1
        if i >= n:
            return [re.sub(r"\$\$", "$", re.sub("%%", "%", word)) for word in words]
        word, quote = [], None
        while i < n and (quote or line[i] not in " \t"):
            ch = line[i]
            if ch in "'\"" and quote in (None, ch):
                quote = None if quote else ch
                i += 1
            elif ch == "\\":
                kind = line[i + 1]
                if kind in ESCAPES:
                    word.append(ESCAPES[kind])
                    i += 2
                else:
                    assert kind == "x", line
                    word.append(chr(int(line[i + 2 : i + 4], 16)))
                    i += 4
            else:
                word.append(ch)
                i += 1
        words.append("".join(word))


def unit(name):
    with open(f"{UNITS}/{name}", encoding="utf-8") as handle:
        lines = re.split(r"\r\n|\r|\n", handle.read())
    found = {}
    for line in lines:
        key, sep, value = line.partition("=")
        if sep and not line.startswith(("#", ";")):
            found.setdefault(key, []).append(value)
    return found


def alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def start(name):
    exec_ = unit(name)
    with open(f"{STATE}/{name}.log", "ab") as out:
        for line in exec_.get("ExecStartPre", []):
            done = subprocess.run(split(line.lstrip("-")), stdout=out, stderr=subprocess.STDOUT)
            if done.returncode and not line.startswith("-"):
                sys.exit(f"{name}: ExecStartPre failed")
        [line] = exec_["ExecStart"]
        process = subprocess.Popen(split(line), stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                   start_new_session=True)
    with open(f"{STATE}/{name}.pid", "w") as handle:
        handle.write(str(process.pid))


def stop(name):
    try:
        with open(f"{STATE}/{name}.pid") as handle:
            pid = int(handle.read())
    except FileNotFoundError:
        return
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 30  # TimeoutStopSec
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    if alive(pid):
        os.kill(pid, signal.SIGKILL)
    os.unlink(f"{STATE}/{name}.pid")


command, names = sys.argv[1], [arg for arg in sys.argv[2:] if not arg.startswith("-")]
units = [name for name in names if os.path.exists(f"{UNITS}/{name}")]
if command in ("daemon-reload", "enable") and not units:
    sys.exit(0)  # docker: the stack's dockerd is the instance's
if command == "enable" and "--now" in sys.argv or command == "start":
    for name in units:
        start(name)
elif command == "restart":
    for name in units:
        stop(name)
        start(name)
elif command == "stop":
    for name in units:
        stop(name)
else:
    sys.exit(f"systemctl shim: {command} is not known here")
'''


@dataclass(frozen=True)
class Wheelhouse:
    folder: Path
    wheel: Path

    @property
    def install(self) -> str:
        """--install for the instance: the wheel's URL with its hash, which pip checks there."""
        digest = hashlib.sha256(self.wheel.read_bytes()).hexdigest()
        return f"{self.wheel.as_uri()}#sha256={digest}"


@pytest.fixture(scope="session")
def wheelhouse(tmp_path_factory: pytest.TempPathFactory) -> Wheelhouse:
    """A wheel of this checkout and its dependencies' wheels, made once a session."""
    folder = tmp_path_factory.mktemp("wheelhouse")
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    done = subprocess.run([*pip, "wheel", "--no-deps", "-w", str(folder), str(ROOT)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    [wheel] = folder.glob("ecrtool-*.whl")
    done = subprocess.run([*pip, "download", "-d", str(folder), str(wheel)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return Wheelhouse(folder, wheel)


@pytest.fixture(scope="session")
def instance_env(stack: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """What `scripts/local-ecr env --instance` prints, as an instance's processes see it: no DOCKER_CONFIG
    (each user's own, not the stack's), the stack's CA where every user can read it (the instance's
    system trust)."""
    path = f"{Path(sys.executable).parent}:{os.environ['PATH']}"  # the bridge's python3: the venv's
    done = subprocess.run(
        [str(STACK), "env", "--instance"], capture_output=True, text=True, env={**os.environ, "PATH": path}
    )
    assert done.returncode == 0, done.stderr
    env = {}
    for line in done.stdout.splitlines():
        key, _, value = line.removeprefix("export ").partition("=")
        env[key] = value.strip("'\"")
    assert "AWS_EC2_METADATA_SERVICE_ENDPOINT" in env, "the local ECR serves no instance metadata: make up"
    for tool in ("unshare", "nsenter", "setpriv", "useradd", "usermod"):
        assert shutil.which(tool), f"{tool} is missing (util-linux, passwd)"
    venv = subprocess.run([PYTHON, "-c", "import ensurepip, venv"], capture_output=True)
    assert venv.returncode == 0, f"{PYTHON} cannot make a virtualenv with pip (python3-venv)"
    assert not any(key in env for key in ("AWS_ACCESS_KEY_ID", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE"))
    shared = Path(tempfile.mkdtemp(prefix="ecrtool-boot-"))
    shared.chmod(0o755)
    ca = shared / "ca-bundle.pem"
    shutil.copyfile(env["AWS_CA_BUNDLE"], ca)
    ca.chmod(0o644)
    env.pop("DOCKER_CONFIG", None)
    env.update(AWS_CA_BUNDLE=str(ca), SSL_CERT_FILE=str(ca))
    try:
        yield env
    finally:
        shutil.rmtree(shared)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Instance:
    """A mount namespace that stands for a fresh instance, held open by one process of the test's."""

    def __init__(self, folder: Path, env: dict[str, str], wheelhouse: Wheelhouse, user: str) -> None:
        self.folder = folder
        self.user = user
        self.log = folder / "calls"
        self.state = folder / "units"
        self.state.mkdir()
        self.shims = folder / "shims"
        self.shims.mkdir()
        socket_path = env["DOCKER_HOST"].removeprefix("unix://")
        self.env = {key: value for key, value in env.items() if key != "DOCKER_HOST"}
        record = RECORD.format(log=self.log)
        uv = "#!/bin/sh\n" + UV.format(record=record, python=PYTHON)
        scripts = {
            **{name: "#!/bin/sh\n" + record for name in ("dnf", "yum", "amazon-linux-extras", "apt-get")},
            "python3.11": f'#!/bin/sh\nexec {PYTHON} "$@"\n',
            "python3.8": PYTHON38.format(record=record, uv=uv.removeprefix("#!/bin/sh\n").replace("'", "'\\''")),
            "systemctl": f'#!/bin/sh\nexec {folder / "systemctl.py"} {self.log} {self.state} "$@"\n',
        }
        (folder / "systemctl.py").write_text(SYSTEMCTL)
        (folder / "systemctl.py").chmod(0o755)
        for name, text in scripts.items():
            (self.shims / name).write_text(text)
            (self.shims / name).chmod(0o755)
        for layer in ("etc", "root", "bin"):
            (folder / "upper" / layer).mkdir(parents=True)
            (folder / "work" / layer).mkdir(parents=True)
        mounts = " && ".join([
            "mount -t tmpfs -o mode=755 tmpfs /opt",
            "mount -t tmpfs -o mode=755 tmpfs /home",
            # the stack's dockerd where an instance has its Docker: /var/run/docker.sock
            "mount -t tmpfs -o mode=755 tmpfs /run",
            f"touch /run/docker.sock && mount --bind {socket_path} /run/docker.sock",
            *(f"mount -t overlay overlay -o lowerdir={target},upperdir={folder}/upper/{layer},"
              f"workdir={folder}/work/{layer} {target}"
              for layer, target in (("etc", "/etc"), ("root", "/root"), ("bin", "/usr/local/bin"))),
            f"useradd --create-home --shell /bin/sh {user}",
        ])  # fmt: skip
        holder = f"{mounts} && echo ready && exec sleep 900"
        self.holder = subprocess.Popen(
            ["unshare", "--mount", "--propagation", "private", "--", "sh", "-c", holder],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.holder.stdout is not None
        assert self.holder.stdout.readline() == "ready\n", "could not make the instance's mount namespace"
        self.pip_env = {"PIP_NO_INDEX": "1", "PIP_FIND_LINKS": str(wheelhouse.folder), "PIP_CONFIG_FILE": os.devnull}

    def run(
        self, argv: list[str], *, user: str | None = None, timeout: float = 180
    ) -> subprocess.CompletedProcess[str]:
        """ARGV in the instance, as root (the boot's environment) or as USER (a login's: HOME, PATH)."""
        enter = ["nsenter", f"--target={self.holder.pid}", "--mount", "--"]
        if user is None:
            env = {"PATH": f"{self.shims}:{PATH}", **self.env, **self.pip_env}
            prefix = [*enter, "env", "-i", *(f"{key}={value}" for key, value in env.items())]
        else:
            env = {"PATH": PATH, "HOME": f"/home/{user}", "USER": user, **self.env}
            prefix = [*enter, "setpriv", f"--reuid={user}", f"--regid={user}", "--init-groups",
                      "env", "-i", *(f"{key}={value}" for key, value in env.items())]  # fmt: skip
        return subprocess.run([*prefix, *argv], capture_output=True, text=True, timeout=timeout, cwd="/")

    def calls(self) -> list[list[str]]:
        words = self.log.read_bytes().decode().split("\0") if self.log.exists() else [""]
        words.pop()
        found = []
        while words:
            count = int(words[0])
            found.append([Path(words[1]).name, *words[2 : 2 + count]])
            del words[: 2 + count]
        return found

    def unit_pids(self) -> list[int]:
        return [int(path.read_text()) for path in self.state.glob("*.pid")]

    def close(self) -> None:
        """Stop the units' processes (by the pids the systemctl shim kept), then the namespace's holder."""
        pids = [pid for pid in self.unit_pids() if _ours(pid)]
        for pid in pids:
            os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 30
        while any(_alive(pid) for pid in pids) and time.monotonic() < deadline:
            time.sleep(0.1)
        for pid in pids:
            if _alive(pid) and _ours(pid):
                os.kill(pid, signal.SIGKILL)
        if self.holder.poll() is None:
            self.holder.kill()
            self.holder.wait()


def _ours(pid: int) -> bool:
    """PID is still a unit's ecrtool, not another process that came to have its number."""
    try:
        return b"/opt/ecrtool/bin/ecrtool" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except FileNotFoundError:
        return False


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


@pytest.fixture
def instance(
    request: pytest.FixtureRequest, tmp_path: Path, instance_env: dict[str, str], wheelhouse: Wheelhouse
) -> Iterator[Instance]:
    """A fresh instance of the test's --os (al2023 unless parametrised)."""
    callspec = getattr(request.node, "callspec", None)
    os_name = callspec.params.get("os_name", "al2023") if callspec else "al2023"
    folder = tmp_path / "instance"
    folder.mkdir()
    made = Instance(folder, instance_env, wheelhouse, USERS[os_name])
    try:
        yield made
    finally:
        made.close()


def answer(docker: Callable[..., subprocess.CompletedProcess[str]], name: str, timeout: float = 60) -> str:
    """What container NAME serves on its port 8080, once it answers. The stack's dockerd gives containers no
    network of their own (--bridge=none), so the port is asked from inside, and its publishing is checked
    as the binding Docker was given."""
    deadline = time.monotonic() + timeout
    while True:
        done = docker("exec", name, "/bin/busybox", "wget", "-qO-", "http://127.0.0.1:8080/")
        if done.returncode == 0:
            return done.stdout
        assert time.monotonic() < deadline, done.stderr
        time.sleep(0.2)


def port_binding(docker: Callable[..., subprocess.CompletedProcess[str]], name: str) -> object:
    return json.loads(docker("inspect", "--format", "{{json .HostConfig.PortBindings}}", name).stdout)


def user_data(env: dict[str, str], *args: str) -> str:
    """`ecrtool ec2 user-data ARGS` made where nothing names a region: the instance uses its own."""
    exe = shutil.which("ecrtool", path=os.pathsep.join([str(Path(sys.executable).parent), os.environ["PATH"]]))
    assert exe
    clean = {key: value for key, value in os.environ.items() if not key.startswith(("AWS_", "ECRTOOL_"))}
    done = subprocess.run([exe, "ec2", "user-data", *args], capture_output=True, text=True, env={**clean, **env})
    assert done.returncode == 0, done.stderr
    return done.stdout


def imds(stack: Any, **doc: object) -> dict[str, object]:
    return dict(stack.control("imds", doc))


@pytest.mark.parametrize("service", [False, True], ids=["detached", "service"])
@pytest.mark.parametrize("os_name", ["al2023", "al2", "ubuntu"])
def test_a_first_boot_runs_the_image(
    os_name: str, service: bool, instance: Instance, instance_env: dict[str, str], wheelhouse: Wheelhouse,
    stack: Any, docker: Callable[..., subprocess.CompletedProcess[str]], pushed: str, tmp_path: Path,
) -> None:  # fmt: skip
    name = f"boot-{uuid.uuid4().hex[:8]}"
    port = free_port()
    script = tmp_path / "user-data.sh"
    script.write_text(user_data(
        instance_env, "--image", pushed, "--os", os_name, *(["--service"] if service else []),
        "--install", wheelhouse.install, "--name", name, "-p", f"127.0.0.1:{port}:8080", "-e", f"GREETING={GREETING}",
        "--", "/bin/busybox", "sh", "-c", SERVE,
    ))  # fmt: skip
    try:
        started = time.monotonic()
        boot = instance.run(["bash", str(script)])
        assert boot.returncode == 0, boot.stdout + boot.stderr
        booted = time.monotonic() - started
        assert answer(docker, name) == GREETING + "\n"
        assert port_binding(docker, name) == {"8080/tcp": [{"HostIp": "127.0.0.1", "HostPort": str(port)}]}

        calls = instance.calls()
        manager = {"al2023": "dnf", "al2": "yum", "ubuntu": "apt-get"}[os_name]
        assert calls[0][0] == manager and "docker" in " ".join(calls[0] + calls[1])
        assert ["systemctl", "enable", "--now", "docker"] in calls
        if os_name == "al2":
            assert ["amazon-linux-extras", "install", "-y", "python3.8"] in calls
            assert ["uv", "venv", "--quiet", "--seed", "--python", "3.12", "/opt/ecrtool"] in calls
        unit = f"ecrtool-{name}.service"
        assert (["systemctl", "enable", "--now", unit] in calls) == service

        # -e's value reached the container from a file only root reads
        mode = instance.run(["stat", "-c", "%a %U", f"/etc/ecrtool/{name}.env", "/etc/ecrtool"])
        assert mode.stdout.split("\n")[:2] == ["600 root", "700 root"]

        # the default user, in the docker group, pulls without sudo (ecrtool on PATH logs in from the role)
        user = instance.user
        pulled = instance.run(["sh", "-c", f"id -nG && ecrtool login && docker pull {stack.registry}/{pushed}"],
                              user=user)  # fmt: skip
        assert pulled.returncode == 0, pulled.stdout + pulled.stderr
        assert "docker" in pulled.stdout.splitlines()[0].split()

        if service:
            first = docker("inspect", "--format", "{{.Id}}", name).stdout.strip()
            imds(stack, rotate=True)  # the role's keys rotate; the unit's next start pulls on the new ones
            restart = instance.run(["systemctl", "restart", unit])
            assert restart.returncode == 0, restart.stderr
            assert answer(docker, name) == GREETING + "\n"
            second = docker("inspect", "--format", "{{.Id}}", name).stdout.strip()
            assert second and second != first
            log = (instance.state / f"{unit}.log").read_text()
            assert log.count(f"{stack.registry}/{pushed}") >= 2, log
        print(f"{os_name} {'service' if service else 'detached'}: booted in {booted:.1f}s")
    finally:
        instance.close()
        docker("rm", "--force", name)
        imds(stack, reset=True)


def test_a_wrong_hash_stops_the_boot_before_anything_runs(
    instance: Instance, instance_env: dict[str, str], wheelhouse: Wheelhouse, pushed: str, tmp_path: Path
) -> None:
    wrong = wheelhouse.install.rsplit("=", 1)[0] + "=" + "0" * 64
    script = tmp_path / "user-data.sh"
    script.write_text(user_data(instance_env, "--image", pushed, "--install", wrong))
    boot = instance.run(["bash", str(script)])
    assert boot.returncode != 0
    assert "THESE PACKAGES DO NOT MATCH THE HASHES" in boot.stderr
    assert instance.run(["test", "-e", "/opt/ecrtool/bin/ecrtool"]).returncode == 1
