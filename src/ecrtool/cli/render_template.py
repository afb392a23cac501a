"""How `ecrtool template` reads: a template's settings in a line each, the registry's templates as a table, and
the documents themselves (-o json)."""

from __future__ import annotations

from typing import Any

from ecrtool.cli.render import Renderer
from ecrtool.model.templates import TemplateInfo, TemplateList, TemplateSetResult


def _document(template: TemplateInfo) -> dict[str, Any]:
    return {
        "prefix": template.prefix,
        "applied_for": template.applied_for,
        "image_tag_mutability": template.mutability,
        "scan_on_push": template.scan_on_push,
        "lifecycle_keep": template.lifecycle_keep,
        "lifecycle_policy": template.lifecycle_policy,
        "pull_accounts": template.pull_accounts,
        "repository_policy": template.repository_policy,
        "tags": template.tags,
        "encryption": template.encryption,
    }


def _lifecycle(template: TemplateInfo) -> str:
    if template.lifecycle_keep:
        return f"keep {template.lifecycle_keep}"
    return "custom" if template.lifecycle_policy else "-"


def _pulls(template: TemplateInfo) -> str:
    if template.pull_accounts:
        return ", ".join(template.pull_accounts)
    return "custom policy" if template.repository_policy else "-"


def _tags(template: TemplateInfo) -> str:
    return ", ".join(f"{key}={value}" for key, value in template.tags.items()) or "-"


def _for(template: TemplateInfo) -> str:
    return ", ".join(name.lower().replace("_", "-") for name in template.applied_for) or "-"


def template_set(render: Renderer, result: TemplateSetResult) -> None:
    template = result.template
    if render.json:
        return render.emit_json({**_document(template), "created": result.created})
    render.note(f"{'Created' if result.created else 'Replaced'} the creation template for {template.prefix}")
    covers = "every repository no other template covers" if template.prefix == "ROOT" else f"{template.prefix}/…"
    render.line(f"prefix          {template.prefix} ({covers})")
    render.line(f"for             {_for(template)}")
    render.line(f"tags            {template.mutability.lower()}")
    render.line(f"scan on push    {'yes' if template.scan_on_push else 'no'}")
    render.line(f"lifecycle       {_lifecycle(template)}")
    render.line(f"pull granted to {_pulls(template)}")
    render.line(f"resource tags   {_tags(template)}")


def template_list(render: Renderer, found: TemplateList) -> None:
    if render.json:
        return render.emit_json([_document(template) for template in found.templates])
    if not found.templates:
        render.note(f"no repository creation templates in {found.region}: `ecrtool template set PREFIX` makes one")
        return
    rows = [
        [
            template.prefix,
            _for(template),
            template.mutability.lower(),
            "yes" if template.scan_on_push else "no",
            _lifecycle(template),
            _pulls(template),
            _tags(template),
        ]
        for template in found.templates
    ]
    headers = ["PREFIX", "FOR", "TAGS", "SCAN ON PUSH", "LIFECYCLE", "PULL GRANTED TO", "RESOURCE TAGS"]
    render.table(f"Creation templates in {found.region}", headers, rows)
