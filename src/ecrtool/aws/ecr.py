"""The ECR gateway: a thin wrapper over boto3's ECR client that returns the project's results."""

from __future__ import annotations

import base64
import sys
from collections.abc import Iterator
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ecrtool.aws.errors import translate
from ecrtool.model.auth import AuthToken
from ecrtool.model.errors import EcrToolError, NotFound
from ecrtool.model.manifests import ACCEPTED, Descriptor, StoredManifest, parse_index
from ecrtool.model.refs import chunks
from ecrtool.model.results import DeleteFailure, ImageId, ImageInfo, RepositoryInfo

if TYPE_CHECKING:  # scans and lifecycle policies: loaded by the calls that answer with them, not by every command
    from ecrtool.model.cleanup import LifecyclePolicyInfo
    from ecrtool.model.findings import Finding, ImageScan


def _repository(item: dict[str, Any]) -> RepositoryInfo:
    return RepositoryInfo(
        name=item["repositoryName"],
        uri=item.get("repositoryUri", ""),
        registry_id=item.get("registryId", ""),
        arn=item.get("repositoryArn"),
        created_at=item.get("createdAt"),
        tag_mutability=item.get("imageTagMutability"),
        scan_on_push=(item.get("imageScanningConfiguration") or {}).get("scanOnPush"),
    )


def _image(repository: str, item: dict[str, Any]) -> ImageInfo:
    return ImageInfo(
        repository=repository,
        digest=item["imageDigest"],
        tags=sorted(item.get("imageTags") or []),
        size_bytes=item.get("imageSizeInBytes"),
        pushed_at=_shared_zone(item.get("imagePushedAt")),
        # a handful of media types, each parsed anew per image: one copy each in a long listing
        media_type=sys.intern(item["imageManifestMediaType"]) if item.get("imageManifestMediaType") else None,
        last_pulled_at=_shared_zone(item.get("lastRecordedPullTime")),
        status=item.get("imageStatus"),
        storage_class=_STORAGE_CLASSES.get(item.get("imageStatus") or ""),
        archived_at=_shared_zone(item.get("lastArchivedAt")),
        activated_at=_shared_zone(item.get("lastActivatedAt")),
        subject=item.get("subjectManifestDigest"),
    )


# an imageStatus's storage class: an image being restored is still in the archive until it is ACTIVE
_STORAGE_CLASSES = {"ACTIVE": "STANDARD", "ARCHIVED": "ARCHIVE", "ACTIVATING": "ARCHIVE"}


_ZONES: dict[Any, Any] = {}


def _shared_zone(moment: datetime | None) -> datetime | None:
    """The moment in local time, under one zone object per UTC offset: botocore gives every timestamp
    its own tzlocal(), some 500 bytes each, which adds up in a listing of thousands of images."""
    if moment is None:
        return None
    local = moment.astimezone()
    return local.replace(tzinfo=_ZONES.setdefault(local.utcoffset(), local.tzinfo))


def _image_id(raw: dict[str, str]) -> ImageId:
    return ImageId(digest=raw.get("imageDigest"), tag=raw.get("imageTag"))


# BatchGetImage's failures that mean "no such image here" (the caller says which one was asked for)
_ABSENT = frozenset({"ImageNotFound", "ImageTagDoesNotMatchDigest", "MissingDigestAndTag"})


def _error_code(err: Exception) -> str:
    """The AWS error code of a botocore ClientError or the signed client's ServiceError; "" for anything else."""
    response = getattr(err, "response", None)
    return str((response or {}).get("Error", {}).get("Code", "")) if isinstance(response, dict) else ""


def public_authorization_token(client: Any) -> AuthToken:
    """The token for public.ecr.aws, from an `ecr-public` client (that API lives in us-east-1)."""
    with translate("ecr-public:GetAuthorizationToken"):
        reply = client.get_authorization_token()
    data = reply["authorizationData"]
    user, _, password = base64.b64decode(data["authorizationToken"]).decode().partition(":")
    return AuthToken(user, password, data.get("expiresAt"), "https://public.ecr.aws")


