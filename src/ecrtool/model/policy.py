"""Repository and registry policies: the statements `ecrtool grant` writes, merged into a policy so that
granting twice leaves one statement, revoking removes only that grantee's statement, and every statement
ecrtool did not write stays exactly as it was, in its place; and what a policy says of a caller's pull.

Pure functions over the parsed document; the text sent to ECR is `json.dumps` of it, so no id, ARN or
condition value a user gives can change the document's structure (each is validated first and ends up
as one JSON string).

The statements follow ECR's examples (docs.aws.amazon.com/AmazonECR/latest/userguide/
repository-policy-examples.html): pull is ecr:BatchGetImage, ecr:GetDownloadUrlForLayer,
ecr:BatchCheckLayerAvailability; push is ecr:BatchCheckLayerAvailability, ecr:CompleteLayerUpload,
ecr:InitiateLayerUpload, ecr:PutImage, ecr:UploadLayerPart. An organization is "*" with
aws:PrincipalOrgID; Lambda is lambda.amazonaws.com with aws:sourceArn (docs: "Amazon ECR permissions"
of Lambda's container images), ECS tasks ecs-tasks.amazonaws.com.
"""

from __future__ import annotations

import copy
import fnmatch
import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Any

from ecrtool.model.errors import EcrToolError, InvalidInput

PULL_ACTIONS = ("ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer")
PUSH_ACTIONS = (
    "ecr:BatchCheckLayerAvailability",
    "ecr:CompleteLayerUpload",
    "ecr:InitiateLayerUpload",
    "ecr:PutImage",
    "ecr:UploadLayerPart",
)
# a registry policy's grant to another account's replication rules (docs: "Private registry policy examples")
REPLICATE_ACTIONS = ("ecr:CreateRepository", "ecr:ReplicateImage")
ACCESS = {"pull": PULL_ACTIONS, "push": PUSH_ACTIONS, "replicate": REPLICATE_ACTIONS}
KINDS = ("account", "org", "role", "lambda", "ecs-tasks")
SERVICES = {"lambda": "lambda.amazonaws.com", "ecs-tasks": "ecs-tasks.amazonaws.com"}
SID_PREFIX = "Ecrtool"  # every statement ecrtool writes has a Sid starting so, and only those

_ACCOUNT = re.compile(r"\d{12}")
_ORG = re.compile(r"o-[a-z0-9]{10,32}")
_ROLE = re.compile(r"arn:aws(?:-cn|-us-gov)?:iam::\d{12}:role/(?:[\w+=,.@-]+/)*[\w+=,.@-]{1,64}")
_SOURCE = {
    "lambda": re.compile(r"arn:aws(?:-cn|-us-gov)?:lambda:[a-z0-9-]+:\d{12}:function:[\w*-]{1,140}(?::[\w$*-]+)?"),
    "ecs-tasks": re.compile(r"arn:aws(?:-cn|-us-gov)?:ecs:[a-z0-9-]+:\d{12}:[\w*/:-]{1,200}"),
}


