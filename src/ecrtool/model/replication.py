"""ECR's private image replication as values: destinations, rules and the registry's configuration, what
`--to REGION[:ACCOUNT]` and `--filter PREFIX` mean, the registry policy statement a cross-account
destination needs, and the results of `ecrtool replication show|set|backfill|status`.

The policy text is built as data and written with json.dumps, so no input changes its structure.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from ecrtool.model.errors import InvalidInput
from ecrtool.model.refs import validate_account, validate_region

# ECR's RepositoryFilterValue (its service model): 2..256 characters
_FILTER_RE = re.compile(r"^(?:[a-z0-9]+(?:[._-][a-z0-9]*)*/)*[a-z0-9]*(?:[._-][a-z0-9]*)*$")
MAX_RULES = 10  # ECR's user guide: 10 rules, 25 unique destinations, 100 filters a rule
MAX_DESTINATIONS = 25
MAX_FILTERS = 100
REPLICATION_ACTIONS = ("ecr:CreateRepository", "ecr:ReplicateImage")


@dataclass(frozen=True, order=True)
class Destination:
    region: str
    account: str

    def __str__(self) -> str:
        return f"{self.region}:{self.account}"


@dataclass(frozen=True)
class Rule:
    destinations: tuple[Destination, ...]
    filters: tuple[str, ...] = ()  # PREFIX_MATCH prefixes; none: every repository

    def covers(self, repository: str) -> bool:
        return not self.filters or any(repository.startswith(prefix) for prefix in self.filters)

    def to_api(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "destinations": [{"region": d.region, "registryId": d.account} for d in self.destinations]
        }
        if self.filters:
            doc["repositoryFilters"] = [{"filter": f, "filterType": "PREFIX_MATCH"} for f in self.filters]
        return doc


@dataclass(frozen=True)
class ReplicationConfig:
    """A registry's replication configuration (DescribeRegistry): its account, region and rules."""

    account: str
    region: str
    rules: tuple[Rule, ...] = ()

    def destinations_for(self, repository: str) -> list[Destination]:
        """Each destination a rule covering REPOSITORY names, once, in the rules' order."""
        found: list[Destination] = []
        for rule in self.rules:
            if rule.covers(repository):
                found += [d for d in rule.destinations if d not in found]
        return found

    def covers(self, repository: str) -> bool:
        return bool(self.destinations_for(repository))

    def to_api(self) -> dict[str, Any]:
        return {"rules": [rule.to_api() for rule in self.rules]}


def rules_from_api(doc: Any) -> tuple[Rule, ...]:
    """The rules of DescribeRegistry's replicationConfiguration."""
    rules = []
    for rule in (doc or {}).get("rules") or []:
        destinations = tuple(
            Destination(str(d["region"]), str(d["registryId"])) for d in rule.get("destinations") or []
        )
        filters = tuple(str(f["filter"]) for f in rule.get("repositoryFilters") or [])
        rules.append(Rule(destinations, filters))
    return tuple(rules)


def parse_destination(text: str, default_account: str | None) -> Destination:
    """`--to REGION` (this account) or `--to REGION:ACCOUNT`."""
    region, sep, account = text.partition(":")
    if sep and not account:
        raise InvalidInput(f"invalid --to {text!r}: give REGION or REGION:ACCOUNT (for example us-east-1:210987654321)")
    try:
        validate_region(region)
        if account:
            validate_account(account)
    except InvalidInput as err:
        raise InvalidInput(f"invalid --to {text!r}: {err}") from None
    return Destination(region, account or default_account or "")


def validate_filter(prefix: str) -> str:
    if not (2 <= len(prefix) <= 256) or not _FILTER_RE.fullmatch(prefix):
        raise InvalidInput(
            f"invalid --filter {prefix!r}: a repository name prefix of 2-256 lowercase letters, digits, "
            "'.', '_', '-' or '/' (for example team/ or prod)"
        )
    return prefix


def new_rule(destinations: list[Destination], filters: list[str], source: tuple[str, str]) -> Rule:
    """The rule `replication set` adds, checked as ECR checks it (SOURCE: this registry's account, region)."""
    if not destinations:
        raise InvalidInput("say where to replicate to: --to REGION or --to REGION:ACCOUNT (repeat for more)")
    for dest in destinations:
        if (dest.account, dest.region) == source:
            raise InvalidInput(f"--to {dest}: a registry cannot replicate to itself; name another region or account")
    if len(filters) > MAX_FILTERS:
        raise InvalidInput(f"at most {MAX_FILTERS} --filter prefixes in a rule (ECR's limit)")
    unique = tuple(dict.fromkeys(destinations))
    return Rule(unique, tuple(dict.fromkeys(validate_filter(f) for f in filters)))