class Ecr:
    """Wraps one boto3 ECR client; every call goes through `translate` so callers see EcrToolErrors.

    SIGNED, when the session could make one, is ecrtool's own signed client (aws/signed.py): the calls on
    a command's hot path say so by calling `self._hot()`; every other call goes to botocore's client.
    """

    def __init__(self, client: Any, registry_id: str | None = None, signed: Any = None) -> None:
        self._client = client
        self._registry_id = registry_id
        self._signed = signed

    def _hot(self) -> Any:
        """The client for a call on a command's hot path: the signed one where there is one."""
        return self._signed if self._signed is not None else self._client

    def _ids(self) -> dict[str, str]:
        return {"registryId": self._registry_id} if self._registry_id else {}

    def describe_repository(self, name: str) -> RepositoryInfo:
        with translate("ecr:DescribeRepositories", repository=name):
            reply = self._hot().describe_repositories(repositoryNames=[name], **self._ids())
        return _repository(reply["repositories"][0])

    def create_repository(
        self,
        name: str,
        *,
        scan_on_push: bool = False,
        immutable: bool = False,
        kms_key: str | None = None,
        tags: list[tuple[str, str]] | None = None,
    ) -> RepositoryInfo:
        params: dict[str, Any] = {
            "repositoryName": name,
            "imageScanningConfiguration": {"scanOnPush": scan_on_push},
            "imageTagMutability": "IMMUTABLE" if immutable else "MUTABLE",
            **self._ids(),
        }
        if kms_key:
            params["encryptionConfiguration"] = {"encryptionType": "KMS", "kmsKey": kms_key}
        if tags:
            params["tags"] = [{"Key": k, "Value": v} for k, v in tags]
        with translate("ecr:CreateRepository", repository=name):
            reply = self._hot().create_repository(**params)
        return _repository(reply["repository"])

    def creation_templates(self) -> tuple[str | None, list[dict[str, Any]]]:
        """The caller's registry id and its repository creation templates as ECR lists them (on the hot
        path: `copy --create` and `push --create` ask before creating a repository)."""
        registry: str | None = None
        items: list[dict[str, Any]] = []
        params: dict[str, Any] = {}
        with translate("ecr:DescribeRepositoryCreationTemplates"):
            while True:
                reply = self._hot().describe_repository_creation_templates(**params)
                registry = reply.get("registryId") or registry
                items += reply.get("repositoryCreationTemplates") or []
                if not reply.get("nextToken"):
                    return registry, items
                params["nextToken"] = reply["nextToken"]

    def repositories(self) -> Iterator[RepositoryInfo]:
        with translate("ecr:DescribeRepositories"):
            for page in self._client.get_paginator("describe_repositories").paginate(**self._ids()):
                for item in page["repositories"]:
                    yield _repository(item)

    def images(self, repository: str, *, status: str | None = None) -> Iterator[ImageInfo]:
        """Every image of REPOSITORY in STATUS (ACTIVE, ARCHIVED, ACTIVATING or ANY); without it, ECR's default:
        ACTIVE images only."""
        wanted = {"filter": {"imageStatus": status}} if status else {}
        with translate("ecr:DescribeImages", repository=repository):
            pages = self._client.get_paginator("describe_images").paginate(
                repositoryName=repository, **wanted, **self._ids()
            )
            for page in pages:
                for item in page["imageDetails"]:
                    yield _image(repository, item)

    def tagged(self, repository: str) -> dict[str, str]:
        """Every tag of REPOSITORY and the digest it names: ListImages (TAGGED, 1000 a page), on the hot path
        (the signed client where there is one): a sync compares them with its sources' before moving a blob."""
        params: dict[str, Any] = {
            "repositoryName": repository,
            "filter": {"tagStatus": "TAGGED"},
            "maxResults": 1000,
            **self._ids(),
        }
        found: dict[str, str] = {}
        with translate("ecr:ListImages", repository=repository):
            while True:
                if self._signed is not None:
                    reply = self._signed.call("ListImages", params)
                else:
                    reply = self._client.list_images(**params)
                for item in reply.get("imageIds") or []:
                    if "imageTag" in item and "imageDigest" in item:
                        found[item["imageTag"]] = item["imageDigest"]
                token = reply.get("nextToken")
                if not token:
                    return found
                params = {**params, "nextToken": token}

    def describe_image(self, repository: str, *, tag: str | None = None, digest: str | None = None) -> ImageInfo:
        image_id = {"imageDigest": digest} if digest else {"imageTag": tag or "latest"}
        with translate("ecr:DescribeImages", repository=repository):
            reply = self._client.describe_images(repositoryName=repository, imageIds=[image_id], **self._ids())
        return _image(repository, reply["imageDetails"][0])

    def image_in_any_status(self, repository: str, image_id: dict[str, str]) -> ImageInfo:
        """The image IMAGE_ID names (imageTag or imageDigest), archived or not: DescribeImages by id, which
        never updates its last pull time."""
        with translate("ecr:DescribeImages", repository=repository):
            reply = self._client.describe_images(
                repositoryName=repository, imageIds=[image_id], filter={"imageStatus": "ANY"}, **self._ids()
            )
        return _image(repository, reply["imageDetails"][0])

    def update_storage_class(self, repository: str, digest: str, target: str) -> str:
        """UpdateImageStorageClass of the image DIGEST to TARGET (ARCHIVE or STANDARD): its imageStatus after."""
        with translate("ecr:UpdateImageStorageClass", repository=repository):
            reply = self._client.update_image_storage_class(
                repositoryName=repository, imageId={"imageDigest": digest}, targetStorageClass=target, **self._ids()
            )
        return str(reply.get("imageStatus") or "")

    def pull_time_exclusions(self) -> set[str]:
        """The IAM principals whose pulls ECR does not record (ListPullTimeUpdateExclusions, every page)."""
        found: set[str] = set()
        params: dict[str, Any] = {}
        while True:
            with translate("ecr:ListPullTimeUpdateExclusions"):
                reply = self._client.list_pull_time_update_exclusions(**params)
            found.update(reply.get("pullTimeUpdateExclusions") or [])
            if not reply.get("nextToken"):
                return found
            params["nextToken"] = reply["nextToken"]

    def images_by_digest(self, repository: str, digests: list[str]) -> list[ImageInfo]:
        """The images DIGESTS name as DescribeImages has them now, tags and last pull included, 100 ids a
        call; one no longer there is left out. It only reads: DescribeImages, unlike BatchGetImage, never
        updates an image's last recorded pull time. ECR answers ImageNotFoundException for a whole call
        when one id is gone, so such a call is asked again one id at a time."""
        found: list[ImageInfo] = []
        for chunk in chunks([{"imageDigest": digest} for digest in digests]):
            try:
                with translate("ecr:DescribeImages", repository=repository):
                    reply = self._client.describe_images(
                        repositoryName=repository, imageIds=chunk, filter={"imageStatus": "ANY"}, **self._ids()
                    )
            except NotFound:
                if len(chunk) > 1:
                    for one in chunk:
                        found.extend(self.images_by_digest(repository, [one["imageDigest"]]))
                continue
            found.extend(_image(repository, item) for item in reply.get("imageDetails", []))
        return found

    def index_children(self, repository: str, digests: list[str]) -> dict[str, tuple[Descriptor, ...]]:
        """The children of each image index in DIGESTS, from its manifest (BatchGetImage, 100 ids a call).
        An index deleted since it was listed is not in the answer."""
        found: dict[str, tuple[Descriptor, ...]] = {}
        for chunk in chunks([{"imageDigest": digest} for digest in digests]):
            with translate("ecr:BatchGetImage", repository=repository):
                reply = self._hot().batch_get_image(
                    repositoryName=repository,
                    imageIds=chunk,
                    acceptedMediaTypes=list(ACCEPTED),
                    **self._ids(),
                )
            for image in reply.get("images", []):
                found[image["imageId"]["imageDigest"]] = parse_index(image.get("imageManifest") or "")
        return found

    def manifests(self, repository: str, image_ids: list[dict[str, str]]) -> list[StoredManifest]:
        """The images IMAGE_IDS name, each with its manifest exactly as stored (BatchGetImage accepting every
        manifest and index type, so ECR converts nothing), 100 ids a call. One that is not there is not
        in the answer; any other failure is an error."""
        found: list[StoredManifest] = []
        for chunk in chunks(image_ids):
            with translate("ecr:BatchGetImage", repository=repository):
                reply = self._hot().batch_get_image(
                    repositoryName=repository,
                    imageIds=chunk,
                    acceptedMediaTypes=list(ACCEPTED),
                    **self._ids(),
                )
            for failure in reply.get("failures", []):
                code = failure.get("failureCode", "")
                if code not in _ABSENT:
                    label = _image_id(failure.get("imageId", {})).label()
                    reason = failure.get("failureReason", "")
                    raise EcrToolError(f"ecr:BatchGetImage failed for {repository} {label}: {code}: {reason}")
            for image in reply.get("images", []):
                found.append(
                    StoredManifest(
                        digest=image["imageId"]["imageDigest"],
                        text=image.get("imageManifest") or "",
                        media_type=image.get("imageManifestMediaType"),
                        tag=image["imageId"].get("imageTag"),
                        registry_id=image.get("registryId"),
                    )
                )
        return found

    def put_image(self, repository: str, tag: str, manifest: StoredManifest) -> None:
        """Tag the image MANIFEST is with TAG: PutImage of the manifest's exact text, under its digest.

        AlreadyExists when the tag already names this image (ImageAlreadyExistsException), TagTaken when
        the repository is immutable and the tag is in use (ImageTagAlreadyExistsException: by this image
        or another, ECR does not say; moto and the local ECR answer ImageAlreadyExistsException to both)."""
        params: dict[str, Any] = {
            "repositoryName": repository,
            "imageManifest": manifest.text,
            "imageTag": tag,
            "imageDigest": manifest.digest,
            **self._ids(),
        }
        if manifest.media_type:
            params["imageManifestMediaType"] = manifest.media_type
        with translate("ecr:PutImage", repository=repository):
            self._hot().put_image(**params)

    def start_image_scan(self, repository: str, digest: str) -> str:
        """StartImageScan of the image DIGEST: the new scan's status. ScanQuota when ECR already scanned it
        in the last 24 hours; UnsupportedImageTypeException (an index, an artifact) as an EcrToolError."""
        with translate("ecr:StartImageScan", repository=repository):
            reply = self._client.start_image_scan(
                repositoryName=repository, imageId={"imageDigest": digest}, **self._ids()
            )
        return str((reply.get("imageScanStatus") or {}).get("status") or "IN_PROGRESS")

    def image_scan(self, repository: str, digest: str) -> ImageScan:
        """The scan of the image DIGEST as DescribeImageScanFindings has it: status, counts and every finding,
        basic and enhanced, over all pages (1,000 findings a page). NoScan when it was never scanned."""
        from ecrtool.model.findings import ImageScan, basic_finding, count, enhanced_finding, ordered

        params: dict[str, Any] = {
            "repositoryName": repository,
            "imageId": {"imageDigest": digest},
            "maxResults": 1000,
            **self._ids(),
        }
        found: list[Finding] = []
        while True:
            with translate("ecr:DescribeImageScanFindings", repository=repository):
                reply = self._client.describe_image_scan_findings(**params)
            findings = reply.get("imageScanFindings") or {}
            found.extend(basic_finding(raw) for raw in findings.get("findings") or [])
            found.extend(enhanced_finding(raw) for raw in findings.get("enhancedFindings") or [])
            if not reply.get("nextToken"):
                break
            params["nextToken"] = reply["nextToken"]
        status = reply.get("imageScanStatus") or {}
        return ImageScan(
            digest=digest,
            status=str(status.get("status") or "IN_PROGRESS"),
            description=status.get("description"),
            # ECR's own counts when it gives them (they count every finding); else what the findings add up to
            counts=ordered(findings.get("findingSeverityCounts") or {}) or count(found),
            findings=found,
            completed_at=findings.get("imageScanCompletedAt"),
        )

    def image_count(self, repository: str) -> int:
        """How many images (distinct digests) the repository holds; ListImages lists one id per tag."""
        digests: set[str] = set()
        with translate("ecr:ListImages", repository=repository):
            for page in self._client.get_paginator("list_images").paginate(repositoryName=repository, **self._ids()):
                digests.update(item["imageDigest"] for item in page.get("imageIds", []) if item.get("imageDigest"))
        return len(digests)

    def authorization_token(self) -> AuthToken:
        params = {"registryIds": [self._registry_id]} if self._registry_id else {}
        with translate("ecr:GetAuthorizationToken"):
            reply = self._hot().get_authorization_token(**params)
        data = reply["authorizationData"][0]
        user, _, password = base64.b64decode(data["authorizationToken"]).decode().partition(":")
        return AuthToken(user, password, data.get("expiresAt"), data.get("proxyEndpoint"))

    def batch_delete(
        self, repository: str, image_ids: list[dict[str, str]]
    ) -> tuple[list[ImageId], list[DeleteFailure], int]:
        deleted: list[ImageId] = []
        failures: list[DeleteFailure] = []
        calls = 0
        for chunk in chunks(image_ids):
            with translate("ecr:BatchDeleteImage", repository=repository):
                reply = self._client.batch_delete_image(repositoryName=repository, imageIds=chunk, **self._ids())
            calls += 1
            deleted.extend(_image_id(raw) for raw in reply.get("imageIds", []))
            for failure in reply.get("failures", []):
                failures.append(
                    DeleteFailure(
                        image=_image_id(failure.get("imageId", {})),
                        code=failure.get("failureCode", ""),
                        reason=failure.get("failureReason", ""),
                    )
                )
        return deleted, failures, calls

    def lifecycle_policy(self, repository: str) -> LifecyclePolicyInfo:
        """REPOSITORY's lifecycle policy as ECR holds it; one whose text is None when it has none
        (LifecyclePolicyNotFoundException is an answer here, not a failure)."""
        from ecrtool.model.cleanup import LifecyclePolicyInfo

        with translate("ecr:GetLifecyclePolicy", repository=repository):
            try:
                reply = self._client.get_lifecycle_policy(repositoryName=repository, **self._ids())
            except Exception as err:
                if _error_code(err) == "LifecyclePolicyNotFoundException":
                    return LifecyclePolicyInfo(repository, None)
                raise
        return LifecyclePolicyInfo(repository, reply["lifecyclePolicyText"], _shared_zone(reply.get("lastEvaluatedAt")))

    def put_lifecycle_policy(self, repository: str, text: str) -> None:
        with translate("ecr:PutLifecyclePolicy", repository=repository):
            self._client.put_lifecycle_policy(repositoryName=repository, lifecyclePolicyText=text, **self._ids())

    def delete_repository(self, repository: str, *, force: bool) -> RepositoryInfo:
        with translate("ecr:DeleteRepository", repository=repository):
            reply = self._client.delete_repository(repositoryName=repository, force=force, **self._ids())
        return _repository(reply["repository"])
