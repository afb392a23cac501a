"""What ECR keeps of an image beside its manifest and moto does not: the last recorded pull, the storage
class (ACTIVE, ARCHIVED, ACTIVATING) with when it last changed, and the principals whose pulls are not
recorded (RegisterPullTimeUpdateExclusion). Kept in image-state.json, so it lasts across restarts.

- A manifest GET through the registry's face (not a HEAD) and BatchGetImage record the pull
  (`lastRecordedPullTime`), unless the caller's IAM principal is excluded. ECR refreshes it "at least once
  every 24 hours"; the stand-in records every pull.
- UpdateImageStorageClass ARCHIVE makes an ACTIVE image ARCHIVED; STANDARD makes an ARCHIVED one ACTIVATING,
  then ACTIVE after LOCAL_ECR_RESTORE_SECONDS (default 3; ECR takes up to 20 minutes). A push of the same
  image restores it at once, as ECR's.
- DescribeImages and ListImages answer the images of `filter.imageStatus` (ACTIVE when not given; ANY for
  all); a lookup by imageIds answers an image whatever its status. An archived or activating image is not
  pulled: the registry answers 404 MANIFEST_UNKNOWN and BatchGetImage a failure ImageNotFound.
- POST /_bridge/image-times sets an image's pull and push times as DescribeImages reports them.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .answer import ECR_JSON, Answer, ecr_error, json_answer
from .face import Scope

DEFAULT_RESTORE_SECONDS = 3.0
_PULL_FLUSH_SECONDS = 1.0
_PRINCIPAL = re.compile(r"^arn:aws(-[a-z]+)*:iam::[0-9]{12}:(role|user)/[\w+=,.@-]+(/[\w+=,.@-]+)*$")
_STATUSES = ("ACTIVE", "ARCHIVED", "ACTIVATING")
_EXCLUSIONS = "pull-time-update-exclusions"  # beside the ACCOUNT/REGION/REPOSITORY keys of images
Refusal = tuple[int, list[tuple[str, str]], bytes]
Rewrite = Callable[[int, list[tuple[str, str]]], tuple[int, list[tuple[str, str]]]]

# The registry's refusal of a pull of an archived image: ECR's user guide says only "Requests to pull the
# archived image will fail with a 404 error" (archive-image.html); this is its usual 404 for a manifest.
_ARCHIVED_PULL: Refusal = (
    404,
    [("Content-Type", "application/json; charset=utf-8")],
    json.dumps({"errors": [{"code": "MANIFEST_UNKNOWN", "message": "Requested image not found"}]}).encode(),
)


def restore_seconds_of(text: str | None) -> float:
    try:
        value = float(text) if text else DEFAULT_RESTORE_SECONDS
    except ValueError:
        return DEFAULT_RESTORE_SECONDS
    return max(value, 0.0)


def caller_arn(account: str, role_session: str | None = None) -> str:
    """Who a stack key is, as STS's GetCallerIdentity names it: the account's user (moto says `moto`), or
    the instance role's session (imds.py). Registry tokens carry it (tokens.py)."""
    if role_session:
        from .imds import ROLE

        return f"arn:aws:sts::{account}:assumed-role/{ROLE}/{role_session}"
    return f"arn:aws:sts::{account}:user/moto"


def iam_principal(arn: str) -> str:
    """The IAM principal (user or role) an exclusion names, for a caller's STS ARN."""
    found = re.match(r"^arn:(aws[a-z-]*):sts::(\d{12}):(?:(user)/(.+)|assumed-role/([^/]+)/.*)$", arn)
    if found is None:
        return arn
    partition, account, user, name, role = found.groups()
    return f"arn:{partition}:iam::{account}:user/{name}" if user else f"arn:{partition}:iam::{account}:role/{role}"


