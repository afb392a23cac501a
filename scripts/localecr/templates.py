"""ECR's repository creation templates, which moto lacks: the four API calls, and create on push.

A template belongs to one account's registry in one region and names a prefix (`team` covers
`team/...`; `ROOT` covers every name no other template covers) and what it is applied for
(CREATE_ON_PUSH, REPLICATION, PULL_THROUGH_CACHE). On a push to a repository that does not exist
(the registry face: a blob upload's POST or a manifest PUT), the registry's CREATE_ON_PUSH template
with the longest prefix that covers the name creates it, with the template's tag mutability,
encryption, resource tags, lifecycle policy and repository policy; scan on push comes from the
registry's scanning configuration, as ECR's templates have no scanning setting of their own.
Without one the push is refused as ECR refuses a push to a missing repository (NAME_UNKNOWN).

Templates are kept across restarts in templates.json; repositories created from one are recorded in
the stack's repository settings (settings.py) like any other; `made` lists them for tests
(POST /_bridge/templates).
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from pathlib import Path
from typing import Any

from .answer import ECR_JSON, Answer, ecr_error, json_answer
from .face import Scope

log = logging.getLogger("localecr.templates")

ACTIONS = frozenset(
    {
        "CreateRepositoryCreationTemplate",
        "DescribeRepositoryCreationTemplates",
        "UpdateRepositoryCreationTemplate",
        "DeleteRepositoryCreationTemplate",
    }
)
ROOT = "ROOT"
APPLIED_FOR = ("REPLICATION", "PULL_THROUGH_CACHE", "CREATE_ON_PUSH")
MUTABILITY = ("MUTABLE", "IMMUTABLE", "IMMUTABLE_WITH_EXCLUSION", "MUTABLE_WITH_EXCLUSION")
# the API reference's Prefix pattern (botocore's ECR service model): a repository namespace, or ROOT
PREFIX_PATTERN = r"^([a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(\/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*\/?|ROOT)$"
_FIELDS = (
    "description",
    "encryptionConfiguration",
    "resourceTags",
    "imageTagMutability",
    "imageTagMutabilityExclusionFilters",
    "repositoryPolicy",
    "lifecyclePolicy",
    "appliedFor",
    "customRoleArn",
)
# the API reference's length limits (RepositoryTemplateDescription, RepositoryPolicyText, LifecyclePolicyText…)
_LONGEST = {"description": 256, "repositoryPolicy": 10240, "lifecyclePolicy": 30720, "customRoleArn": 2048}


class Templates:
    """The templates of every account and region: {"ACCOUNT/REGION": {prefix: template}}."""

    def __init__(self, path: Path, bridge: Any) -> None:
        self._path = path
        self._bridge = bridge  # its moto clients (ecr), the repositories' settings and the registry's mirror
        self._lock = threading.RLock()
        self.made: list[dict[str, str]] = []  # the repositories templates created, oldest first
        try:
            self._doc: dict[str, dict[str, dict[str, Any]]] = json.loads(path.read_text())
        except (OSError, ValueError):
            self._doc = {}

    # -- the API ---------------------------------------------------------------------------------------

    def answer(self, action: str, scope: Scope, params: dict[str, Any]) -> Answer:
        prefix = params.get("prefix")
        if action == "DescribeRepositoryCreationTemplates":
            return self._describe(scope, params)
        refusal = _invalid_prefix(prefix)
        if refusal is not None:
            return refusal
        name = _normal(str(prefix))
        with self._lock:
            held = self._doc.setdefault(f"{scope.account}/{scope.region}", {})
            if action == "DeleteRepositoryCreationTemplate":
                if name not in held:
                    return _not_found(name, scope)
                gone = held.pop(name)
                self._save()
                return _answer(scope, gone)
            if action == "CreateRepositoryCreationTemplate" and name in held:
                return ecr_error(
                    400,
                    "TemplateAlreadyExistsException",
                    f"The repository creation template with prefix '{name}' already exists in the registry "
                    f"with id '{scope.account}'",
                )
            if action == "UpdateRepositoryCreationTemplate" and name not in held:
                return _not_found(name, scope)
            required = action == "CreateRepositoryCreationTemplate"
            refusal = _invalid_fields(params, required=required)
            if refusal is not None:
                return refusal
            now = time.time()
            template = dict(held.get(name) or {"prefix": name, "createdAt": now})
            template.update({key: params[key] for key in _FIELDS if key in params})
            template.setdefault("imageTagMutability", "MUTABLE")
            template.setdefault("encryptionConfiguration", {"encryptionType": "AES256"})
            template["updatedAt"] = now
            held[name] = template
            self._save()
            return _answer(scope, template)

    def _describe(self, scope: Scope, params: dict[str, Any]) -> Answer:
        wanted = params.get("prefixes")
        for prefix in wanted or ():
            refusal = _invalid_prefix(prefix)
            if refusal is not None:
                return refusal
        limit = params.get("maxResults", 100)
        if not isinstance(limit, int) or not 1 <= limit <= 1000:
            return _validation(f"Value '{limit}' at 'maxResults' failed to satisfy constraint: "
                               "Member must have value between 1 and 1000")  # fmt: skip
        with self._lock:
            held = self._doc.get(f"{scope.account}/{scope.region}", {})
            names = sorted(held) if wanted is None else [n for n in map(_normal, wanted) if n in held]
            found = [dict(held[name]) for name in names]
        start = int(params["nextToken"]) if str(params.get("nextToken") or "").isdigit() else 0
        doc: dict[str, Any] = {"registryId": scope.account, "repositoryCreationTemplates": found[start : start + limit]}
        if start + limit < len(found):
            doc["nextToken"] = str(start + limit)
        return json_answer(200, doc, ECR_JSON)

    # -- create on push --------------------------------------------------------------------------------

    def covering(self, scope: Scope, repository: str, applied_for: str = "CREATE_ON_PUSH") -> dict[str, Any] | None:
        """SCOPE's template for APPLIED_FOR whose prefix covers REPOSITORY, the longest such; ROOT's when
        none does."""
        with self._lock:
            held = self._doc.get(f"{scope.account}/{scope.region}", {})
            fitting = [t for t in held.values() if applied_for in (t.get("appliedFor") or [])]
        named = [t for t in fitting if t["prefix"] != ROOT and repository.startswith(t["prefix"] + "/")]
        if named:
            return dict(max(named, key=lambda t: len(t["prefix"])))
        root = [t for t in fitting if t["prefix"] == ROOT]
        return dict(root[0]) if root else None

    def create_on_push(self, scope: Scope, repository: str, command: str, kind: str) -> bool:
        """A push (an upload's POST, a manifest PUT) to REPOSITORY, which does not exist: True when a
        CREATE_ON_PUSH template covers it and the repository now exists."""
        if not ((command == "POST" and kind == "blobs") or (command == "PUT" and kind == "manifests")):
            return False
        return self.create_for(scope, repository, "CREATE_ON_PUSH")

    def create_for(self, scope: Scope, repository: str, applied_for: str) -> bool:
        """Create REPOSITORY in SCOPE as its template for APPLIED_FOR says (replication.py asks for REPLICATION):
        True when one covers it and the repository now exists; False when none does."""
        template = self.covering(scope, repository, applied_for)
        if template is None:
            return False
        with self._lock:  # a push sends its layers at once: one creation, the others find it made
            return self._create(scope, repository, template)

    def _create(self, scope: Scope, repository: str, template: dict[str, Any]) -> bool:
        client = self._bridge.ecr(scope.account, scope.region)
        params: dict[str, Any] = {
            "repositoryName": repository,
            "imageTagMutability": template.get("imageTagMutability") or "MUTABLE",
            "imageScanningConfiguration": {"scanOnPush": _scan_on_push(client, repository)},
            "encryptionConfiguration": template.get("encryptionConfiguration") or {"encryptionType": "AES256"},
        }
        if template.get("resourceTags"):
            params["tags"] = template["resourceTags"]

        def create() -> Answer:
            client.create_repository(**params)
            return Answer(200)

        try:
            # as CreateRepository does it: a new repository starts empty, whatever an earlier one left on disk
            self._bridge.mirror.create_repository(scope.internal(repository), create)
        except client.exceptions.RepositoryAlreadyExistsException:
            return True
        except Exception:  # noqa: BLE001 - a name ECR refuses: the push is refused as for any missing repository
            log.exception("template %s could not create %s", template["prefix"], repository)
            return False
        # the template's policies, or no repository at all: ECR never leaves one made without them
        applied: list[tuple[str, dict[str, Any]]] = []
        try:
            if template.get("lifecyclePolicy"):
                # ECR's current schema, which moto refuses: kept and validated by the bridge (lifecycle.py)
                self._bridge.lifecycle.put(scope, repository, template["lifecyclePolicy"])
            if template.get("repositoryPolicy"):
                text = template["repositoryPolicy"]
                client.set_repository_policy(repositoryName=repository, policyText=text)
                applied.append(("SetRepositoryPolicy", {"repositoryName": repository, "policyText": text}))
        except Exception:  # noqa: BLE001 - a policy moto refuses: the half-made repository goes, the push is refused
            log.exception("template %s could not apply its policies to %s", template["prefix"], repository)
            self._undo(scope, repository, client)
            return False
        settings = self._bridge.settings  # kept across restarts, as a CreateRepository call's settings are
        settings.record(scope, "CreateRepository", params)
        for action, recorded in applied:
            settings.record(scope, action, recorded)
        self.made.append(
            {"account": scope.account, "region": scope.region, "repository": repository, "prefix": template["prefix"]}
        )
        log.info("template %s created %s in %s/%s", template["prefix"], repository, scope.account, scope.region)
        return True

    def _undo(self, scope: Scope, repository: str, client: Any) -> None:
        def delete() -> Answer:
            client.delete_repository(repositoryName=repository, force=True)
            return Answer(200)

        self._bridge.lifecycle.forget(scope, repository)
        try:
            self._bridge.mirror.delete_repository(scope.internal(repository), delete)
        except Exception:  # noqa: BLE001 - logged: nothing more the bridge can do
            log.exception("could not remove the half-made repository %s", repository)

    def control(self, doc: dict[str, Any]) -> dict[str, Any]:
        """/_bridge/templates: what templates created ({"reset": true} forgets it), and every template."""
        with self._lock:
            if doc.get("reset"):
                self.made.clear()
            return {"created": list(self.made), "templates": json.loads(json.dumps(self._doc))}

    def _save(self) -> None:
        fresh = self._path.with_name(self._path.name + ".new")
        fresh.write_text(json.dumps(self._doc, indent=1))
        fresh.replace(self._path)


def _normal(prefix: str) -> str:
    """ECR reads a prefix with an assumed `/` at its end: `team/` and `team` name one template."""
    return prefix if prefix == ROOT else prefix.rstrip("/")


def _scan_on_push(client: Any, repository: str) -> bool:
    """Whether the registry's scanning configuration scans REPOSITORY on push (a SCAN_ON_PUSH rule whose
    wildcard filter matches it)."""
    try:
        rules = client.get_registry_scanning_configuration()["scanningConfiguration"].get("rules") or []
    except Exception:  # noqa: BLE001 - none set
        return False
    for rule in rules:
        if rule.get("scanFrequency") != "SCAN_ON_PUSH":
            continue
        for found in rule.get("repositoryFilters") or []:
            pattern = "".join(".*" if part == "*" else re.escape(part) for part in re.split(r"(\*)", found["filter"]))
            if re.fullmatch(pattern, repository):
                return True
    return False


def _validation(message: str) -> Answer:
    return ecr_error(400, "ValidationException", f"1 validation error detected: {message}")


def _invalid_prefix(prefix: Any) -> Answer | None:
    if not isinstance(prefix, str) or not prefix:
        return _validation("Value null at 'prefix' failed to satisfy constraint: Member must not be null")
    if len(prefix) > 256 or not re.fullmatch(PREFIX_PATTERN, prefix):
        return _validation(
            f"Value '{prefix}' at 'prefix' failed to satisfy constraint: Member must satisfy regular expression "
            f"pattern: {PREFIX_PATTERN}"
        )
    return None


# each field's JSON type (botocore's ECR service model): a value of another type is ECR's ValidationException
_TYPES: dict[str, tuple[type, str]] = {
    "description": (str, "a string"),
    "customRoleArn": (str, "a string"),
    "repositoryPolicy": (str, "a string"),
    "lifecyclePolicy": (str, "a string"),
    "imageTagMutability": (str, "a string"),
    "encryptionConfiguration": (dict, "an object"),
    "appliedFor": (list, "a list"),
    "resourceTags": (list, "a list"),
    "imageTagMutabilityExclusionFilters": (list, "a list"),
}
_ITEMS = {"appliedFor": str, "resourceTags": dict, "imageTagMutabilityExclusionFilters": dict}


def _wrong_type(params: dict[str, Any]) -> Answer | None:
    for key, (kind, what) in _TYPES.items():
        value = params.get(key)
        if value is None:
            continue
        if not isinstance(value, kind):
            return _validation(f"Value at '{key}' failed to satisfy constraint: Member must be {what}")
        item = _ITEMS.get(key)
        if item is not None and not all(isinstance(v, item) for v in value):
            each = "a string" if item is str else "an object"
            return _validation(f"Value at '{key}' failed to satisfy constraint: each member must be {each}")
    for tag in params.get("resourceTags") or []:
        if not all(isinstance(tag.get(k, ""), str) for k in ("Key", "Value")):
            return _validation("Value at 'resourceTags' failed to satisfy constraint: Key and Value must be strings")
    return None


def _invalid_fields(params: dict[str, Any], *, required: bool) -> Answer | None:
    wrong = _wrong_type(params)
    if wrong is not None:
        return wrong
    applied = params.get("appliedFor")
    if applied is None and required or applied is not None and not applied:
        return _validation("Value null at 'appliedFor' failed to satisfy constraint: Member must not be null")
    if applied is not None and any(item not in APPLIED_FOR for item in applied):
        return _validation(
            f"Value '[{', '.join(map(str, applied))}]' at 'appliedFor' failed to satisfy constraint: "
            f"Member must satisfy constraint: [Member must satisfy enum value set: [{', '.join(APPLIED_FOR)}]]"
        )
    mutability = params.get("imageTagMutability")
    if mutability is not None and mutability not in MUTABILITY:
        return _validation(
            f"Value '{mutability}' at 'imageTagMutability' failed to satisfy constraint: Member must satisfy enum "
            f"value set: [{', '.join(MUTABILITY)}]"
        )
    for key, most in _LONGEST.items():
        if len(str(params.get(key) or "")) > most:
            return _validation(
                f"Value at '{key}' failed to satisfy constraint: Member must have length less than or equal to {most}"
            )
    for key, what in (("repositoryPolicy", "PolicyText"), ("lifecyclePolicy", "LifecyclePolicyText")):
        text = params.get(key)
        if text:
            try:
                doc = json.loads(text)
            except ValueError:
                doc = None
            if not isinstance(doc, dict) or (key == "lifecyclePolicy" and not isinstance(doc.get("rules"), list)):
                constraint = (
                    "Invalid repository policy provided"
                    if key == "repositoryPolicy"
                    else "Lifecycle policy validation failure: the policy is not a JSON document with rules"
                )
                return ecr_error(
                    400, "InvalidParameterException", f"Invalid parameter at '{what}' failed to satisfy constraint: "
                    f"'{constraint}'"
                )  # fmt: skip
    for tag in params.get("resourceTags") or []:
        key, value = tag.get("Key", ""), tag.get("Value", "")
        if not 1 <= len(key) <= 128 or len(value) > 256:
            return ecr_error(
                400, "InvalidParameterException", "Invalid parameter at 'resourceTags' failed to satisfy constraint: "
                "'a tag key has 1 to 128 characters and its value at most 256'"
            )  # fmt: skip
    return None


def _not_found(prefix: str, scope: Scope) -> Answer:
    return ecr_error(
        400,
        "TemplateNotFoundException",
        f"The repository creation template with prefix '{prefix}' does not exist in the registry with id "
        f"'{scope.account}'",
    )


def _answer(scope: Scope, template: dict[str, Any]) -> Answer:
    return json_answer(200, {"registryId": scope.account, "repositoryCreationTemplate": template}, ECR_JSON)
