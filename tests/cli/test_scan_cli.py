"""`ecrtool scan` on a stubbed ECR client: each state a scan can be in (none yet, running, already run
today, failed, too slow), the gate's exit codes, every page of findings in JSON, an image index's
platforms, and input refused before any call."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.stub import Stubber

DIGEST = "sha256:" + "a" * 64
AMD = "sha256:" + "1" * 64
ARM = "sha256:" + "2" * 64
ATTESTATION = "sha256:" + "3" * 64
DOCKER_IMAGE = "application/vnd.docker.distribution.manifest.v2+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
ACCEPTED = [
    OCI_INDEX,
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
    DOCKER_IMAGE,
]


@pytest.fixture
def ecr(stubbed_ecr: Stubber) -> Stubber:
    return stubbed_ecr


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The wait's clock: each pause moves it on at once, so a 10-minute timeout takes no real time."""
    now = [1000.0]

    def sleep(seconds: float) -> None:
        assert seconds >= 0
        now[0] += seconds

    monkeypatch.setattr("ecrtool.service.scan._clock", lambda: now[0])
    monkeypatch.setattr("ecrtool.service.scan._sleep", sleep)
    return now


def manifest(
    stub: Stubber, image_id: dict[str, str], digest: str = DIGEST, text: str = "{}", media: str = DOCKER_IMAGE
) -> None:
    reply = {
        "images": [
            {
                "registryId": "123456789012",
                "repositoryName": "trees",
                "imageId": {**image_id, "imageDigest": digest},
                "imageManifest": text,
                "imageManifestMediaType": media,
            }
        ],
        "failures": [],
    }
    stub.add_response(
        "batch_get_image", reply, {"repositoryName": "trees", "imageIds": [image_id], "acceptedMediaTypes": ACCEPTED}
    )


def finding(name: str, severity: str, package: str = "openssl") -> dict[str, Any]:
    return {
        "name": name,
        "severity": severity,
        "uri": f"https://cve.example/{name}",
        "attributes": [{"key": "package_name", "value": package}, {"key": "package_version", "value": "1.0"}],
    }


def findings(
    stub: Stubber,
    status: str,
    found: list[dict[str, Any]] | None = None,
    *,
    digest: str = DIGEST,
    description: str | None = None,
    counts: dict[str, int] | None = None,
    token: str | None = None,
    next_token: str | None = None,
    enhanced: list[dict[str, Any]] | None = None,
) -> None:
    reply: dict[str, Any] = {
        "registryId": "123456789012",
        "repositoryName": "trees",
        "imageId": {"imageDigest": digest},
        "imageScanStatus": {"status": status, **({"description": description} if description else {})},
    }
    if status == "COMPLETE":
        scan: dict[str, Any] = {"findings": found or []}
        if counts is not None:
            scan["findingSeverityCounts"] = counts
        if enhanced:
            scan["enhancedFindings"] = enhanced
        reply["imageScanFindings"] = scan
    if next_token:
        reply["nextToken"] = next_token
    expected: dict[str, Any] = {"repositoryName": "trees", "imageId": {"imageDigest": digest}, "maxResults": 1000}
    if token:
        expected["nextToken"] = token
    stub.add_response("describe_image_scan_findings", reply, expected)


def no_scan(stub: Stubber, digest: str = DIGEST) -> None:
    stub.add_client_error(
        "describe_image_scan_findings",
        "ScanNotFoundException",
        "Image scan does not exist for the image",
        400,
        expected_params={"repositoryName": "trees", "imageId": {"imageDigest": digest}, "maxResults": 1000},
    )


def start(stub: Stubber, digest: str = DIGEST, error: str | None = None) -> None:
    params = {"repositoryName": "trees", "imageId": {"imageDigest": digest}}
    if error:
        stub.add_client_error("start_image_scan", error, "The scan quota per image has been exceeded.", 400, params)
        return
    reply = {**params, "imageScanStatus": {"status": "IN_PROGRESS"}}
    stub.add_response("start_image_scan", reply, params)


def test_an_image_without_a_scan_gets_one_started_and_without_wait_exits_0(invoke: Any, ecr: Stubber) -> None:
    manifest(ecr, {"imageTag": "v1"})
    no_scan(ecr)
    start(ecr)
    result = invoke("scan", "trees:v1")
    assert result.exit_code == 0, result.output
    assert result.stdout == f"Scan of trees:v1 ({DIGEST}): IN_PROGRESS (started now)\n"
    assert "`ecrtool scan trees:v1 --wait` waits for its findings" in result.stderr