@dataclass(frozen=True)
class Grantee:
    """Whom a grant names: an account, an organization, a role, or a service (Lambda, ECS tasks) narrowed by
    the resource that calls (source ARN) or, without one, by the registry's own account (source account)."""

    kind: str
    value: str = ""  # the account id, org id, role ARN or source ARN
    home: str = ""  # the registry's account: a service grant without a source ARN is for its resources only

    @classmethod
    def parse(cls, kind: str, value: str = "", *, home: str = "") -> Grantee:
        """A grantee from the command line, refused (InvalidInput, saying the form) unless well formed."""
        if kind == "account" and not _ACCOUNT.fullmatch(value):
            raise InvalidInput(f"invalid --account {value!r}: an AWS account id is 12 digits")
        if kind == "org" and not _ORG.fullmatch(value):
            raise InvalidInput(
                f"invalid --org {value!r}: an organization id is o- and 10-32 lowercase letters or digits"
            )
        if kind == "role" and not _ROLE.fullmatch(value):
            raise InvalidInput(f"invalid --role {value!r}: expected arn:aws:iam::ACCOUNT:role/NAME")
        if kind in SERVICES:
            if value and not _SOURCE[kind].fullmatch(value):
                form = "arn:aws:lambda:REGION:ACCOUNT:function:NAME" if kind == "lambda" else "arn:aws:ecs:REGION:..."
                raise InvalidInput(f"invalid --source-arn {value!r} for --{kind}: expected {form} (* allowed)")
            if not value and not _ACCOUNT.fullmatch(home):
                raise InvalidInput(f"--{kind} needs --source-arn, or a registry whose account is known")
        elif kind not in KINDS:
            raise InvalidInput(f"unknown grantee kind {kind!r}: one of {', '.join(KINDS)}")
        return cls(kind, value, home if kind in SERVICES and not value else "")

    def label(self) -> str:
        if self.kind in SERVICES:
            return f"{SERVICES[self.kind]} ({self.value or 'account ' + self.home})"
        return f"{self.kind} {self.value}"

    def principal(self) -> Any:
        if self.kind == "account":
            return {"AWS": f"arn:aws:iam::{self.value}:root"}
        if self.kind == "role":
            return {"AWS": self.value}
        if self.kind == "org":
            return "*"
        return {"Service": SERVICES[self.kind]}

    def condition(self) -> dict[str, Any] | None:
        if self.kind == "org":
            return {"StringEquals": {"aws:PrincipalOrgID": self.value}}
        if self.kind in SERVICES:
            if self.value:
                return {"ArnLike": {"aws:SourceArn": self.value}}
            return {"StringEquals": {"aws:SourceAccount": self.home}}
        return None

    def sid(self, access: str) -> str:
        """The statement's Sid: letters and digits only (IAM's Sid), the same for the same grant every time."""
        readable = self.value if self.kind in ("account",) else ""
        digest = hashlib.sha256(f"{self.kind}\0{self.value}\0{self.home}".encode()).hexdigest()[:12]
        kind = "".join(part.capitalize() for part in self.kind.split("-"))
        return f"{SID_PREFIX}{access.capitalize()}{kind}{readable or digest}"


@dataclass(frozen=True)
class Grant:
    access: str  # "pull" or "push"
    grantee: Grantee

    def statement(self) -> dict[str, Any]:
        found: dict[str, Any] = {
            "Sid": self.grantee.sid(self.access),
            "Effect": "Allow",
            "Principal": self.grantee.principal(),
            "Action": list(ACCESS[self.access]),
        }
        condition = self.grantee.condition()
        if condition is not None:
            found["Condition"] = condition
        return found


@dataclass(frozen=True)
class Merged:
    """A policy after a grant or revoke: the document (None when no statement is left), and what changed."""

    document: dict[str, Any] | None
    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    unchanged: tuple[str, ...] = ()
    # statements ecrtool did not write that still name a revoked grantee's principal (left as they are)
    still_granting: tuple[str, ...] = field(default=())

    @property
    def changed(self) -> bool:
        return bool(self.added or self.removed)


def parse_document(text: str | None) -> dict[str, Any]:
    """A policy's text as a document with a Statement list; an empty one for no policy."""
    if not text:
        return {"Version": "2012-10-17", "Statement": []}
    try:
        doc = json.loads(text)
    except ValueError as err:
        raise InvalidInput(f"the current policy is not JSON ({err}): fix or delete it first") from None
    if not isinstance(doc, dict):
        raise InvalidInput("the current policy is not a JSON object: fix or delete it first")
    statements = doc.get("Statement", [])
    doc["Statement"] = [statements] if isinstance(statements, dict) else list(statements or [])
    return doc


def document_text(doc: dict[str, Any]) -> str:
    """The text to send ECR: json.dumps of the document, nothing spliced in by hand."""
    return json.dumps(doc, indent=2)


