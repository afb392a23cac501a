"""ECR's lifecycle policy JSON, read, checked and written, and the policies `prune` and `lifecycle set`
build from their flags, so `prune` and `lifecycle preview` select through the same rules.

The schema is ECR's current one: a rule's `selection.storageClass` (standard, the default, or archive),
count types imageCountMoreThan, sinceImagePushed, sinceImagePulled and sinceImageTransitioned (archive
rules only), and actions expire or transition (`targetStorageClass: archive`, from standard only).

The rules checked are ECR's own, from "Lifecycle policy properties in Amazon ECR"
(https://docs.aws.amazon.com/AmazonECR/latest/userguide/lifecycle_policy_parameters.html), its
"Lifecycle policy evaluation rules" (https://docs.aws.amazon.com/AmazonECR/latest/userguide/LifecyclePolicies.html)
and botocore's ECR model (`LifecyclePolicyText`: at most 30,720 characters), so `lifecycle set` refuses
at once, in one line that names the rule, what PutLifecyclePolicy would refuse with a schema message.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import replace
from datetime import timedelta
from typing import Any, cast

from ecrtool.model.durations import format_duration
from ecrtool.model.errors import InvalidInput
from ecrtool.model.retention import Action, CountType, Policy, Rule, StorageClass, TagStatus, describe, span_words

MAX_POLICY_CHARS = 30_720  # botocore ECR model: LifecyclePolicyText max
MAX_WILDCARDS = 4  # "a maximum limit of four wildcards (*) per string"
DAY = timedelta(days=1)

_RULE_KEYS = {"rulePriority", "description", "selection", "action"}
_SELECTION_KEYS = {"tagStatus", "tagPrefixList", "tagPatternList", "countType", "countUnit", "countNumber",
                   "storageClass"}
_TAG_STATUSES = ("tagged", "untagged", "any")
_COUNT_TYPES = ("imageCountMoreThan", "sinceImagePushed", "sinceImagePulled", "sinceImageTransitioned")
_SINCE = _COUNT_TYPES[1:]
_STORAGE_CLASSES = ("standard", "archive")
# "You cannot configure lifecycle policies that delete images that have been in archive for less than 90 days"
# (ECR user guide, Archiving an image)
ARCHIVE_MINIMUM_DAYS = 90
_FIX = "fix the policy file"


def parse_policy(text: str) -> Policy:
    """TEXT, ECR's lifecycle policy JSON, as a Policy; InvalidInput, one line naming the rule, for
    anything ECR's PutLifecyclePolicy would refuse (see validate_for_ecr for the rules across rules)."""
    if len(text) > MAX_POLICY_CHARS:
        raise InvalidInput(
            f"the lifecycle policy is {len(text):,} characters; ECR takes at most {MAX_POLICY_CHARS:,}: "
            "use fewer rules or shorter descriptions"
        )
    try:
        document = json.loads(text)
    except json.JSONDecodeError as err:
        raise InvalidInput(
            f"the lifecycle policy is not JSON: {err.msg} at line {err.lineno}, column {err.colno}; {_FIX}"
        ) from None
    if not isinstance(document, dict):
        raise InvalidInput(f'the lifecycle policy must be a JSON object with "rules": {_FIX}')
    _no_unknown_keys(document, {"rules"}, "the lifecycle policy")
    rules = document.get("rules")
    if not isinstance(rules, list) or not rules:
        raise InvalidInput(f'the lifecycle policy has no rules: give "rules" a list of at least one rule; {_FIX}')
    policy = Policy(tuple(_parse_rule(item, number) for number, item in enumerate(rules, 1)))
    _check_rules(policy.rules)
    return policy