def test_wait_polls_a_started_scan_until_complete(invoke: Any, ecr: Stubber, clock: list[float]) -> None:
    manifest(ecr, {"imageTag": "v1"})
    no_scan(ecr)
    start(ecr)
    findings(ecr, "IN_PROGRESS")
    findings(ecr, "IN_PROGRESS")
    found = [finding("CVE-2024-0002", "MEDIUM"), finding("CVE-2024-0001", "CRITICAL", "zlib")]
    findings(ecr, "COMPLETE", found, counts={"CRITICAL": 1, "MEDIUM": 1})
    result = invoke("scan", "trees:v1", "--wait")
    assert result.exit_code == 0, result.output
    lines = [line.rstrip() for line in result.stdout.splitlines()]
    assert lines[0] == f"Scan of trees:v1 ({DIGEST}): COMPLETE, 2 findings"
    assert lines[1:5] == ["Findings", "SEVERITY  COUNT", "CRITICAL  1", "MEDIUM    1"]
    assert lines[6].split() == ["Worst", "findings"]
    assert lines[7].split() == ["NAME", "SEVERITY", "PACKAGE", "URI"]
    assert lines[8].split() == ["CVE-2024-0001", "CRITICAL", "zlib", "1.0", "https://cve.example/CVE-2024-0001"]
    assert lines[9].split()[:2] == ["CVE-2024-0002", "MEDIUM"]
    # progress on stderr, a line each time the status changes (not a terminal)
    assert result.stderr.splitlines() == ["trees:v1: IN_PROGRESS (scan started)", "trees:v1: COMPLETE"]
    assert clock[0] == 1000 + 1 + 2 + 3  # soon at first, then less often


def test_fail_on_exits_1_naming_the_counts_and_0_below_its_level(invoke: Any, ecr: Stubber) -> None:
    found = [finding("CVE-1", "CRITICAL"), finding("CVE-2", "HIGH"), finding("CVE-3", "HIGH"), finding("CVE-4", "LOW")]
    manifest(ecr, {"imageTag": "v1"})
    findings(ecr, "COMPLETE", found, counts={"CRITICAL": 1, "HIGH": 2, "LOW": 1})
    result = invoke("scan", "trees:v1", "--fail-on", "high", "-q")
    assert result.exit_code == 1, result.output
    assert result.stderr == "ecrtool: error: 3 findings at HIGH or above: 1 CRITICAL, 2 HIGH in trees:v1\n"
    assert "CVE-1" in result.stdout  # the table is printed before the verdict
    manifest(ecr, {"imageTag": "v1"})
    findings(ecr, "COMPLETE", [finding("CVE-4", "LOW"), finding("CVE-5", "UNDEFINED")])
    result = invoke("scan", "trees:v1", "--fail-on", "Medium", "-q")
    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    assert [line.split() for line in result.stdout.splitlines()[2:5]] == [
        ["SEVERITY", "COUNT"],
        ["LOW", "1"],
        ["UNDEFINED", "1"],  # shown, but no gate reaches it
    ]


def test_a_scan_already_run_today_is_used_not_an_error(invoke: Any, ecr: Stubber, clock: list[float]) -> None:
    manifest(ecr, {"imageTag": "v1"})
    no_scan(ecr)  # gone a moment ago; another client started one since
    start(ecr, error="LimitExceededException")
    findings(ecr, "COMPLETE", [finding("CVE-1", "LOW")])
    result = invoke("scan", "trees:v1", "--fail-on", "critical")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(f"Scan of trees:v1 ({DIGEST}): COMPLETE, 1 finding\n")
    assert clock[0] == 1000  # nothing to wait for


def test_a_failed_scan_exits_1_with_ecrs_reason(invoke: Any, ecr: Stubber, clock: list[float]) -> None:
    manifest(ecr, {"imageDigest": DIGEST})
    findings(ecr, "IN_PROGRESS")
    reason = "UnsupportedImageError: The operating system and/or package manager are not supported."
    findings(ecr, "FAILED", description=reason)
    result = invoke("scan", f"trees@{DIGEST}", "--wait")
    assert result.exit_code == 1, result.output
    assert result.stderr.splitlines()[-1] == f"ecrtool: error: scan of trees@{DIGEST} failed: {reason}"
    assert result.stdout == ""


def test_a_scan_that_outlasts_the_timeout_exits_1(invoke: Any, ecr: Stubber, clock: list[float]) -> None:
    manifest(ecr, {"imageTag": "v1"})
    for _ in range(6):  # at 0 s, then 1, 3, 6 and 11 s, and a last look when the 12-second timeout is up
        findings(ecr, "IN_PROGRESS")
    result = invoke("scan", "trees:v1", "--fail-on", "HIGH", "--timeout", "12s", "-q")
    assert result.exit_code == 1, result.output
    assert result.stderr == (
        "ecrtool: error: scan of trees:v1 did not finish within 12s: ECR still reports trees:v1 IN_PROGRESS;"
        " run the command again later (the scan goes on in ECR) or give a longer --timeout\n"
    )
    assert clock[0] == 1012