def configured(current: ReplicationConfig, rule: Rule, *, add: bool) -> ReplicationConfig:
    """CURRENT with RULE added (ADD), or replaced by it; refused past ECR's limits."""
    rules = (*current.rules, rule) if add else (rule,)
    if len(rules) > MAX_RULES:
        raise InvalidInput(f"a registry holds at most {MAX_RULES} replication rules (ECR's limit); set without --add")
    if len({d for r in rules for d in r.destinations}) > MAX_DESTINATIONS:
        raise InvalidInput(f"a registry replicates to at most {MAX_DESTINATIONS} destinations (ECR's limit)")
    return ReplicationConfig(current.account, current.region, rules)


def statement_id(source_account: str) -> str:
    return f"EcrtoolReplicationFrom{source_account}"


def replication_statement(source_account: str, dest: Destination) -> dict[str, Any]:
    """The registry policy statement that lets SOURCE_ACCOUNT replicate into DEST (ECR's own example)."""
    validate_account(source_account)
    validate_account(dest.account)
    validate_region(dest.region)
    return {
        "Sid": statement_id(source_account),
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:aws:iam::{source_account}:root"},
        "Action": list(REPLICATION_ACTIONS),
        "Resource": f"arn:aws:ecr:{dest.region}:{dest.account}:repository/*",
    }


def merged_policy(current: str | None, source_account: str, dest: Destination) -> str | None:
    """DEST's registry policy text with the replication statement for SOURCE_ACCOUNT in it (replacing one of
    the same Sid); None when CURRENT already holds exactly that statement."""
    doc: dict[str, Any] = {"Version": "2012-10-17", "Statement": []}
    if current:
        try:
            loaded = json.loads(current)
        except ValueError as err:
            raise InvalidInput(f"the registry policy of {dest} is not JSON ({err}): fix it first") from None
        if not isinstance(loaded, dict):
            raise InvalidInput(f"the registry policy of {dest} is not a JSON object: fix it first")
        doc = loaded
    statements = doc.get("Statement", [])
    statements = [statements] if isinstance(statements, dict) else statements
    if not isinstance(statements, list):
        raise InvalidInput(f"the registry policy of {dest} has a Statement that is no list of statements: fix it first")
    wanted = replication_statement(source_account, dest)
    if wanted in statements:
        return None
    kept = [s for s in statements if not (isinstance(s, dict) and s.get("Sid") == wanted["Sid"])]
    return json.dumps({**doc, "Statement": [*kept, wanted]}, indent=2)


# -- results ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReplicationSet:
    """`replication set`: the configuration now in force, and the destinations whose registry policy changed."""

    config: ReplicationConfig
    policies_updated: list[str] = field(default_factory=list)
    policies_left: list[str] = field(default_factory=list)  # cross-account, --skip-policy: their owners' job


@dataclass(frozen=True)
class BackfillItem:
    """One image (a tag, or an untagged digest) for one destination."""

    repository: str
    reference: str  # the tag, or the digest of an untagged image
    digest: str
    destination: str
    status: str  # copied, present, failed
    blobs_copied: int = 0
    bytes_copied: int = 0
    referrers: int = 0
    created_repository: bool = False
    error: str | None = None


@dataclass(frozen=True)
class BackfillResult:
    items: list[BackfillItem]

    @property
    def copied(self) -> int:
        return sum(1 for item in self.items if item.status == "copied")

    @property
    def present(self) -> int:
        return sum(1 for item in self.items if item.status == "present")

    @property
    def failed(self) -> list[BackfillItem]:
        return [item for item in self.items if item.status == "failed"]


@dataclass(frozen=True)
class ReplicaStatus:
    destination: str
    present: bool | None  # None: the destination could not be asked
    status: str | None = None  # ECR's DescribeImageReplicationStatus for it, when it has one
    failure: str | None = None


@dataclass(frozen=True)
class StatusResult:
    repository: str
    reference: str
    digest: str
    replicas: list[ReplicaStatus]

    @property
    def complete(self) -> bool:
        return all(replica.present for replica in self.replicas)
