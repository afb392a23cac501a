"""`ecrtool scan`: an image's basic scan in ECR, started when it has none, waited for when asked, with its
findings; for an image index, the scan of each platform's image, since ECR's basic scan skips an index.

DescribeImageScanFindings comes first: an image scanned today already has results, and ECR refuses a
second StartImageScan within 24 hours (LimitExceededException), which is then no error but the results
that stand. Only an image without a scan (ScanNotFoundException) gets a StartImageScan.
"""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import datetime, timedelta, timezone

from ecrtool.aws.ecr import Ecr
from ecrtool.model.durations import format_duration, parse_duration
from ecrtool.model.errors import EcrToolError, NoScan, NotFound, ScanQuota
from ecrtool.model.findings import ImageScan, ScanEvent, ScanProgress, ScanResult, parse_fail_on
from ecrtool.model.manifests import StoredManifest, is_index, parse_index
from ecrtool.model.refs import parse_repo_ref
from ecrtool.service.base import ServiceBase, Target

DEFAULT_TIMEOUT = timedelta(minutes=10)
# how old a finished scan --fail-on trusts by default: ECR's basic scan may run once a day, so a day-old
# scan can always be replaced
DEFAULT_MAX_AGE = timedelta(hours=24)
# seconds between two looks at a pending scan: soon at first (a small image's scan takes seconds), then
# every 5 s, as botocore's image_scan_complete waiter polls
POLL_DELAYS = (1.0, 2.0, 3.0, 5.0)

# the clock and the pause the wait uses (tests replace them to wait no real time)
_clock = time.monotonic
_sleep = time.sleep


