"""Image scans: ECR's severities and their order, the findings of a scan (basic and enhanced), the result of
`ecrtool scan` over an image or each platform of an index, and the gate `--fail-on` applies to it.

Severities rank CRITICAL > HIGH > MEDIUM > LOW > INFORMATIONAL > UNDEFINED. UNDEFINED (the CVE's source
gave it no severity; Inspector's UNTRIAGED is the same) ranks lowest: it is counted and shown, but no
`--fail-on` level reaches it, since a gate on "we do not know" would fail every build on noise.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ecrtool.model.errors import InvalidInput

# worst first; what a table and the counts list, in this order
SEVERITIES = ("CRITICAL", "HIGH", "MEDIUM", "LOW", "INFORMATIONAL", "UNDEFINED")
_RANK = {name: len(SEVERITIES) - i for i, name in enumerate(SEVERITIES)} | {"UNTRIAGED": 1}
# what --fail-on takes
GATE_LEVELS = ("LOW", "MEDIUM", "HIGH", "CRITICAL")

# imageScanStatus.status: still running; finished with findings to read; anything else is a failure
PENDING = frozenset({"IN_PROGRESS", "PENDING"})
FINISHED = frozenset({"COMPLETE", "ACTIVE"})


def rank(severity: str) -> int:
    """How bad SEVERITY is: higher is worse; an unknown or missing severity ranks with UNDEFINED."""
    return _RANK.get(severity.upper(), 1)


def severity_name(severity: str | None) -> str:
    """SEVERITY as a table and the counts name it: ECR's names, UNTRIAGED and unknown ones as UNDEFINED."""
    name = (severity or "").upper()
    return name if name in _RANK and name != "UNTRIAGED" else "UNDEFINED"


def parse_fail_on(text: str) -> str:
    """--fail-on's level, any case; InvalidInput naming the levels for anything else."""
    level = text.strip().upper()
    if level not in GATE_LEVELS:
        raise InvalidInput(f"--fail-on {text!r} is not a severity: give one of {', '.join(GATE_LEVELS)} (any case)")
    return level


@dataclass(frozen=True)
class Finding:
    """One vulnerability in one image: its id (a CVE), severity, the package it is in when the scan says,
    and where to read about it. PLATFORM is the index child's platform, None for a single image."""

    name: str
    severity: str
    package: str | None = None
    uri: str | None = None
    description: str | None = None
    platform: str | None = None
    enhanced: bool = False


def basic_finding(raw: Mapping[str, Any]) -> Finding:
    """A finding of ECR's basic scan (DescribeImageScanFindings' imageScanFindings.findings[])."""
    attributes = {a.get("key"): a.get("value") for a in raw.get("attributes") or [] if isinstance(a, Mapping)}
    package = " ".join(str(attributes[k]) for k in ("package_name", "package_version") if attributes.get(k))
    return Finding(
        name=str(raw.get("name") or "-"),
        severity=severity_name(raw.get("severity")),
        package=package or None,
        uri=raw.get("uri") or None,
        description=raw.get("description") or None,
    )


def enhanced_finding(raw: Mapping[str, Any]) -> Finding:
    """A finding of enhanced scanning (Amazon Inspector: imageScanFindings.enhancedFindings[])."""
    details = raw.get("packageVulnerabilityDetails") or {}
    packages = [
        " ".join(str(p[k]) for k in ("name", "version") if p.get(k))
        for p in details.get("vulnerablePackages") or []
        if isinstance(p, Mapping) and p.get("name")
    ]
    return Finding(
        name=str(details.get("vulnerabilityId") or raw.get("title") or "-"),
        severity=severity_name(raw.get("severity")),
        package=", ".join(packages) or None,
        uri=details.get("sourceUrl") or None,
        description=raw.get("description") or raw.get("title") or None,
        enhanced=True,
    )


