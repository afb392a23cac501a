"""ECR's lifecycle policies, with the current schema, which moto 5.2.6 refuses: Put, Get and
DeleteLifecyclePolicy are answered here, and a repository creation template's policy is put here too.

moto's validator knows the schema of before the archive storage class (countType imageCountMoreThan or
sinceImagePushed, action expire only). ECR's current one, from "Lifecycle policy properties in Amazon
ECR" (https://docs.aws.amazon.com/AmazonECR/latest/userguide/lifecycle_policy_parameters.html), adds
`selection.storageClass` (standard, the default, or archive), the count types sinceImagePulled and
sinceImageTransitioned, and `action.type` transition with `targetStorageClass` archive. ``validate``
checks a policy text against that page, the rules across rules of "Lifecycle policy evaluation rules"
(LifecyclePolicies.html) and the 90-day minimum of "Archiving an image" (archive-image.html): each
refusal is ECR's 400 InvalidParameterException "Invalid parameter at 'LifecyclePolicyText' failed to
satisfy constraint: 'Lifecycle policy validation failure: …'", in the words of ECR's schema validator
where the schema decides (moto copies them) and in plain words where the rules across rules do.

Policies are kept per account, region and repository in lifecycle.json (the state folder), so they
outlive `local-ecr down`/`up`; policies moto held before this module (ecr-state.json) are taken over once.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .answer import ECR_JSON, Answer, ecr_error, json_answer
from .face import Scope

ACTIONS = frozenset({"PutLifecyclePolicy", "GetLifecyclePolicy", "DeleteLifecyclePolicy"})
WHERE = "Invalid parameter at 'LifecyclePolicyText' failed to satisfy constraint: "
PREFIX = WHERE + "'Lifecycle policy validation failure: "
SHORTEST, LONGEST = 100, 30720  # botocore's ECR model: LifecyclePolicyText
MAX_WILDCARDS = 4  # "There is a maximum limit of four wildcards (*) per string"
# "You cannot configure lifecycle policies that delete images that have been in archive for less than 90 days"
ARCHIVE_MINIMUM_DAYS = 90

_RULE = ({"rulePriority", "selection", "action"}, {"description"})
_SELECTION = (
    {"tagStatus", "countType", "countNumber"},
    {"tagPrefixList", "tagPatternList", "storageClass", "countUnit"},
)
_ACTION = ({"type"}, {"targetStorageClass"})
_ENUMS = {
    "tagStatus": ("any", "tagged", "untagged"),
    "storageClass": ("archive", "standard"),
    "countType": ("imageCountMoreThan", "sinceImagePulled", "sinceImagePushed", "sinceImageTransitioned"),
    "countUnit": ("days",),
    "type": ("expire", "transition"),
    "targetStorageClass": ("archive",),
}
_SINCE = ("sinceImagePushed", "sinceImagePulled", "sinceImageTransitioned")


class InvalidPolicy(ValueError):
    """A lifecycle policy ECR refuses; its text is ECR's whole message."""


def validate(text: Any) -> None:
    """InvalidPolicy, with ECR's message, unless TEXT is a lifecycle policy ECR takes."""
    if not isinstance(text, str) or not SHORTEST <= len(text) <= LONGEST:
        size = len(text) if isinstance(text, str) else 0
        bound = f"greater than or equal to {SHORTEST}" if size < SHORTEST else f"less than or equal to {LONGEST}"
        raise InvalidPolicy(f"{WHERE}'Member must have length {bound}'")
    try:
        doc = json.loads(text)
    except ValueError:
        doc = None
    if not isinstance(doc, dict):
        _fail("Could not map policyString into LifecyclePolicy.")
    _properties(doc, ({"rules"}, set()))
    rules = doc["rules"]
    if not isinstance(rules, list):
        _fail(_wrong_type(rules, "array"))
    if not rules:
        _fail("array is too short: must have at least 1 elements but instance has 0 elements")
    for rule in rules:
        _rule(rule)
    _across(rules)


def _rule(rule: Any) -> None:
    _properties(rule, _RULE)
    priority = rule["rulePriority"]
    _integer(priority)
    if "description" in rule and not isinstance(rule["description"], str):
        _fail(_wrong_type(rule["description"], "string"))
    selection, action = rule["selection"], rule["action"]
    _properties(selection, _SELECTION)
    _properties(action, _ACTION)
    for part in (selection, action):
        for key, allowed in _ENUMS.items():
            if key in part and part[key] not in allowed:
                given = json.dumps(part[key])
                _fail(f"instance value ({given}) not found in enum (possible values: {json.dumps(list(allowed))})")
    _integer(selection["countNumber"])
    for key in ("tagPrefixList", "tagPatternList"):
        if key in selection and not (
            isinstance(selection[key], list) and all(isinstance(item, str) for item in selection[key])
        ):
            _fail(f"the {key} of the rule with priority {priority} must be a list of strings")
    _tags(selection, priority)
    _counts(selection, action, priority)