def _parse_rule(item: object, number: int) -> Rule:
    name = f"rule {number}"
    if not isinstance(item, dict):
        raise InvalidInput(f"{name} is not a JSON object: each rule needs rulePriority, selection and action")
    priority = _positive(item.get("rulePriority"))
    if priority is None:
        given = _shown(item.get("rulePriority"))
        raise InvalidInput(f"{name}: rulePriority must be a whole number of 1 or more, not {given}")
    name = f"rule {number} (priority {priority})"
    _no_unknown_keys(item, _RULE_KEYS, name)
    description = item.get("description", "")
    if not isinstance(description, str):
        raise InvalidInput(f"{name}: description must be a string, not {_shown(description)}")
    action = item.get("action")
    if not isinstance(action, dict) or action.get("type") not in ("expire", "transition"):
        raise InvalidInput(
            f'{name}: action must be {{"type": "expire"}} or {{"type": "transition", "targetStorageClass": '
            f'"archive"}}, not {_shown(action)}'
        )
    _no_unknown_keys(action, {"type", "targetStorageClass"}, f"{name}: action")
    kind = action["type"]
    target = action.get("targetStorageClass")
    if kind == "transition" and target != "archive":
        raise InvalidInput(f'{name}: a transition needs "targetStorageClass": "archive" (the only target), not '
                           f"{_shown(target)}")
    if kind == "expire" and "targetStorageClass" in action:
        raise InvalidInput(f"{name}: targetStorageClass is only for a transition action: remove it")
    selection = item.get("selection")
    if not isinstance(selection, dict):
        raise InvalidInput(f"{name}: selection must be an object with tagStatus, countType and countNumber")
    _no_unknown_keys(selection, _SELECTION_KEYS, f"{name}: selection")

    status = selection.get("tagStatus")
    if status not in _TAG_STATUSES:
        raise InvalidInput(f"{name}: tagStatus must be tagged, untagged or any, not {_shown(status)}")
    storage = selection.get("storageClass", "standard")
    if storage not in _STORAGE_CLASSES:
        raise InvalidInput(f"{name}: storageClass must be standard or archive, not {_shown(storage)}")
    count_type = selection.get("countType")
    if count_type not in _COUNT_TYPES:
        raise InvalidInput(
            f"{name}: countType must be imageCountMoreThan, sinceImagePushed, sinceImagePulled or "
            f"sinceImageTransitioned, not {_shown(count_type)}"
        )
    count = _positive(selection.get("countNumber"))
    if count is None:
        raise InvalidInput(
            f"{name}: countNumber must be a whole number of 1 or more, not {_shown(selection.get('countNumber'))}"
        )
    unit = selection.get("countUnit")
    if count_type in _SINCE and unit != "days":
        raise InvalidInput(f'{name}: {count_type} needs "countUnit": "days", not {_shown(unit)}')
    if count_type == "imageCountMoreThan" and "countUnit" in selection:
        raise InvalidInput(f"{name}: imageCountMoreThan takes no countUnit (it counts images): remove countUnit")
    return Rule(
        priority=priority,
        tag_status=cast(TagStatus, status),
        count_type=cast(CountType, count_type),
        count=count if count_type == "imageCountMoreThan" else 0,
        age=timedelta(days=count) if count_type in _SINCE else timedelta(0),
        tag_prefixes=_strings(selection, "tagPrefixList", name),
        tag_patterns=_strings(selection, "tagPatternList", name),
        description=description,
        storage_class=cast(StorageClass, storage),
        action=cast(Action, kind),
    )


def validate_for_ecr(policy: Policy) -> None:
    """InvalidInput, one line naming the rule, unless ECR would take POLICY as it is: rules, priorities,
    tag lists, counts in whole numbers of 1 or more, ages in whole days, no keep_tags (ECR has none),
    and its JSON within 30,720 characters. `lifecycle set` calls this before PutLifecyclePolicy."""
    if not policy.rules:
        raise InvalidInput("the lifecycle policy has no rules: give --keep N or --untagged-older-than DURATION")
    for number, rule in enumerate(policy.rules, 1):
        if rule.priority < 1:
            raise InvalidInput(f"{_name(number, rule)}: rulePriority must be a whole number of 1 or more")
    _check_rules(policy.rules)
    text = policy_json(policy)
    if len(text) > MAX_POLICY_CHARS:
        raise InvalidInput(
            f"the lifecycle policy is {len(text):,} characters as JSON; ECR takes at most {MAX_POLICY_CHARS:,}: "
            "use fewer rules or shorter descriptions"
        )


