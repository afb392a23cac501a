"""What the fault tests (test_faults.py, test_copy_faults.py) share: reading the registry and ecrtool's output.

Not a test module: helpers imported by the fault tests, beside them in this folder (which pytest puts on
the import path).
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import time
from collections.abc import Callable
from typing import Any

import pytest
import requests

MANIFEST_V2 = "application/vnd.docker.distribution.manifest.v2+json"
Run = Callable[..., subprocess.CompletedProcess[str]]


def error_line(stderr: str) -> str:
    """The one error line, asserting it is the only one and that no traceback came with it."""
    assert "Traceback" not in stderr
    errors = [line for line in stderr.splitlines() if line.startswith("ecrtool: error: ")]
    assert len(errors) == 1, stderr
    assert stderr.rstrip("\n").splitlines()[-1] == errors[0]
    return errors[0]


def registry_get(stack: Any, path: str, **headers: str) -> requests.Response:
    return requests.get(
        f"{stack.registry_url()}/v2/{path}",
        auth=("AWS", stack.password()),
        headers=headers,
        timeout=60,
        verify=stack.ca_bundle,
    )


def assert_consistent(stack: Any, repo: str, tag: str) -> str:
    """The registry serves TAG's manifest and every blob it names, each matching its digest and size."""
    reply = registry_get(stack, f"{repo}/manifests/{tag}", Accept=MANIFEST_V2)
    assert reply.status_code == 200, reply.text
    manifest = reply.json()
    for blob in [manifest["config"], *manifest["layers"]]:
        data = registry_get(stack, f"{repo}/blobs/{blob['digest']}").content
        assert len(data) == blob["size"]
        assert "sha256:" + hashlib.sha256(data).hexdigest() == blob["digest"]
    return str(reply.headers["Docker-Content-Digest"])


def registry_tags(stack: Any, repo: str) -> list[str]:
    """REPO's tags in the registry: none for a repository it has never stored (404 NAME_UNKNOWN).

    Any other answer fails the test: a registry that refuses (401) or breaks (500) must not pass for one
    without stray tags.
    """
    reply = registry_get(stack, f"{repo}/tags/list")
    if reply.status_code == 404:
        codes = [error.get("code") for error in reply.json().get("errors", [])]
        assert codes == ["NAME_UNKNOWN"], f"tags of {repo}: HTTP 404 {reply.text}"
        return []
    assert reply.status_code == 200, f"tags of {repo}: HTTP {reply.status_code} {reply.text}"
    return sorted(reply.json()["tags"] or [])


def listed(ecr: Run, repo: str) -> dict[str, str]:
    """tag -> digest, as `ecrtool images` reports them."""
    done = ecr("images", repo, "-o", "json")
    assert done.returncode == 0, done.stderr
    return {tag: image["digest"] for image in json.loads(done.stdout) for tag in image["tags"]}


def digest_line(stdout: str) -> str:
    return next(line.removeprefix("digest: ") for line in stdout.splitlines() if line.startswith("digest: "))


class Running:
    """ecrtool in the background, its stderr read line by line until a wanted line shows."""

    def __init__(self, penv: dict[str, str], *args: str) -> None:
        exe = shutil.which("ecrtool", path=penv["PATH"])
        self.proc = subprocess.Popen(
            [str(exe), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=penv
        )
        self.lines: list[str] = []

    def wait_for(self, needle: str, timeout: float = 60) -> None:
        assert self.proc.stderr is not None
        deadline = time.monotonic() + timeout
        for line in self.proc.stderr:
            self.lines.append(line)
            if needle in line:
                return
            assert time.monotonic() < deadline, f"no {needle!r} within {timeout} s"
        pytest.fail(f"ecrtool ended before printing {needle!r}: {''.join(self.lines)}")

    def finish(self, timeout: float = 60) -> tuple[int, str, str]:
        out, err = self.proc.communicate(timeout=timeout)
        return self.proc.returncode, out, "".join(self.lines) + err