def _tags(selection: dict[str, Any], priority: int) -> None:
    status = selection["tagStatus"]
    prefixes, patterns = selection.get("tagPrefixList"), selection.get("tagPatternList")
    if status == "tagged" and not prefixes and not patterns:
        _fail(f"the rule with priority {priority} has tagStatus 'tagged': it needs a tagPrefixList or a tagPatternList")
    if status == "tagged" and prefixes and patterns:
        _fail(f"the rule with priority {priority} has both a tagPrefixList and a tagPatternList: give only one")
    if status != "tagged" and ("tagPrefixList" in selection or "tagPatternList" in selection):
        _fail(f"the rule with priority {priority} has tagStatus '{status}': a tagPrefixList or tagPatternList is "
              "only for tagStatus 'tagged'")  # fmt: skip
    for pattern in patterns or ():
        if pattern.count("*") > MAX_WILDCARDS:
            _fail(f"the tag pattern '{pattern}' of the rule with priority {priority} has more than "
                  f"{MAX_WILDCARDS} wildcards")  # fmt: skip


def _counts(selection: dict[str, Any], action: dict[str, Any], priority: int) -> None:
    count_type, storage = selection["countType"], selection.get("storageClass", "standard")
    rule = f"the rule with priority {priority}"
    if count_type in _SINCE and "countUnit" not in selection:
        _fail(f"{rule} has countType '{count_type}': it needs countUnit 'days'")
    if count_type not in _SINCE and "countUnit" in selection:
        _fail(f"{rule} has countType '{count_type}': countUnit is only for sinceImagePushed, sinceImagePulled "
              "and sinceImageTransitioned")  # fmt: skip
    if count_type == "sinceImageTransitioned" and "storageClass" not in selection:
        _fail(f"{rule} has countType 'sinceImageTransitioned': it needs storageClass 'archive'")
    if count_type == "sinceImageTransitioned" and storage != "archive":
        _fail(f"{rule} has countType 'sinceImageTransitioned': its storageClass can only be 'archive'")
    if count_type != "sinceImageTransitioned" and storage != "standard":
        _fail(f"{rule} has countType '{count_type}': its storageClass can only be 'standard'")
    if action["type"] == "transition" and "targetStorageClass" not in action:
        _fail(f"{rule} has action type 'transition': it needs targetStorageClass 'archive'")
    if action["type"] != "transition" and "targetStorageClass" in action:
        _fail(f"{rule} has action type '{action['type']}': targetStorageClass is only for 'transition'")
    if action["type"] == "transition" and storage != "standard":
        _fail(f"{rule} transitions images of storageClass '{storage}': only standard images move to archive")
    if count_type == "sinceImageTransitioned" and selection["countNumber"] < ARCHIVE_MINIMUM_DAYS:
        _fail(f"{rule} expires archived images after {selection['countNumber']} days: archived images are kept "
              f"for at least {ARCHIVE_MINIMUM_DAYS} days")  # fmt: skip


def _across(rules: list[dict[str, Any]]) -> None:
    """Unique priorities; per storage class, the `any` rule last and only one rule for untagged images."""
    seen: set[int] = set()
    for rule in rules:
        if rule["rulePriority"] in seen:
            _fail(f"rulePriority {rule['rulePriority']} is given to more than one rule: each rule needs its own")
        seen.add(rule["rulePriority"])
    for storage in ("standard", "archive"):
        held = [r for r in rules if r["selection"].get("storageClass", "standard") == storage]
        top = max((r["rulePriority"] for r in held), default=0)
        for rule in held:
            status = rule["selection"]["tagStatus"]
            if status == "any" and rule["rulePriority"] != top:
                _fail(f"the rule with priority {rule['rulePriority']} has tagStatus 'any': it must have the highest "
                      f"rulePriority of the {storage} rules ({top})")  # fmt: skip
        untagged = [r["rulePriority"] for r in held if r["selection"]["tagStatus"] == "untagged"]
        if len(untagged) > 1:
            _fail(f"the rules with priorities {untagged[0]} and {untagged[1]} both select untagged {storage} images: "
                  "only one rule may")  # fmt: skip