def _check_rules(rules: tuple[Rule, ...]) -> None:
    """ECR's rules within each rule and across rules (the evaluation rules and properties pages)."""
    seen_priorities: dict[int, int] = {}
    seen_lists: dict[tuple[str, str, frozenset[str]], int] = {}
    untagged: dict[str, int] = {}
    last = {rule.storage_class: max(r.priority for r in rules if r.storage_class == rule.storage_class)
            for rule in rules}
    for number, rule in enumerate(rules, 1):
        name = _name(number, rule)
        if rule.priority in seen_priorities:
            raise InvalidInput(
                f"{name}: rulePriority {rule.priority} is also rule {seen_priorities[rule.priority]}'s; "
                "each rule needs its own priority"
            )
        seen_priorities[rule.priority] = number
        _check_tags(rule, name)
        _check_class(rule, name)
        top = last[rule.storage_class]
        if rule.tag_status == "any" and rule.priority != top:
            raise InvalidInput(
                f'{name}: a tagStatus "any" rule must have the highest rulePriority of the {rule.storage_class} '
                f"rules (it is evaluated last), and there can be only one: give it a priority above {top} or "
                "merge the any rules"
            )
        if rule.tag_status == "untagged":
            if rule.storage_class in untagged:
                raise InvalidInput(
                    f"{name}: only one {rule.storage_class} rule may select untagged images, and rule "
                    f"{untagged[rule.storage_class]} does"
                )
            untagged[rule.storage_class] = number
        if rule.count_type == "imageCountMoreThan" and rule.count < 1:
            raise InvalidInput(f"{name}: countNumber must be 1 or more for imageCountMoreThan, not {rule.count}")
        if rule.count_type in _SINCE:
            _whole_days(rule, name)
        lists = (rule.storage_class, "tagPrefixList", frozenset(rule.tag_prefixes)) if rule.tag_prefixes else None
        lists = lists or (
            (rule.storage_class, "tagPatternList", frozenset(rule.tag_patterns)) if rule.tag_patterns else None
        )
        if lists is not None:
            # "The set of rules must contain a unique set of tag prefixes": read as no two rules with
            # the same list (a prefix may appear in several lists, as in AWS's own example B).
            if lists in seen_lists:
                raise InvalidInput(
                    f"{name}: its {lists[1]} is the same as rule {seen_lists[lists]}'s; "
                    "ECR needs a different set of tags for each rule: merge the two rules"
                )
            seen_lists[lists] = number


def _check_class(rule: Rule, name: str) -> None:
    """What ECR's parameters page allows between storageClass, countType and action."""
    if rule.storage_class not in _STORAGE_CLASSES:
        raise InvalidInput(f"{name}: storageClass must be standard or archive, not {rule.storage_class}")
    if rule.count_type == "sinceImageTransitioned" and rule.storage_class != "archive":
        raise InvalidInput(
            f'{name}: sinceImageTransitioned counts from an image\'s move to archive: it needs "storageClass": '
            '"archive" (use sinceImagePushed or sinceImagePulled for standard images)'
        )
    if rule.action == "transition" and rule.storage_class != "standard":
        raise InvalidInput(
            f'{name}: a transition moves images from standard to archive: it needs "storageClass": "standard", '
            f"not {rule.storage_class} (archived images can only expire)"
        )
    if rule.storage_class == "archive" and rule.count_type != "sinceImageTransitioned":
        raise InvalidInput(
            f'{name}: archived images are selected by the days since their move to archive: "countType": '
            f'"sinceImageTransitioned", not {rule.count_type}'
        )
    if rule.count_type == "sinceImageTransitioned" and rule.age.days < ARCHIVE_MINIMUM_DAYS:
        raise InvalidInput(
            f"{name}: archived images are kept at least {ARCHIVE_MINIMUM_DAYS} days (ECR's minimum), so a rule "
            f"cannot expire them after {rule.age.days}: give {ARCHIVE_MINIMUM_DAYS} or more"
        )


