"""Is each component of the stack running and answering? Used by ``up`` (to wait) and ``status``."""

from __future__ import annotations

import os
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass

from .state import State

COMPONENTS = ("dockerd", "bridge", "registry", "imds")
# the instance metadata stand-in runs in the bridge's process (imds.py): its pid is the bridge's
_PROCESS = {"imds": "bridge"}


@dataclass(frozen=True)
class Health:
    component: str
    pid: int | None  # None when no process of ours is alive
    answering: bool
    detail: str

    @property
    def up(self) -> bool:
        return self.pid is not None and self.answering


def running_pid(state: State, component: str) -> int | None:
    """The pid from the component's pid file, if that process is alive and belongs to this stack."""
    try:
        pid = int(state.pid_file(_PROCESS.get(component, component)).read_text().split()[0])
        cmdline = open(f"/proc/{pid}/cmdline", "rb").read().replace(b"\0", b" ").decode()
    except (OSError, ValueError, IndexError):
        return None
    # a recycled pid would belong to some other program, not one started on this state folder
    return pid if str(state.root) in cmdline else None


def _http_status(url: str) -> int | None:
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as err:
        return err.code
    except OSError:
        return None


def _docker_ping(path: str) -> bool:
    try:
        with socket.socket(socket.AF_UNIX) as sock:
            sock.settimeout(2)
            sock.connect(path)
            sock.sendall(b"GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n")
            return sock.recv(64).split(b" ")[1:2] == [b"200"]
    except (OSError, IndexError):
        return False


def probe(state: State, component: str) -> Health:
    ports = state.ports()
    checks: dict[str, tuple[Callable[[], bool], str]] = {
        "dockerd": (lambda: _docker_ping(str(state.docker_sock)), f"unix://{state.docker_sock}"),
        # 401 is the registry asking for the password: it is up
        "registry": (
            lambda: _http_status(f"http://127.0.0.1:{ports.internal}/v2/") in (200, 401),
            f"http://127.0.0.1:{ports.internal}",
        ),
        "bridge": (
            lambda: _http_status(f"http://127.0.0.1:{ports.api}/_bridge/health") == 200,
            f"http://127.0.0.1:{ports.api}",
        ),
        # answered whatever mode a test set (off, hang): the port is served, on purpose or not
        "imds": (
            lambda: bool(ports.imds) and _http_status(f"http://127.0.0.1:{ports.imds}/_bridge/health") == 200,
            f"http://127.0.0.1:{ports.imds} (AWS_EC2_METADATA_SERVICE_ENDPOINT)",
        ),
    }
    check, where = checks[component]
    pid = running_pid(state, component)
    return Health(component, pid, pid is not None and check(), where)


def status_lines(state: State) -> tuple[list[str], bool]:
    lines, all_up = [], True
    for component in COMPONENTS:
        health = probe(state, component)
        all_up &= health.up
        if health.up:
            lines.append(f"{component:<9} up    pid {health.pid}  {health.detail}")
        elif health.pid is not None:
            lines.append(f"{component:<9} not answering  pid {health.pid}  {health.detail}")
        else:
            lines.append(f"{component:<9} down")
    return lines, all_up


def wait(state: State, components: list[str], timeout: float) -> str | None:
    """Wait until each component answers; the error message for the first that does not."""
    deadline = time.monotonic() + timeout
    for component in components:
        while True:
            health = probe(state, component)
            if health.up:
                break
            log = state.log_file(_PROCESS.get(component, component))
            if health.pid is None:
                return f"{component} is not running; see {log}\n{_tail(log)}"
            if time.monotonic() > deadline:
                return f"{component} did not answer within {timeout:.0f} s; see {log}\n{_tail(log)}"
            time.sleep(0.1)
    return None


def _tail(path: os.PathLike[str], lines: int = 8) -> str:
    try:
        with open(path, errors="replace") as handle:
            return "".join(handle.readlines()[-lines:])
    except OSError:
        return ""