def grant(doc: dict[str, Any], grants: list[Grant]) -> Merged:
    """DOC with each grant's statement: added at the end, or put in place of an older one with its Sid."""
    result = copy.deepcopy(doc)
    statements: list[Any] = result.setdefault("Statement", [])
    added: list[str] = []
    unchanged: list[str] = []
    for item in grants:
        wanted = item.statement()
        index = _index_of(statements, wanted["Sid"])
        if index is None:
            statements.append(wanted)
            added.append(wanted["Sid"])
        elif statements[index] == wanted:
            unchanged.append(wanted["Sid"])
        else:
            statements[index] = wanted
            added.append(wanted["Sid"])
    return Merged(result, tuple(added), (), tuple(unchanged))


def revoke(doc: dict[str, Any], grants: list[Grant]) -> Merged:
    """DOC without each grant's statement; every other statement stays as it is, in its order."""
    result = copy.deepcopy(doc)
    statements: list[Any] = result.setdefault("Statement", [])
    sids = {item.grantee.sid(item.access) for item in grants}
    kept = [s for s in statements if _sid(s) not in sids]
    removed = tuple(s["Sid"] for s in statements if _sid(s) in sids)
    result["Statement"] = kept
    still: list[str] = []
    for item in grants:
        for index, statement in enumerate(kept):
            if isinstance(statement, dict) and _names_principal(statement, item) and _grants_any(statement, item):
                still.append(_name(statement, index))
    return Merged(result if kept else None, (), removed, (), tuple(dict.fromkeys(still)))


def _sid(statement: Any) -> str | None:
    """A statement's Sid when it is a string (a hand-written policy may hold anything there)."""
    sid = statement.get("Sid") if isinstance(statement, dict) else None
    return sid if isinstance(sid, str) else None


def _index_of(statements: list[Any], sid: str) -> int | None:
    return next((i for i, s in enumerate(statements) if isinstance(s, dict) and s.get("Sid") == sid), None)


def _names_principal(statement: dict[str, Any], item: Grant) -> bool:
    if statement.get("Effect") != "Allow":
        return False
    grantee = item.grantee
    if grantee.kind in ("account", "role"):
        principal = statement.get("Principal")
        named = {str(v) for v in _listed(principal.get("AWS", []))} if isinstance(principal, dict) else set()
        wanted = {grantee.value, f"arn:aws:iam::{grantee.value}:root"} if grantee.kind == "account" else {grantee.value}
        return bool(named & wanted)
    probe = item.statement()
    return statement.get("Principal") == probe["Principal"] and statement.get("Condition") == probe.get("Condition")


def _grants_any(statement: dict[str, Any], item: Grant) -> bool:
    actions = _listed(statement.get("Action", []))
    return any(_glob(str(a), wanted) for a in actions for wanted in ACCESS[item.access] if wanted != PULL_ACTIONS[0])


def _name(statement: dict[str, Any], index: int) -> str:
    return str(statement.get("Sid") or f"#{index + 1}")


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _glob(pattern: str, value: str) -> bool:
    return fnmatch.fnmatchcase(value.lower(), pattern.lower().replace("[", "[[]"))


# -- reading a policy ------------------------------------------------------------------------------


@dataclass(frozen=True)
class StatementRow:
    """One statement as `policy show` lists it."""

    sid: str
    effect: str
    principals: tuple[str, ...]
    actions: tuple[str, ...]
    conditions: tuple[str, ...]
    by_ecrtool: bool


def rows(doc: dict[str, Any]) -> list[StatementRow]:
    found = []
    for index, statement in enumerate(doc.get("Statement") or []):
        if not isinstance(statement, dict):
            continue
        found.append(
            StatementRow(
                sid=_name(statement, index),
                effect=str(statement.get("Effect", "")),
                principals=tuple(_principal_names(statement.get("Principal", statement.get("NotPrincipal")))),
                actions=tuple(str(a) for a in _listed(statement.get("Action", statement.get("NotAction", [])))),
                conditions=tuple(_condition_texts(statement.get("Condition"))),
                by_ecrtool=str(statement.get("Sid", "")).startswith(SID_PREFIX),
            )
        )
    return found


