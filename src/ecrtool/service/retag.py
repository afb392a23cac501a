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
    return {tag: m for tag, m in by_tag(ecr, repository, tags).items() if holds_image(m, image_id)}


def by_tag(ecr: Ecr, repository: str, tags: list[str]) -> dict[str, StoredManifest]:
    """The image each of TAGS names, for those that name one: one BatchGetImage, which ECR answers with an
    entry per tag asked for. moto (and so the local ECR) names each entry by any one of the image's tags:
    when the answer cannot say which tag is which, each tag is asked for on its own."""
    found = ecr.manifests(repository, [{"imageTag": tag} for tag in tags])
    if len(tags) == 1:
        return {tags[0]: found[0]} if found else {}
    named = {m.tag: m for m in found if m.tag in tags}
    if len(named) == len(found):
        return named
    return {tag: m for tag in tags for m in ecr.manifests(repository, [{"imageTag": tag}])[:1]}


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
            held = by_tag(ecr, repository, [tag]).get(tag)
            if held is not None and held.digest == manifest.digest:
                return False
            holder = f" ({held.digest})" if held else ""
            raise TagTaken(
                f"tag {tag!r} already names another image{holder} in repository {repository!r}, whose tags are"
                f" immutable: it cannot move to {manifest.digest}; pick another tag"
            ) from None
