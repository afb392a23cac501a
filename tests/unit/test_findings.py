"""Severities, their order and the --fail-on gate: which counts fail it and what the message says."""

from __future__ import annotations

import pytest

from ecrtool.model.errors import InvalidInput
from ecrtool.model.findings import (
    Finding,
    ImageScan,
    ScanResult,
    at_or_above,
    basic_finding,
    count,
    enhanced_finding,
    gate_failure,
    ordered,
    parse_fail_on,
    rank,
    worst,
)


def test_severities_rank_from_critical_down_to_undefined() -> None:
    order = ["CRITICAL", "HIGH", "MEDIUM", "LOW", "INFORMATIONAL", "UNDEFINED"]
    assert sorted(order, key=rank, reverse=True) == order
    assert len({rank(s) for s in order}) == len(order)
    assert rank("UNTRIAGED") == rank("UNDEFINED") == rank("something new") == rank("")
    assert rank("high") == rank("HIGH")


@pytest.mark.parametrize("text", ["high", "HIGH", " High ", "low", "Medium", "critical"])
def test_fail_on_takes_any_case(text: str) -> None:
    assert parse_fail_on(text) == text.strip().upper()


@pytest.mark.parametrize("text", ["", "severe", "INFORMATIONAL", "UNDEFINED", "HIGHEST", "3"])
def test_fail_on_refuses_what_is_no_gate_level(text: str) -> None:
    with pytest.raises(InvalidInput, match="give one of LOW, MEDIUM, HIGH, CRITICAL"):
        parse_fail_on(text)


def test_counts_are_ordered_worst_first_and_undefined_absorbs_unknowns() -> None:
    assert list(ordered({"LOW": 2, "CRITICAL": 1, "UNTRIAGED": 1, "UNDEFINED": 2, "MEDIUM": 0})) == [
        "CRITICAL",
        "LOW",
        "UNDEFINED",
    ]
    assert ordered({"UNTRIAGED": 1, "UNDEFINED": 2})["UNDEFINED"] == 3


@pytest.mark.parametrize(
    ("level", "expected"),
    [
        ("CRITICAL", {"CRITICAL": 1}),
        ("HIGH", {"CRITICAL": 1, "HIGH": 2}),
        ("LOW", {"CRITICAL": 1, "HIGH": 2, "LOW": 4}),
    ],
)
def test_at_or_above(level: str, expected: dict[str, int]) -> None:
    counts = {"UNDEFINED": 5, "LOW": 4, "HIGH": 2, "CRITICAL": 1, "INFORMATIONAL": 3}
    assert at_or_above(counts, level) == expected


def result(*images: ImageScan, fail_on: str | None = "HIGH") -> ScanResult:
    return ScanResult("trees:v1", "trees", "sha256:" + "a" * 64, None, list(images), fail_on)


def test_the_gate_names_the_counts_at_or_above_its_level() -> None:
    scan = ImageScan("sha256:" + "1" * 64, "COMPLETE", counts={"CRITICAL": 1, "HIGH": 2, "MEDIUM": 7})
    assert gate_failure(result(scan)) == "3 findings at HIGH or above: 1 CRITICAL, 2 HIGH in trees:v1"
    assert gate_failure(result(scan, fail_on="CRITICAL")) == "1 finding at CRITICAL or above: 1 CRITICAL in trees:v1"
    assert gate_failure(result(scan, fail_on=None)) is None


def test_the_gate_passes_below_its_level_and_never_on_undefined() -> None:
    scan = ImageScan("sha256:" + "1" * 64, "COMPLETE", counts={"MEDIUM": 3, "UNDEFINED": 9, "INFORMATIONAL": 2})
    assert gate_failure(result(scan)) is None
    assert gate_failure(result(scan, fail_on="LOW")) == "3 findings at LOW or above: 3 MEDIUM in trees:v1"


def test_an_index_gates_on_every_platform_and_says_each_ones_share() -> None:
    amd = ImageScan("sha256:" + "1" * 64, "COMPLETE", platform="linux/amd64", counts={"LOW": 1})
    arm = ImageScan("sha256:" + "2" * 64, "COMPLETE", platform="linux/arm64", counts={"HIGH": 2, "CRITICAL": 1})
    assert gate_failure(result(amd, arm)) == (
        "3 findings at HIGH or above: 1 CRITICAL, 2 HIGH (linux/amd64: none; linux/arm64: 1 CRITICAL, 2 HIGH)"
        " in trees:v1"
    )
    assert gate_failure(result(amd)) is None
    assert result(amd, arm).counts == {"CRITICAL": 1, "HIGH": 2, "LOW": 1}


def test_basic_finding_takes_the_package_from_its_attributes() -> None:
    raw = {
        "name": "CVE-2024-1",
        "severity": "HIGH",
        "uri": "https://example.com/CVE-2024-1",
        "attributes": [{"key": "package_name", "value": "openssl"}, {"key": "package_version", "value": "3.0.1"}],
    }
    assert basic_finding(raw) == Finding("CVE-2024-1", "HIGH", "openssl 3.0.1", "https://example.com/CVE-2024-1")
    assert basic_finding({"name": "CVE-2024-2", "severity": "whatever"}) == Finding("CVE-2024-2", "UNDEFINED")


def test_enhanced_finding_reads_inspectors_shape() -> None:
    raw = {
        "severity": "UNTRIAGED",
        "title": "CVE-2024-3 - zlib",
        "packageVulnerabilityDetails": {
            "vulnerabilityId": "CVE-2024-3",
            "sourceUrl": "https://nvd.example/CVE-2024-3",
            "vulnerablePackages": [{"name": "zlib", "version": "1.2"}, {"name": "zlib-dev"}],
        },
    }
    found = enhanced_finding(raw)
    assert (found.name, found.severity, found.package, found.uri, found.enhanced) == (
        "CVE-2024-3",
        "UNDEFINED",
        "zlib 1.2, zlib-dev",
        "https://nvd.example/CVE-2024-3",
        True,
    )


def test_worst_sorts_by_severity_then_name_and_counts_add_up() -> None:
    findings = [Finding("CVE-3", "LOW"), Finding("CVE-2", "CRITICAL"), Finding("CVE-1", "LOW"), Finding("X", "HIGH")]
    assert [f.name for f in worst(findings, 3)] == ["CVE-2", "X", "CVE-1"]
    assert count(findings) == {"CRITICAL": 1, "HIGH": 1, "LOW": 2}


def test_a_scan_is_pending_finished_or_failed() -> None:
    def state(status: str) -> tuple[bool, bool]:
        scan = ImageScan("sha256:" + "1" * 64, status)
        return scan.pending, scan.failed

    assert state("IN_PROGRESS") == state("PENDING") == (True, False)
    assert state("COMPLETE") == state("ACTIVE") == (False, False)
    for status in ("FAILED", "UNSUPPORTED_IMAGE", "SCAN_ELIGIBILITY_EXPIRED", "FINDINGS_UNAVAILABLE"):
        assert state(status) == (False, True)