def _properties(doc: Any, shape: tuple[set[str], set[str]]) -> None:
    required, optional = shape
    if not isinstance(doc, dict):
        _fail(_wrong_type(doc, "object"))
    missing = sorted(required - set(doc))
    if missing:
        _fail(f"object has missing required properties ({json.dumps(missing)})")
    unknown = sorted(set(doc) - required - optional)
    if unknown:
        _fail(f"object instance has properties which are not allowed by the schema: ({json.dumps(unknown)})")


def _integer(value: Any) -> None:
    if not isinstance(value, int) or isinstance(value, bool):
        _fail(_wrong_type(value, "integer"))
    if value < 1:
        _fail(f"numeric instance is lower than the required minimum (minimum: 1, found: {value})")


def _wrong_type(value: Any, wanted: str) -> str:
    return f'instance type ({_kind(value)}) does not match any allowed primitive type (allowed: ["{wanted}"])'


def _kind(value: Any) -> str:
    kinds = {bool: "boolean", int: "integer", float: "number", str: "string", list: "array", dict: "object"}
    return "null" if value is None else kinds.get(type(value), "object")


def _fail(reason: str) -> Any:
    raise InvalidPolicy(PREFIX + reason + "'")


class Lifecycle:
    """The lifecycle policies of every account and region: {"ACCOUNT/REGION": {repository: {text, at}}}."""

    def __init__(self, path: Path, exists: Callable[[Scope, str], bool], settings: Any) -> None:
        self._path = path
        self._exists = exists  # whether the repository is there (Bridge.exists: moto, as the registry sees it)
        self._settings = settings  # ecr-state.json, where moto's copies of policies were kept
        self._lock = threading.Lock()
        try:
            self._doc: dict[str, dict[str, dict[str, Any]]] = json.loads(path.read_text())
        except (OSError, ValueError):
            self._doc = {}
        for scope, name, saved in settings.all():  # moto's policies of before: kept here from now on
            if saved.get("lifecyclePolicyText"):
                held = self._doc.setdefault(_key(scope), {})
                held.setdefault(name, {"text": saved["lifecyclePolicyText"], "at": time.time()})
                settings.record(scope, "DeleteLifecyclePolicy", {"repositoryName": name})
        self._save()

    def answer(self, action: str, scope: Scope, params: dict[str, Any]) -> Answer:
        repository = str(params.get("repositoryName", ""))
        if not self._exists(scope, repository):
            return ecr_error(
                400,
                "RepositoryNotFoundException",
                f"The repository with name '{repository}' does not exist in the registry with id '{scope.account}'",
            )
        if action == "PutLifecyclePolicy":
            text = params.get("lifecyclePolicyText")
            try:
                self.put(scope, repository, text)
            except InvalidPolicy as err:
                return ecr_error(400, "InvalidParameterException", str(err))
            doc = {"registryId": scope.account, "repositoryName": repository, "lifecyclePolicyText": text}
            return json_answer(200, doc, ECR_JSON)
        with self._lock:
            held = self._doc.get(_key(scope), {})
            found = held.get(repository)
            if found is not None and action == "DeleteLifecyclePolicy":
                del held[repository]
                self._save()
        if found is None:
            return ecr_error(
                400,
                "LifecyclePolicyNotFoundException",
                f"Lifecycle policy does not exist for the repository with name '{repository}' in the registry "
                f"with id '{scope.account}'",
            )
        doc = {
            "registryId": scope.account,
            "repositoryName": repository,
            "lifecyclePolicyText": found["text"],
            "lastEvaluatedAt": found["at"],
        }
        return json_answer(200, doc, ECR_JSON)

    def put(self, scope: Scope, repository: str, text: Any) -> None:
        """Keep TEXT as REPOSITORY's policy (its existence is the caller's to check); InvalidPolicy when ECR
        would refuse it."""
        validate(text)
        with self._lock:
            self._doc.setdefault(_key(scope), {})[repository] = {"text": text, "at": time.time()}
            self._save()

    def forget(self, scope: Scope, repository: str) -> None:
        """REPOSITORY was deleted: its policy goes with it."""
        with self._lock:
            if self._doc.get(_key(scope), {}).pop(repository, None) is not None:
                self._save()

    def _save(self) -> None:
        fresh = self._path.with_name(self._path.name + ".new")
        fresh.write_text(json.dumps(self._doc, indent=1))
        fresh.replace(self._path)


def _key(scope: Scope) -> str:
    return f"{scope.account}/{scope.region}"
