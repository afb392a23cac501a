"""The paths through the libraries, with the real ecrtool against the local ECR: an engine reached over
TCP (docker-py, as for a remote DOCKER_HOST) and ECR calls through botocore (ECRTOOL_AWS_CLIENT=botocore),
for the users whose setup the fast paths leave to them.

The engine listens on its unix socket only; a forwarder in the test makes it reachable on a loopback port.
"""

from __future__ import annotations

import re
import socket
import threading
from collections.abc import Iterator

import pytest

pytestmark = pytest.mark.integration

DIGEST = re.compile(r"^digest: (sha256:[0-9a-f]{64})$", re.MULTILINE)


def _pump(source: socket.socket, sink: socket.socket) -> None:
    try:
        while data := source.recv(65536):
            sink.sendall(data)
    except OSError:
        pass
    finally:
        for end in (source, sink):
            try:
                end.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


@pytest.fixture
def tcp_engine(env: dict[str, str]) -> Iterator[str]:
    """tcp://127.0.0.1:PORT, forwarded to the local ECR's engine socket."""
    path = env["DOCKER_HOST"].removeprefix("unix://")
    server = socket.create_server(("127.0.0.1", 0))
    closing = threading.Event()

    def serve() -> None:
        while not closing.is_set():
            try:
                client, _ = server.accept()
            except OSError:
                return
            engine = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            engine.connect(path)
            for a, b in ((client, engine), (engine, client)):
                threading.Thread(target=_pump, args=(a, b), daemon=True).start()

    threading.Thread(target=serve, daemon=True).start()
    yield f"tcp://127.0.0.1:{server.getsockname()[1]}"
    closing.set()
    server.close()


def test_push_and_pull_through_docker_py_on_a_tcp_engine(ecrtool, test_image, repo_name, tcp_engine):
    pushed = ecrtool("--docker-host", tcp_engine, "push", test_image, "--repo", repo_name, "--create")
    assert pushed.returncode == 0, pushed.stderr
    digest = DIGEST.search(pushed.stdout)
    assert digest, pushed.stdout
    pulled = ecrtool("pull", f"{repo_name}:{test_image}", "--docker-host", tcp_engine)
    assert pulled.returncode == 0, pulled.stderr
    assert f"digest: {digest.group(1)}" in pulled.stdout


def test_a_missing_image_reads_the_same_through_docker_py(ecrtool, repo_name, tcp_engine):
    done = ecrtool("--docker-host", tcp_engine, "push", "no-such-image", "--repo", repo_name)
    assert done.returncode == 1
    assert done.stderr.startswith("ecrtool: error: local image 'no-such-image' not found")


def test_push_and_login_with_every_ecr_call_through_botocore(ecrtool, stack, test_image, repo_name):
    botocore = {"ECRTOOL_AWS_CLIENT": "botocore"}
    pushed = ecrtool("push", test_image, "--repo", repo_name, "--create", "--tag", "b1", extra_env=botocore)
    assert pushed.returncode == 0, pushed.stderr
    assert f"{stack.registry}/{repo_name}:b1" in pushed.stdout.splitlines()
    missing = ecrtool("push", test_image, "--repo", f"{repo_name}-absent", extra_env=botocore)
    assert missing.returncode == 1
    assert f"repository '{repo_name}-absent' does not exist" in missing.stderr
    login = ecrtool("login", "--no-cache", extra_env=botocore)
    assert login.returncode == 0, login.stderr
    assert login.stdout.startswith(f"Login Succeeded: {stack.registry} ")
