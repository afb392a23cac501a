"""More tags for an image already in ECR, through the ECR API alone: no layer moves, no engine is needed.

BatchGetImage fetches the manifest exactly as stored; PutImage stores the same text under each new tag,
so every new tag names the same digest. Also what push asks before it pushes to an immutable repository:
which of its tags already hold the image.
"""

from __future__ import annotations

from ecrtool.aws.ecr import Ecr
from ecrtool.model.errors import AlreadyExists, InvalidInput, NotFound, TagTaken
from ecrtool.model.manifests import StoredManifest, holds_image
from ecrtool.model.refs import parse_repo_ref, registry_host, validate_tag
from ecrtool.model.results import RetagResult
from ecrtool.service.base import ServiceBase
from ecrtool.service.login import token_registry


def tags_holding(ecr: Ecr, repository: str, tags: list[str], image_id: str) -> dict[str, StoredManifest]:
    """Which of TAGS already name the local image IMAGE_ID in REPOSITORY (one BatchGetImage)."""
    found = ecr.manifests(repository, [{"imageTag": tag} for tag in tags])
    return {m.tag: m for m in found if m.tag is not None and holds_image(m, image_id)}


class Retagging(ServiceBase):
    def retag(self, ref_text: str, new_tags: tuple[str, ...]) -> RetagResult:
        ref = parse_repo_ref(ref_text, self.settings.registry_override)
        if not new_tags:
            raise InvalidInput("give at least one new tag: ecrtool retag REPO:TAG NEWTAG...")
        tags = list(dict.fromkeys(validate_tag(tag) for tag in new_tags))
        target = self._target(ref)
        wanted = {"imageDigest": ref.digest} if ref.digest else {"imageTag": ref.tag or "latest"}
        if ref.digest and ref.tag:
            wanted["imageTag"] = ref.tag
        try:
            found = target.ecr.manifests(ref.repository, [wanted])
        except NotFound:
            raise NotFound(
                f"repository {ref.repository!r} does not exist in {target.region}: "
                "`ecrtool repos` lists the repositories there"
            ) from None
        if not found:
            what = f"digest {ref.digest!r}" if ref.digest else f"tag {ref.tag or 'latest'!r}"
            raise NotFound(
                f"{what} not found in repository {ref.repository!r} ({target.region}): "
                f"`ecrtool images {ref.repository}` lists its images"
            )
        manifest = found[0]
        account = manifest.registry_id or target.account
        host = token_registry(self.settings.registry_override, account, target.region, None)
        remote = f"{host or registry_host(self.aws.caller_account(), target.region)}/{ref.repository}"
        already: list[str] = []
        for tag in tags:
            if not self._put(target.ecr, ref.repository, tag, manifest):
                already.append(f"{remote}:{tag}")
        source = f"{remote}@{manifest.digest}" if ref.digest else f"{remote}:{ref.tag or 'latest'}"
        return RetagResult(
            repository=ref.repository,
            source=source,
            digest=manifest.digest,
            media_type=manifest.media_type,
            references=[f"{remote}:{tag}" for tag in tags],
            already_there=already,
        )

    @staticmethod
    def _put(ecr: Ecr, repository: str, tag: str, manifest: StoredManifest) -> bool:
        """PutImage of TAG: True when the tag is new, False when it already named the image (an immutable
        repository's too). ECR's refusal does not always say which image holds the tag: the tag says."""
        try:
            ecr.put_image(repository, tag, manifest)
            return True
        except (AlreadyExists, TagTaken):
            held = ecr.manifests(repository, [{"imageTag": tag}])
            if held and held[0].digest == manifest.digest:
                return False
            holder = f" ({held[0].digest})" if held else ""
            raise TagTaken(
                f"tag {tag!r} already names another image{holder} in repository {repository!r}, whose tags are"
                f" immutable: it cannot move to {manifest.digest}; pick another tag"
            ) from None