def test_json_lists_every_finding_of_every_page(invoke: Any, ecr: Stubber) -> None:
    first = [finding(f"CVE-2024-{n:04}", "LOW") for n in range(1000)]
    second = [finding("CVE-2025-0001", "HIGH")]
    inspector = {
        "severity": "CRITICAL",
        "title": "CVE-2025-9 - glibc",
        "packageVulnerabilityDetails": {"vulnerabilityId": "CVE-2025-9", "vulnerablePackages": [{"name": "glibc"}]},
    }
    manifest(ecr, {"imageTag": "v1"})
    counts = {"LOW": 1000, "HIGH": 1, "CRITICAL": 1}
    findings(ecr, "COMPLETE", first, counts=counts, next_token="page2")
    findings(ecr, "COMPLETE", second, counts=counts, token="page2", enhanced=[inspector])
    result = invoke("scan", "trees:v1", "-o", "json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["status"] == "COMPLETE"
    assert doc["counts"] == {"CRITICAL": 1, "HIGH": 1, "LOW": 1000}
    assert len(doc["findings"]) == 1002
    assert doc["findings"][1000]["name"] == "CVE-2025-0001"
    assert doc["findings"][1001] == {
        "name": "CVE-2025-9",
        "severity": "CRITICAL",
        "package": "glibc",
        "uri": None,
        "description": "CVE-2025-9 - glibc",
        "platform": None,
        "enhanced": True,
    }
    assert doc["images"] == [
        {
            "digest": DIGEST,
            "platform": None,
            "status": "COMPLETE",
            "description": None,
            "completed_at": None,
            "counts": {"CRITICAL": 1, "HIGH": 1, "LOW": 1000},
        }
    ]


def index_text() -> str:
    def entry(digest: str, arch: str, annotations: dict[str, str] | None = None) -> dict[str, Any]:
        item: dict[str, Any] = {
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": digest,
            "size": 500,
            "platform": {"os": "linux" if not annotations else "unknown", "architecture": arch},
        }
        if annotations:
            item["annotations"] = annotations
        return item

    manifests = [
        entry(AMD, "amd64"),
        entry(ARM, "arm64"),
        entry(ATTESTATION, "unknown", {"vnd.docker.reference.type": "attestation-manifest"}),
    ]
    return json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": manifests})


def test_an_index_scans_and_gates_each_platform_skipping_attestations(invoke: Any, ecr: Stubber) -> None:
    manifest(ecr, {"imageTag": "multi"}, text=index_text(), media=OCI_INDEX)
    findings(ecr, "COMPLETE", [finding("CVE-1", "LOW")], digest=AMD)
    no_scan(ecr, digest=ARM)
    start(ecr, digest=ARM)
    findings(ecr, "COMPLETE", [finding("CVE-2", "HIGH"), finding("CVE-1", "LOW")], digest=ARM)
    result = invoke("scan", "trees:multi", "--fail-on", "high")
    assert result.exit_code == 1, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == f"Scan of trees:multi (image index {DIGEST}, 2 platforms): COMPLETE, 3 findings"
    assert [line.split() for line in lines[2:5]] == [
        ["SEVERITY", "linux/amd64", "linux/arm64", "TOTAL"],
        ["HIGH", "0", "1", "1"],
        ["LOW", "1", "1", "2"],
    ]
    assert lines[7].split() == ["NAME", "SEVERITY", "PLATFORM", "PACKAGE", "URI"]
    assert lines[8].split()[:3] == ["CVE-2", "HIGH", "linux/arm64"]
    assert result.stderr.splitlines()[-1] == (
        "ecrtool: error: 1 finding at HIGH or above: 1 HIGH (linux/amd64: none; linux/arm64: 1 HIGH) in trees:multi"
    )


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["--fail-on", "severe"], "--fail-on 'severe' is not a severity: give one of LOW, MEDIUM, HIGH, CRITICAL"),
        (["--fail-on", "informational"], "--fail-on 'informational' is not a severity"),
        (["--timeout", "10"], "--timeout '10' is not a duration: give a number and a unit"),
        (["--wait", "--timeout", "-5m"], "--timeout '-5m' is not a duration"),
    ],
)
def test_bad_input_is_exit_2_before_any_call(
    invoke: Any, forbid_backends: list[str], args: list[str], said: str
) -> None:
    result = invoke("scan", "trees:v1", *args)
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith(f"ecrtool: error: {said}")
    assert len(result.stderr.splitlines()) == 1
    assert result.stdout == ""
    assert forbid_backends == []


def test_a_missing_image_says_how_to_list_them(invoke: Any, ecr: Stubber) -> None:
    ecr.add_response(
        "batch_get_image",
        {"images": [], "failures": [{"imageId": {"imageTag": "v9"}, "failureCode": "ImageNotFound"}]},
        {"repositoryName": "trees", "imageIds": [{"imageTag": "v9"}], "acceptedMediaTypes": ACCEPTED},
    )
    result = invoke("scan", "trees:v9", "--fail-on", "high")
    assert result.exit_code == 1
    assert result.stderr == (
        "ecrtool: error: tag 'v9' not found in repository 'trees' (ca-west-1):"
        " `ecrtool images trees` lists its images\n"
    )