def count(findings: Iterable[Finding]) -> dict[str, int]:
    """How many FINDINGS there are of each severity, worst first, severities with none left out."""
    tally: dict[str, int] = {}
    for finding in findings:
        tally[finding.severity] = tally.get(finding.severity, 0) + 1
    return ordered(tally)


def ordered(counts: Mapping[str, int]) -> dict[str, int]:
    """COUNTS (severity -> number) with ECR's names, worst first, zeros left out."""
    merged: dict[str, int] = {}
    for severity, number in counts.items():
        name = severity_name(severity)
        merged[name] = merged.get(name, 0) + int(number)
    return {name: merged[name] for name in SEVERITIES if merged.get(name)}


def worst(findings: Iterable[Finding], limit: int) -> list[Finding]:
    """The LIMIT worst of FINDINGS: by severity, then by name (newest CVE ids last, as they sort)."""
    return sorted(findings, key=lambda f: (-rank(f.severity), f.name, f.platform or ""))[:limit]


@dataclass(frozen=True)
class ImageScan:
    """The scan of one image (one manifest): ECR's status and description, the counts by severity as ECR
    gives them (or as the findings add up, when it gives none) and every finding."""

    digest: str
    status: str
    description: str | None = None
    platform: str | None = None
    counts: dict[str, int] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)
    completed_at: datetime | None = None
    started: bool = False  # this run asked ECR to start it

    @property
    def pending(self) -> bool:
        return self.status in PENDING

    @property
    def failed(self) -> bool:
        return not self.pending and self.status not in FINISHED


@dataclass(frozen=True)
class ScanResult:
    """`ecrtool scan REF`: the image REF names, and its scan; for an image index, one scan per platform
    image (ECR's basic scan does not scan an index itself). FAIL_ON is the gate asked for, if any."""

    reference: str
    repository: str
    digest: str
    media_type: str | None
    images: list[ImageScan]
    fail_on: str | None = None

    @property
    def status(self) -> str:
        """The scan's state as a whole: the first pending or failed image's status, else the first one's."""
        for image in self.images:
            if image.pending or image.failed:
                return image.status
        return self.images[0].status if self.images else "COMPLETE"

    @property
    def counts(self) -> dict[str, int]:
        total: dict[str, int] = {}
        for image in self.images:
            for severity, number in image.counts.items():
                total[severity] = total.get(severity, 0) + number
        return ordered(total)

    @property
    def findings(self) -> list[Finding]:
        return [finding for image in self.images for finding in image.findings]


def at_or_above(counts: Mapping[str, int], level: str) -> dict[str, int]:
    """The part of COUNTS at LEVEL or worse."""
    return {severity: n for severity, n in ordered(counts).items() if rank(severity) >= rank(level)}


def gate_failure(result: ScanResult) -> str | None:
    """Why RESULT fails its --fail-on gate ("3 findings at HIGH or above: 1 CRITICAL, 2 HIGH", with each
    platform's share for an index), or None when it passes or has no gate."""
    if result.fail_on is None:
        return None
    over = at_or_above(result.counts, result.fail_on)
    total = sum(over.values())
    if not total:
        return None
    text = f"{total} finding{'s' if total != 1 else ''} at {result.fail_on} or above: {_listed(over)}"
    platforms = [image for image in result.images if image.platform]
    if platforms:
        shares = [(image.platform, at_or_above(image.counts, result.fail_on)) for image in platforms]
        text += " (" + "; ".join(f"{name}: {_listed(share) or 'none'}" for name, share in shares) + ")"
    return f"{text} in {result.reference}"


def _listed(counts: Mapping[str, int]) -> str:
    return ", ".join(f"{n} {severity}" for severity, n in counts.items())


@dataclass(frozen=True)
class ScanEvent:
    """Progress of a scan being waited for: which image (a label people read), its status, and how long
    the command has waited so far."""

    subject: str
    status: str
    waited: float


ScanProgress = Callable[[ScanEvent], None]
