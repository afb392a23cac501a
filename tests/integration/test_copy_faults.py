"""`ecrtool copy` broken on purpose: a registry killed mid-blob on either side, and Ctrl-C.

The image comes from a plain registry of the test's own (a stand-in for Docker Hub), so its blobs
travel as bytes: within one registry a copy mounts them and nothing would be in flight to break.
It goes into the private local ECR (the `private_stack` fixture), whose registry the tests kill.
Each shows one error line, the right exit code and no tag naming a broken image; the same copy run
again finishes, without sending again what had arrived.
"""

from __future__ import annotations

import signal
import subprocess
import time
import urllib.request
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from faultkit import Running, assert_consistent, error_line, listed, registry_tags

pytestmark = pytest.mark.integration

Run = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture(scope="module")
def hub(open_registry_process: Any) -> Any:
    """The source registry: one of the test's own, that can be killed and started again."""
    return open_registry_process


@pytest.fixture
def ecr(private_ecrtool: Run) -> Run:
    return private_ecrtool


@pytest.fixture
def large(private_stack: Any, penv: dict[str, str], hub: Any) -> str:
    """A fresh image of three 60 MB layers on the hub (fresh: none of its blobs is in ECR yet)."""
    name = f"heavy-{uuid.uuid4().hex[:8]}"
    image = private_stack.image(f"{name}:1", "--layers", "3", "--size-mb", "60")
    remote = f"{hub.host}/team/{name}:1"
    for args in (["tag", image, remote], ["push", remote], ["rmi", remote, image]):
        done = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=300, env=penv)
        assert done.returncode == 0, done.stderr
    return remote


def hub_digest(hub: Any, remote: str) -> str:
    path = remote.removeprefix(f"{hub.host}/").replace(":", "/manifests/")
    request = urllib.request.Request(
        f"http://{hub.host}/v2/{path}",
        method="HEAD",
        headers={"Accept": "application/vnd.docker.distribution.manifest.v2+json"},
    )
    with urllib.request.urlopen(request, timeout=10) as reply:
        return str(reply.headers["Docker-Content-Digest"])


def mid_second_layer(copy: Running) -> str:
    """Wait until the config and the first layer have arrived and the second layer's bytes flow (-j 1).

    Returns the first layer's short digest, which the copy reported Copied.
    """
    copy.wait_for(": Copied")  # the config, first of the manifest's blobs
    copy.wait_for(": Copied")  # the first layer
    arrived = copy.lines[-1].split(":")[0]
    copy.wait_for(": Copying")  # a MiB of the second layer is through
    assert not copy.lines[-1].startswith(arrived)
    return arrived


def rerun_finishes(ecr: Run, private_stack: Any, hub: Any, remote: str, dest: str, arrived: str) -> None:
    again = ecr("copy", remote, f"{dest}:v1", "--create", "-j", "1")
    assert again.returncode == 0, again.stderr
    digest = hub_digest(hub, remote)
    assert again.stdout.endswith(f"digest: {digest}\n")
    assert f"{arrived}: Already exists" in again.stderr.splitlines()  # what had arrived is not sent twice
    assert assert_consistent(private_stack, dest, "v1") == digest
    assert listed(ecr, dest) == {"v1": digest}


def test_destination_registry_killed_mid_blob_then_the_same_copy_finishes(
    private_stack: Any, penv: dict[str, str], ecr: Run, hub: Any, large: str
) -> None:
    dest = f"copied-{uuid.uuid4().hex[:8]}"
    copy = Running(penv, "copy", large, f"{dest}:v1", "--create", "-j", "1")
    try:
        arrived = mid_second_layer(copy)
        private_stack.kill("registry")
        killed = time.monotonic()
        code, out, err = copy.finish()
        took = time.monotonic() - killed
    finally:
        if copy.proc.poll() is None:
            copy.proc.kill()
        private_stack.up()
    assert code == 1, err
    line = error_line(err)
    assert line.startswith(f"ecrtool: error: destination registry {private_stack.registry} stopped answering (")
    assert line.endswith("then run the same copy again (what arrived is not copied twice)")
    assert out == ""
    assert took < 20
    # no tag names the half-copied image, in ECR's API or in the registry
    assert listed(ecr, dest) == {}
    assert registry_tags(private_stack, dest) == []

    rerun_finishes(ecr, private_stack, hub, large, dest, arrived)


def test_source_registry_killed_mid_blob_then_the_same_copy_finishes(
    private_stack: Any, penv: dict[str, str], ecr: Run, hub: Any, large: str
) -> None:
    dest = f"copied-{uuid.uuid4().hex[:8]}"
    copy = Running(penv, "copy", large, f"{dest}:v1", "--create", "-j", "1")
    try:
        arrived = mid_second_layer(copy)
        hub.kill()
        killed = time.monotonic()
        code, out, err = copy.finish()
        took = time.monotonic() - killed
    finally:
        if copy.proc.poll() is None:
            copy.proc.kill()
        if hub.proc is None:
            hub.start()
    assert code == 1, err
    line = error_line(err)
    assert line.startswith(f"ecrtool: error: source registry {hub.host} ")
    assert "run the same copy again" in line
    assert out == ""
    assert took < 20
    assert listed(ecr, dest) == {}
    assert registry_tags(private_stack, dest) == []

    rerun_finishes(ecr, private_stack, hub, large, dest, arrived)


def test_ctrl_c_during_a_copy(private_stack: Any, penv: dict[str, str], ecr: Run, large: str) -> None:
    dest = f"copied-{uuid.uuid4().hex[:8]}"
    copy = Running(penv, "copy", large, f"{dest}:v1", "--create")
    copy.wait_for(": Copying")
    copy.proc.send_signal(signal.SIGINT)
    interrupted = time.monotonic()
    code, out, err = copy.finish()
    assert code == 130, err
    assert error_line(err) == "ecrtool: error: interrupted"
    assert out == ""
    assert time.monotonic() - interrupted < 10
    assert listed(ecr, dest) == {}
    assert registry_tags(private_stack, dest) == []
