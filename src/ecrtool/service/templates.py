"""`ecrtool template set|list|delete`: the registry's repository creation templates, and which one would
create a repository that a push names and that does not exist (ServiceBase._create_missing asks it)."""

from __future__ import annotations

from collections.abc import Sequence

from ecrtool.aws.templates import TemplateApi
from ecrtool.model.errors import EcrToolError, InvalidInput, NotFound
from ecrtool.model.templates import (
    TemplateDeleteResult,
    TemplateInfo,
    TemplateList,
    TemplateSetResult,
    build_spec,
    normal_prefix,
    scan_filter,
)
from ecrtool.service.base import ServiceBase, Target


class Templates(ServiceBase):
    def _api(self, *, changing: bool = False) -> TemplateApi:
        """The template calls as the identity chosen for the registry (--registry-id's account, else the
        caller's), in its region. A template belongs to the caller's own registry (these calls take no
        registryId): a change asked for another account's registry is refused unless that identity is
        that account."""
        target = self._target()
        if changing and target.account:
            self._check_own_registry(target)
        return TemplateApi((target.aws or self.aws).lazy_client("ecr", target.region))

    def _check_own_registry(self, target: Target) -> None:
        """InvalidInput when TARGET's account is not the account of the identity chosen to speak to it."""
        from ecrtool.aws.errors import translate

        with translate("sts:GetCallerIdentity"):
            caller = str((target.aws or self.aws).client("sts", target.region).get_caller_identity()["Account"])
        wanted = target.account
        if caller == wanted:
            return
        source = self.settings.sources.get("registry_id", "--registry-id")
        choice = target.profile
        who = f"the profile {choice.profile} ({choice.reason}) is" if choice and choice.profile else "the caller is"
        raise InvalidInput(
            f"registry id {wanted} ({source}): creation templates belong to the caller's own registry, and {who} "
            f"account {caller}: to act as account {wanted}, pass --profile NAME or name its profile in the config "
            f'file: [accounts."{wanted}"] profile = "NAME"'
        )

    def set(
        self,
        prefix: str,
        *,
        immutable: bool = False,
        scan_on_push: bool | None = None,
        lifecycle_keep: int | None = None,
        grant_pull: Sequence[str] = (),
        for_: str | None = None,
        tags: Sequence[str] = (),
    ) -> TemplateSetResult:
        """Create the template for PREFIX, or replace the one there whole, with what the options say. The
        registry's scanning configuration changes only when SCAN_ON_PUSH is given: the filter PREFIX/* is
        added (True) or that one filter taken out (False); every other rule and filter stays."""
        spec = build_spec(
            prefix, immutable=immutable, scan_on_push=scan_on_push, lifecycle_keep=lifecycle_keep,
            grant_pull=grant_pull, for_=for_, tags=tags,
        )  # fmt: skip
        api = self._api(changing=True)
        created = api.put(spec)
        if spec.scan_on_push is not None:
            api.set_scan_on_push(scan_filter(spec.prefix), spec.scan_on_push)
        _, found = api.templates()
        shown = next((template for template in found if template.prefix == spec.prefix), None)
        if shown is None:
            raise EcrToolError(
                f"ECR does not list the creation template for {spec.prefix} that it just accepted: "
                "`ecrtool template list` shows what the registry has now"
            )
        return TemplateSetResult(template=shown, created=created)

    def list(self) -> TemplateList:
        registry, found = self._api().templates()
        region = self.aws.region(self.settings.region)
        return TemplateList(registry_id=registry, region=region, templates=sorted(found, key=_order))

    def delete(self, prefix: str, *, no_scan_on_push: bool = False) -> TemplateDeleteResult:
        """Delete PREFIX's template. The registry's scan-on-push filter PREFIX/* stays unless NO_SCAN_ON_PUSH
        (then that one filter goes, even when the template is already gone)."""
        name = normal_prefix(prefix)
        wildcard = scan_filter(name)
        api = self._api(changing=True)
        _, found = api.templates()
        before = next((template for template in found if template.prefix == name), None)
        deleted = before is not None or not no_scan_on_push
        if deleted:
            api.delete(name)  # NotFound when there is no such template
        removed = api.set_scan_on_push(wildcard, False) if no_scan_on_push else False
        if before is None and no_scan_on_push and not removed:
            raise NotFound(
                f"no repository creation template for prefix {name!r} and no scan-on-push filter {wildcard}: "
                "`ecrtool template list` lists them"
            )
        kept = before is not None and before.scan_on_push and not no_scan_on_push
        return TemplateDeleteResult(
            prefix=name,
            deleted=deleted,
            template=before,
            scan_filter=wildcard,
            filter_removed=removed,
            filter_kept=kept,
        )


def _order(template: TemplateInfo) -> tuple[bool, str]:
    return template.prefix == "ROOT", template.prefix