def _principal_names(principal: Any) -> list[str]:
    if principal is None:
        return []
    if not isinstance(principal, dict):
        return [str(principal)]
    return [f"{kind}: {value}" for kind, values in principal.items() for value in _listed(values)]


def _condition_texts(condition: Any) -> list[str]:
    if not isinstance(condition, dict):
        return []
    texts = []
    for operator, tests in condition.items():
        for key, values in tests.items() if isinstance(tests, dict) else []:
            texts.append(f"{key} {operator} {', '.join(str(v) for v in _listed(values))}")
    return texts


# -- what a policy says of a caller's pull ----------------------------------------------------------


@dataclass(frozen=True)
class Verdict:
    """Whether a pull is allowed (None: it depends on what ecrtool cannot see), and why."""

    allowed: bool | None
    reason: str
    statement: str | None = None
    missing: tuple[str, ...] = ()  # the pull actions no statement grants


def can_pull(
    policies: list[tuple[str, dict[str, Any]]], caller_account: str, caller_arn: str, registry_account: str
) -> Verdict:
    """What POLICIES (label, document) say of a pull by the caller (its account and STS ARN) from
    REGISTRY_ACCOUNT's repository: the caller's own account is IAM's business; another's needs an Allow of
    each pull action in a resource policy, and no Deny."""
    if caller_account == registry_account:
        return Verdict(True, "same account: IAM policies decide, not the repository policy")
    role = _role_of(caller_arn)
    undecided: str | None = None
    deciding: str | None = None
    missing: list[str] = []
    for action in ("ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"):
        allowed_by: str | None = None
        for label, doc in policies:
            for index, statement in enumerate(doc.get("Statement") or []):
                if not isinstance(statement, dict) or not _acts(statement, action):
                    continue
                deny = statement.get("Effect") == "Deny"
                reaches = _reaches(statement, caller_account, caller_arn, role, deny=deny)
                if reaches is False:
                    continue
                holds = _conditions(statement.get("Condition"), caller_account, caller_arn, role)
                if holds is not False and reaches is None:
                    holds = None
                name = f"{label} statement {_name(statement, index)}"
                if deny and holds:
                    return Verdict(False, f"denied by {name}", name)
                if deny and holds is None:
                    return Verdict(None, f"may be denied by {name}: ecrtool cannot check all it names", name)
                if statement.get("Effect") == "Allow":
                    if holds:
                        allowed_by = allowed_by or name
                    elif holds is None:
                        undecided = undecided or name
        if allowed_by is None:
            missing.append(action)
        deciding = deciding or allowed_by
    if not missing:
        return Verdict(True, f"allowed by {deciding}", deciding)
    if undecided is not None:
        why = f"depends on {undecided}'s conditions, which ecrtool cannot check (the caller's organization...)"
        return Verdict(None, why, undecided, tuple(missing))
    return Verdict(False, f"no statement allows {', '.join(missing)} to account {caller_account}", None, tuple(missing))


def _role_of(arn: str) -> str | None:
    found = re.match(r"^arn:(aws[a-z-]*):sts::(\d{12}):assumed-role/([^/]+)/", arn)
    return f"arn:{found[1]}:iam::{found[2]}:role/{found[3]}" if found else None


def _acts(statement: dict[str, Any], action: str) -> bool:
    if "Action" in statement:
        return any(_glob(str(a), action) for a in _listed(statement["Action"]))
    if "NotAction" in statement:
        return not any(_glob(str(a), action) for a in _listed(statement["NotAction"]))
    return False


def _principal_is(principal: Any, account: str, arn: str, role: str | None) -> bool:
    if principal == "*":
        return True
    if not isinstance(principal, dict):
        return False
    for value in _listed(principal.get("AWS", [])):
        if str(value) in ("*", account, f"arn:aws:iam::{account}:root", arn) or (role and str(value) == role):
            return True
    return False


