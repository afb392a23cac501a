"""Cross-account access, as ECR enforces it: what another account's caller may do to a registry's
repositories is what the repository's policy (or the registry's) allows its principal, nothing more.

A caller of its own account's registry is governed by IAM, which the stand-in does not model (every
stack key may do everything in its own account). A caller of ANOTHER account's registry, on the
registry face (a token GetAuthorizationToken gave it in its own account) or on the API (`registryId`
naming the other account), is refused with ECR's words unless an Allow statement of the repository
policy (or the registry policy) names its principal and the action and no Deny does
(docs.aws.amazon.com/AmazonECR/latest/userguide/repository-policies.html, "Repository policies vs IAM
policies"; the refusal's text: aws-actions/amazon-ecr-login#232).

Principals understood: an account id, its root ARN, a role or user ARN, "*" narrowed by conditions,
and service principals (lambda.amazonaws.com, ecs-tasks.amazonaws.com...). Conditions: the String*,
Arn* operators (and their IfExists forms) on aws:PrincipalOrgID, aws:PrincipalAccount, aws:PrincipalArn,
aws:SourceArn, aws:SourceAccount; NotPrincipal. An operator or key it does not model makes a Deny apply and
an Allow not: the stand-in is never kinder than ECR. Every stack account belongs to ONE organization,
ORGANIZATION.

SetRepositoryPolicy (and PutRegistryPolicy) naming a principal the stack does not have (an account it
does not serve, a role or user moto's IAM does not hold) is refused with ECR's message, as ECR refuses a
principal that does not exist (aws/aws-cdk#16376).
"""

from __future__ import annotations

import base64
import fnmatch
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .answer import Answer, ecr_error
from .face import Scope
from .imds import ROLE
from .state import ACCOUNT_ID, ACCOUNTS
from .tokens import Tokens

# The one AWS Organization every stack account is a member of (what aws:PrincipalOrgID matches)
ORGANIZATION = "o-localecr001"
ORGANIZATIONS = {account.account_id: ORGANIZATION for account in ACCOUNTS}
INVALID_POLICY = {
    "SetRepositoryPolicy": "Invalid parameter at 'PolicyText' failed to satisfy constraint: "
    "'Invalid repository policy provided'",
    "PutRegistryPolicy": "Invalid parameter at 'PolicyText' failed to satisfy constraint: "
    "'Invalid registry policy provided'",
}
# what each registry request is, as ECR's actions name it
_REGISTRY_ACTIONS = {
    ("GET", "manifests"): "ecr:BatchGetImage",
    ("HEAD", "manifests"): "ecr:BatchGetImage",
    ("GET", "referrers"): "ecr:BatchGetImage",
    ("HEAD", "referrers"): "ecr:BatchGetImage",
    ("GET", "blobs"): "ecr:GetDownloadUrlForLayer",
    ("HEAD", "blobs"): "ecr:BatchCheckLayerAvailability",
    ("POST", "blobs"): "ecr:InitiateLayerUpload",
    ("PATCH", "blobs"): "ecr:UploadLayerPart",
    ("PUT", "blobs"): "ecr:CompleteLayerUpload",
    ("PUT", "manifests"): "ecr:PutImage",
    ("DELETE", "manifests"): "ecr:BatchDeleteImage",
    ("DELETE", "blobs"): "ecr:UploadLayerPart",  # cancelling an upload
    ("GET", "tags"): "ecr:ListImages",
}
_ACCOUNT = re.compile(r"^\d{12}$")
_IAM_ARN = re.compile(r"^arn:aws:iam::(?P<account>\d{12}):(?P<kind>root|role|user)(?:/(?P<name>[\w+=,.@/-]+))?$")
_ASSUMED = re.compile(r"^arn:aws:sts::(?P<account>\d{12}):assumed-role/[\w+=,.@-]+/[\w+=,.@-]+$")
_SERVICE = re.compile(r"^[a-z0-9][a-z0-9.-]*\.amazonaws\.com(?:\.cn)?$")


