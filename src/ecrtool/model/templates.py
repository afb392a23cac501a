"""Repository creation templates: what `ecrtool template set` asks ECR to keep, as ECR's API has it, and
which template covers a repository's name.

A template names a prefix (`team` covers `team/...`; ECR reads an assumed `/` after it; `ROOT` covers
every name no other template covers) and the repository creations it is applied for (CREATE_ON_PUSH,
REPLICATION, PULL_THROUGH_CACHE). The policies it carries are built with json.dumps from checked
values, so no input changes their structure.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ecrtool.model.errors import InvalidInput
from ecrtool.model.refs import validate_account

ROOT = "ROOT"
# the --for names and ECR's: what a template is applied for
APPLIED_FOR = {
    "create-on-push": "CREATE_ON_PUSH",
    "replication": "REPLICATION",
    "pull-through-cache": "PULL_THROUGH_CACHE",
}
# ECR's Prefix pattern (its API reference): a repository namespace, optionally ending in /, or ROOT
_PREFIX_RE = re.compile(r"[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*)*/?")
# what a pull needs of a repository (ECR's user guide, "Repository policy examples": pull access)
PULL_ACTIONS = ("ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer")
POLICY_SID = "ecrtool-template-pull"
MAX_KEEP = 10000
_TAG_KEY_MAX, _TAG_VALUE_MAX = 128, 256


@dataclass(frozen=True)
class TemplateSpec:
    """What `ecrtool template set PREFIX` asks for."""

    prefix: str
    applied_for: tuple[str, ...] = ("CREATE_ON_PUSH",)
    immutable: bool = False
    # --scan-on-push (True) adds the filter PREFIX/* to the registry's scan-on-push rule, --no-scan-on-push
    # (False) takes that one filter out; None leaves the registry's scanning configuration as it is
    scan_on_push: bool | None = None
    lifecycle_keep: int | None = None
    grant_pull: tuple[str, ...] = ()
    tags: tuple[tuple[str, str], ...] = ()

    def api_params(self) -> dict[str, Any]:
        """CreateRepositoryCreationTemplate's (and UpdateRepositoryCreationTemplate's) parameters.

        Every setting is given, so an update replaces the template whole, as `set` means: no lifecycle
        policy or repository policy is an empty one, which ECR reads as none."""
        return {
            "prefix": self.prefix,
            "appliedFor": list(self.applied_for),
            "imageTagMutability": "IMMUTABLE" if self.immutable else "MUTABLE",
            "resourceTags": [{"Key": key, "Value": value} for key, value in self.tags],
            "lifecyclePolicy": lifecycle_text(self.lifecycle_keep) if self.lifecycle_keep else "",
            "repositoryPolicy": pull_policy(self.grant_pull) if self.grant_pull else "",
            "description": "set by ecrtool template set",
        }


@dataclass(frozen=True)
class TemplateInfo:
    """A template as ECR describes it, read back into what ecrtool shows."""

    prefix: str
    applied_for: list[str]
    mutability: str
    scan_on_push: bool = False
    lifecycle_keep: int | None = None
    lifecycle_policy: str | None = None
    pull_accounts: list[str] = field(default_factory=list)
    repository_policy: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    encryption: str = "AES256"

    @property
    def immutable(self) -> bool:
        return self.mutability.startswith("IMMUTABLE")


def normal_prefix(text: str) -> str:
    """PREFIX as ECR keeps it (`team/` and `team` are one template), checked; InvalidInput otherwise."""
    if text == ROOT:
        return text
    if len(text) > 256 or not _PREFIX_RE.fullmatch(text):
        raise InvalidInput(
            f"invalid prefix {text!r}: a repository namespace such as team or team/app (lowercase letters, "
            "digits, . _ - between them, / between parts), or ROOT for every repository no other template covers"
        )
    return text.rstrip("/")


def applied_for(text: str | None) -> tuple[str, ...]:
    """--for create-on-push,replication as ECR's names; create-on-push when not given."""
    if text is None:
        return ("CREATE_ON_PUSH",)
    names = [part.strip().lower() for part in text.split(",") if part.strip()]
    unknown = [name for name in names if name not in APPLIED_FOR]
    if not names or unknown:
        raise InvalidInput(f"invalid --for {text!r}: give one or more of {', '.join(APPLIED_FOR)}, separated by commas")
    return tuple(dict.fromkeys(APPLIED_FOR[name] for name in names))


def parse_tags(items: Iterable[str]) -> tuple[tuple[str, str], ...]:
    """--tag KEY=VALUE, as ECR takes resource tags: a key of 1 to 128 characters, a value of at most 256."""
    found: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key or len(key) > _TAG_KEY_MAX or len(value) > _TAG_VALUE_MAX:
            raise InvalidInput(
                f"invalid --tag {item!r}: give KEY=VALUE, a key of 1 to {_TAG_KEY_MAX} characters and a value "
                f"of at most {_TAG_VALUE_MAX}"
            )
        found[key] = value
    return tuple(found.items())


