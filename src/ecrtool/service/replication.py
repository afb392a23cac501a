"""`ecrtool replication show|set|backfill|status`: ECR's own replication, configured, filled in and checked.

ECR replicates only what is pushed after a rule exists (aws/containers-roadmap#1289), so `backfill` copies
what the rules cover and the destinations lack — images pushed before, a destination added since — with
`copy`'s engine (service/copy.py, its public `Copies.copy`): byte for byte, the index's children and the
image's referrers with it, a digest a destination holds never sent again. `status` asks each destination
for the digest itself (DescribeImages), beside ECR's own DescribeImageReplicationStatus.

A cross-account destination needs its registry policy to allow the source account ecr:ReplicateImage and
ecr:CreateRepository: `set` puts that statement there as the profile the config file names for that
registry (`[registries."HOST"] profile = ...`), merged into the policy it has.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

from ecrtool.aws.ecr import Ecr
from ecrtool.aws.replication import ReplicationApi
from ecrtool.aws.session import AwsSession
from ecrtool.model.errors import EcrToolError, InvalidInput, NotFound
from ecrtool.model.refs import RepoRef, parse_repo_ref, registry_host, validate_repository
from ecrtool.model.replication import (
    BackfillItem,
    BackfillResult,
    Destination,
    ReplicaStatus,
    ReplicationConfig,
    ReplicationSet,
    StatusResult,
    configured,
    merged_policy,
    new_rule,
    parse_destination,
    validate_filter,
)
from ecrtool.model.results import Progress, ProgressEvent
from ecrtool.service.tokens import Tokens

if TYPE_CHECKING:  # copy's engine loads with the backfill that uses it
    from ecrtool.service.copy import Copies

MAX_JOBS = 16


class Replications(Tokens):
    # -- the configuration -------------------------------------------------------------------------

    def _api(self, aws: AwsSession, region: str) -> ReplicationApi:
        return ReplicationApi(aws.lazy_client("ecr", region), region)

    def show(self) -> ReplicationConfig:
        """The caller's registry in this region (DescribeRegistry names its account) and its rules."""
        region = self.aws.region(self.settings.region)
        config = self._api(self.aws, region).configuration()
        return ReplicationConfig(config.account or str(self.aws.caller_account()), region, config.rules)

    def configure(
        self, to: Iterable[str], filters: Iterable[str], *, add: bool = False, skip_policy: bool = False
    ) -> ReplicationSet:
        """Put a rule replicating to TO (REGION or REGION:ACCOUNT) the repositories FILTERS' prefixes name
        (all without any), in place of the configuration (or beside its rules, with ADD); a cross-account
        destination's registry policy gets the statement that lets this account replicate there."""
        wanted, prefixes = list(to), list(filters)
        if not wanted:
            raise InvalidInput("say where to replicate to: --to REGION or --to REGION:ACCOUNT (repeat for more)")
        for prefix in prefixes:
            validate_filter(prefix)
        for text in wanted:
            parse_destination(text, None)  # the form, before asking AWS who the caller is
        current = self.show()
        account, region = current.account, current.region
        rule = new_rule([parse_destination(text, account) for text in wanted], prefixes, (account, region))
        foreign = [d for d in rule.destinations if d.account != account]
        sessions = {} if skip_policy else {d: self._session_for(d, account) for d in foreign}
        config = configured(current, rule, add=add)
        updated = []
        for dest, session in sessions.items():
            remote = self._api(session, dest.region)
            merged = merged_policy(remote.registry_policy(), account, dest)
            if merged is not None:
                remote.put_registry_policy(merged)
                updated.append(str(dest))
        self._api(self.aws, region).put_configuration(config)
        left = [str(d) for d in foreign] if skip_policy else []
        return ReplicationSet(config, updated, left)

    def _session_for(self, dest: Destination, account: str) -> AwsSession:
        """The AWS session speaking as DEST's account: the profile the config file names for its registry."""
        target = self._target(RepoRef("x", account=dest.account, region=dest.region))
        if target.aws is None or target.aws is self.aws:
            host = registry_host(dest.account, dest.region)
            raise InvalidInput(
                f"--to {dest}: its registry policy must allow {account} to replicate there, and no profile speaks "
                f'for {host}: add `[registries."{host}"] profile = NAME` to the config file, or pass --skip-policy '
                "and have its owner allow ecr:ReplicateImage and ecr:CreateRepository"
            )
        return target.aws

    # -- backfill ----------------------------------------------------------------------------------

    def backfill(
        self,
        repositories: Iterable[str] = (),
        filters: Iterable[str] = (),
        *,
        jobs: int = 4,
        progress: Progress | None = None,
    ) -> BackfillResult:
        """Copy every tagged image of REPOSITORIES (else of every repository a rule covers, narrowed to FILTERS'
        prefixes) to each destination its rules name that lacks its digest, JOBS images at once; one failure
        does not stop the rest."""
        if not 1 <= jobs <= MAX_JOBS:
            raise InvalidInput(f"invalid -j {jobs}: copy 1 to {MAX_JOBS} images at once")
        named = [validate_repository(name) for name in repositories]
        prefixes = [validate_filter(prefix) for prefix in filters]
        config = self.show()
        if not config.rules:
            raise NotFound(
                f"the registry of {config.account} in {config.region} has no replication rules: "
                "`ecrtool replication set --to REGION` makes one"
            )
        for name in named:
            if not config.covers(name):
                raise InvalidInput(
                    f"no replication rule covers repository {name!r}: `ecrtool replication show` lists them"
                )
        source = self._target()
        repos = named or [repo.name for repo in source.ecr.repositories() if config.covers(repo.name)]
        repos = [name for name in repos if not prefixes or any(name.startswith(p) for p in prefixes)]
        # one task per image and destination lacking it: its tags go one after the other (the first moves the
        # blobs, the others find them there), the tasks JOBS at once, each thread with a copy service of its own
        tasks: list[tuple[str, tuple[str, ...], str, Destination, bool]] = []
        refused: list[BackfillItem] = []
        for repo in repos:
            images = [image for image in source.ecr.images(repo) if image.tags]
            for dest in config.destinations_for(repo):
                try:
                    held = self._held(dest, repo, [image.digest for image in images])
                except EcrToolError as err:  # not allowed there, say: each of its images fails, the others go on
                    refused += [BackfillItem(repo, t, i.digest, str(dest), "failed", error=str(err)) for i in images
                                for t in i.tags]  # fmt: skip
                    continue
                tasks += [(repo, tuple(i.tags), i.digest, dest, i.digest in held) for i in images]
        local = threading.local()

        def run(task: tuple[str, tuple[str, ...], str, Destination, bool]) -> list[BackfillItem]:
            repo, tags, digest, dest, present = task
            if present:
                return [BackfillItem(repo, tag, digest, str(dest), "present") for tag in tags]
            if not hasattr(local, "copies"):
                from ecrtool.service.copy import Copies

                local.copies = Copies(self.settings)
            done = []
            for tag in tags:
                done.append(self._copy(local.copies, repo, tag, digest, dest))
                if progress is not None:
                    progress(ProgressEvent("backfill", f"{repo}:{tag}", None, _said(done[-1])))
            return done

        pool = ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="backfill")
        try:
            items = [item for found in pool.map(run, tasks) for item in found] + refused
        except BaseException:
            pool.shutdown(wait=False, cancel_futures=True)  # Ctrl-C: the copies under way stop with the process
            raise
        pool.shutdown(wait=True)
        return BackfillResult(items)

    def _held(self, dest: Destination, repo: str, digests: list[str]) -> set[str]:
        """Which of DIGESTS DEST's REPO holds (none when it has no such repository); an error when DEST
        cannot be asked."""
        if not digests:
            return set()
        try:
            return {image.digest for image in self._ecr(dest).images_by_digest(repo, digests)}
        except NotFound:
            return set()

    def _ecr(self, dest: Destination) -> Ecr:
        return self._target(RepoRef("x", account=dest.account, region=dest.region)).ecr

    def _copy(self, copies: Copies, repo: str, tag: str, digest: str, dest: Destination) -> BackfillItem:
        try:
            result = copies.copy(
                f"{repo}:{tag}", to_regions=(dest.region,), to_accounts=(dest.account,), create=True, referrers=True
            )
        except EcrToolError as err:
            return BackfillItem(repo, tag, digest, str(dest), "failed", error=str(err))
        done = result.copies[0]
        return BackfillItem(
            repo,
            tag,
            result.digest,
            str(dest),
            "copied",
            blobs_copied=done.blobs_copied,
            bytes_copied=done.bytes_copied,
            referrers=done.referrers,
            created_repository=done.created_repository,
        )

    # -- status ------------------------------------------------------------------------------------

    def status(self, reference: str) -> StatusResult:
        """Which of the destinations REFERENCE's repository replicates to hold its digest."""
        ref = parse_repo_ref(reference, self.settings.registry_override)
        if ref.account or ref.region:
            raise InvalidInput(
                f"give REF as REPO:TAG or REPO@DIGEST of this registry (--region, --registry-id), not {reference!r}"
            )
        source = self._target()
        image = source.ecr.describe_image(ref.repository, tag=ref.tag, digest=ref.digest)
        config = self.show()
        destinations = config.destinations_for(ref.repository)
        if not destinations:
            raise NotFound(
                f"no replication rule covers repository {ref.repository!r}: `ecrtool replication show` lists them"
            )
        try:
            said = {
                (s.get("region"), s.get("registryId")): s
                for s in self._api(self.aws, config.region).image_status(ref.repository, image.digest)
            }
        except EcrToolError:  # ECR's own status is a second opinion: the destinations answer for themselves
            said = {}
        replicas = []
        for dest in destinations:
            ecr_said = said.get((dest.region, dest.account), {})
            failure = ecr_said.get("failureCode")
            try:
                present: bool | None = bool(self._ecr(dest).images_by_digest(ref.repository, [image.digest]))
            except NotFound:
                present = False
            except EcrToolError as err:  # not allowed to look there: said, and the others are still asked
                present, failure = None, failure or str(err)
            replicas.append(ReplicaStatus(str(dest), present, ecr_said.get("status"), failure))
        shown = ref.tag or ref.digest or "latest"
        return StatusResult(ref.repository, shown, image.digest, replicas)


def _said(item: BackfillItem) -> str:
    if item.status == "copied":
        return f"{item.repository}:{item.reference} -> {item.destination}: copied ({item.blobs_copied} blobs)"
    if item.status == "failed":
        return f"{item.repository}:{item.reference} -> {item.destination}: FAILED: {item.error}"
    return f"{item.repository}:{item.reference} -> {item.destination}: already there"
