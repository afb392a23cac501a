"""What every job of the service stands on: the settings, the AWS and Docker gateways, and where a command works.

The gateways are built on first use, so a command that needs neither AWS nor Docker (a bad argument,
`ecrtool ec2 user-data`) loads neither. Each family of jobs (tokens, transfers, repositories, set-up)
is a class of its own module deriving from ServiceBase; a command builds the one family it calls (cli/app.py).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace

from ecrtool.aws.ecr import Ecr
from ecrtool.aws.session import AwsSession
from ecrtool.docker.runner import DockerRunner, build_runner
from ecrtool.model import token_cache
from ecrtool.model.errors import EcrToolError, InvalidInput, NotFound
from ecrtool.model.refs import RepoRef, parse_repo_ref, registry_host
from ecrtool.model.results import RepositoryInfo
from ecrtool.model.settings import Settings

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (see ecrtool.model.value)
if TYPE_CHECKING:
    from ecrtool.model.config import ProfileChoice
    from ecrtool.model.templates import TemplateInfo

_log = logging.getLogger("ecrtool.profiles")


@dataclass(frozen=True)
class Target:
    """Where a command works: the region, the registry's account when known (else the caller's), its ECR API,
    and the identity that speaks to it (the AWS session of the profile chosen for it, and why)."""

    region: str
    account: str | None
    ecr: Ecr
    aws: AwsSession | None = None
    profile: ProfileChoice | None = None


class ServiceBase:
    def __init__(self, settings: Settings, aws: AwsSession | None = None, docker: DockerRunner | None = None) -> None:
        self.settings = settings
        self._aws = aws
        self._docker = docker
        # the token cache entries this command used: dropped when a registry refuses their token
        self._token_keys: list[token_cache.CacheKey] = []
        # set once a refused registry token has been replaced: a command re-authenticates at most once
        self._reauthenticated = False
        # the sessions of the profiles the config file names for the registries this command talks to
        self._sessions: dict[str, AwsSession] = {}
        self._file_config: dict[str, object] | None = None
        # the repositories this command left to a creation template to create on push, and the template's prefix
        self.created_by_template: dict[str, str] = {}

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
        choice = self.profile_for(account, region)
        aws = self._session_of(choice)
        ecr = Ecr(aws.lazy_client("ecr", region), registry_id=account, signed=aws.signed_ecr(region))
        return Target(region=region, account=account, ecr=ecr, aws=aws, profile=choice)

    def profile_for(self, account: str | None, region: str | None) -> ProfileChoice:
        """The profile this command speaks to ACCOUNT's registry in REGION as, and why: the one rule
        (model.config.choose_profile) that every command talking to a registry goes through."""
        from ecrtool.model.config import choose_profile, load_config

        if self.settings.profile or not account:
            return choose_profile(self.settings.profile, account, region, {})
        if self._file_config is None:
            self._file_config = load_config()
        return choose_profile(None, account, region, self._file_config)

    def _session_of(self, choice: ProfileChoice) -> AwsSession:
        """The AWS session of the profile CHOICE names: this command's own when it is the settings' profile."""
        if choice.profile is None or choice.profile == self.settings.profile:
            return self.aws
        if choice.profile not in self._sessions:
            _log.debug("AWS profile %s, from %s", choice.profile, choice.reason)
            self._sessions[choice.profile] = AwsSession(
                region=self.settings.region, profile=choice.profile, profile_source=choice.reason
            )
        return self._sessions[choice.profile]

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
        """REPOSITORY, known not to exist: left to the registry's creation template that covers it (ECR
        creates it at the push's first upload: no CreateRepository call), else created with CREATE;
        NotFound saying how to create it otherwise."""
        template = self.covering_template(target, repository)
        if template is not None:
            self.created_by_template[repository] = template.prefix
            uri = f"{registry_host(target.account, target.region)}/{repository}" if target.account else ""
            return RepositoryInfo(repository, uri, target.account or "", tag_mutability=template.mutability)
        if not create:
            raise NotFound(
                f"repository {repository!r} does not exist in {target.region}: create it with "
                f"`ecrtool create {repository}` or pass --create, or have a creation template create such "
                "repositories on push: `ecrtool template set PREFIX`"
            )
        return target.ecr.create_repository(repository)

    def covering_template(self, target: Target, repository: str) -> TemplateInfo | None:
        """The CREATE_ON_PUSH template of TARGET's registry that covers REPOSITORY (the longest prefix, else
        ROOT's), as ECR would pick it; None when none does or the templates cannot be read."""
        from ecrtool.model.templates import covering, template_info

        try:
            registry, items = target.ecr.creation_templates()
        except (EcrToolError, NotImplementedError):
            # not allowed to read them, or an ECR stand-in without them (moto raises NotImplementedError): none
            return None
        if target.account and registry and registry != target.account:
            return None  # the caller's own registry's templates, not those of the registry pushed to
        return covering([template_info(item) for item in items], repository)

    def _archived(self, target: Target, ref: RepoRef, wanted: str) -> EcrToolError | None:
        """NotFound saying how to restore REF when ECR has it in its archive (one DescribeImages by id, which
        never counts as a pull); None when it has no such image, archived or not."""
        from ecrtool.model.archive import IN_ARCHIVE, archived_message, shown_reference

        image_id = {"imageDigest": ref.digest} if ref.digest else {"imageTag": wanted}
        try:
            image = target.ecr.image_in_any_status(ref.repository, image_id)
        except EcrToolError:
            return None  # not there, or not allowed to look: the plain not-found stands
        if image.status not in IN_ARCHIVE:
            return None
        return NotFound(archived_message(shown_reference(ref, wanted), image.status))

    def _explain_missing(self, target: Target, ref: RepoRef, wanted: str) -> EcrToolError:
        """What was not there when a pull of REF found nothing: the repository, or the tag or digest in it."""
        try:
            target.ecr.describe_repository(ref.repository)
        except NotFound:
            return NotFound(
                f"repository {ref.repository!r} does not exist in {target.region}: "
                "`ecrtool repos` lists the repositories there"
            )
        archived = self._archived(target, ref, wanted)
        if archived is not None:
            return archived
        what = "digest" if ref.digest else "tag"
        return NotFound(
            f"{what} {wanted!r} not found in repository {ref.repository!r}: "
            f"`ecrtool images {ref.repository}` lists them"
        )
