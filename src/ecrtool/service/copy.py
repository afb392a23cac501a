"""`ecrtool copy`: an image from ECR or any OCI registry into ECR repositories, regions and accounts, without Docker.

Every reference is read before anything is asked of AWS or a registry. Each ECR side gets its
registry token through the service's token machinery, as the identity the config file names for
that registry (`[registries."HOST"] profile = ...`) or the command's own; another registry's side
uses the credentials Docker's config holds for it, else goes anonymously; the public gallery
(`public.ecr.aws/ALIAS/REPO`, or ECRTOOL_PUBLIC_REGISTRY's host standing in for it) is such a registry.
The copy itself (copy_plan.ImageCopy) moves blobs and manifests byte for byte, so every destination's
digest is the source's.

Destinations go at once, one thread each: each gets its token (and with --create, creates its
repository) while the source's manifest is read, and copies as soon as that is in. A repository
created for a source that turns out not to be there is deleted again, so a mistyped source leaves
nothing behind. The first failure, or Ctrl-C, stops every destination at its next block; running the
command again finishes the copies.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass

from ecrtool.model.errors import AlreadyExists, AuthError, EcrToolError, InvalidInput, NotFound
from ecrtool.model.manifests import Manifest
from ecrtool.model.refs import (
    ImageRef,
    RepoRef,
    parse_repo_ref,
    validate_account,
    validate_region,
    validate_repository,
)
from ecrtool.model.results import CopiedImage, CopyResult, Progress, RepositoryInfo
from ecrtool.registry.client import RegistryClient
from ecrtool.service.base import Target
from ecrtool.service.copy_plan import ImageCopy, first_failure
from ecrtool.service.shared_reads import SharedReads
from ecrtool.service.sources import parse_source, registry_client
from ecrtool.service.tokens import Tokens

MAX_JOBS = 32


@dataclass(frozen=True)
class _Destination:
    """A destination made ready while the source is read: who speaks for it, whether this copy created its
    repository, a client holding its token, and its repository as DescribeRepositories has it (None when
    there is none), asked only when the copy needs it."""

    service: Tokens
    target: Target
    created: bool
    client: RegistryClient
    described: Callable[[], RepositoryInfo | None]
    there: str | None  # the digest the tag names in it now (None: nothing, or no such repository)


@dataclass(frozen=True)
class _Source:
    """Where the image comes from: its registry client, repository, manifest and the reference as shown."""

    client: RegistryClient
    repository: str
    manifest: Manifest
    text: str


def _described(target: Target, repository: str) -> RepositoryInfo | None:
    try:
        return target.ecr.describe_repository(repository)
    except NotFound:
        return None


def _described_once(target: Target, repository: str) -> Callable[[], RepositoryInfo | None]:
    """DescribeRepositories of REPOSITORY, asked the first time the answer is wanted and kept: a copy
    into an existing repository never needs it, and an ECR call is not free for the registry either."""
    found: list[RepositoryInfo | None] = []
    lock = threading.Lock()

    def answer() -> RepositoryInfo | None:
        with lock:
            if not found:
                found.append(_described(target, repository))
            return found[0]

    return answer


def _missing(described: Callable[[], RepositoryInfo | None]) -> bool:
    """Whether DescribeRepositories finds no such repository; True when it may not be asked (then
    CreateRepository says)."""
    try:
        return described() is None
    except AuthError:
        return True


class Copies(Tokens):
    def copy(
        self,
        source: str,
        destination: str | None = None,
        *,
        to_regions: tuple[str, ...] = (),
        to_accounts: tuple[str, ...] = (),
        repo: str | None = None,
        create: bool = False,
        referrers: bool = False,
        jobs: int = 6,
        progress: Progress | None = None,
    ) -> CopyResult:
        """Copy SOURCE to DESTINATION, or to the same repository (or REPO) in each region x account."""
        if not 1 <= jobs <= MAX_JOBS:
            raise InvalidInput(f"invalid -j {jobs}: copy 1 to {MAX_JOBS} blobs at once")
        src = parse_source(source, self.settings)
        targets = self._destinations(src, destination, to_regions, to_accounts, repo)
        stop = threading.Event()
        # several destinations: each source blob read once for all of them, not once each
        shared = SharedReads(len(targets), stop) if len(targets) > 1 else None
        opened: Future[_Source] = Future()
        pool = ThreadPoolExecutor(max_workers=len(targets), thread_name_prefix="destination")
        try:
            looked = [pool.submit(self._look_up, target, create) for target in targets]
            work = [
                pool.submit(self._copy_to, opened, target, found, referrers=referrers, jobs=jobs, progress=progress,
                            stop=stop, shared=shared)
                for target, found in zip(targets, looked, strict=True)
            ]  # fmt: skip
            try:
                opened.set_result(self._open_source(src))
            except BaseException as err:
                opened.set_exception(err)
                self._undo_created(targets, looked)
                raise
            done, _ = wait(work, return_when=FIRST_EXCEPTION)
            if any(future.exception() is not None for future in done):
                stop.set()
                wait(work)  # the others stop at their next block: then the first real error is known
                raise first_failure(work)
            copies = [future.result() for future in work]
        except BaseException:
            # a failed destination, a missing source or Ctrl-C: the others stop at their next block
            stop.set()
            pool.shutdown(wait=False, cancel_futures=True)
            raise
        pool.shutdown(wait=True)
        found = opened.result()
        return CopyResult(
            source=found.text, digest=found.manifest.digest, media_type=found.manifest.media_type, copies=copies
        )

    # -- references --------------------------------------------------------------------------------

    def _destinations(
        self,
        src: RepoRef | ImageRef,
        destination: str | None,
        to_regions: tuple[str, ...],
        to_accounts: tuple[str, ...],
        repo: str | None,
    ) -> list[RepoRef]:
        tag = src.tag if src.tag or src.digest else "latest"
        if destination is not None:
            if to_regions or to_accounts or repo:
                raise InvalidInput(
                    "give the destination either as DST or with --to-region/--to-account/--repo, not both"
                )
            dst = parse_repo_ref(destination, self.settings.registry_override)
            if dst.digest:
                raise InvalidInput(
                    f"invalid destination {destination!r}: a copy keeps the digest; name a repository and a tag"
                )
            return [dst if dst.tag else dst.replace(tag=tag)]
        if not (to_regions or to_accounts or repo):
            raise InvalidInput(
                "say where to copy to: a destination (REPO[:TAG] or a full ECR reference), --to-region,"
                " --to-account or --repo"
            )
        regions = [validate_region(region) for region in dict.fromkeys(to_regions)]
        accounts = [validate_account(account) for account in dict.fromkeys(to_accounts)]
        if repo is not None:
            named = parse_repo_ref(repo, self.settings.registry_override)
            if named.tag or named.digest or named.host:
                raise InvalidInput(f"--repo {repo!r}: give a repository name alone (the tag is the source's)")
            repository = named.repository
        else:
            repository = src.repository
            try:
                validate_repository(repository)
            except InvalidInput as err:
                raise InvalidInput(f"{err}; or name the destination repository with --repo") from None
        own = src if isinstance(src, RepoRef) else None
        region_choices: list[str | None] = list(regions) or [own.region if own else None]
        account_choices: list[str | None] = list(accounts) or [own.account if own else None]
        return [
            RepoRef(repository, tag, account=account, region=region)
            for account in account_choices
            for region in region_choices
        ]

    # -- the sides ---------------------------------------------------------------------------------

    def _look_up(self, ref: RepoRef, create: bool) -> _Destination:
        """What a destination needs before the copy, asked while the source is read: a client holding its
        token and, with CREATE, its repository created, unless a creation template of its registry covers
        it (ECR then creates it on push). DescribeRepositories is asked only to tell a missing repository
        or an immutable tag held by another image, so a copy into an existing repository makes no call for
        it."""
        service = self.speaker(ref)
        target = service._target(ref)
        described = _described_once(target, ref.repository)
        client = self.registry_client(ref, "destination", service)
        # what the tag names there now (the registry's HEAD): a tag that names something says the repository
        # is there, with no ECR call at all
        there = client.manifest_digest(ref.repository, ref.tag) if ref.tag else None
        created = False
        # else a repository that is there costs one call (DescribeRepositories, kept for later questions); a
        # missing one a template covers is left to it (ECR creates it at the first upload); else CreateRepository
        if (
            create
            and there is None
            and _missing(described)
            and service.covering_template(target, ref.repository) is None
        ):
            try:
                info = target.ecr.create_repository(ref.repository)
                described, created = (lambda: info), True
            except AlreadyExists:
                pass
            except AuthError:
                if described() is None:  # allowed to use repositories but not to create them
                    raise
        return _Destination(service, target, created, client, described, there)

    def _undo_created(self, targets: list[RepoRef], looked: list[Future[_Destination]]) -> None:
        """The source is not there: delete the repositories made for it (empty, so nothing else is lost)."""
        for ref, future in zip(targets, looked, strict=True):
            try:
                ready = future.result()
                if ready.created:
                    ready.target.ecr.delete_repository(ref.repository, force=False)
            except Exception:  # noqa: BLE001 - the source's error is the one to report
                pass

    def _open_source(self, src: RepoRef | ImageRef) -> _Source:
        if isinstance(src, ImageRef):
            client = registry_client(src, "source")
            manifest = client.get_manifest(src.repository, src.reference)
            if manifest is None:
                raise NotFound(f"source image {src} not found: check the repository and the tag or digest")
            return _Source(client, src.repository, manifest, str(src))
        service = self.speaker(src)
        client = self.registry_client(src, "source", service)
        wanted = src.digest or src.tag or "latest"
        text = f"{client.host}/{src.repository}" + (f"@{wanted}" if src.digest else f":{wanted}")
        manifest = client.get_manifest(src.repository, wanted)
        if manifest is None:
            explained = service._explain_missing(service._target(src), src, wanted)
            raise NotFound(f"source image {text} not found: {explained}")
        if src.digest and manifest.digest != src.digest:
            raise NotFound(f"source registry {client.host} answered for {text} with another digest, {manifest.digest}")
        return _Source(client, src.repository, manifest, text)

    def _copy_to(
        self,
        opened: Future[_Source],
        dst: RepoRef,
        looked: Future[_Destination],
        *,
        referrers: bool,
        jobs: int,
        progress: Progress | None,
        stop: threading.Event,
        shared: SharedReads | None = None,
    ) -> CopiedImage:
        ready = looked.result()
        client, created, there = ready.client, ready.created, ready.there
        src = opened.result()

        def immutable() -> bool:
            try:
                info = ready.described()
            except EcrToolError:
                return False  # not allowed to describe it: the registry refuses the tag itself
            # IMMUTABLE_WITH_EXCLUSION lets the excluded tags move: there the registry's answer decides
            return bool(info and info.tag_mutability == "IMMUTABLE")

        where = f"{client.host}/{dst.repository}"
        label = f"{where}:{dst.tag}" if dst.tag else f"{where}@{src.manifest.digest}"
        job = ImageCopy(
            src.client, src.repository, client, dst.repository, jobs=jobs, referrers=referrers, progress=progress,
            label=label, cancelled=stop, empty=created, immutable=immutable, shared=shared,
        )  # fmt: skip
        try:
            already = job.run(src.manifest, dst.tag, there=there)
        except NotFound:
            try:
                missing = ready.described() is None
            except EcrToolError:
                missing = False  # not allowed to describe it: the registry's own answer says what is wrong
            if missing:  # the registry knows no such repository: say how to make it
                ready.service._create_missing(ready.target, dst.repository, create=False)
            raise
        tally = job.tally
        return CopiedImage(
            reference=label,
            repository=dst.repository,
            digest=src.manifest.digest,
            already_there=already,
            created_repository=created,
            blobs_copied=tally.blobs_copied,
            blobs_mounted=tally.blobs_mounted,
            blobs_skipped=tally.blobs_skipped,
            bytes_copied=tally.bytes_copied,
            manifests_written=tally.manifests_written,
            referrers=tally.referrers,
        )
