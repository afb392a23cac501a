"""The ECR calls of repository creation templates (Create/Describe/Update/DeleteRepositoryCreationTemplate)
and of the registry's scan-on-push filters, over one boto3 ECR client, as the project's results and errors.

A template belongs to the caller's own registry in the client's region: these calls take no registryId.
"""

from __future__ import annotations

from typing import Any

from ecrtool.aws.errors import translate
from ecrtool.model.errors import EcrToolError, NotFound
from ecrtool.model.templates import TemplateInfo, TemplateSpec, template_info

_ALREADY = "TemplateAlreadyExistsException"
_MISSING = "TemplateNotFoundException"


def _code(err: Exception) -> str:
    response = getattr(err, "response", None)
    return str((response or {}).get("Error", {}).get("Code", "")) if isinstance(response, dict) else ""


class TemplateApi:
    def __init__(self, client: Any) -> None:
        self._client = client

    def templates(self) -> tuple[str | None, list[TemplateInfo]]:
        """The registry's id (as the answer names it) and every template, with its scan-on-push setting."""
        registry: str | None = None
        items: list[dict[str, Any]] = []
        with translate("ecr:DescribeRepositoryCreationTemplates"):
            for page in self._client.get_paginator("describe_repository_creation_templates").paginate():
                registry = page.get("registryId") or registry
                items += page.get("repositoryCreationTemplates") or []
        filters = self.scan_on_push_filters() if items else []
        return registry, [template_info(item, filters) for item in items]

    def put(self, spec: TemplateSpec) -> bool:
        """Create the template, or replace the one of that prefix: True when it was new."""
        import botocore.exceptions

        params = spec.api_params()
        try:
            self._client.create_repository_creation_template(**params)
            return True
        except botocore.exceptions.ClientError as err:
            if _code(err) != _ALREADY:
                with translate("ecr:CreateRepositoryCreationTemplate"):
                    raise
        with translate("ecr:UpdateRepositoryCreationTemplate"):
            self._client.update_repository_creation_template(**params)
        return False

    def delete(self, prefix: str) -> None:
        import botocore.exceptions

        try:
            self._client.delete_repository_creation_template(prefix=prefix)
        except botocore.exceptions.ClientError as err:
            if _code(err) == _MISSING:
                raise NotFound(
                    f"no repository creation template for prefix {prefix!r}: `ecrtool template list` lists them"
                ) from err
            with translate("ecr:DeleteRepositoryCreationTemplate"):
                raise

    # -- scan on push: the registry's scanning configuration, not the template's --------------------

    def scan_on_push_filters(self) -> list[str]:
        """The wildcard filters of the registry's SCAN_ON_PUSH rules; none when it cannot be read."""
        try:
            with translate("ecr:GetRegistryScanningConfiguration"):
                reply = self._client.get_registry_scanning_configuration()
        except EcrToolError:
            return []
        rules = (reply.get("scanningConfiguration") or {}).get("rules") or []
        return [
            str(found.get("filter"))
            for rule in rules
            if rule.get("scanFrequency") == "SCAN_ON_PUSH"
            for found in rule.get("repositoryFilters") or []
        ]

    def set_scan_on_push(self, wildcard: str, wanted: bool) -> bool:
        """Add WILDCARD to the registry's SCAN_ON_PUSH rule (WANTED) or take that exact filter out, keeping every
        other rule and filter: True when the configuration changed (it is written only then)."""
        with translate("ecr:GetRegistryScanningConfiguration"):
            reply = self._client.get_registry_scanning_configuration()
        config = reply.get("scanningConfiguration") or {}
        rules = [dict(rule) for rule in config.get("rules") or []]
        pushes = [rule for rule in rules if rule.get("scanFrequency") == "SCAN_ON_PUSH"]
        present = any(
            found.get("filter") == wildcard for rule in pushes for found in rule.get("repositoryFilters") or []
        )
        if present == wanted:
            return False
        if wanted and pushes:
            pushes[0]["repositoryFilters"] = [
                *(pushes[0].get("repositoryFilters") or []),
                {"filter": wildcard, "filterType": "WILDCARD"},
            ]
        elif wanted:
            rules.append(
                {"scanFrequency": "SCAN_ON_PUSH", "repositoryFilters": [{"filter": wildcard, "filterType": "WILDCARD"}]}
            )
        else:
            for rule in pushes:
                rule["repositoryFilters"] = [
                    found for found in rule.get("repositoryFilters") or [] if found.get("filter") != wildcard
                ]
            # a scan-on-push rule left with no filter goes: ECR takes no rule without one
            rules = [rule for rule in rules if rule.get("scanFrequency") != "SCAN_ON_PUSH" or rule["repositoryFilters"]]
        with translate("ecr:PutRegistryScanningConfiguration"):
            self._client.put_registry_scanning_configuration(scanType=config.get("scanType") or "BASIC", rules=rules)
        return True