def _check_tags(rule: Rule, name: str) -> None:
    if rule.tag_status == "tagged":
        if rule.tag_prefixes and rule.tag_patterns:
            raise InvalidInput(f"{name}: give tagPrefixList or tagPatternList, not both")
        if not rule.tag_prefixes and not rule.tag_patterns:
            raise InvalidInput(
                f'{name}: a tagged rule needs a tagPrefixList or tagPatternList (["*"] for every tagged image)'
            )
    elif rule.tag_prefixes or rule.tag_patterns:
        which = "tagPrefixList" if rule.tag_prefixes else "tagPatternList"
        raise InvalidInput(f'{name}: {which} is only for tagStatus "tagged", not "{rule.tag_status}": remove it')
    for pattern in rule.tag_patterns:
        if pattern.count("*") > MAX_WILDCARDS:
            raise InvalidInput(
                f"{name}: tag pattern {pattern!r} has {pattern.count('*')} wildcards; ECR allows at most "
                f"{MAX_WILDCARDS} per pattern"
            )


def _whole_days(rule: Rule, name: str) -> int:
    if rule.age < DAY or rule.age % DAY:
        raise InvalidInput(
            f"{name}: ECR counts age in whole days, 1 or more, not {format_duration(rule.age)}: "
            "round the duration to days (such as 1d or 2w)"
        )
    return rule.age.days


def policy_json(policy: Policy) -> str:
    """ECR's JSON for POLICY, its rules in the order given, indented by 2. InvalidInput for what ECR's
    format cannot hold: an age not in whole days or under a day, a count under 1, keep_tags."""
    if policy.keep_tags:
        raise InvalidInput(
            "ECR's lifecycle policies cannot keep tags by pattern (--keep-tag): leave it out, or use "
            "`ecrtool prune` instead"
        )
    rules: list[dict[str, Any]] = []
    for number, rule in enumerate(policy.rules, 1):
        selection: dict[str, Any] = {"tagStatus": rule.tag_status}
        if rule.tag_prefixes:
            selection["tagPrefixList"] = list(rule.tag_prefixes)
        if rule.tag_patterns:
            selection["tagPatternList"] = list(rule.tag_patterns)
        if rule.storage_class != "standard":
            _check_class(rule, _name(number, rule))
            selection["storageClass"] = rule.storage_class
        selection["countType"] = rule.count_type
        if rule.count_type in _SINCE:
            selection["countUnit"] = "days"
            selection["countNumber"] = _whole_days(rule, _name(number, rule))
        else:
            if rule.count < 1:
                raise InvalidInput(
                    f"{_name(number, rule)}: ECR keeps 1 or more images per rule, not {rule.count}: use "
                    "`ecrtool prune --keep 0` to expire every one"
                )
            selection["countNumber"] = rule.count
        entry: dict[str, Any] = {"rulePriority": rule.priority}
        if rule.description:
            entry["description"] = rule.description
        entry["selection"] = selection
        transition = {"type": "transition", "targetStorageClass": "archive"}
        entry["action"] = transition if rule.action == "transition" else {"type": "expire"}
        rules.append(entry)
    return json.dumps({"rules": rules}, indent=2)


def explain(policy: Policy) -> list[str]:
    """Each rule of POLICY in words, by priority: "rule 1: move to archive the images not pulled for 90 days
    (never pulled: pushed over 90 days ago)", "rule 2: expire archived images archived over 365 days ago"."""
    lines = []
    for rule in sorted(policy.rules, key=lambda rule: rule.priority):
        which = describe(rule) or "any"
        images = f"{'archived' if rule.storage_class == 'archive' else 'standard'} images ({which})"
        if rule.count_type == "imageCountMoreThan":
            what = f"{images} beyond the newest {rule.count}"
        elif rule.count_type == "sinceImagePulled":
            what = f"{images} not pulled for {rule.age.days} days (never pulled: pushed over {rule.age.days} days ago)"
        elif rule.count_type == "sinceImageTransitioned":
            what = f"{images} archived over {rule.age.days} days ago"
        else:
            what = f"{images} pushed over {rule.age.days} days ago"
        verb = "move to archive" if rule.action == "transition" else "expire"
        lines.append(f"rule {rule.priority}: {verb} {what}")
    return lines