@dataclass(frozen=True)
class Principal:
    """Who asks: an account's user or role, or an AWS service acting for a resource (SourceArn)."""

    account: str
    arn: str
    role_arn: str | None = None
    service: str | None = None
    context: dict[str, str] = field(default_factory=dict)  # condition keys, lower case

    @classmethod
    def user(cls, account: str) -> Principal:
        """A stack key's caller: moto's GetCallerIdentity says arn:aws:sts::ACCOUNT:user/moto."""
        return cls(account, f"arn:aws:sts::{account}:user/moto")

    @classmethod
    def from_arn(cls, account: str, arn: str) -> Principal:
        """A caller by its STS ARN: an assumed role's session acts as its role."""
        found = re.match(r"^arn:aws:sts::(\d{12}):assumed-role/([^/]+)/", arn)
        return cls(account, arn, role_arn=f"arn:aws:iam::{found[1]}:role/{found[2]}" if found else None)

    @classmethod
    def instance_role(cls, session: str) -> Principal:
        return cls(
            ACCOUNT_ID,
            f"arn:aws:sts::{ACCOUNT_ID}:assumed-role/{ROLE}/{session}",
            role_arn=f"arn:aws:iam::{ACCOUNT_ID}:role/{ROLE}",
        )

    @classmethod
    def of_service(cls, service: str, source_arn: str | None = None, source_account: str | None = None) -> Principal:
        context = {k: v for k, v in (("aws:sourcearn", source_arn), ("aws:sourceaccount", source_account)) if v}
        return cls(source_account or "", service, service=service, context=context)

    def keys(self) -> dict[str, str]:
        """The request's condition keys (lower case, as IAM compares their names)."""
        found = dict(self.context)
        if self.service is None:
            found["aws:principalaccount"] = self.account
            found["aws:principalarn"] = self.role_arn or self.arn
            org = ORGANIZATIONS.get(self.account)
            if org:
                found["aws:principalorgid"] = org
        return found


@dataclass(frozen=True)
class Decision:
    allowed: bool
    explicit_deny: bool = False
    statement: str | None = None  # the Sid (or #index) of the deciding statement, and which policy held it


def decide(policies: list[tuple[str, Any]], principal: Principal, action: str, resource: str) -> Decision:
    """What POLICIES ((label, parsed document) pairs) say of PRINCIPAL doing ACTION on RESOURCE: an
    explicit Deny wins, then any Allow; none is an implicit deny."""
    allow: str | None = None
    for label, doc in policies:
        statements = doc.get("Statement") if isinstance(doc, dict) else None
        if isinstance(statements, dict):
            statements = [statements]
        for index, statement in enumerate(statements if isinstance(statements, list) else []):
            if not isinstance(statement, dict) or not _applies(statement, principal, action, resource):
                continue
            name = f"{label} statement {statement.get('Sid') or '#' + str(index + 1)}"
            if statement.get("Effect") == "Deny":
                return Decision(False, True, name)
            if statement.get("Effect") == "Allow" and allow is None:
                allow = name
    return Decision(allow is not None, False, allow)


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _applies(statement: dict[str, Any], principal: Principal, action: str, resource: str) -> bool:
    """Whether STATEMENT speaks of this request. What the stand-in cannot tell (a condition operator or key
    it does not model) makes a Deny apply and an Allow not: the stand-in is never kinder than ECR."""
    if "Action" in statement:
        if not any(_glob(str(a), action) for a in _listed(statement["Action"])):
            return False
    elif "NotAction" in statement:
        if any(_glob(str(a), action) for a in _listed(statement["NotAction"])):
            return False
    else:
        return False
    if "Resource" in statement and not any(_glob(str(r), resource, case=True) for r in _listed(statement["Resource"])):
        return False
    deny = statement.get("Effect") == "Deny"
    if "Principal" in statement:
        if not _principal_matches(statement["Principal"], principal):
            return False
    elif "NotPrincipal" in statement:
        if not _not_principal_applies(statement["NotPrincipal"], principal, deny=deny):
            return False
    else:
        return False
    holds = _conditions_hold(statement.get("Condition") or {}, principal.keys())
    return deny if holds is None else holds


def _glob(pattern: str, value: str, *, case: bool = False) -> bool:
    if not case:
        pattern, value = pattern.lower(), value.lower()
    return fnmatch.fnmatchcase(value, pattern.replace("[", "[[]"))


def _principal_matches(named: Any, principal: Principal) -> bool:
    if named == "*":
        return True
    if not isinstance(named, dict):
        return False
    if principal.service is not None:
        return any(s == principal.service or s == "*" for s in _listed(named.get("Service", [])))
    for value in _listed(named.get("AWS", [])):
        value = str(value)
        if value == "*" or value == principal.account or value == f"arn:aws:iam::{principal.account}:root":
            return True
        if value in (principal.arn, principal.role_arn):
            return True
    return False


