"""Image scans as a test sets them: the findings (and how the scan goes) of an image, answered by the bridge
for StartImageScan and DescribeImageScanFindings as ECR answers them.

moto's server can be given scan results (POST /moto-api/static/ecr/scan-finding-results), but each result
sticks to the first call that reads it: a scan can neither be IN_PROGRESS for a few calls and then
COMPLETE or FAILED, nor be paged, and moto matches an image by tag or digest loosely. So a test sets a
scan here (POST /_bridge/scans), per account, region, repository and digest:

    {"repository": R, "digest": D, "account": A, "region": G,    account and region default to the first
     "polls": N,                  DescribeImageScanFindings answers IN_PROGRESS N times (after each
                                  StartImageScan), then
     "status": "COMPLETE",        COMPLETE (the default) with these findings, or FAILED with DESCRIPTION
     "description": TEXT,
     "findings": [...],           ECR's ImageScanFinding objects (name, severity, uri, attributes)
     "enhancedFindings": [...]}   ECR's EnhancedImageScanFinding objects, for enhanced scanning
    {"reset": true}               forgets every scan set

moto still answers first, so its errors stand as ECR's would: RepositoryNotFoundException,
ImageNotFoundException, ScanNotFoundException before any StartImageScan, LimitExceededException for a
second StartImageScan of an image the same day. An image with no scan set gets moto's own answer.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from typing import Any

from .state import ACCOUNT_ID, REGION

_DEFAULT_PAGE = 100  # ECR's page of listings and findings when maxResults is not given
_JSON = "application/x-amz-json-1.1"
Answer = Any  # bridge.Answer: scans.py cannot import bridge.py, which imports it
Key = tuple[str, str, str, str]


class Scans:
    def __init__(self) -> None:
        self._set: dict[Key, dict[str, Any]] = {}
        self._left: dict[Key, int] = {}  # IN_PROGRESS answers still to give
        self._lock = threading.Lock()

    def configure(self, doc: dict[str, Any]) -> dict[str, Any]:
        """POST /_bridge/scans: set one image's scan, or forget them all."""
        with self._lock:
            if doc.get("reset"):
                self._set.clear()
                self._left.clear()
                return {"scans": 0}
            key = (
                str(doc.get("account") or ACCOUNT_ID),
                str(doc.get("region") or REGION),
                str(doc["repository"]),
                str(doc["digest"]),
            )
            status = str(doc.get("status") or "COMPLETE")
            if status not in ("COMPLETE", "FAILED"):
                raise ValueError(f"status {status!r}: a scan set here ends COMPLETE or FAILED")
            self._set[key] = {**doc, "status": status, "at": time.time()}
            self._left[key] = int(doc.get("polls") or 0)
            return {"scans": len(self._set)}

    def answer(
        self,
        action: str,
        scope: Any,
        params: dict[str, Any],
        forward: Callable[[], Answer],
        pages: Any,
        make: Callable[[int, Any], Answer],
        error: Callable[[int, str, str], Answer],
    ) -> Answer:
        """StartImageScan or DescribeImageScanFindings for SCOPE (account, region): moto's answer, or the
        scan a test set for the image. MAKE builds a JSON answer, ERROR an ECR error; PAGES keeps the
        findings between one page and the next."""
        limit = page_size(params)
        if action == "DescribeImageScanFindings":
            if limit is None:
                return error(400, "InvalidParameterException", "maxResults must be between 1 and 1000")
            if params.get("nextToken"):
                kept = pages.get(str(params["nextToken"]))
                if kept is None:
                    return error(400, "InvalidParameterException", "Invalid parameter: nextToken")
                (head, findings, enhanced), offset = kept
                return make(200, _page(pages, head, findings, enhanced, offset, limit))
        answer = forward()
        if answer.status != 200:
            return answer
        doc = answer.json()
        digest = str((doc.get("imageId") or {}).get("imageDigest") or "")
        key = (scope.account, scope.region, str(params.get("repositoryName") or ""), digest)
        with self._lock:
            scan = self._set.get(key)
            if scan is None:
                return answer
            if action == "StartImageScan":
                self._left[key] = int(scan.get("polls") or 0)
                scan["at"] = time.time()
                return answer
            if self._left.get(key, 0) > 0:
                self._left[key] -= 1
                doc["imageScanStatus"] = {"status": "IN_PROGRESS", "description": "The scan is in progress."}
                doc.pop("imageScanFindings", None)
                return make(200, doc)
        if scan["status"] == "FAILED":
            doc["imageScanStatus"] = {"status": "FAILED", "description": str(scan.get("description") or "")}
            doc.pop("imageScanFindings", None)
            return make(200, doc)
        findings = list(scan.get("findings") or [])
        enhanced = list(scan.get("enhancedFindings") or [])
        counts: dict[str, int] = {}
        for item in findings + enhanced:
            severity = str(item.get("severity") or "UNDEFINED")
            counts[severity] = counts.get(severity, 0) + 1
        head = {
            "registryId": doc.get("registryId"),
            "repositoryName": doc.get("repositoryName"),
            "imageId": doc.get("imageId"),
            "imageScanStatus": {
                "status": "COMPLETE",
                "description": str(scan.get("description") or "The scan was completed successfully."),
            },
            "imageScanFindings": {
                "imageScanCompletedAt": scan["at"],
                "vulnerabilitySourceUpdatedAt": scan["at"],
                "findingSeverityCounts": counts,
            },
        }
        return make(200, _page(pages, head, findings, enhanced, 0, limit or _DEFAULT_PAGE))


def _page(pages: Any, head: dict[str, Any], findings: list[Any], enhanced: list[Any], offset: int, limit: int) -> Any:
    """One page of findings (and of enhanced findings, side by side), as ECR pages them."""
    doc = json.loads(json.dumps(head))
    doc["imageScanFindings"]["findings"] = findings[offset : offset + limit]
    if enhanced:
        doc["imageScanFindings"]["enhancedFindings"] = enhanced[offset : offset + limit]
    if offset + limit < max(len(findings), len(enhanced)):
        doc["nextToken"] = pages.keep([head, findings, enhanced], offset + limit)
    return doc


def page_size(params: dict[str, Any]) -> int | None:
    """A call's maxResults as ECR takes it (1 to 1000, 100 when not given); None for anything else."""
    try:
        size = int(params.get("maxResults") or _DEFAULT_PAGE)
    except (TypeError, ValueError):
        return None
    return size if 1 <= size <= 1000 else None
