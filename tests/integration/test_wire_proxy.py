"""ecrtool behind a real proxy (Debian's tinyproxy), with direct connections to the local ECR made impossible.

ecrtool runs under `unshare --net` with only its own loopback up, where nothing of the stack listens: the
one way out is a socat bridge from 127.0.0.1:3128 inside to a unix socket, and from that socket to
tinyproxy outside. A copy between regions (the signed ECR API, both registries, and any redirect of a
blob) and `doctor`'s probe of the registry succeed there only if every connection goes through the proxy;
tinyproxy's log says which tunnels were opened. The same copy without HTTPS_PROXY fails, which shows the
isolation holds.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

INSIDE_PORT = 3128
# inside the namespace: loopback up, the bridge to the proxy's unix socket, then the command; the bridge ends with it
SCRIPT = f"""
ip link set lo up
socat TCP-LISTEN:{INSIDE_PORT},bind=127.0.0.1,fork,reuseaddr UNIX-CONNECT:"$BRIDGE" &
bridge=$!
until ss -ltn | grep -q ':{INSIDE_PORT} '; do sleep 0.05; done
"$@"
status=$?
kill "$bridge"
exit "$status"
"""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Tinyproxy:
    """tinyproxy on a free loopback port, logging each connection, reached through a unix socket."""

    def __init__(self, folder: Path) -> None:
        self.port = _free_port()
        self.log = folder / "tinyproxy.log"
        config = folder / "tinyproxy.conf"
        config.write_text(
            f"Port {self.port}\nListen 127.0.0.1\nTimeout 60\nAllow 127.0.0.1\nConnectPort 443\n"
            f'LogFile "{self.log}"\nLogLevel Info\nMaxClients 50\n'
        )
        self.socket = Path(tempfile.mkdtemp(prefix="ecrtool-proxy-")) / "proxy.sock"  # short: a unix socket's path
        self.proxy = subprocess.Popen(["tinyproxy", "-d", "-c", str(config)], stdout=subprocess.DEVNULL,
                                      stderr=subprocess.DEVNULL)  # fmt: skip
        self.bridge = subprocess.Popen(
            ["socat", f"UNIX-LISTEN:{self.socket},fork", f"TCP:127.0.0.1:{self.port}"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while not self.socket.exists() or not self._listening():
            assert time.monotonic() < deadline, "tinyproxy or its bridge did not start"
            time.sleep(0.05)

    def _listening(self) -> bool:
        with socket.socket() as probe:
            return probe.connect_ex(("127.0.0.1", self.port)) == 0

    def requests(self) -> list[tuple[str, str]]:
        """Each request tinyproxy logged: its method and target (host:port for a CONNECT), in order."""
        found = []
        for line in self.log.read_text(errors="replace").splitlines() if self.log.exists() else []:
            if "Request (file descriptor" in line:
                method, target, *_ = line.split("): ", 1)[1].split()
                found.append((method, target))
        return found

    def tunnels(self) -> list[str]:
        """The CONNECT targets tinyproxy was asked for (host:port)."""
        return [target for method, target in self.requests() if method == "CONNECT"]

    def stop(self) -> None:
        for process in (self.bridge, self.proxy):
            process.terminate()
            process.wait(timeout=10)
        shutil.rmtree(self.socket.parent, ignore_errors=True)


@pytest.fixture
def tinyproxy(tmp_path: Path) -> Iterator[Tinyproxy]:
    if not shutil.which("tinyproxy") or not shutil.which("socat"):
        pytest.fail("tinyproxy and socat are needed: make test-tools")
    started = Tinyproxy(tmp_path)
    yield started
    started.stop()


@pytest.fixture
def isolated(env: dict[str, str], tinyproxy: Tinyproxy):
    """Run the installed ecrtool with no network but a bridge to tinyproxy; PROXIED adds HTTPS_PROXY."""
    exe = shutil.which("ecrtool", path=env["PATH"])
    assert exe, "ecrtool is not installed in this environment (make install)"
    unproxied = {k: v for k, v in env.items() if k.lower() not in ("https_proxy", "http_proxy", "no_proxy")}

    def run(*args: str, proxied: bool = True) -> subprocess.CompletedProcess[str]:
        extra = {"HTTPS_PROXY": f"http://127.0.0.1:{INSIDE_PORT}", "http_proxy": f"http://127.0.0.1:{INSIDE_PORT}"}
        chosen = {**unproxied, **(extra if proxied else {}), "BRIDGE": str(tinyproxy.socket)}
        return subprocess.run(
            ["unshare", "--net", "--", "sh", "-c", SCRIPT, "sh", exe, *args],
            capture_output=True,
            text=True,
            timeout=240,
            env=chosen,
        )

    return run


def test_a_copy_between_regions_goes_through_the_proxy_and_only_through_it(
    isolated, tinyproxy: Tinyproxy, ecrtool, pushed: str, repo_name: str
) -> None:
    cut_off = isolated("copy", pushed, "--to-region", "us-east-1", "--repo", repo_name, "--create", proxied=False)
    assert cut_off.returncode == 1, cut_off.stderr  # no way out but the proxy
    assert tinyproxy.requests() == []

    done = isolated("copy", pushed, "--to-region", "us-east-1", "--repo", repo_name, "--create", "-o", "json")
    try:
        assert done.returncode == 0, done.stderr
        (copied,) = json.loads(done.stdout)["copies"]
        assert copied["blobs_copied"] >= 2  # another region's registry: the blobs were read and sent
        hosts = {target.rsplit(":", 1)[0] for target in tinyproxy.tunnels()}
        assert {"api.ecr.ca-west-1.amazonaws.com", "api.ecr.us-east-1.amazonaws.com"} & hosts
        assert "123456789012.dkr.ecr.ca-west-1.amazonaws.com" in hosts
        assert "123456789012.dkr.ecr.us-east-1.amazonaws.com" in hosts
        # the local ECR answers a blob GET with a redirect to its S3 face, as ECR does: that went through it too
        assert "prod-ca-west-1-starport-layer-bucket.s3.ca-west-1.amazonaws.com" in hosts
        assert all(method == "CONNECT" and target.endswith(":443") for method, target in tinyproxy.requests())
    finally:
        ecrtool("delete", repo_name, "--force", "--yes", "--region", "us-east-1")


def test_doctor_reaches_the_registry_through_the_proxy(isolated, tinyproxy: Tinyproxy) -> None:
    done = isolated("doctor", "-o", "json")
    checks = {check["name"]: check for check in json.loads(done.stdout)["checks"]}
    assert checks["registry"]["status"] == "ok", checks["registry"]
    assert checks["registry"]["detail"].startswith("https://123456789012.dkr.ecr.ca-west-1.amazonaws.com/v2/ answers")
    assert "123456789012.dkr.ecr.ca-west-1.amazonaws.com:443" in tinyproxy.tunnels()