class Scans(ServiceBase):
    def scan(
        self,
        ref_text: str,
        *,
        wait: bool = False,
        timeout: str | None = None,
        fail_on: str | None = None,
        max_age: str | None = None,
        progress: ScanProgress | None = None,
    ) -> ScanResult:
        """The scan of the image REF_TEXT names (each platform's, for an index), started if it has none.

        With WAIT (FAIL_ON implies it) the scans are followed until each is finished, for at most TIMEOUT
        (a duration such as 10m, the default); without it, the status as it is now. A failed scan, or one
        still running at the timeout, is an EcrToolError naming ECR's reason.

        With FAIL_ON (or MAX_AGE given), a finished scan older than MAX_AGE (24h by default) is not used:
        a new one is started and waited for. A scan whose completion time ECR does not give is used as is.
        """
        level = parse_fail_on(fail_on) if fail_on is not None else None
        oldest = parse_duration(max_age, "--max-age") if max_age is not None else None
        oldest = oldest if oldest is not None or level is None else DEFAULT_MAX_AGE
        limit = parse_duration(timeout, "--timeout") if timeout is not None else DEFAULT_TIMEOUT
        ref = parse_repo_ref(ref_text, self.settings.registry_override)
        wait = wait or level is not None
        target = self._target(ref)
        manifest = self._manifest(target, ref.repository, ref.digest, ref.tag)
        if is_index(manifest.media_type):
            # attestations and signatures (no platform) are not images to scan
            children = [child for child in parse_index(manifest.text) if child.platform]
            if not children:
                raise EcrToolError(
                    f"{ref_text} is an image index with no platform images to scan: "
                    f"`ecrtool images {ref.repository}` lists its images"
                )
            wanted = [(child.digest, child.platform) for child in children]
        else:
            wanted = [(manifest.digest, None)]
        started = _clock()
        scans = [self._current(target.ecr, ref.repository, digest, platform, oldest) for digest, platform in wanted]
        if progress is not None and wait:
            for scan in scans:
                progress(ScanEvent(_label(ref_text, scan), _said(scan), 0.0))
        if wait:
            scans = self._wait(target.ecr, ref_text, ref.repository, scans, limit, started, progress)
        for scan in scans:
            if scan.failed:
                reason = scan.description or f"ECR reports the scan {scan.status}"
                raise EcrToolError(f"scan of {_label(ref_text, scan)} failed: {reason}")
        return ScanResult(
            reference=ref_text,
            repository=ref.repository,
            digest=manifest.digest,
            media_type=manifest.media_type,
            images=scans,
            fail_on=level,
        )

    @staticmethod
    def _manifest(target: Target, repository: str, digest: str | None, tag: str | None) -> StoredManifest:
        wanted = {"imageDigest": digest} if digest else {"imageTag": tag or "latest"}
        try:
            found = target.ecr.manifests(repository, [wanted])
        except NotFound:
            raise NotFound(
                f"repository {repository!r} does not exist in {target.region}: "
                "`ecrtool repos` lists the repositories there"
            ) from None
        if not found:
            what = f"digest {digest!r}" if digest else f"tag {tag or 'latest'!r}"
            raise NotFound(
                f"{what} not found in repository {repository!r} ({target.region}): "
                f"`ecrtool images {repository}` lists its images"
            )
        return found[0]

    @staticmethod
    def _current(
        ecr: Ecr, repository: str, digest: str, platform: str | None, oldest: timedelta | None = None
    ) -> ImageScan:
        """The image's scan as ECR has it now; one started first when there is none, or when the one there
        finished longer ago than OLDEST."""
        stale: timedelta | None = None
        try:
            scan = _on(ecr.image_scan(repository, digest), platform)
            if oldest is None or scan.status != "COMPLETE" or scan.completed_at is None:
                return scan
            stale = datetime.now(timezone.utc) - scan.completed_at
            if stale <= oldest:
                return scan
        except NoScan:
            pass
        try:
            status = ecr.start_image_scan(repository, digest)
        except ScanQuota:
            if stale is not None and oldest is not None:
                raise EcrToolError(
                    f"the scan of {digest} finished {format_duration(stale)} ago, longer than --max-age "
                    f"{format_duration(oldest)}, and ECR scans an image at most once a day: give a --max-age "
                    "of at least that age, or run again once the day is over"
                ) from None
            # scanned in the last 24 hours after all (another client, a moment ago): its results stand
            return _look(ecr, repository, digest, platform)
        return ImageScan(digest=digest, status=status, platform=platform, started=True)

    @staticmethod
    def _wait(
        ecr: Ecr,
        ref_text: str,
        repository: str,
        scans: list[ImageScan],
        limit: timedelta,
        started: float,
        progress: ScanProgress | None,
    ) -> list[ImageScan]:
        deadline = started + limit.total_seconds()
        polls = 0
        while any(scan.pending for scan in scans):
            now = _clock()
            if now >= deadline:
                waiting = [scan for scan in scans if scan.pending]
                said = "; ".join(f"{_label(ref_text, scan)} {_said(scan)}" for scan in waiting)
                raise EcrToolError(
                    f"scan of {ref_text} did not finish within {format_duration(limit)}: ECR still reports {said};"
                    " run the command again later (the scan goes on in ECR) or give a longer --timeout"
                )
            _sleep(min(POLL_DELAYS[min(polls, len(POLL_DELAYS) - 1)], deadline - now))
            polls += 1
            fresh = []
            for scan in scans:
                if scan.pending:
                    looked = replace(_look(ecr, repository, scan.digest, scan.platform), started=scan.started)
                    if progress is not None:
                        progress(ScanEvent(_label(ref_text, looked), _said(looked), _clock() - started))
                    scan = looked
                fresh.append(scan)
            scans = fresh
        return scans


def _look(ecr: Ecr, repository: str, digest: str, platform: str | None) -> ImageScan:
    """The scan as ECR has it now; a scan just started that ECR does not show yet is pending."""
    try:
        return _on(ecr.image_scan(repository, digest), platform)
    except NoScan:
        return ImageScan(digest=digest, status="PENDING", platform=platform)


def _on(scan: ImageScan, platform: str | None) -> ImageScan:
    """SCAN as the scan of an index's PLATFORM image: it and each of its findings say which platform."""
    if platform is None:
        return scan
    return replace(scan, platform=platform, findings=[replace(f, platform=platform) for f in scan.findings])


def _label(ref_text: str, scan: ImageScan) -> str:
    """How a message names one image's scan: REF, or REF's platform for a child of an index."""
    return f"{ref_text} ({scan.platform})" if scan.platform else ref_text


def _said(scan: ImageScan) -> str:
    if scan.started and scan.pending:
        return f"{scan.status} (scan started)"
    return scan.status
