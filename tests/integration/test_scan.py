"""`ecrtool scan` against the local ECR, with findings set on the stack (POST /_bridge/scans): the gate's
exit codes for a single image and for an index of two platforms, a scan that takes a few polls, a failed
one, and every page of findings in JSON.

On a private stack: the findings the bridge answers with are its own (scripts/localecr/scans.py), which the
shared stack runs only once this is merged.
"""

from __future__ import annotations

import json
import subprocess
import uuid
from collections.abc import Callable
from typing import Any

import pytest

pytestmark = pytest.mark.integration

Run = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def ecr(private_ecrtool: Run) -> Run:
    return private_ecrtool


@pytest.fixture
def repo(ecr: Run) -> str:
    name = f"scanned-{uuid.uuid4().hex[:8]}"
    created = ecr("create", name)
    assert created.returncode == 0, created.stderr
    return name


def finding(name: str, severity: str) -> dict[str, Any]:
    return {
        "name": name,
        "severity": severity,
        "uri": f"https://cve.example/{name}",
        "attributes": [{"key": "package_name", "value": "busybox"}, {"key": "package_version", "value": "1.36"}],
    }


def test_the_gate_on_an_image_whose_scan_takes_a_few_polls(private_stack: Any, ecr: Run, repo: str) -> None:
    image = private_stack.image("viruses")
    pushed = ecr("push", image, "--repo", repo, "-q")
    assert pushed.returncode == 0, pushed.stderr
    [listed] = json.loads(ecr("images", repo, "-o", "json").stdout)
    digest = listed["digest"]
    found = [finding("CVE-2024-0001", "CRITICAL"), finding("CVE-2024-0002", "HIGH"), finding("CVE-2024-0003", "LOW")]
    private_stack.control("scans", {"repository": repo, "digest": digest, "polls": 2, "findings": found})
    private_stack.control("reset-stats", {})

    gated = ecr("scan", f"{repo}:viruses", "--fail-on", "HIGH")
    assert gated.returncode == 1, gated.stderr
    assert gated.stderr.splitlines() == [
        f"{repo}:viruses: IN_PROGRESS (scan started)",
        f"{repo}:viruses: COMPLETE",
        f"ecrtool: error: 2 findings at HIGH or above: 1 CRITICAL, 1 HIGH in {repo}:viruses",
    ]
    lines = gated.stdout.splitlines()
    assert lines[0].startswith(f"Scan of {repo}:viruses ({digest}): COMPLETE at ")
    assert lines[0].endswith(", 3 findings")
    assert [line.split() for line in lines[2:5]] == [["SEVERITY", "COUNT"], ["CRITICAL", "1"], ["HIGH", "1"]]
    stats = private_stack.control("stats")
    assert stats.get("StartImageScan") == 1
    assert stats.get("DescribeImageScanFindings") == 1 + 2 + 1  # none yet, two IN_PROGRESS, COMPLETE

    # scanned today: read again, never started again (ECR would refuse a second start within 24 hours)
    passed = ecr("scan", f"{repo}:viruses", "--fail-on", "critical", "-q")
    assert passed.returncode == 1, passed.stderr
    private_stack.control("scans", {"repository": repo, "digest": digest, "findings": [finding("CVE-1", "MEDIUM")]})
    passed = ecr("scan", f"{repo}:viruses", "--fail-on", "high", "-q")
    assert passed.returncode == 0, passed.stderr
    assert passed.stderr == ""
    assert private_stack.control("stats").get("StartImageScan") == 1

    # every finding of every page (1,000 a page) in JSON
    many = [finding(f"CVE-2025-{n:04}", "LOW") for n in range(1001)] + [finding("CVE-2025-9999", "CRITICAL")]
    private_stack.control("scans", {"repository": repo, "digest": digest, "findings": many})
    listed_all = ecr("scan", f"{repo}@{digest}", "-o", "json")
    assert listed_all.returncode == 0, listed_all.stderr
    doc = json.loads(listed_all.stdout)
    assert doc["counts"] == {"CRITICAL": 1, "LOW": 1001}
    assert len(doc["findings"]) == 1002
    assert doc["findings"][-1]["name"] == "CVE-2025-9999"


def test_the_gate_on_an_index_covers_each_platform(
    private_stack: Any, penv: dict[str, str], ecr: Run, repo: str
) -> None:
    done = private_stack.run("index", f"{repo}:multi")
    assert done.returncode == 0, done.stderr
    children = {child["platform"]: child["digest"] for child in json.loads(done.stdout)["manifests"]}
    amd64, arm64 = children["linux/amd64"], children["linux/arm64/v8"]

    def scan(digest: str, **doc: object) -> None:
        private_stack.control("scans", {"repository": repo, "digest": digest, **doc})

    scan(amd64, findings=[finding("CVE-1", "LOW")])
    scan(arm64, polls=1, findings=[finding("CVE-2", "HIGH"), finding("CVE-1", "LOW")])

    gated = ecr("scan", f"{repo}:multi", "--fail-on", "high")
    assert gated.returncode == 1, gated.stderr
    assert gated.stderr.splitlines()[-1] == (
        "ecrtool: error: 1 finding at HIGH or above: 1 HIGH (linux/amd64: none; linux/arm64/v8: 1 HIGH)"
        f" in {repo}:multi"
    )
    lines = gated.stdout.splitlines()
    assert lines[0].startswith(f"Scan of {repo}:multi (image index sha256:")
    assert [line.split() for line in lines[2:5]] == [
        ["SEVERITY", "linux/amd64", "linux/arm64/v8", "TOTAL"],
        ["HIGH", "0", "1", "1"],
        ["LOW", "1", "1", "2"],
    ]
    assert lines[8].split()[:3] == ["CVE-2", "HIGH", "linux/arm64/v8"]

    passed = ecr("scan", f"{repo}:multi", "--fail-on", "CRITICAL", "-o", "json")
    assert passed.returncode == 0, passed.stderr
    doc = json.loads(passed.stdout)
    assert [(image["platform"], image["digest"], image["status"]) for image in doc["images"]] == [
        ("linux/amd64", amd64, "COMPLETE"),
        ("linux/arm64/v8", arm64, "COMPLETE"),
    ]

    reason = "UnsupportedImageError: The operating system and/or package manager are not supported."
    scan(arm64, status="FAILED", description=reason)
    failed = ecr("scan", f"{repo}:multi", "--wait")
    assert failed.returncode == 1
    assert failed.stderr.splitlines()[-1] == f"ecrtool: error: scan of {repo}:multi (linux/arm64/v8) failed: {reason}"
