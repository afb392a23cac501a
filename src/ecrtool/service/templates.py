"""`ecrtool template set|list|delete`: the registry's repository creation templates, and which one would
create a repository that a push names and that does not exist (ServiceBase._create_missing asks it)."""

from __future__ import annotations

from collections.abc import Sequence

from ecrtool.aws.templates import TemplateApi
from ecrtool.model.templates import (
    TemplateInfo,
    TemplateList,
    TemplateSetResult,
    build_spec,
    normal_prefix,
    scan_filter,
)
from ecrtool.service.base import ServiceBase


class Templates(ServiceBase):
    def _api(self) -> TemplateApi:
        """The template calls as the identity chosen for the registry (--registry-id's account, else the
        caller's), in its region: a template belongs to the caller's own registry."""
        target = self._target()
        return TemplateApi((target.aws or self.aws).lazy_client("ecr", target.region))

    def set(
        self,
        prefix: str,
        *,
        immutable: bool = False,
        scan_on_push: bool = False,
        lifecycle_keep: int | None = None,
        grant_pull: Sequence[str] = (),
        for_: str | None = None,
        tags: Sequence[str] = (),
    ) -> TemplateSetResult:
        """Create the template for PREFIX, or replace the one there whole, with what the options say."""
        spec = build_spec(
            prefix, immutable=immutable, scan_on_push=scan_on_push, lifecycle_keep=lifecycle_keep,
            grant_pull=grant_pull, for_=for_, tags=tags,
        )  # fmt: skip
        api = self._api()
        created = api.put(spec)
        api.set_scan_on_push(scan_filter(spec.prefix), spec.scan_on_push)
        _, found = api.templates()
        shown = next(template for template in found if template.prefix == spec.prefix)
        return TemplateSetResult(template=shown, created=created)

    def list(self) -> TemplateList:
        registry, found = self._api().templates()
        region = self.aws.region(self.settings.region)
        return TemplateList(registry_id=registry, region=region, templates=sorted(found, key=_order))

    def delete(self, prefix: str) -> TemplateInfo:
        """Delete PREFIX's template, and its scan-on-push filter; the template as it was."""
        name = normal_prefix(prefix)
        api = self._api()
        _, found = api.templates()
        before = next((template for template in found if template.prefix == name), None)
        api.delete(name)
        if before is not None and before.scan_on_push:
            api.set_scan_on_push(scan_filter(name), False)
        return before or TemplateInfo(prefix=name, applied_for=[], mutability="MUTABLE")


def _order(template: TemplateInfo) -> tuple[bool, str]:
    return template.prefix == "ROOT", template.prefix