def prune_policy(
    keep: int | None,
    tag_prefixes: Iterable[str],
    untagged: bool,
    older_than: timedelta | None,
    keep_tags: Iterable[str] = (),
    not_pulled_for: timedelta | None = None,
) -> Policy:
    """`prune`'s flags as lifecycle rules, evaluated with ECR's semantics, in this priority order:

    1. `--keep N`: the newest N of each `--tag-prefix` are kept and older ones expire, one rule per
       prefix (ECR's tagPrefixList needs a tag for *every* prefix listed, so `--tag-prefix release-
       --tag-prefix hotfix- --keep 5` keeps 5 releases and 5 hotfixes); no prefix: every tagged image,
       one rule (tagPatternList ["*"]). N may be 0: every such image expires.
    2. `--untagged`: every untagged image expires.
    3. `--older-than D`: images pushed longer ago than D expire (D may be hours). Alone or with `--keep`,
       it is an `any` rule, so an image that a `--keep` rule counts is never expired by it, as in ECR.
       With `--tag-prefix` and no `--keep` it applies to the images with those prefixes only (one rule
       per prefix).
    4. `--not-pulled-for D`: alone, images not pulled for D (never pulled: pushed longer ago than D), an
       `any` rule on sinceImagePulled; beside the others, a condition on each of them (Policy.idle), so
       `--untagged --not-pulled-for 90d` takes untagged images nobody pulled for 90 days.

    Prune's rules see every image whatever its storage class (ACTIVE and ARCHIVED alike).
    `--keep-tag` globs are never selected. InvalidInput for a negative keep, no selecting flag, or a
    `--tag-prefix` with neither `--keep` nor `--older-than`.
    """
    prefixes = _unique(tag_prefixes)
    if keep is not None and keep < 0:
        raise InvalidInput(f"--keep must be 0 or more, not {keep}: it is how many of the newest images stay")
    if keep is None and not untagged and older_than is None and not_pulled_for is None:
        raise InvalidInput(
            "say what to prune: --keep N, --untagged, --older-than DURATION or --not-pulled-for DURATION"
        )
    if prefixes and keep is None and older_than is None:
        raise InvalidInput("--tag-prefix chooses which tags --keep or --older-than apply to: add one of them")
    if not_pulled_for is not None and not_pulled_for <= timedelta(0):
        raise InvalidInput("--not-pulled-for must be more than 0s: such as 90d")
    if older_than is not None and older_than <= timedelta(0):
        raise InvalidInput(
            "--older-than must be more than 0s: 0 would select every image (--untagged takes the untagged ones)"
        )
    rules = _keep_rules(keep, prefixes)
    if untagged:
        rules.append(Rule(len(rules) + 1, "untagged", "sinceImagePushed", description="expire untagged images"))
    if older_than is not None:
        over = f"pushed over {span_words(older_than)} ago"
        if prefixes and keep is None:
            for prefix in prefixes:
                rules.append(
                    Rule(len(rules) + 1, "tagged", "sinceImagePushed", age=older_than, tag_prefixes=(prefix,),
                         description=f"expire images tagged {prefix}* {over}")
                )
        else:
            rules.append(
                Rule(len(rules) + 1, "any", "sinceImagePushed", age=older_than, description=f"expire images {over}")
            )
    idle = not_pulled_for if rules else None
    if not rules and not_pulled_for is not None:
        rules.append(Rule(1, "any", "sinceImagePulled", age=not_pulled_for,
                          description=f"expire images not pulled for {span_words(not_pulled_for)}"))
    return Policy(tuple(rules), keep_tags=_unique(keep_tags), idle=idle, every_class=True)


