"""ECR's private image replication, as the local ECR imitates it across its accounts and regions.

Each registry (an account in a region) keeps one replication configuration (PutReplicationConfiguration,
DescribeRegistry), checked as ECR checks it and kept across restarts (replication.json in the state folder;
moto keeps one rule at most, in memory). A push that a rule covers is replicated once to each of the rules'
destinations, asynchronously: after ``LOCAL_ECR_REPLICATION_DELAY`` seconds (default 2; ECR says most images
replicate in under 30 minutes), inside the stack's one docker-registry (blobs mounted across repositories,
manifests by their exact bytes, so the digest stays the same), with the image's referrers (signatures, SBOMs)
and an index's children. A destination repository that is missing is created with default settings, or as
a REPLICATION creation template covering it says (the ``created_by_template`` hook). Across accounts the
destination's registry policy must allow the source account ecr:ReplicateImage (and ecr:CreateRepository
for a missing repository), or that destination's replication FAILS. DescribeImageReplicationStatus answers each
destination's IN_PROGRESS, COMPLETE or FAILED.

A replica is not replicated again (ECR replicates once per push); what the bridge writes here it ignores
when the registry's notification of it comes back.
"""

from __future__ import annotations

import http.client
import json
import logging
import os
import re
import threading
import time
import urllib.parse
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .access import Principal, decide
from .answer import ECR_JSON, Answer, ecr_error, json_answer
from .face import Scope, split_internal
from .state import ACCOUNTS, REGIONS

if TYPE_CHECKING:
    from .bridge import Bridge

log = logging.getLogger("localecr.replication")

ACTIONS = frozenset({"PutReplicationConfiguration", "DescribeRegistry", "DescribeImageReplicationStatus"})
DEFAULT_DELAY = 2.0
MAX_RULES = 10  # ECR's user guide: at most 10 rules, 25 unique destinations, 100 filters a rule
MAX_DESTINATIONS = 25
MAX_FILTERS = 100
# RepositoryFilterValue in ECR's service model (2..256 characters)
_FILTER = re.compile(r"^(?:[a-z0-9]+(?:[._-][a-z0-9]*)*/)*[a-z0-9]*(?:[._-][a-z0-9]*)*$")
_OWN_TTL = 600.0  # how long a replica's own notification is waited for


def delay_of(text: str | None) -> float:
    try:
        value = float(text) if text else DEFAULT_DELAY
    except ValueError:
        return DEFAULT_DELAY
    return max(0.0, value)


def policy_allows(policy: Any, source_account: str, action: str, resource: str) -> bool:
    """Whether a registry policy lets SOURCE_ACCOUNT's replication do ACTION (ecr:...) on RESOURCE, as the
    stack evaluates every policy (access.py): an Allow naming the account (its id, its root ARN, or *) and
    the action, whose conditions hold, and no such Deny."""
    principal = Principal(source_account, f"arn:aws:iam::{source_account}:root")
    return decide([("registry policy", policy)], principal, action, resource).allowed