def _not_principal_applies(named: Any, principal: Principal, *, deny: bool) -> bool:
    """A NotPrincipal statement speaks of every principal it does not list. IAM evaluates each identity
    of the caller (its account, its role, its session): a Deny spares the caller only when all of them
    are listed; an Allow reaches it only when none is (IAM reference, "AWS JSON policy elements:
    NotPrincipal")."""
    if named == "*":
        return False  # everyone is listed: the statement speaks of no one
    if not isinstance(named, dict):
        return deny
    if principal.service is not None:
        identities = [{principal.service}]
        listed = {str(s) for s in _listed(named.get("Service", []))}
    else:
        identities = [{principal.account, f"arn:aws:iam::{principal.account}:root"}, {principal.arn}]
        if principal.role_arn:
            identities.append({principal.role_arn})
        listed = {str(a) for a in _listed(named.get("AWS", []))}
    hits = [bool(names & listed) for names in identities]
    return not all(hits) if deny else not any(hits)


# the condition keys the stand-in knows of a request (Principal.keys()); any other is one it cannot tell
_KNOWN_KEYS = {"aws:principalorgid", "aws:principalaccount", "aws:principalarn", "aws:sourcearn", "aws:sourceaccount"}
_OPERATORS = {
    "StringEquals",
    "StringEqualsIgnoreCase",
    "StringLike",
    "ArnEquals",
    "ArnLike",
    "StringNotEquals",
    "StringNotLike",
    "ArnNotEquals",
    "ArnNotLike",
}


def _conditions_hold(conditions: Any, keys: dict[str, str]) -> bool | None:
    """True or False when the stand-in can tell; None when a condition uses an operator or key it does
    not model (and none it can tell is False: the conditions of a statement all must hold)."""
    if not isinstance(conditions, dict):
        return None
    unknown = False
    for operator, tests in conditions.items():
        base = str(operator).removesuffix("IfExists")
        if not isinstance(tests, dict) or base not in _OPERATORS:
            unknown = True
            continue
        if_exists = base != operator
        for key, wanted in tests.items():
            if str(key).lower() not in _KNOWN_KEYS:
                unknown = True
                continue
            value = keys.get(str(key).lower())
            if value is None:
                if not (if_exists or "Not" in base):
                    return False
                continue
            if not _test(base, value, [str(w) for w in _listed(wanted)]):
                return False
    return None if unknown else True


def _test(operator: str, value: str, wanted: list[str]) -> bool:
    if operator in ("StringEquals", "ArnEquals"):
        return value in wanted
    if operator == "StringEqualsIgnoreCase":
        return value.lower() in (w.lower() for w in wanted)
    if operator in ("StringLike", "ArnLike"):
        return any(_glob(w, value, case=True) for w in wanted)
    if operator in ("StringNotEquals", "ArnNotEquals"):
        return value not in wanted
    return not any(_glob(w, value, case=True) for w in wanted)  # StringNotLike, ArnNotLike


def denied_message(principal: Principal, action: str, resource: str, decision: Decision) -> str:
    """ECR's words for a cross-account refusal (the same on the registry and the API)."""
    why = (
        "with an explicit deny in a resource-based policy"
        if decision.explicit_deny
        else f"because no resource-based policy allows the {action} action"
    )
    return f"User: {principal.arn} is not authorized to perform: {action} on resource: {resource} {why}"