def lifecycle_policy(
    keep: int | None,
    tag_prefixes: Iterable[str],
    untagged_older_than: timedelta | None,
    archive_after: timedelta | None = None,
    expire_archived_after: timedelta | None = None,
) -> Policy:
    """`lifecycle set|preview`'s flags as an ECR-valid policy: `--keep N` (1 or more) builds the same
    rules as prune's (the newest N of each `--tag-prefix`, one rule per prefix, or of every tagged image),
    then `--untagged-older-than D` (whole days) expires untagged images pushed longer ago than D, then
    `--archive-after D` moves to archive the standard images not pulled for D (never pulled: pushed over D
    ago) that no earlier rule counted, and `--expire-archived-after D` expires images archived over D ago.
    InvalidInput for anything ECR would refuse, and for a `--tag-prefix` without `--keep`."""
    prefixes = _unique(tag_prefixes)
    spans = {"--untagged-older-than": untagged_older_than, "--archive-after": archive_after,
             "--expire-archived-after": expire_archived_after}
    if keep is None and all(span is None for span in spans.values()):
        raise InvalidInput(
            "say what the policy does: --keep N, --untagged-older-than, --archive-after or --expire-archived-after"
        )
    for option, span in spans.items():
        if option != "--untagged-older-than" and span is not None and (span < DAY or span % DAY):
            raise InvalidInput(
                f"{option} must be whole days, 1 or more (ECR counts age in days), not {format_duration(span)}: "
                "such as 1d, 90d or 2w"
            )
    if keep is not None and keep < 1:
        raise InvalidInput(
            f"--keep must be 1 or more in a lifecycle policy (ECR's countNumber), not {keep}: "
            "to delete every tagged image now, use `ecrtool prune --keep 0`"
        )
    if prefixes and keep is None:
        raise InvalidInput("--tag-prefix chooses which tags --keep applies to: add --keep N")
    if untagged_older_than is not None and (untagged_older_than < DAY or untagged_older_than % DAY):
        raise InvalidInput(
            f"--untagged-older-than must be whole days, 1 or more (ECR counts age in days), not "
            f"{format_duration(untagged_older_than)}: such as 1d, 14d or 2w"
        )
    rules = _keep_rules(keep, prefixes)
    if untagged_older_than is not None:
        rules.append(
            Rule(len(rules) + 1, "untagged", "sinceImagePushed", age=untagged_older_than,
                 description=f"expire untagged images pushed over {untagged_older_than.days}d ago")
        )
    if archive_after is not None:
        rules.append(
            Rule(len(rules) + 1, "any", "sinceImagePulled", age=archive_after, action="transition",
                 description=f"archive images not pulled for {archive_after.days}d")
        )
    if expire_archived_after is not None:
        rules.append(
            Rule(len(rules) + 1, "any", "sinceImageTransitioned", age=expire_archived_after, storage_class="archive",
                 description=f"expire images archived over {expire_archived_after.days}d ago")
        )
    policy = Policy(tuple(rules))
    validate_for_ecr(policy)
    return policy


def _keep_rules(keep: int | None, prefixes: tuple[str, ...]) -> list[Rule]:
    """`--keep N` (and `--tag-prefix`) as rules 1, 2…: one per prefix, or one for every tagged image."""
    if keep is None:
        return []
    selections: list[tuple[tuple[str, ...], tuple[str, ...]]] = [((prefix,), ()) for prefix in prefixes]
    selections = selections or [((), ("*",))]
    rules = []
    for priority, (prefix_list, pattern_list) in enumerate(selections, 1):
        rule = Rule(priority, "tagged", "imageCountMoreThan", count=keep, tag_prefixes=prefix_list,
                    tag_patterns=pattern_list)
        rules.append(replace(rule, description=f"keep the newest {keep} {describe(rule)}"))
    return rules


def _unique(items: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(items))


def _name(number: int, rule: Rule) -> str:
    return f"rule {number} (priority {rule.priority})"


def _positive(value: object) -> int | None:
    """VALUE if it is a JSON whole number of 1 or more (not true, not 5.0), else None."""
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 1 else None


def _shown(value: object) -> str:
    return "nothing" if value is None else json.dumps(value)[:60]


def _strings(selection: dict[str, Any], key: str, name: str) -> tuple[str, ...]:
    value = selection.get(key)
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise InvalidInput(f"{name}: {key} must be a list of strings, not {_shown(value)}")
    return tuple(value)


def _no_unknown_keys(document: dict[str, Any], known: set[str], where: str) -> None:
    unknown = sorted(set(document) - known)
    if unknown:
        raise InvalidInput(
            f"{where} has unknown key {unknown[0]!r}: ECR takes only {', '.join(sorted(known))}; {_FIX}"
        )