def validate(config: Any, scope: Scope) -> Answer | None:
    """ECR's refusal of a replication configuration, or None when it is one ECR takes (its API reference and
    user guide; destinations must be registries of this stack, which can replicate to nothing else)."""
    if not isinstance(config, dict):
        return _wrong_type("replicationConfiguration", "an object")
    rules = config.get("rules")
    if rules is None:
        return _invalid("'rules' is required")
    if not isinstance(rules, list):
        return _wrong_type("replicationConfiguration.rules", "a list")
    if len(rules) > MAX_RULES:
        return _invalid(f"'Member must have length less than or equal to {MAX_RULES}'", "rules")
    unique: set[tuple[str, str]] = set()
    for n, rule in enumerate(rules, 1):
        if not isinstance(rule, dict):
            return _wrong_type(f"rules.{n}", "an object")
        destinations = rule.get("destinations")
        if destinations is not None and not isinstance(destinations, list):
            return _wrong_type(f"rules.{n}.destinations", "a list")
        if not destinations:
            return _invalid("'Member must have length greater than or equal to 1'", f"rules.{n}.destinations")
        for dest in destinations:
            if not isinstance(dest, dict):
                return _wrong_type(f"rules.{n}.destinations", "a list of objects")
            for key in ("region", "registryId"):
                if not isinstance(dest.get(key, ""), str):
                    return _wrong_type(f"rules.{n}.destinations.{key}", "a string")
            region, account = dest.get("region", ""), dest.get("registryId", "")
            if (region, account) == (scope.region, scope.account):
                return _invalid("'Replication destination cannot be the same as the source registry'")
            if not re.fullmatch(r"[0-9]{12}", account):
                return _validation(
                    f"Value '{account}' at 'rules.{n}.destinations.registryId' failed to satisfy "
                    "constraint: Member must satisfy regular expression pattern: [0-9]{12}"
                )
            if region not in REGIONS or account not in {a.account_id for a in ACCOUNTS}:
                return _invalid(
                    f"local-ecr: it replicates only to its own registries ({', '.join(REGIONS)}; "
                    f"accounts {', '.join(a.account_id for a in ACCOUNTS)}), not {account} in {region}"
                )
            unique.add((region, account))
        filters = rule.get("repositoryFilters")
        if filters is None:
            continue
        if not isinstance(filters, list):
            return _wrong_type(f"rules.{n}.repositoryFilters", "a list")
        if not 1 <= len(filters) <= MAX_FILTERS:
            return _invalid(f"'Member must have length between 1 and {MAX_FILTERS}'", f"rules.{n}.repositoryFilters")
        for f in filters:
            if not isinstance(f, dict):
                return _wrong_type(f"rules.{n}.repositoryFilters", "a list of objects")
            for key in ("filter", "filterType"):
                if not isinstance(f.get(key, ""), str):
                    return _wrong_type(f"rules.{n}.repositoryFilters.{key}", "a string")
            if f.get("filterType") != "PREFIX_MATCH":
                return _validation(
                    f"Value '{f.get('filterType')}' at 'rules.{n}.repositoryFilters.filterType' failed "
                    "to satisfy constraint: Member must satisfy enum value set: [PREFIX_MATCH]"
                )
            value = f.get("filter", "")
            if not 2 <= len(value) <= 256 or not _FILTER.match(value):
                return _validation(
                    f"Value '{value}' at 'rules.{n}.repositoryFilters.filter' failed to satisfy "
                    "constraint: Member must satisfy regular expression pattern and length 2-256"
                )
    if len(unique) > MAX_DESTINATIONS:
        return _invalid(f"a replication configuration has at most {MAX_DESTINATIONS} unique destinations")
    return None


def _invalid(why: str, where: str = "replicationConfiguration") -> Answer:
    return ecr_error(
        400, "InvalidParameterException", f"Invalid parameter at '{where}' failed to satisfy constraint: {why}"
    )


def _wrong_type(where: str, expected: str) -> Answer:
    return _validation(f"Value at '{where}' failed to satisfy constraint: Member must be {expected}")


def _validation(message: str) -> Answer:
    return ecr_error(400, "ValidationException", f"1 validation error detected: {message}")


def destinations_for(config: dict[str, Any], repository: str) -> list[Scope]:
    """Each destination a rule covering REPOSITORY names, once (a push is replicated once to each)."""
    found: list[Scope] = []
    for rule in config.get("rules") or []:
        filters = rule.get("repositoryFilters") or []
        if filters and not any(repository.startswith(str(f.get("filter", ""))) for f in filters):
            continue
        for dest in rule.get("destinations") or []:
            scope = Scope(str(dest["registryId"]), str(dest["region"]))
            if scope not in found:
                found.append(scope)
    return found