class Access:
    """The bridge's cross-account checks: the registry face's and the API's."""

    def __init__(self, tokens: Tokens, ecr: Callable[[str, str], Any], moto_port: int) -> None:
        self._tokens = tokens
        self._ecr = ecr
        self._moto_port = moto_port

    # -- the registry face -------------------------------------------------------------------------

    def holder(self, password: str, scope: Scope) -> str | None:
        """The other stack account whose valid token for SCOPE's region PASSWORD is; None otherwise."""
        claims = _claims(password)
        account = str(claims.get("a", ""))
        if account == scope.account or not _ACCOUNT.match(account):
            return None
        return account if self._tokens.check(password, account, scope.region).ok else None

    def registry_refusal(self, header: str, scope: Scope, repository: str, command: str, kind: str) -> str | None:
        """ECR's DENIED message for a request another account's token makes; None to let it through."""
        _, _, value = header.partition(" ")
        try:
            password = base64.b64decode(value).decode().partition(":")[2]
        except ValueError:
            return None
        account = str(_claims(password).get("a", ""))
        if account == scope.account:
            return None  # its own registry: IAM's business
        action = _REGISTRY_ACTIONS.get((command, kind), "ecr:BatchGetImage")
        # the token names who asked for it, when the bridge knows (tokens.py); else the account's user
        named = getattr(self._tokens, "principal", lambda _: "")(password)
        principal = Principal.from_arn(account, named) if named else Principal.user(account)
        resource = _repository_arn(scope, repository)
        decision = decide(self.policies(scope, repository), principal, action, resource)
        return None if decision.allowed else denied_message(principal, action, resource, decision)

    # -- the API -----------------------------------------------------------------------------------

    def api(
        self, principal: Principal, scope: Scope, action: str, params: dict[str, Any]
    ) -> tuple[Answer | None, Scope]:
        """For an ECR call: a refusal, or the scope it runs in (the named registry's, when allowed)."""
        if action in INVALID_POLICY and not self.principals_exist(params.get("policyText")):
            return ecr_error(400, "InvalidParameterException", INVALID_POLICY[action]), scope
        registry = str(params.get("registryId") or "")
        if not registry or registry == scope.account or action == "GetAuthorizationToken":
            return None, scope
        target = Scope(registry, scope.region)
        names = params.get("repositoryNames")
        repository = str(
            params.get("repositoryName") or (names[0] if isinstance(names, list) and len(names) == 1 else "")
        )
        resource = _repository_arn(target, repository or "*")
        decision = decide(self.policies(target, repository or None), principal, f"ecr:{action}", resource)
        if not decision.allowed:
            message = denied_message(principal, f"ecr:{action}", resource, decision)
            return ecr_error(400, "AccessDeniedException", message), scope
        return None, target

    # -- the policies --------------------------------------------------------------------------------

    def policies(self, scope: Scope, repository: str | None) -> list[tuple[str, Any]]:
        """SCOPE's registry policy and REPOSITORY's policy as moto holds them (parsed), those that exist."""
        client = self._ecr(scope.account, scope.region)
        found: list[tuple[str, Any]] = []
        calls: list[tuple[str, Callable[[], Any]]] = [("registry policy", client.get_registry_policy)]
        if repository:
            calls.insert(0, ("repository policy", lambda: client.get_repository_policy(repositoryName=repository)))
        for label, call in calls:
            try:
                found.append((label, json.loads(call()["policyText"])))
            except Exception:  # noqa: BLE001 - no such policy (or repository): it grants nothing
                continue
        return found

    def principals_exist(self, text: Any) -> bool:
        """Whether every principal POLICY names is one the stack has (moto checks the rest of the grammar)."""
        try:
            doc = json.loads(str(text))
        except ValueError:
            return True  # moto refuses it with the same message
        statements = doc.get("Statement") if isinstance(doc, dict) else None
        for statement in _listed(statements) if statements is not None else []:
            if not isinstance(statement, dict):
                continue
            named = statement.get("Principal", statement.get("NotPrincipal", "*"))
            if named == "*":
                continue
            if not isinstance(named, dict) or set(named) - {"AWS", "Service"}:
                return False
            if not all(isinstance(s, str) and _SERVICE.match(s) for s in _listed(named.get("Service", []))):
                return False
            if not all(isinstance(p, str) and self._exists(p) for p in _listed(named.get("AWS", []))):
                return False
        return True

    def _exists(self, principal: str) -> bool:
        if principal == "*":
            return True
        stack = {account.account_id for account in ACCOUNTS}
        if _ACCOUNT.match(principal):
            return principal in stack
        if (found := _ASSUMED.match(principal)) is not None:
            return found["account"] in stack
        found = _IAM_ARN.match(principal)
        if found is None or found["account"] not in stack:
            return False
        if found["kind"] == "root":
            return found["name"] is None
        if found["name"] is None:
            return False
        name = found["name"].rpartition("/")[2]
        if found["kind"] == "role" and found["account"] == ACCOUNT_ID and name == ROLE:
            return True  # the instance role (imds.py), which moto's IAM does not hold
        return self._iam_has(found["account"], found["kind"], name)

    def _iam_has(self, account: str, kind: str, name: str) -> bool:
        import boto3  # imported here, as bridge.py does

        client = boto3.client(
            "iam",
            endpoint_url=f"http://127.0.0.1:{self._moto_port}",
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )

        def as_account(request: Any, **_: Any) -> None:
            request.headers["x-moto-account-id"] = account

        client.meta.events.register("before-send.iam", as_account)
        try:
            client.get_role(RoleName=name) if kind == "role" else client.get_user(UserName=name)
        except Exception:  # noqa: BLE001 - NoSuchEntity
            return False
        return True


def principal_of(caller: Any, instance_id: str) -> Principal:
    """The principal an API call's signer is (imds.Caller): the instance role, or a stack account's user."""
    if caller.role_key:
        return Principal.instance_role(instance_id)
    return Principal.user(caller.account.account_id if caller.account else ACCOUNT_ID)


def _repository_arn(scope: Scope, repository: str) -> str:
    return f"arn:aws:ecr:{scope.region}:{scope.account}:repository/{repository}"


def _claims(password: str) -> dict[str, Any]:
    payload = password.partition(".")[0]
    try:
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except ValueError:
        return {}
    return claims if isinstance(claims, dict) else {}