class Images:
    """Pull times, storage classes and pull-time exclusions of every registry of the stack."""

    def __init__(self, path: Path, ecr: Callable[[str, str], Any], restore_seconds: float | None = None) -> None:
        self._path = path
        self._ecr = ecr  # a boto3 ECR client on moto for ACCOUNT, REGION (Bridge.ecr)
        self.restore_seconds = (
            restore_seconds_of(os.environ.get("LOCAL_ECR_RESTORE_SECONDS"))
            if restore_seconds is None
            else restore_seconds
        )
        self._lock = threading.Lock()
        self._flush: threading.Timer | None = None  # the pending write of recorded pulls (_save_soon)
        try:
            self._doc: dict[str, dict[str, Any]] = json.loads(path.read_text())
        except (OSError, ValueError):
            self._doc = {}

    # -- one image's record ------------------------------------------------------------------------

    def _record(self, scope: Scope, repository: str, digest: str, *, create: bool = False) -> dict[str, Any] | None:
        key = f"{scope.account}/{scope.region}/{repository}"
        if create:
            return self._doc.setdefault(key, {}).setdefault(digest, {})
        return self._doc.get(key, {}).get(digest)

    def status(self, scope: Scope, repository: str, digest: str) -> str:
        with self._lock:
            return self._status_locked(scope, repository, digest)

    def _status_locked(self, scope: Scope, repository: str, digest: str) -> str:
        record = self._record(scope, repository, digest)
        if record is None:
            return "ACTIVE"
        status = str(record.get("status") or "ACTIVE")
        if status == "ACTIVATING" and time.time() >= float(record.get("activateAt", 0)):
            record["status"] = status = "ACTIVE"
            record["lastActivatedAt"] = record.pop("activateAt", time.time())
            self._save()
        return status

    def unavailable(self, scope: Scope, repository: str) -> bool:
        """Whether any image of REPOSITORY is archived or being restored (the face resolves a tag only then)."""
        with self._lock:
            found = self._doc.get(f"{scope.account}/{scope.region}/{repository}", {})
            return any(r.get("status") in ("ARCHIVED", "ACTIVATING") for r in found.values())

    def pulled(self, scope: Scope, repository: str, digest: str, principal: str) -> None:
        with self._lock:
            excluded = self._doc.get(_EXCLUSIONS, {}).get(f"{scope.account}/{scope.region}", {})
            if principal and iam_principal(principal) in excluded:
                return
            record = self._record(scope, repository, digest, create=True)
            assert record is not None
            record["pulled"] = time.time()
            self._save_soon()

    def pushed(self, scope: Scope, repository: str, digest: str) -> None:
        """A push of DIGEST: an archived (or activating) image is restored at once, as ECR's user guide says."""
        with self._lock:
            record = self._record(scope, repository, digest)
            if record is not None and record.get("status") in ("ARCHIVED", "ACTIVATING"):
                record["status"] = "ACTIVE"
                record["lastActivatedAt"] = time.time()
                record.pop("activateAt", None)
                self._save()

    def forget(self, scope: Scope, repository: str, digests: list[str] | None = None) -> None:
        with self._lock:
            key = f"{scope.account}/{scope.region}/{repository}"
            if digests is None:
                self._doc.pop(key, None)
            else:
                for digest in digests:
                    self._doc.get(key, {}).pop(digest, None)
            self._save()

    # -- the registry's face -----------------------------------------------------------------------

    def manifest_read(
        self,
        scope: Scope,
        repository: str,
        reference: str,
        command: str,
        principal: str,
        resolve: Callable[[], str | None],
    ) -> tuple[Refusal | None, Rewrite | None]:
        """A manifest GET or HEAD: ECR's 404 for an image that is not ACTIVE, else (for a GET) what records
        the pull once the registry answered 200. RESOLVE gives a tag's digest (asked only when needed)."""
        if self.unavailable(scope, repository):
            digest = reference if reference.startswith("sha256:") else resolve()
            if digest and self.status(scope, repository, digest) != "ACTIVE":
                return _ARCHIVED_PULL, None
        if command != "GET":
            return None, None

        def rewrite(status: int, headers: list[tuple[str, str]]) -> tuple[int, list[tuple[str, str]]]:
            digest = next((v for k, v in headers if k.lower() == "docker-content-digest"), "")
            if status == 200 and digest:
                self.pulled(scope, repository, digest, principal)
            return status, headers

        return None, rewrite

    def manifest_put(self, scope: Scope, repository: str, body: bytes) -> None:
        self.pushed(scope, repository, "sha256:" + hashlib.sha256(body).hexdigest())

    # -- the ECR API -------------------------------------------------------------------------------

    def answer(self, action: str, scope: Scope, params: dict[str, Any]) -> Answer:
        """UpdateImageStorageClass and the pull-time exclusions, which moto does not have."""
        if action == "UpdateImageStorageClass":
            return self._update_storage_class(scope, params)
        where = f"{scope.account}/{scope.region}"
        if action == "ListPullTimeUpdateExclusions":
            return self._list_exclusions(where, params)
        arn = params.get("principalArn")
        if not isinstance(arn, str) or len(arn) > 200 or not _PRINCIPAL.match(arn):
            return ecr_error(
                400,
                "ValidationException",
                f"1 validation error detected: Value '{arn}' at 'principalArn' failed to satisfy constraint: "
                f"Member must satisfy regular expression pattern: {_PRINCIPAL.pattern}",
            )
        with self._lock:
            excluded = self._doc.setdefault(_EXCLUSIONS, {}).setdefault(where, {})
            if action == "RegisterPullTimeUpdateExclusion":
                if arn in excluded:
                    message = "The specified pull time update exclusion already exists for the registry."
                    return ecr_error(400, "ExclusionAlreadyExistsException", message)
                excluded[arn] = time.time()
                self._save()
                return json_answer(200, {"principalArn": arn, "createdAt": excluded[arn]}, ECR_JSON)
            if arn not in excluded:
                return ecr_error(
                    400, "ExclusionNotFoundException", "The specified pull time update exclusion was not found."
                )
            del excluded[arn]
            self._save()
            return json_answer(200, {"principalArn": arn}, ECR_JSON)

    def _list_exclusions(self, where: str, params: dict[str, Any]) -> Answer:
        with self._lock:
            arns = sorted(self._doc.get(_EXCLUSIONS, {}).get(where, {}))
        token = str(params.get("nextToken") or "0")
        try:
            limit, offset = int(params.get("maxResults") or 100), int(token)
        except ValueError:
            return ecr_error(400, "InvalidParameterException", "Invalid parameter: nextToken or maxResults")
        if not 1 <= limit <= 1000 or offset < 0:
            return ecr_error(400, "InvalidParameterException", "maxResults must be between 1 and 1000")
        doc: dict[str, Any] = {"pullTimeUpdateExclusions": arns[offset : offset + limit]}
        if offset + limit < len(arns):
            doc["nextToken"] = str(offset + limit)
        return json_answer(200, doc, ECR_JSON)

    def _update_storage_class(self, scope: Scope, params: dict[str, Any]) -> Answer:
        target = params.get("targetStorageClass")
        if target not in ("ARCHIVE", "STANDARD"):
            return ecr_error(
                400,
                "ValidationException",
                f"1 validation error detected: Value '{target}' at 'targetStorageClass' failed to satisfy "
                "constraint: Member must satisfy enum value set: [STANDARD, ARCHIVE]",
            )
        repository = str(params.get("repositoryName") or "")
        image_id = params.get("imageId") if isinstance(params.get("imageId"), dict) else None
        if not image_id:
            return ecr_error(400, "InvalidParameterException", "Invalid parameter: imageId is required")
        try:
            found = self._ecr(scope.account, scope.region).describe_images(
                repositoryName=repository, imageIds=[image_id]
            )
        except Exception as err:  # noqa: BLE001 - moto's RepositoryNotFound/ImageNotFound, passed on as ECR's
            error = getattr(err, "response", {}).get("Error", {})
            return ecr_error(400, str(error.get("Code") or "ServerException"), str(error.get("Message") or err))
        digest = str(found["imageDetails"][0]["imageDigest"])
        with self._lock:
            current = self._status_locked(scope, repository, digest)
            record = self._record(scope, repository, digest, create=True)
            assert record is not None
            now = time.time()
            if target == "ARCHIVE" and current == "ACTIVE":
                record.update(status="ARCHIVED", lastArchivedAt=now)
            elif target == "STANDARD" and current == "ARCHIVED":
                record.update(status="ACTIVATING", activateAt=now + self.restore_seconds)
            elif not (target == "STANDARD" and current == "ACTIVATING"):  # a restore under way answers as it is
                where = "archive" if target == "ARCHIVE" else "standard"
                message = (
                    f"The image with digest '{digest}' is {current} and cannot be transitioned to the {where} "
                    "storage class"
                )
                return ecr_error(400, "ImageStorageClassUpdateNotSupportedException", message)
            self._save()
            status = str(record["status"])
        image = {"imageDigest": digest, **({"imageTag": image_id["imageTag"]} if image_id.get("imageTag") else {})}
        doc = {"registryId": scope.account, "repositoryName": repository, "imageId": image, "imageStatus": status}
        return json_answer(200, doc, ECR_JSON)

    def decorate(self, action: str, scope: Scope, params: dict[str, Any], answer: Answer, principal: str) -> Answer:
        """moto's answer to DescribeImages, ListImages, BatchGetImage or BatchDeleteImage, as ECR's: statuses
        and times added, the images of other statuses left out, archived images not got, pulls recorded."""
        if answer.status != 200:
            return answer
        repository = str(params.get("repositoryName") or "")
        doc = answer.json()
        by_id = bool(params.get("imageIds"))
        wanted = str((params.get("filter") or {}).get("imageStatus") or "ACTIVE")
        if wanted not in (*_STATUSES, "ANY"):
            message = (
                f"Invalid parameter at 'filter.imageStatus': {wanted} is not one of ACTIVE, ARCHIVED, ACTIVATING, ANY"
            )
            return ecr_error(400, "InvalidParameterException", message)

        def shown(digest: str) -> bool:
            return by_id or wanted == "ANY" or self.status(scope, repository, digest) == wanted

        if action == "DescribeImages":
            details = [d for d in doc.get("imageDetails") or [] if shown(str(d.get("imageDigest")))]
            for detail in details:
                self._describe(scope, repository, detail)
            doc["imageDetails"] = details
        elif action == "ListImages":
            doc["imageIds"] = [i for i in doc.get("imageIds") or [] if shown(str(i.get("imageDigest")))]
        elif action == "BatchGetImage":
            got, failures = [], list(doc.get("failures") or [])
            for image in doc.get("images") or []:
                digest = str((image.get("imageId") or {}).get("imageDigest") or "")
                if self.status(scope, repository, digest) != "ACTIVE":
                    failures.append(
                        {
                            "imageId": image.get("imageId"),
                            "failureCode": "ImageNotFound",
                            "failureReason": "Requested image not found",
                        }
                    )
                    continue
                self.pulled(scope, repository, digest, principal)
                got.append(image)
            doc["images"], doc["failures"] = got, failures
        elif action == "BatchDeleteImage":
            self._deleted(scope, repository, [str(i.get("imageDigest")) for i in doc.get("imageIds") or []])
            return answer
        return answer.with_json(doc)

    def _describe(self, scope: Scope, repository: str, detail: dict[str, Any]) -> None:
        digest = str(detail.get("imageDigest"))
        detail["imageStatus"] = self.status(scope, repository, digest)
        with self._lock:
            record = dict(self._record(scope, repository, digest) or {})
        if record.get("pulled") is not None:
            detail["lastRecordedPullTime"] = record["pulled"]
        if record.get("pushed") is not None:
            detail["imagePushedAt"] = record["pushed"]
        for key in ("lastArchivedAt", "lastActivatedAt"):
            if record.get(key) is not None:
                detail[key] = record[key]

    def _deleted(self, scope: Scope, repository: str, digests: list[str]) -> None:
        """Forget what ECR forgets with an image: only the digests moto no longer has (an untag leaves it)."""
        with self._lock:
            known = [d for d in digests if self._record(scope, repository, d) is not None]
        gone = []
        for digest in known:
            try:
                self._ecr(scope.account, scope.region).describe_images(
                    repositoryName=repository, imageIds=[{"imageDigest": digest}]
                )
            except Exception:  # noqa: BLE001 - ImageNotFoundException: deleted
                gone.append(digest)
        if gone:
            self.forget(scope, repository, gone)

    # -- test control ------------------------------------------------------------------------------

    def control(self, doc: dict[str, Any]) -> dict[str, Any]:
        """POST /_bridge/image-times: {"account", "region", "repository", "digest", "pulled": EPOCH|null,
        "pushed": EPOCH}; each time given is set (pulled null: never pulled), the others kept."""
        from .state import ACCOUNT_ID, REGION

        repository, digest = str(doc.get("repository") or ""), str(doc.get("digest") or "")
        if not repository or not re.match(r"^sha256:[0-9a-f]{64}$", digest):
            raise ValueError("image-times needs a repository and a digest (sha256:...)")
        scope = Scope(str(doc.get("account") or ACCOUNT_ID), str(doc.get("region") or REGION))
        with self._lock:
            record = self._record(scope, repository, digest, create=True)
            assert record is not None
            for key in ("pulled", "pushed"):
                if key in doc:
                    value = doc[key]
                    if value is not None and not isinstance(value, (int, float)):
                        raise ValueError(f"{key}: epoch seconds or null")
                    record[key] = value
            self._save()
            return {"repository": repository, "digest": digest, **record}

    def _save(self) -> None:
        """Write the whole state (under the lock)."""
        self._flush = None
        fresh = self._path.with_name(self._path.name + ".new")
        fresh.write_text(json.dumps(self._doc))
        fresh.replace(self._path)

    def _save_soon(self) -> None:
        """A pull's time, written within a second (under the lock): a copy of thousands of images reads as
        many manifests, and the state would be written whole for each one."""
        if self._flush is None:
            self._flush = threading.Timer(_PULL_FLUSH_SECONDS, self._flushed)
            self._flush.daemon = True
            self._flush.start()

    def flush(self, timeout: float = 5.0) -> None:
        """Write a pending pull time now (the bridge stopping: `local-ecr down`), so none recorded in the
        last second is lost. Waits at most TIMEOUT seconds for the lock (a signal handler calls it)."""
        if not self._lock.acquire(timeout=timeout):
            return
        try:
            if self._flush is not None:
                self._flush.cancel()
                self._save()
        finally:
            self._lock.release()

    def _flushed(self) -> None:
        with self._lock:
            if self._flush is not None:
                self._save()
