"""`scan --fail-on` gates on a scan no older than --max-age (24h by default): an older finished scan is
replaced by a new one, waited for, before the verdict. On a stubbed ECR client, every call in order."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from botocore.stub import Stubber

DIGEST = "sha256:" + "a" * 64
DOCKER_IMAGE = "application/vnd.docker.distribution.manifest.v2+json"
ACCEPTED = ["application/vnd.oci.image.index.v1+json", "application/vnd.docker.distribution.manifest.list.v2+json",
            "application/vnd.oci.image.manifest.v1+json", DOCKER_IMAGE]  # fmt: skip
ID = {"repositoryName": "trees", "imageId": {"imageDigest": DIGEST}}


@pytest.fixture
def ecr(stubbed_ecr: Stubber, monkeypatch: pytest.MonkeyPatch) -> Stubber:
    now = [1000.0]

    def sleep(seconds: float) -> None:
        now[0] += seconds

    monkeypatch.setattr("ecrtool.service.scan._clock", lambda: now[0])
    monkeypatch.setattr("ecrtool.service.scan._sleep", sleep)
    stubbed_ecr.add_response(
        "batch_get_image",
        {"images": [{"imageId": {"imageTag": "v1", "imageDigest": DIGEST}, "imageManifest": "{}",
                     "imageManifestMediaType": DOCKER_IMAGE}]},  # fmt: skip
        {"repositoryName": "trees", "imageIds": [{"imageTag": "v1"}], "acceptedMediaTypes": ACCEPTED},
    )
    return stubbed_ecr


def findings(stub: Stubber, status: str, severity: str | None = None, age: timedelta | None = None) -> None:
    reply: dict[str, Any] = {**ID, "imageScanStatus": {"status": status}}
    if status == "COMPLETE":
        found = [{"name": "CVE-1", "severity": severity}] if severity else []
        reply["imageScanFindings"] = {"findings": found}
        if age is not None:
            reply["imageScanFindings"]["imageScanCompletedAt"] = datetime.now(timezone.utc) - age
    stub.add_response("describe_image_scan_findings", reply, {**ID, "maxResults": 1000})


def start(stub: Stubber, error: str | None = None) -> None:
    if error:
        stub.add_client_error("start_image_scan", error, "The scan quota per image has been exceeded.", 400, ID)
    else:
        stub.add_response("start_image_scan", {**ID, "imageScanStatus": {"status": "IN_PROGRESS"}}, ID)


def test_a_clean_scan_older_than_a_day_is_replaced_before_the_gate(invoke: Any, ecr: Stubber) -> None:
    findings(ecr, "COMPLETE", None, age=timedelta(days=3))  # clean three days ago
    start(ecr)
    findings(ecr, "IN_PROGRESS")
    findings(ecr, "COMPLETE", "CRITICAL", age=timedelta(0))  # today's database knows CVE-1
    result = invoke("scan", "trees:v1", "--fail-on", "high", "-q")
    assert result.exit_code == 1, result.output
    assert "CRITICAL" in result.stderr  # the verdict is the new scan's


def test_a_scan_within_max_age_is_used_as_it_is(invoke: Any, ecr: Stubber) -> None:
    findings(ecr, "COMPLETE", None, age=timedelta(hours=23))  # no StartImageScan: the stubber would fail on one
    result = invoke("scan", "trees:v1", "--fail-on", "high", "-q")
    assert result.exit_code == 0, result.output


def test_max_age_takes_a_duration_and_a_scan_past_it_is_replaced(invoke: Any, ecr: Stubber) -> None:
    findings(ecr, "COMPLETE", None, age=timedelta(hours=31))
    start(ecr)
    findings(ecr, "COMPLETE", None, age=timedelta(0))
    result = invoke("scan", "trees:v1", "--fail-on", "high", "--max-age", "1d6h", "-q")
    assert result.exit_code == 0, result.output  # 31h is past 1d6h: the StartImageScan above was made


def test_a_stale_scan_that_ecr_will_not_redo_today_is_an_error_naming_the_fix(invoke: Any, ecr: Stubber) -> None:
    findings(ecr, "COMPLETE", None, age=timedelta(hours=5))
    start(ecr, error="LimitExceededException")
    result = invoke("scan", "trees:v1", "--fail-on", "high", "--max-age", "1h")
    assert result.exit_code == 1
    assert "longer than --max-age 1h" in result.stderr and "give a --max-age of at least" in result.stderr


def test_a_bad_max_age_is_exit_2(invoke: Any, stubbed_ecr: Stubber) -> None:
    result = invoke("scan", "trees:v1", "--fail-on", "high", "--max-age", "soon")
    assert result.exit_code == 2
    assert "--max-age 'soon' is not a duration" in result.stderr