def build_spec(
    prefix: str,
    *,
    immutable: bool = False,
    scan_on_push: bool | None = None,
    lifecycle_keep: int | None = None,
    grant_pull: Sequence[str] = (),
    for_: str | None = None,
    tags: Iterable[str] = (),
) -> TemplateSpec:
    """`template set`'s options, each checked: InvalidInput names the first that is wrong."""
    if lifecycle_keep is not None and not 1 <= lifecycle_keep <= MAX_KEEP:
        raise InvalidInput(f"invalid --lifecycle-keep {lifecycle_keep}: keep 1 to {MAX_KEEP} images")
    accounts = []
    for account in grant_pull:
        try:
            accounts.append(validate_account(account))
        except InvalidInput:
            raise InvalidInput(f"invalid --grant-pull {account!r}: an AWS account id is 12 digits") from None
    return TemplateSpec(
        prefix=normal_prefix(prefix),
        applied_for=applied_for(for_),
        immutable=immutable,
        scan_on_push=scan_on_push,
        lifecycle_keep=lifecycle_keep,
        grant_pull=tuple(dict.fromkeys(accounts)),
        tags=parse_tags(tags),
    )


def lifecycle_text(keep: int) -> str:
    """A lifecycle policy that keeps the newest KEEP images, tagged or not, and expires the rest."""
    rule = {
        "rulePriority": 1,
        "description": f"keep the newest {int(keep)} images",
        "selection": {"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": int(keep)},
        "action": {"type": "expire"},
    }
    return json.dumps({"rules": [rule]})


def pull_policy(accounts: Sequence[str]) -> str:
    """A repository policy letting ACCOUNTS (each checked: 12 digits) pull, and nothing more."""
    principals = [f"arn:aws:iam::{validate_account(account)}:root" for account in accounts]
    statement = {"Sid": POLICY_SID, "Effect": "Allow", "Principal": {"AWS": principals}, "Action": list(PULL_ACTIONS)}
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


def covering(templates: Iterable[TemplateInfo], repository: str, wanted: str = "CREATE_ON_PUSH") -> TemplateInfo | None:
    """The template for WANTED that covers REPOSITORY, as ECR picks it: the longest prefix that REPOSITORY
    starts with (followed by /), else ROOT's."""
    fitting = [template for template in templates if wanted in template.applied_for]
    named = [t for t in fitting if t.prefix != ROOT and repository.startswith(t.prefix.rstrip("/") + "/")]
    if named:
        return max(named, key=lambda template: len(template.prefix))
    return next((template for template in fitting if template.prefix == ROOT), None)


def scan_filter(prefix: str) -> str:
    """The registry scanning rule's wildcard filter for the repositories PREFIX covers."""
    return "*" if prefix == ROOT else f"{prefix}/*"


def template_info(item: Mapping[str, Any], scan_filters: Iterable[str] = ()) -> TemplateInfo:
    """A template as DescribeRepositoryCreationTemplates gives it; SCAN_FILTERS, the registry's scan-on-push
    filters (a template has no scanning setting of its own: the registry's scanning configuration has)."""
    prefix = str(item.get("prefix", ""))
    lifecycle = item.get("lifecyclePolicy") or None
    policy = item.get("repositoryPolicy") or None
    return TemplateInfo(
        prefix=prefix,
        applied_for=[str(name) for name in item.get("appliedFor") or []],
        mutability=str(item.get("imageTagMutability") or "MUTABLE"),
        scan_on_push=scan_filter(prefix) in set(scan_filters),
        lifecycle_keep=_kept(lifecycle),
        lifecycle_policy=lifecycle,
        pull_accounts=_pull_accounts(policy),
        repository_policy=policy,
        tags={str(tag.get("Key")): str(tag.get("Value", "")) for tag in item.get("resourceTags") or []},
        encryption=str((item.get("encryptionConfiguration") or {}).get("encryptionType") or "AES256"),
    )


def _kept(text: str | None) -> int | None:
    """The N of a policy lifecycle_text(N) made; None for any other policy (shown as `custom`)."""
    try:
        rules = json.loads(text or "")["rules"]
        selection = rules[0]["selection"]
        if len(rules) == 1 and selection == {"tagStatus": "any", "countType": "imageCountMoreThan",
                                             "countNumber": selection["countNumber"]}:  # fmt: skip
            return int(selection["countNumber"])
    except (ValueError, KeyError, IndexError, TypeError):
        pass
    return None


def _pull_accounts(text: str | None) -> list[str]:
    """The accounts a repository policy lets pull through the statement ecrtool writes."""
    try:
        statements = json.loads(text or "")["Statement"]
    except (ValueError, KeyError, TypeError):
        return []
    found: list[str] = []
    for statement in statements if isinstance(statements, list) else []:
        if not isinstance(statement, dict) or statement.get("Sid") != POLICY_SID:
            continue
        principals = (statement.get("Principal") or {}).get("AWS") or []
        for arn in [principals] if isinstance(principals, str) else principals:
            match = re.fullmatch(r"arn:aws:iam::(\d{12}):root", str(arn))
            if match:
                found.append(match[1])
    return found


@dataclass(frozen=True)
class TemplateSetResult:
    """`ecrtool template set`: the template as ECR now has it, and whether it was new."""

    template: TemplateInfo
    created: bool


@dataclass(frozen=True)
class TemplateDeleteResult:
    """`ecrtool template delete`: what was deleted, and what became of the registry's scan-on-push filter
    PREFIX/*."""

    prefix: str
    deleted: bool  # the template was deleted (False: there was none, and only its scan filter was to go)
    template: TemplateInfo | None  # the template as it was listed before, when it was
    scan_filter: str
    filter_removed: bool = False
    filter_kept: bool = False  # the deleted template's prefix had a filter, and it stays


@dataclass(frozen=True)
class TemplateList:
    """`ecrtool template list`: the registry's templates, in prefix order."""

    registry_id: str | None
    region: str
    templates: list[TemplateInfo]