def _reaches(statement: dict[str, Any], account: str, arn: str, role: str | None, *, deny: bool) -> bool | None:
    """Whether STATEMENT's Principal (or NotPrincipal) names the caller; None when ecrtool cannot tell.
    A NotPrincipal speaks of everyone it does not list: IAM weighs each identity of the caller (account,
    role, session), so a Deny spares it only when all are listed, an Allow reaches it only when none is."""
    if "Principal" in statement:
        return _principal_is(statement["Principal"], account, arn, role)
    if "NotPrincipal" not in statement:
        return False
    named = statement["NotPrincipal"]
    if named == "*":
        return False
    if not isinstance(named, dict):
        return None
    listed = {str(value) for value in _listed(named.get("AWS", []))}
    identities = [{account, f"arn:aws:iam::{account}:root"}, {arn}] + ([{role}] if role else [])
    hits = [bool(names & listed) for names in identities]
    if deny:
        return True if not any(hits) else (False if all(hits) else None)
    return not any(hits)


def _conditions(condition: Any, account: str, arn: str, role: str | None) -> bool | None:
    """True/False when ecrtool can tell; None when a condition needs what it cannot see (the org id)."""
    if not condition:
        return True
    known = {"aws:principalaccount": account, "aws:principalarn": role or arn}
    result: bool | None = True
    if not isinstance(condition, dict):
        return None
    for operator, tests in condition.items():
        for key, wanted in tests.items() if isinstance(tests, dict) else []:
            value = known.get(str(key).lower())
            if value is None:
                result = None
                continue
            values = [str(w) for w in _listed(wanted)]
            if operator in ("StringEquals", "ArnEquals"):
                ok = value in values
            elif operator in ("StringLike", "ArnLike"):
                ok = any(fnmatch.fnmatchcase(value, w) for w in values)
            else:
                result = None
                continue
            if not ok:
                return False
    return result


# -- another account's registry refusing a caller ---------------------------------------------------

_PULL_OR_PUSH = {action: "pull" for action in PULL_ACTIONS} | {action: "push" for action in PUSH_ACTIONS[1:]}
_REFUSAL = re.compile(
    r"User: arn:aws[\w-]*:(?:sts|iam)::(?P<caller>\d{12}):\S+ is not authorized to perform: (?P<action>ecr:\w+) "
    r"on resource: arn:aws[\w-]*:ecr:[a-z0-9-]+:(?P<owner>\d{12}):repository/(?P<repo>[a-z0-9._/-]+) "
    r"(?P<why>because no resource-based policy allows|with an explicit deny in a resource-based policy)"
)


class NotGranted(EcrToolError):
    """Another account's repository policy does not let the caller pull or push: only its owner can grant it."""


def missing_grant(text: str) -> NotGranted | None:
    """ECR's refusal of another account's repository (a registry's DENIED, an API's AccessDeniedException)
    as one line naming the grant that is missing and the command its owner runs; None for any other text."""
    found = _REFUSAL.search(text)
    if found is None or found["caller"] == found["owner"]:
        return None
    caller, owner, repo, action = found["caller"], found["owner"], found["repo"], found["action"]
    access = _PULL_OR_PUSH.get(action)
    if access is None:  # an API call beyond pull and push (DescribeRepositories, ListImages...)
        return NotGranted(
            f"account {caller} may not call {action} on {owner}'s {repo}: its policy does not grant it to {caller};"
            f" only account {owner} can (`ecrtool policy show {repo}` there)"
        )
    if found["why"].startswith("with"):
        return NotGranted(
            f"account {caller} may not {access} {owner}'s {repo}: a Deny statement of its policy refuses {action};"
            f" only account {owner} can change it (`ecrtool policy show {repo}` there)"
        )
    return NotGranted(
        f"account {caller} may not {access} {owner}'s {repo}: its policy grants {caller} no {action};"
        f" account {owner} adds it with `ecrtool grant {repo} --{access} --account {caller}`"
    )
