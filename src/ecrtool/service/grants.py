"""Who may pull and push: `grant` and `revoke` merge ecrtool's statements into a repository's (or the
registry's) policy, `policy show` reads it, and `doctor --can-pull` says whether a caller's pull of another
account's image would be allowed, and by which statement."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ecrtool.aws.policies import Policies
from ecrtool.model.errors import AuthError, EcrToolError, InvalidInput
from ecrtool.model.policy import (
    ACCESS,
    Grant,
    Grantee,
    Merged,
    NotGranted,
    Verdict,
    can_pull,
    document_text,
    grant,
    parse_document,
    revoke,
)
from ecrtool.model.refs import RepoRef, parse_repo_ref
from ecrtool.service.base import ServiceBase, Target


@dataclass(frozen=True)
class GranteeSpec:
    """A grantee as the command line gives it, before the registry's account is known."""

    kind: str
    value: str = ""


@dataclass(frozen=True)
class PolicyResult:
    """A repository's or registry's policy as it now stands, and what this command changed in it."""

    scope: str  # "repository" or "registry"
    name: str  # the repository, or the registry's host
    account: str
    region: str
    document: dict[str, Any] | None
    merged: Merged | None = None


@dataclass(frozen=True)
class PullCheck:
    """doctor --can-pull: who asks, what for, and the verdict."""

    reference: str
    caller_account: str
    caller_arn: str
    registry_account: str
    verdict: Verdict
    grant_command: str | None = None  # the command that adds the missing grant