class Replication:
    def __init__(self, bridge: Bridge, path: Path, delay: float | None = None) -> None:
        self._bridge = bridge
        self._path = path
        self.delay = delay_of(os.environ.get("LOCAL_ECR_REPLICATION_DELAY")) if delay is None else delay
        # the repository creation templates' hook (templates.py): creates REPOSITORY in DESTINATION as a
        # REPLICATION template covering it says and answers True; False when no template covers it
        self.created_by_template: Callable[[Scope, str], bool] | None = None
        self._lock = threading.Lock()
        try:
            self._configs: dict[str, Any] = json.loads(path.read_text())
        except (OSError, ValueError):
            self._configs = {}
        # (source account/region, repository, digest) -> {(region, registryId): status}
        self._statuses: dict[tuple[str, str, str], dict[tuple[str, str], dict[str, str]]] = {}
        self._own: dict[tuple[str, str], float] = {}  # (internal repository, digest) written here -> when
        self._repo_locks: dict[str, threading.Lock] = {}

    # -- the API -----------------------------------------------------------------------------------

    def answer(self, action: str, scope: Scope, params: dict[str, Any]) -> Answer:
        key = f"{scope.account}/{scope.region}"
        if action == "PutReplicationConfiguration":
            config = params.get("replicationConfiguration")
            refusal = validate(config, scope)
            if refusal is not None:
                return refusal
            with self._lock:
                self._configs[key] = config
                fresh = self._path.with_name(self._path.name + ".new")
                fresh.write_text(json.dumps(self._configs, indent=1))
                fresh.replace(self._path)
            return json_answer(200, {"replicationConfiguration": config}, ECR_JSON)
        if action == "DescribeRegistry":
            with self._lock:
                config = self._configs.get(key) or {"rules": []}
            return json_answer(200, {"registryId": scope.account, "replicationConfiguration": config}, ECR_JSON)
        return self._status(scope, params)

    def control(self, doc: dict[str, Any]) -> dict[str, Any]:
        """``{"delay": SECONDS}`` for tests; ``{}`` reads it."""
        if "delay" in doc:
            self.delay = delay_of(str(doc["delay"]))
        return {"delay": self.delay}

    def _status(self, scope: Scope, params: dict[str, Any]) -> Answer:
        repo = str(params.get("repositoryName", ""))
        if not self._bridge.exists(scope, repo):
            return ecr_error(
                400,
                "RepositoryNotFoundException",
                f"The repository with name '{repo}' does not exist in the registry with id '{scope.account}'",
            )
        image = params.get("imageId") or {}
        wanted = image.get("imageDigest") or image.get("imageTag") or ""
        digest = self._bridge.registry.digest(scope.internal(repo), str(wanted)) if wanted else None
        if digest is None or (image.get("imageDigest") and digest != image["imageDigest"]):
            return ecr_error(
                400,
                "ImageNotFoundException",
                f"The image with imageId {json.dumps(image)} does not "
                f"exist within the repository with name '{repo}' in the registry with id '{scope.account}'",
            )
        with self._lock:
            found = self._statuses.get((f"{scope.account}/{scope.region}", repo, digest), {})
            statuses = [{"region": r, "registryId": a, **s} for (r, a), s in found.items()]
        image_id = {"imageDigest": digest, **({"imageTag": image["imageTag"]} if image.get("imageTag") else {})}
        return json_answer(
            200, {"repositoryName": repo, "imageId": image_id, "replicationStatuses": statuses}, ECR_JSON
        )

    # -- pushes ------------------------------------------------------------------------------------

    def pushed(self, internal: str, tag: str | None, digest: str) -> None:
        """The registry's notification of a manifest push: replicated later when a rule covers it."""
        found = split_internal(internal)
        if found is None:
            return
        scope, repo = found
        with self._lock:
            now = time.monotonic()
            if self._own.pop((internal, digest), None) is not None:
                return  # a replica: ECR replicates once per push
            self._own = {k: t for k, t in self._own.items() if now - t < _OWN_TTL}
            config = self._configs.get(f"{scope.account}/{scope.region}")
            destinations = destinations_for(config, repo) if config else []
            if not destinations:
                return
            statuses = self._statuses.setdefault((f"{scope.account}/{scope.region}", repo, digest), {})
            for dest in destinations:
                statuses[(dest.region, dest.account)] = {"status": "IN_PROGRESS"}
        timer = threading.Timer(self.delay, self._replicate, (scope, repo, tag, digest, destinations))
        timer.daemon = True
        timer.start()

    def _replicate(self, scope: Scope, repo: str, tag: str | None, digest: str, destinations: list[Scope]) -> None:
        source = scope.internal(repo)
        manifest = self._bridge.registry.manifest(source, digest)
        if tag is None and (manifest is None or b'"subject"' not in manifest.body):
            # pushed by digest and nothing's referrer: an index's child, carried with its index
            self._forget(scope, repo, digest)
            return
        for dest in destinations:
            try:
                failure = self._to(scope, repo, tag, digest, dest)
            except Exception as err:  # noqa: BLE001 - one destination's failure is its status, not the others'
                log.exception("replication of %s@%s to %s/%s failed", source, digest, dest.account, dest.region)
                failure = f"local-ecr: {err}"
            status = {"status": "FAILED", "failureCode": failure} if failure else {"status": "COMPLETE"}
            with self._lock:
                self._statuses.setdefault((f"{scope.account}/{scope.region}", repo, digest), {})[
                    (dest.region, dest.account)
                ] = status
            log.info("replicated %s:%s@%s to %s/%s: %s", source, tag, digest, dest.account, dest.region, status)

    def _forget(self, scope: Scope, repo: str, digest: str) -> None:
        with self._lock:
            self._statuses.pop((f"{scope.account}/{scope.region}", repo, digest), None)

    def _to(self, scope: Scope, repo: str, tag: str | None, digest: str, dest: Scope) -> str | None:
        """Replicate to DEST; the failure's reason, or None."""
        resource = f"arn:aws:ecr:{dest.region}:{dest.account}:repository/{repo}"
        if not self._allowed(scope, dest, "ecr:ReplicateImage", resource):
            return (
                f"the registry policy of {dest.account} in {dest.region} does not allow {scope.account} "
                "ecr:ReplicateImage"
            )
        if not self._bridge.exists(dest, repo):
            if not self._allowed(scope, dest, "ecr:CreateRepository", resource):
                return (
                    f"repository {repo} does not exist in {dest.account}/{dest.region} and its registry policy "
                    f"does not allow {scope.account} ecr:CreateRepository"
                )
            self._create(dest, repo)
        target = dest.internal(repo)
        with self._repo_lock(target):
            self._copy(scope.internal(repo), target, digest, tag or digest)
        if tag:
            self._bridge.mirror.on_push(target, tag, digest)
        return None

    def _allowed(self, source: Scope, dest: Scope, action: str, resource: str) -> bool:
        if source.account == dest.account:
            return True  # within a registry's own account no policy is needed
        try:
            text = self._bridge.ecr(dest.account, dest.region).get_registry_policy()["policyText"]
            return policy_allows(json.loads(text), source.account, action, resource)
        except Exception:  # noqa: BLE001 - RegistryPolicyNotFoundException: nothing allowed
            return False

    def _create(self, dest: Scope, repo: str) -> None:
        """Create REPO in DEST as ECR does for a replica: as a creation template covering it says, else with
        default settings."""
        if self.created_by_template is not None and self.created_by_template(dest, repo):
            return
        params: dict[str, Any] = {"repositoryName": repo}
        client = self._bridge.ecr(dest.account, dest.region)

        class Created:
            status = 200

        def forward() -> Created:
            try:
                client.create_repository(**params)
            except Exception as err:  # noqa: BLE001 - created meanwhile (a concurrent replica or push)
                if "RepositoryAlreadyExists" not in str(err):
                    raise
                Created.status = 409
            return Created()

        if self._bridge.mirror.create_repository(dest.internal(repo), forward).status == 200:
            self._bridge.settings.record(dest, "CreateRepository", params)

    def _repo_lock(self, name: str) -> threading.Lock:
        with self._lock:
            return self._repo_locks.setdefault(name, threading.Lock())

    # -- inside the registry -----------------------------------------------------------------------

    def _copy(self, source: str, target: str, digest: str, reference: str, depth: int = 0) -> None:
        """The manifest DIGEST of SOURCE into TARGET under REFERENCE: its blobs, its children, its referrers."""
        registry = self._bridge.registry
        manifest = registry.manifest(source, digest)
        if manifest is None:
            raise RuntimeError(f"{source}@{digest} is gone")
        doc = json.loads(manifest.body)
        for child in doc.get("manifests") or []:
            self._copy(source, target, str(child["digest"]), str(child["digest"]), depth + 1)
        for blob in [doc.get("config") or {}, *(doc.get("layers") or [])]:
            if blob.get("digest") and not registry.has_blob(target, str(blob["digest"])):
                self._mount(source, target, str(blob["digest"]))
        with self._lock:
            self._own[(target, digest)] = time.monotonic()
        registry.put_manifest(target, reference, manifest.body, manifest.media_type)
        referrers = self._bridge.face.referrers
        if referrers is not None and depth < 4:
            for entry in referrers.of(source, digest):
                self._copy(source, target, str(entry["digest"]), str(entry["digest"]), depth + 1)

    def _mount(self, source: str, target: str, digest: str) -> None:
        """A blob of SOURCE linked into TARGET (the registry's cross-repository mount); uploaded when refused."""
        registry = self._bridge.registry
        query = urllib.parse.urlencode({"mount": digest, "from": source})
        status, _ = self._request("POST", f"/v2/{target}/blobs/uploads/?{query}")
        if status == 201:
            return
        status, data = self._request("GET", f"/v2/{source}/blobs/{digest}")
        if status != 200:
            raise RuntimeError(f"blob {digest} of {source}: HTTP {status}")
        registry.upload_blob(target, data)

    def _request(self, method: str, path: str) -> tuple[int, bytes]:
        conn = http.client.HTTPConnection("127.0.0.1", self._bridge.registry.port, timeout=300)
        try:
            conn.request(method, path, headers={"Authorization": self._bridge.registry.auth_header()})
            resp = conn.getresponse()
            return resp.status, resp.read()
        finally:
            conn.close()
