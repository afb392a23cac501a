"""ECR's lifecycle policy JSON: every rule ECR enforces refused in one line naming the rule, the JSON
written back, and the policies prune and lifecycle build from their flags."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from ecrtool.model.errors import InvalidInput
from ecrtool.model.lifecycle import lifecycle_policy, parse_policy, policy_json, prune_policy, validate_for_ecr
from ecrtool.model.retention import Policy, Rule

DAY = timedelta(days=1)


def rule(priority: int = 1, **selection: object) -> dict[str, object]:
    chosen: dict[str, object] = {"tagStatus": "untagged", "countType": "imageCountMoreThan", "countNumber": 1}
    chosen.update(selection)
    return {"rulePriority": priority, "selection": chosen, "action": {"type": "expire"}}


# an archive rule as ECR takes one: by the days since the move to archive, 90 at least
ARCHIVED = {"storageClass": "archive", "countType": "sinceImageTransitioned", "countUnit": "days", "countNumber": 90}


def text(*rules: dict[str, object]) -> str:
    return json.dumps({"rules": list(rules)})


def refused(policy_text: str) -> str:
    with pytest.raises(InvalidInput) as caught:
        parse_policy(policy_text)
    message = str(caught.value)
    assert "\n" not in message
    return message


def test_reads_ecrs_own_example() -> None:
    policy = parse_policy(
        """{"rules": [
          {"rulePriority": 1, "description": "Rule 1",
           "selection": {"tagStatus": "tagged", "tagPrefixList": ["prod"],
                         "countType": "imageCountMoreThan", "countNumber": 1},
           "action": {"type": "expire"}},
          {"rulePriority": 2, "description": "old untagged",
           "selection": {"tagStatus": "untagged", "countType": "sinceImagePushed", "countUnit": "days",
                         "countNumber": 14},
           "action": {"type": "expire"}},
          {"rulePriority": 10,
           "selection": {"tagStatus": "tagged", "tagPatternList": ["*test*1*2*3", "test*1*2*3*"],
                         "countType": "imageCountMoreThan", "countNumber": 3},
           "action": {"type": "expire"}}
        ]}"""
    )
    assert policy == Policy(
        (
            Rule(1, "tagged", "imageCountMoreThan", count=1, tag_prefixes=("prod",), description="Rule 1"),
            Rule(2, "untagged", "sinceImagePushed", age=14 * DAY, description="old untagged"),
            Rule(10, "tagged", "imageCountMoreThan", count=3, tag_patterns=("*test*1*2*3", "test*1*2*3*")),
        )
    )


@pytest.mark.parametrize(
    ("policy_text", "message"),
    [
        ('{"rules": [\n  {"rulePriority": 1,,}]}', "the lifecycle policy is not JSON: Expecting property name enclosed "
         "in double quotes at line 2, column 22; fix the policy file"),
        ("[]", 'the lifecycle policy must be a JSON object with "rules": fix the policy file'),
        ('{"rules": []}', 'the lifecycle policy has no rules: give "rules" a list of at least one rule; fix the policy '
         "file"),
        ("{}", 'the lifecycle policy has no rules: give "rules" a list of at least one rule; fix the policy file'),
        ('{"rules": [], "version": 1}', "the lifecycle policy has unknown key 'version': ECR takes only rules; fix "
         "the policy file"),
        ('{"rules": [3]}', "rule 1 is not a JSON object: each rule needs rulePriority, selection and action"),
        (text({**rule(), "rulePriority": 0}), "rule 1: rulePriority must be a whole number of 1 or more, not 0"),
        (text({**rule(), "rulePriority": "1"}), 'rule 1: rulePriority must be a whole number of 1 or more, not "1"'),
        (text({**rule(), "rulePriority": None}), "rule 1: rulePriority must be a whole number of 1 or more, not "
         "nothing"),
        (text(rule(1), rule(1, tagStatus="any")), "rule 2 (priority 1): rulePriority 1 is also rule 1's; each rule "
         "needs its own priority"),
        (text(rule(5, tagStatus="any"), rule(9, tagStatus="tagged", tagPrefixList=["a"])), 'rule 1 (priority 5): a '
         'tagStatus "any" rule must have the highest rulePriority of the standard rules (it is evaluated last), and '
         "there can be only one: give it a priority above 9 or merge the any rules"),
        (text(rule(1), rule(2)), "rule 2 (priority 2): only one standard rule may select untagged images, and rule 1 "
         "does"),
        (text(rule(tagStatus="tagged")), 'rule 1 (priority 1): a tagged rule needs a tagPrefixList or tagPatternList '
         '(["*"] for every tagged image)'),
        (text(rule(tagStatus="tagged", tagPrefixList=[])), 'rule 1 (priority 1): a tagged rule needs a tagPrefixList '
         'or tagPatternList (["*"] for every tagged image)'),
        (text(rule(tagStatus="tagged", tagPrefixList=["a"], tagPatternList=["b*"])), "rule 1 (priority 1): give "
         "tagPrefixList or tagPatternList, not both"),
        (text(rule(tagPrefixList=["a"])), 'rule 1 (priority 1): tagPrefixList is only for tagStatus "tagged", not '
         '"untagged": remove it'),
        (text(rule(tagStatus="any", tagPatternList=["a*"])), 'rule 1 (priority 1): tagPatternList is only for '
         'tagStatus "tagged", not "any": remove it'),
        (text(rule(tagStatus="tagged", tagPatternList=["test*1*2*3*4*5*6"])), "rule 1 (priority 1): tag pattern "
         "'test*1*2*3*4*5*6' has 6 wildcards; ECR allows at most 4 per pattern"),
        (text(rule(tagStatus="tagged", tagPrefixList="prod")), 'rule 1 (priority 1): tagPrefixList must be a list '
         'of strings, not "prod"'),
        (text(rule(1, tagStatus="tagged", tagPrefixList=["a", "b"]), rule(2, tagStatus="tagged",
                                                                          tagPrefixList=["b", "a"])),
         "rule 2 (priority 2): its tagPrefixList is the same as rule 1's; ECR needs a different set of tags for "
         "each rule: merge the two rules"),
        (text(rule(countType="imageCountLessThan")), "rule 1 (priority 1): countType must be imageCountMoreThan, "
         'sinceImagePushed, sinceImagePulled or sinceImageTransitioned, not "imageCountLessThan"'),
        (text(rule(tagStatus="everything")), 'rule 1 (priority 1): tagStatus must be tagged, untagged or any, not '
         '"everything"'),
        (text(rule(countNumber=0)), "rule 1 (priority 1): countNumber must be a whole number of 1 or more, not 0"),
        (text(rule(countNumber=2.5)), "rule 1 (priority 1): countNumber must be a whole number of 1 or more, not 2.5"),
        (text(rule(countNumber=True)), "rule 1 (priority 1): countNumber must be a whole number of 1 or more, not "
         "true"),
        (text(rule(countType="sinceImagePushed")), 'rule 1 (priority 1): sinceImagePushed needs "countUnit": "days", '
         "not nothing"),
        (text(rule(countType="sinceImagePushed", countUnit="hours")), 'rule 1 (priority 1): sinceImagePushed needs '
         '"countUnit": "days", not "hours"'),
        (text(rule(countUnit="days")), "rule 1 (priority 1): imageCountMoreThan takes no countUnit (it counts "
         "images): remove countUnit"),
        (text({**rule(), "action": {"type": "move"}}), 'rule 1 (priority 1): action must be {"type": "expire"} or '
         '{"type": "transition", "targetStorageClass": "archive"}, not {"type": "move"}'),
        (text({**rule(), "action": {"type": "transition"}}), 'rule 1 (priority 1): a transition needs '
         '"targetStorageClass": "archive" (the only target), not nothing'),
        (text({**rule(), "action": {"type": "transition", "targetStorageClass": "glacier"}}), 'rule 1 (priority 1): '
         'a transition needs "targetStorageClass": "archive" (the only target), not "glacier"'),
        (text({**rule(), "action": {"type": "expire", "targetStorageClass": "archive"}}), "rule 1 (priority 1): "
         "targetStorageClass is only for a transition action: remove it"),
        (text({**rule(storageClass="archive"), "action": {"type": "transition", "targetStorageClass": "archive"}}),
         'rule 1 (priority 1): a transition moves images from standard to archive: it needs "storageClass": '
         '"standard", not archive (archived images can only expire)'),
        (text(rule(storageClass="glacier")), 'rule 1 (priority 1): storageClass must be standard or archive, not '
         '"glacier"'),
        (text(rule(countType="sinceImageTransitioned", countUnit="days")), "rule 1 (priority 1): "
         "sinceImageTransitioned counts from an image's move to archive: it needs \"storageClass\": \"archive\" "
         "(use sinceImagePushed or sinceImagePulled for standard images)"),
        (text(rule(countType="sinceImagePulled")), 'rule 1 (priority 1): sinceImagePulled needs "countUnit": '
         '"days", not nothing'),
        (text(rule(1, **ARCHIVED), rule(2, **{**ARCHIVED, "countNumber": 300})),
         "rule 2 (priority 2): only one archive rule may select untagged images, and rule 1 does"),
        (text(rule(storageClass="archive")), 'rule 1 (priority 1): archived images are selected by the days since '
         'their move to archive: "countType": "sinceImageTransitioned", not imageCountMoreThan'),
        (text(rule(**{**ARCHIVED, "countNumber": 30})), "rule 1 (priority 1): archived images are kept at least 90 "
         "days (ECR's minimum), so a rule cannot expire them after 30: give 90 or more"),
        (text({**rule(), "action": {"type": "expire", "when": "now"}}), "rule 1 (priority 1): action has unknown "
         "key 'when': ECR takes only targetStorageClass, type; fix the policy file"),
        (text({**rule(), "priority": 1}), "rule 1 (priority 1) has unknown key 'priority': ECR takes only action, "
         "description, rulePriority, selection; fix the policy file"),
        (text(rule(tagPrefix=["a"])), "rule 1 (priority 1): selection has unknown key 'tagPrefix': ECR takes only "
         "countNumber, countType, countUnit, storageClass, tagPatternList, tagPrefixList, tagStatus; fix the policy "
         "file"),
        (text({**rule(), "selection": None}), "rule 1 (priority 1): selection must be an object with tagStatus, "
         "countType and countNumber"),
        (text({**rule(), "description": 7}), "rule 1 (priority 1): description must be a string, not 7"),
    ],
)
def test_refuses_what_ecr_refuses_in_one_line_naming_the_rule(policy_text: str, message: str) -> None:
    assert refused(policy_text) == message


def test_refuses_a_policy_over_ecrs_length_limit_before_reading_it() -> None:
    long = text({**rule(), "description": "x" * 30_720})
    assert refused(long) == (
        f"the lifecycle policy is {len(long):,} characters; ECR takes at most 30,720: use fewer rules or shorter "
        "descriptions"
    )
    at_limit = text({**rule(), "description": "x" * (30_720 - len(text({**rule(), "description": ""})))})
    assert len(at_limit) == 30_720
    assert len(parse_policy(at_limit).rules[0].description) == 30_720 - len(text({**rule(), "description": ""}))


def test_a_prefix_may_appear_in_several_rules_as_in_ecrs_example_b() -> None:
    policy = parse_policy(
        text(
            rule(1, tagStatus="tagged", tagPrefixList=["alpha", "beta"]),
            rule(2, tagStatus="tagged", tagPrefixList=["alpha"]),
            rule(3, tagStatus="tagged", tagPatternList=["alpha"]),
        )
    )
    assert [r.priority for r in policy.rules] == [1, 2, 3]


def test_writes_ecrs_json_and_reads_it_back() -> None:
    policy = Policy(
        (
            Rule(1, "tagged", "imageCountMoreThan", count=5, tag_prefixes=("release-",), description="keep 5"),
            Rule(2, "untagged", "sinceImagePushed", age=14 * DAY),
            Rule(3, "any", "sinceImagePushed", age=90 * DAY),
        )
    )
    written = policy_json(policy)
    assert json.loads(written)["rules"][0] == {
        "rulePriority": 1,
        "description": "keep 5",
        "selection": {"tagStatus": "tagged", "tagPrefixList": ["release-"], "countType": "imageCountMoreThan",
                      "countNumber": 5},
        "action": {"type": "expire"},
    }
    assert json.loads(written)["rules"][1]["selection"] == {
        "tagStatus": "untagged", "countType": "sinceImagePushed", "countUnit": "days", "countNumber": 14
    }
    assert written.startswith('{\n  "rules": [\n    {\n      "rulePriority": 1,')
    assert parse_policy(written) == policy


@pytest.mark.parametrize(
    ("policy", "message"),
    [
        (Policy((Rule(1, "any", "sinceImagePushed", age=timedelta(hours=12)),)), "rule 1 (priority 1): ECR counts "
         "age in whole days, 1 or more, not 12h: round the duration to days (such as 1d or 2w)"),
        (Policy((Rule(1, "any", "sinceImagePushed", age=timedelta(days=1, hours=6)),)), "rule 1 (priority 1): ECR "
         "counts age in whole days, 1 or more, not 1d6h: round the duration to days (such as 1d or 2w)"),
        (Policy((Rule(1, "untagged", "sinceImagePushed"),)), "rule 1 (priority 1): ECR counts age in whole days, 1 "
         "or more, not 0s: round the duration to days (such as 1d or 2w)"),
        (Policy((Rule(1, "tagged", "imageCountMoreThan", count=0, tag_patterns=("*",)),)), "rule 1 (priority 1): "
         "ECR keeps 1 or more images per rule, not 0: use `ecrtool prune --keep 0` to expire every one"),
        (Policy((Rule(1, "untagged", "sinceImagePushed", age=DAY),), keep_tags=("stable",)), "ECR's lifecycle "
         "policies cannot keep tags by pattern (--keep-tag): leave it out, or use `ecrtool prune` instead"),
    ],
)
def test_json_refuses_what_ecrs_format_cannot_hold(policy: Policy, message: str) -> None:
    with pytest.raises(InvalidInput, match="^" + message.replace("(", r"\(").replace(")", r"\)") + "$"):
        policy_json(policy)


def test_validate_for_ecr_applies_the_same_rules_to_a_built_policy() -> None:
    validate_for_ecr(Policy((Rule(1, "untagged", "imageCountMoreThan", count=1),)))
    cases = {
        Policy(()): "the lifecycle policy has no rules: give --keep N or --untagged-older-than DURATION",
        Policy((Rule(0, "untagged", "imageCountMoreThan", count=1),)): "rule 1 (priority 0): rulePriority must be "
        "a whole number of 1 or more",
        Policy((Rule(1, "any", "imageCountMoreThan", count=1), Rule(2, "untagged", "imageCountMoreThan", count=1))):
        'rule 1 (priority 1): a tagStatus "any" rule must have the highest rulePriority of the standard rules (it is '
        "evaluated last), and there can be only one: give it a priority above 2 or merge the any rules",
        Policy((Rule(1, "tagged", "imageCountMoreThan", count=0, tag_patterns=("*",)),)): "rule 1 (priority 1): "
        "countNumber must be 1 or more for imageCountMoreThan, not 0",
        Policy((Rule(1, "tagged", "imageCountMoreThan", count=1, tag_patterns=("*",), description="d" * 31_000),)):
        "the lifecycle policy is 31,315 characters as JSON; ECR takes at most 30,720: use fewer rules or shorter "
        "descriptions",
    }
    for policy, message in cases.items():
        with pytest.raises(InvalidInput) as caught:
            validate_for_ecr(policy)
        assert str(caught.value) == message


def test_prune_flags_keep_n_of_each_prefix_then_untagged_then_older_than() -> None:
    policy = prune_policy(5, ["release-", "hotfix-", "release-"], True, timedelta(hours=36), ["stable", "v1.*"])
    assert policy == Policy(
        (
            Rule(1, "tagged", "imageCountMoreThan", count=5, tag_prefixes=("release-",),
                 description="keep the newest 5 tagged release-*"),
            Rule(2, "tagged", "imageCountMoreThan", count=5, tag_prefixes=("hotfix-",),
                 description="keep the newest 5 tagged hotfix-*"),
            Rule(3, "untagged", "sinceImagePushed", description="expire untagged images"),
            Rule(4, "any", "sinceImagePushed", age=timedelta(hours=36),
                 description="expire images pushed over 1d12h ago"),
        ),
        keep_tags=("stable", "v1.*"),
        every_class=True,
    )


def test_prune_keep_without_prefix_is_every_tagged_image_and_may_be_zero() -> None:
    assert prune_policy(0, [], False, None) == Policy(
        (Rule(1, "tagged", "imageCountMoreThan", count=0, tag_patterns=("*",),
              description="keep the newest 0 tagged"),),
        every_class=True,
    )


def test_prune_older_than_with_prefixes_and_no_keep_is_for_those_prefixes_only() -> None:
    assert prune_policy(None, ["dev-", "pr-"], False, 30 * DAY).rules == (
        Rule(1, "tagged", "sinceImagePushed", age=30 * DAY, tag_prefixes=("dev-",),
             description="expire images tagged dev-* pushed over 30d ago"),
        Rule(2, "tagged", "sinceImagePushed", age=30 * DAY, tag_prefixes=("pr-",),
             description="expire images tagged pr-* pushed over 30d ago"),
    )


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        ((None, [], False, None), "say what to prune: --keep N, --untagged, --older-than DURATION or "
         "--not-pulled-for DURATION"),
        ((-1, [], False, None), "--keep must be 0 or more, not -1: it is how many of the newest images stay"),
        ((None, ["a"], True, None), "--tag-prefix chooses which tags --keep or --older-than apply to: add one of them"),
    ],
)
def test_prune_flags_refused(flags: tuple, message: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(InvalidInput) as caught:
        prune_policy(*flags)
    assert str(caught.value) == message


def test_lifecycle_flags_build_the_same_rules_as_prune_and_an_ecr_valid_policy() -> None:
    built = lifecycle_policy(5, ["release-", "hotfix-"], 14 * DAY)
    assert built.rules[:2] == prune_policy(5, ["release-", "hotfix-"], False, None).rules
    assert built.rules[2] == Rule(3, "untagged", "sinceImagePushed", age=14 * DAY,
                                  description="expire untagged images pushed over 14d ago")
    assert parse_policy(policy_json(built)) == built
    assert lifecycle_policy(None, [], DAY).rules == (
        Rule(1, "untagged", "sinceImagePushed", age=DAY, description="expire untagged images pushed over 1d ago"),
    )


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        ((None, [], None), "say what the policy does: --keep N, --untagged-older-than, --archive-after or "
         "--expire-archived-after"),
        ((0, [], None), "--keep must be 1 or more in a lifecycle policy (ECR's countNumber), not 0: to delete every "
         "tagged image now, use `ecrtool prune --keep 0`"),
        ((None, ["a"], DAY), "--tag-prefix chooses which tags --keep applies to: add --keep N"),
        ((1, [], timedelta(hours=12)), "--untagged-older-than must be whole days, 1 or more (ECR counts age in "
         "days), not 12h: such as 1d, 14d or 2w"),
        ((1, [], timedelta(hours=36)), "--untagged-older-than must be whole days, 1 or more (ECR counts age in "
         "days), not 1d12h: such as 1d, 14d or 2w"),
    ],
)
def test_lifecycle_flags_refused(flags: tuple, message: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(InvalidInput) as caught:
        lifecycle_policy(*flags)
    assert str(caught.value) == message
