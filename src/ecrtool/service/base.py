"""What every job of the service stands on: the settings, the AWS and Docker gateways, and where a command works.

The gateways are built on first use, so a command that needs neither AWS nor Docker (a bad argument,
`ecrtool ec2 user-data`) loads neither. Each family of jobs (tokens, transfers, repositories, set-up)
is a class of its own module deriving from ServiceBase; a command builds the one family it calls (cli/app.py).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from ecrtool.aws.ecr import Ecr
from ecrtool.aws.session import AwsSession
from ecrtool.docker.runner import DockerRunner, build_runner
from ecrtool.model import token_cache
from ecrtool.model.errors import EcrToolError, InvalidInput, NotFound
from ecrtool.model.refs import RepoRef, parse_repo_ref
from ecrtool.model.results import RepositoryInfo
from ecrtool.model.settings import Settings


@dataclass(frozen=True)
class Target:
    """Where a command works: the region, the registry's account when known (else the caller's), its ECR API."""

    region: str
    account: str | None
    ecr: Ecr


class ServiceBase:
    def __init__(self, settings: Settings, aws: AwsSession | None = None, docker: DockerRunner | None = None) -> None:
        self.settings = settings
        self._aws = aws
        self._docker = docker
        # the token cache entries this command used: dropped when a registry refuses their token
        self._token_keys: list[token_cache.CacheKey] = []
        # set once a refused registry token has been replaced: a command re-authenticates at most once
        self._reauthenticated = False

    @property
    def aws(self) -> AwsSession:
        if self._aws is None:
            self._aws = AwsSession(region=self.settings.region, profile=self.settings.profile)
        return self._aws

    @property
    def docker(self) -> DockerRunner:
        if self._docker is None:
            self._docker = build_runner(self.settings)
        return self._docker

    def _target(self, ref: RepoRef | None = None) -> Target:
        region = self.aws.region((ref.region if ref else None) or self.settings.region)
        account = (ref.account if ref else None) or self.settings.registry_id
        ecr = Ecr(self.aws.lazy_client("ecr", region), registry_id=account, signed=self.aws.signed_ecr(region))
        return Target(region=region, account=account, ecr=ecr)

    def _uri(self, repo: RepositoryInfo) -> RepositoryInfo:
        if self.settings.registry_override:
            return replace(repo, uri=f"{self.settings.registry_override}/{repo.name}")
        return repo

    def _repo_option(self, repo: str | None) -> RepoRef | None:
        """--repo takes a name or a full repository URI (whose account and region then win)."""
        if repo is None:
            return None
        ref = parse_repo_ref(repo, self.settings.registry_override)
        if ref.tag or ref.digest:
            raise InvalidInput(f"--repo {repo!r} names an image: give the repository alone and the tag with --tag")
        return ref

    def _local_image(self, text: str) -> str:
        details = self.docker.inspect_image(text)
        if details is None:
            raise NotFound(
                f"local image {text!r} not found: build it (docker build -t {text} .) or pick one from `docker images`"
            )
        return details.image_id

    def _ensure_repository(self, target: Target, repository: str, create: bool) -> tuple[RepositoryInfo, bool]:
        """REPOSITORY, and whether it had to be created (with CREATE); NotFound saying how to create it otherwise."""
        try:
            return target.ecr.describe_repository(repository), False
        except NotFound:
            return self._create_missing(target, repository, create), True

    def _create_missing(self, target: Target, repository: str, create: bool) -> RepositoryInfo:
        """REPOSITORY, known not to exist, created with CREATE; NotFound saying how to create it otherwise."""
        if not create:
            raise NotFound(
                f"repository {repository!r} does not exist in {target.region}: create it with "
                f"`ecrtool create {repository}` or pass --create"
            )
        return target.ecr.create_repository(repository)

    def _explain_missing(self, target: Target, ref: RepoRef, wanted: str) -> EcrToolError:
        """What was not there when a pull of REF found nothing: the repository, or the tag or digest in it."""
        try:
            target.ecr.describe_repository(ref.repository)
        except NotFound:
            return NotFound(
                f"repository {ref.repository!r} does not exist in {target.region}: "
                "`ecrtool repos` lists the repositories there"
            )
        what = "digest" if ref.digest else "tag"
        return NotFound(
            f"{what} {wanted!r} not found in repository {ref.repository!r}: "
            f"`ecrtool images {ref.repository}` lists them"
        )