class Grants(ServiceBase):
    def grant(
        self, repo_text: str | None, access: Sequence[str], grantees: Sequence[GranteeSpec], *, registry: bool = False
    ) -> PolicyResult:
        return self._change(repo_text, access, grantees, registry, grant)

    def revoke(
        self, repo_text: str | None, access: Sequence[str], grantees: Sequence[GranteeSpec], *, registry: bool = False
    ) -> PolicyResult:
        return self._change(repo_text, access, grantees, registry, revoke)

    def show(self, repo_text: str | None, *, registry: bool = False) -> PolicyResult:
        ref = self._policy_ref(repo_text, registry)
        target = self._target(ref)
        policies = self._policies(target)
        account = target.account or ((target.aws or self.aws).caller_account() if registry else "")
        text = policies.registry_policy() if registry else policies.repository_policy(ref.repository)
        document = parse_document(text) if text else None
        return self._result(ref, target, registry, account, document)

    def can_pull(self, ref_text: str) -> PullCheck:
        ref = parse_repo_ref(ref_text, self.settings.registry_override)
        target = self._target(ref)
        sts = (target.aws or self.aws).client("sts", target.region)
        from ecrtool.aws.errors import translate

        with translate("sts:GetCallerIdentity"):
            identity = sts.get_caller_identity()
        caller, arn = str(identity["Account"]), str(identity["Arn"])
        home = ref.account or caller
        if home == caller:
            verdict = can_pull([], caller, arn, home)
        else:
            verdict = self._cross_account_verdict(target, ref, caller, arn, home)
        command = None
        if verdict.allowed is not True:
            command = f"ecrtool grant {ref.repository} --pull --account {caller}"
        return PullCheck(ref_text, caller, arn, home, verdict, command)

    # -- the work ----------------------------------------------------------------------------------

    def _change(
        self, repo_text: str | None, access: Sequence[str], specs: Sequence[GranteeSpec], registry: bool, merge: Any
    ) -> PolicyResult:
        if not access or any(a not in ACCESS for a in access):
            raise InvalidInput("say what to grant: --pull, --push or both (--replicate with --registry)")
        if "replicate" in access and not registry:
            raise InvalidInput("--replicate is a registry policy's grant: use it with --registry")
        if not specs:
            raise InvalidInput("say whom: --account ID, --org ID, --role ARN, --lambda or --ecs-tasks (repeatable)")
        ref = self._policy_ref(repo_text, registry)
        # checked before any AWS call: a service grant without --source-arn is scoped to the registry's account,
        # which a placeholder stands for until it is known
        for spec in specs:
            Grantee.parse(spec.kind, spec.value, home="0" * 12)
        target = self._target(ref)
        needs_home = any(spec.kind in ("lambda", "ecs-tasks") and not spec.value for spec in specs)
        account = target.account or ""
        if registry or needs_home or not account:
            account = account or (target.aws or self.aws).caller_account()
        grants = [Grant(a, Grantee.parse(s.kind, s.value, home=account)) for a in access for s in specs]
        policies = self._policies(target)
        current = policies.registry_policy() if registry else policies.repository_policy(ref.repository)
        document = parse_document(current)
        if registry:
            resource = f"arn:aws:ecr:{target.region}:{account}:repository/*"
            document, merged = _with_resource(document, merge, grants, resource)
        else:
            merged = merge(document, grants)
        if merged.changed:
            try:
                self._put(policies, ref, registry, merged.document)
            except InvalidInput as err:
                # ECR refuses a policy naming a principal that does not exist yet (aws/aws-cdk#16376)
                raise InvalidInput(
                    f"{err}: ECR takes only principals that exist: check each --account and --role"
                    " (create a role before granting it)"
                ) from err
        return self._result(ref, target, registry, account, merged.document, merged)

    def _put(self, policies: Policies, ref: RepoRef, registry: bool, document: dict[str, Any] | None) -> None:
        if document is None:
            policies.delete_registry_policy() if registry else policies.delete_repository_policy(ref.repository)
        elif registry:
            policies.put_registry_policy(document_text(document))
        else:
            policies.set_repository_policy(ref.repository, document_text(document))

    def _cross_account_verdict(self, target: Target, ref: RepoRef, caller: str, arn: str, home: str) -> Verdict:
        """Read the repository's policy when the caller may; else ask ECR itself (BatchGetImage)."""
        policies = self._policies(target)
        try:
            text = policies.repository_policy(ref.repository)
        except (AuthError, NotGranted):  # the policy is not readable to this caller
            return self._probe(target, ref, caller)
        documents = [("repository policy", parse_document(text))] if text else []
        return can_pull(documents, caller, arn, home)

    def _probe(self, target: Target, ref: RepoRef, caller: str) -> Verdict:
        wanted = {"imageDigest": ref.digest} if ref.digest else {"imageTag": ref.tag or "latest"}
        try:
            target.ecr.manifests(ref.repository, [wanted])
        except (AuthError, NotGranted):
            reason = f"ECR refused ecr:BatchGetImage to account {caller} (the repository policy is not readable to it)"
            return Verdict(False, reason, None, ("ecr:BatchGetImage",))
        except EcrToolError:
            pass  # not there, but the pull was allowed to ask
        return Verdict(True, "ECR allowed ecr:BatchGetImage (the repository policy is not readable to this caller)")

    def _policies(self, target: Target) -> Policies:
        aws = target.aws or self.aws
        return Policies(aws.lazy_client("ecr", target.region), target.account)

    def _policy_ref(self, repo_text: str | None, registry: bool) -> RepoRef:
        if registry:
            if repo_text:
                raise InvalidInput("--registry works on the registry's policy: drop the repository, or drop --registry")
            return RepoRef("registry-policy", None, None, None, None, None)
        if not repo_text:
            raise InvalidInput(
                "name the repository (ecrtool grant REPO ...), or pass --registry for the registry policy"
            )
        ref = parse_repo_ref(repo_text, self.settings.registry_override)
        if ref.tag or ref.digest:
            raise InvalidInput(f"a policy is a repository's: drop the tag or digest from {repo_text!r}")
        return ref

    def _result(
        self,
        ref: RepoRef,
        target: Target,
        registry: bool,
        account: str,
        document: dict[str, Any] | None,
        merged: Merged | None = None,
    ) -> PolicyResult:
        name = f"{account or 'this account'}'s registry in {target.region}" if registry else ref.repository
        scope = "registry" if registry else "repository"
        return PolicyResult(scope, name, account, target.region, document, merged)


def _with_resource(
    document: dict[str, Any], merge: Any, grants: list[Grant], resource: str
) -> tuple[dict[str, Any], Merged]:
    """A registry policy's statements name their Resource (ECR requires one there): merged as the others,
    each of ecrtool's statements with the registry's repositories as its resource."""
    merged: Merged = merge(document, grants)
    if merged.document is None:
        return document, merged
    sids = {item.grantee.sid(item.access) for item in grants}
    for statement in merged.document.get("Statement") or []:
        if isinstance(statement, dict) and isinstance(statement.get("Sid"), str) and statement["Sid"] in sids:
            if "Resource" in statement:
                continue
            statement["Resource"] = resource
    before = {
        s["Sid"]: s for s in document.get("Statement") or [] if isinstance(s, dict) and isinstance(s.get("Sid"), str)
    }
    after = {
        s["Sid"]: s
        for s in merged.document.get("Statement") or []
        if isinstance(s, dict) and isinstance(s.get("Sid"), str)
    }
    added = tuple(sid for sid in merged.added + merged.unchanged if before.get(sid) != after.get(sid))
    unchanged = tuple(sid for sid in merged.added + merged.unchanged if before.get(sid) == after.get(sid))
    fixed = Merged(merged.document, added, merged.removed, unchanged, merged.still_granting)
    return document, fixed
