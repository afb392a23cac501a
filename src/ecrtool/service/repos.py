"""Repositories and the images in them, through the ECR API alone: create, list and delete."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timezone

from ecrtool.model.errors import AlreadyExists, AuthError, EcrToolError, InvalidInput, Refused
from ecrtool.model.listing import ImageFilter, ImageListing, group_indexes, maybe_referrer, total_bytes
from ecrtool.model.manifests import Descriptor, is_index, manifest_links
from ecrtool.model.refs import parse_key_value, parse_repo_ref, validate_digest, validate_repository, validate_tag
from ecrtool.model.results import (
    Confirm,
    CreateResult,
    DeleteImagesResult,
    DeleteRepositoryResult,
    RepositoryInfo,
)
from ecrtool.service.base import ServiceBase


class Repositories(ServiceBase):
    def create(
        self,
        name: str,
        *,
        scan_on_push: bool = False,
        immutable: bool = False,
        kms_key: str | None = None,
        tags: Iterable[str] = (),
        exist_ok: bool = False,
    ) -> CreateResult:
        ref = parse_repo_ref(name, self.settings.registry_override)
        if ref.tag or ref.digest:
            raise InvalidInput(f"create takes a repository name, not an image reference: drop the tag from {name!r}")
        pairs = [parse_key_value(text) for text in tags]
        if kms_key is not None and not kms_key.strip():
            raise InvalidInput("--kms-key is empty: give a KMS key id, alias or ARN")
        target = self._target(ref)
        try:
            info = target.ecr.create_repository(
                ref.repository, scan_on_push=scan_on_push, immutable=immutable, kms_key=kms_key, tags=pairs
            )
            return CreateResult(repository=self._uri(info), created=True)
        except AlreadyExists:
            if exist_ok:
                return CreateResult(repository=self._uri(target.ecr.describe_repository(ref.repository)), created=False)
            raise

    def images(self, ref_text: str, image_filter: ImageFilter | None = None) -> ImageListing:
        """Every image IMAGE_FILTER keeps, newest first, an image index once with its platforms (its children
        folded in), and their total size.

        Only indexes cost a call more (BatchGetImage, for their manifests): a repository of plain images
        is one DescribeImages walk. With --untagged, so do the untagged OCI manifests left (one call per 100)
        to leave out a referrer of an image still there: it belongs to that image, as a child to its index.
        Without leave to read manifests the listing is ECR's own, unfolded, and says so."""
        image_filter = image_filter or ImageFilter()
        ref = parse_repo_ref(ref_text, self.settings.registry_override)
        target = self._target(ref)
        found = list(target.ecr.images(ref.repository, status="ANY"))  # archived images keep their tags
        indexes = [image.digest for image in found if is_index(image.media_type)]
        children: dict[str, tuple[Descriptor, ...]] = {}
        unread = False
        if indexes:
            try:
                children = target.ecr.index_children(ref.repository, indexes)
            except AuthError:
                unread = True
        now = datetime.now(timezone.utc)
        shown = [image for image in group_indexes(found, children) if image_filter.keeps(image, now)]
        if image_filter.untagged and (candidates := [image for image in shown if maybe_referrer(image)]):
            try:
                manifests = target.ecr.manifests(ref.repository, [{"imageDigest": i.digest} for i in candidates])
                present = {image.digest for image in found}
                referrers = {m.digest for m in manifests if manifest_links(m.text)[1] in present}
                shown = [image for image in shown if image.digest not in referrers]
            except AuthError:
                unread = True
        shown.sort(key=lambda image: (image.pushed_at is None, image.pushed_at), reverse=True)
        return ImageListing(ref.repository, shown, total_bytes(shown, found, children), image_filter, unread)

    def repositories(self) -> list[RepositoryInfo]:
        target = self._target()
        return sorted((self._uri(repo) for repo in target.ecr.repositories()), key=lambda repo: repo.name)

    def delete_images(self, ref_text: str, tags: Iterable[str], digests: Iterable[str]) -> DeleteImagesResult:
        ref = parse_repo_ref(ref_text, self.settings.registry_override)
        if ref.tag or ref.digest:
            raise InvalidInput("name the images to delete with --tag and --digest, not in the repository name")
        ids = [{"imageTag": validate_tag(tag)} for tag in tags]
        ids += [{"imageDigest": validate_digest(digest)} for digest in digests]
        unique = list({tuple(sorted(item.items())): item for item in ids}.values())
        target = self._target(ref)
        deleted, failures, calls = target.ecr.batch_delete(ref.repository, unique)
        return DeleteImagesResult(repository=ref.repository, deleted=deleted, failures=failures, calls=calls)

    def delete_repository(self, ref_text: str, *, force: bool, confirm: Confirm) -> DeleteRepositoryResult:
        ref = parse_repo_ref(ref_text, self.settings.registry_override)
        if ref.tag or ref.digest:
            raise InvalidInput("to delete one image pass --tag or --digest; to delete the repository name it alone")
        validate_repository(ref.repository)
        target = self._target(ref)
        info = self._uri(target.ecr.describe_repository(ref.repository))
        count = target.ecr.image_count(ref.repository)
        if count and not force:
            raise EcrToolError(
                f"repository {ref.repository!r} still holds images: pass --force to delete them with it,"
                f" or delete them first with `ecrtool delete {ref.repository} --tag TAG`"
            )
        if not confirm(ref.repository, count):
            raise Refused(f"kept repository {ref.repository!r}: deletion not confirmed")
        target.ecr.delete_repository(ref.repository, force=force)
        return DeleteRepositoryResult(repository=ref.repository, uri=info.uri, images_deleted=count)
