"""The service: each ecrtool command as one function over the ECR and Docker gateways.

It validates input before touching AWS or Docker, returns plain results, reports push and pull
progress through a callback, and raises only EcrToolErrors.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from functools import partial
from typing import TYPE_CHECKING, Any

from ecrtool.aws.ecr import AuthToken, Ecr, public_authorization_token
from ecrtool.aws.session import AwsSession
from ecrtool.docker import config as dockerconfig
from ecrtool.docker.api import DockerApi, DockerRunner, is_auth_failure
from ecrtool.model import token_cache
from ecrtool.model.auth import RegistryAuth
from ecrtool.model.errors import AlreadyExists, AuthError, EcrToolError, InvalidInput, NotFound, Refused, RegistryError
from ecrtool.model.refs import (
    PUBLIC_HOST,
    RepoRef,
    endpoint_host,
    parse_ecr_host,
    parse_key_value,
    parse_local_image,
    parse_repo_ref,
    push_targets,
    registry_host,
    validate_account,
    validate_digest,
    validate_region,
    validate_repository,
    validate_tag,
)
from ecrtool.model.results import (
    ConfigureDockerResult,
    CreateResult,
    DeleteImagesResult,
    DeleteRepositoryResult,
    DoctorReport,
    ImageInfo,
    LoginResult,
    ProgressEvent,
    PullResult,
    PushResult,
    RepositoryInfo,
    RunResult,
    SettingsReport,
    TagResult,
    UserData,
)
from ecrtool.model.settings import Settings
from ecrtool.registry.probe import unreachable

if TYPE_CHECKING:
    from ecrtool.model.containers import Output, RunSpec

Progress = Callable[[ProgressEvent], None]
Confirm = Callable[[str, int], bool]
Start = Callable[[RegistryAuth], Iterator[dict[str, Any]]]

# While the engine retries a failed upload or download, how often to check that the registry still
# takes connections at all.
PROBE_INTERVAL = 5.0


@dataclass
class Target:
    """Where a command works: the region, the account when known, and the registry host."""

    region: str
    account: str | None
    ecr: Ecr
    host: str | None = None


class Service:
    # set once a refused registry token has been replaced: a command re-authenticates at most once
    _reauthenticated = False

    def __init__(
        self,
        settings: Settings,
        aws: AwsSession | None = None,
        docker: DockerRunner | None = None,
    ) -> None:
        self.settings = settings
        self._aws = aws
        self._docker = docker
        self._token_keys: list[token_cache.CacheKey] = []

    # -- gateways, built on first use -------------------------------------------------------------

    @property
    def aws(self) -> AwsSession:
        if self._aws is None:
            self._aws = AwsSession(region=self.settings.region, profile=self.settings.profile)
        return self._aws

    @property
    def docker(self) -> DockerRunner:
        if self._docker is None:
            if self.settings.runner == "cli":
                from ecrtool.docker.command import DockerCli

                self._docker = DockerCli(self.settings.docker_host, sudo=self.settings.sudo)
            else:
                self._docker = DockerApi(self.settings.docker_host)
        return self._docker

    def _target(self, ref: RepoRef | None = None, *, need_host: bool = False) -> Target:
        region = self.aws.region((ref.region if ref else None) or self.settings.region)
        account = (ref.account if ref else None) or self.settings.registry_id
        ecr = Ecr(self.aws.lazy_client("ecr", region), registry_id=account)
        target = Target(region=region, account=account, ecr=ecr)
        if need_host:
            target.host = self._host(target)
        return target

    def _host(self, target: Target, proxy_endpoint: str | None = None) -> str:
        if self.settings.registry_override:
            return self.settings.registry_override
        found = endpoint_host(proxy_endpoint)
        if target.account is None and found:
            target.account = found.account
        if target.account is None:
            target.account = self.aws.caller_account()
        return registry_host(target.account, target.region)

    def _token(
        self, region: str, account: str | None, fetch: Callable[[], AuthToken], *, service: str = "ecr"
    ) -> AuthToken:
        """The one way to a registry token: the cache's while it is fresh, else FETCH's, kept for next time."""
        if self.settings.no_cache:
            return fetch()
        identity = token_cache.environment_identity(os.environ, self.settings.profile) or self.aws.identity()
        key = token_cache.make_key(account, region, identity, service=service)
        self._token_keys.append(key)
        token, was_cached = token_cache.cached(key, fetch)
        named = endpoint_host(token.proxy_endpoint)
        if account is None and named is not None:
            # the caller's default registry: kept under its account too, where the credential helper looks
            alias = token_cache.make_key(named.account, region, identity, service=service)
            self._token_keys.append(alias)
            if not was_cached:
                token_cache.store(alias, token)
        return token

    def _forget_tokens(self) -> None:
        """The registry refused a token: drop the ones this command used, so the next try fetches anew."""
        for key in self._token_keys:
            token_cache.forget(key)

    def _watch_refusals(self, events: Iterator[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        try:
            for event in events:
                if ("error" in event or "errorDetail" in event) and is_auth_failure(str(event)):
                    self._forget_tokens()
                yield event
        except AuthError:
            self._forget_tokens()
            raise

    def _auth(self, target: Target) -> RegistryAuth:
        token = self._token(target.region, target.account, target.ecr.authorization_token)
        target.host = target.host or self._host(target, token.proxy_endpoint)
        return RegistryAuth(registry=target.host, username=token.username, password=token.password)

    def _uri(self, repo: RepositoryInfo) -> RepositoryInfo:
        if self.settings.registry_override:
            return replace(repo, uri=f"{self.settings.registry_override}/{repo.name}")
        return repo

    # -- commands ---------------------------------------------------------------------------------

    def create(
        self,
        name: str,
        *,
        scan_on_push: bool = False,
        immutable: bool = False,
        kms_key: str | None = None,
        tags: Iterable[str] = (),
        exist_ok: bool = False,
    ) -> CreateResult:
        ref = parse_repo_ref(name, self.settings.registry_override)
        if ref.tag or ref.digest:
            raise InvalidInput(f"create takes a repository name, not an image reference: drop the tag from {name!r}")
        pairs = [parse_key_value(text) for text in tags]
        if kms_key is not None and not kms_key.strip():
            raise InvalidInput("--kms-key is empty: give a KMS key id, alias or ARN")
        target = self._target(ref)
        try:
            info = target.ecr.create_repository(
                ref.repository, scan_on_push=scan_on_push, immutable=immutable, kms_key=kms_key, tags=pairs
            )
            return CreateResult(repository=self._uri(info), created=True)
        except AlreadyExists:
            if exist_ok:
                return CreateResult(repository=self._uri(target.ecr.describe_repository(ref.repository)), created=False)
            raise

    def login(self, *, public: bool = False) -> LoginResult:
        if public:
            # ecr-public's GetAuthorizationToken lives in us-east-1 whatever --region says
            host = self.settings.public_registry_override or PUBLIC_HOST
            return self._docker_login(host, self.registry_token(PUBLIC_HOST))
        target = self._target()
        token = self._token(target.region, target.account, target.ecr.authorization_token)
        return self._docker_login(self._host(target, token.proxy_endpoint), token)

    def _docker_login(self, host: str, token: AuthToken) -> LoginResult:
        auth = RegistryAuth(registry=host, username=token.username, password=token.password)
        try:
            # the cli runner's docker login stores them itself (root's config under sudo); the api runner's not
            stored = self.docker.login(auth)
        except AuthError:
            self._forget_tokens()
            raise
        stored = stored or dockerconfig.store_credentials(host, token.username, token.password)
        return LoginResult(registry=host, username=token.username, expires_at=token.expires_at, stored_in=stored)

    def registry_token(self, host: str) -> AuthToken:
        """The credential helper's `get`: the token for the registry at HOST, from the cache while fresh.

        HOST is ECRTOOL_REGISTRY's (the settings' account and region), an ECR registry's own name (its
        account and region), or public.ecr.aws. The region comes from the environment before boto3 is
        loaded, so a cached token costs no AWS library at all.
        """
        if host == PUBLIC_HOST:
            return self._token(
                "us-east-1",
                "public",
                lambda: public_authorization_token(self.aws.client("ecr-public", "us-east-1")),
                service="ecr-public",
            )
        if self.settings.registry_override and host == self.settings.registry_override:
            region = self.settings.region or os.environ.get("AWS_DEFAULT_REGION") or self.aws.region()
            account = self.settings.registry_id
        else:
            found = parse_ecr_host(host)
            if found is None:
                raise InvalidInput(f"{host} is not an ECR registry: expected ACCOUNT.dkr.ecr.REGION.amazonaws.com")
            region, account = found.region, found.account
        return self._token(
            region, account, lambda: Ecr(self.aws.lazy_client("ecr", region), registry_id=account).authorization_token()
        )

    def configure_docker(
        self, regions: Iterable[str], accounts: Iterable[str], *, public: bool = False, sudo: bool = False
    ) -> ConfigureDockerResult:
        """Point the Docker config (root's with SUDO) at docker-credential-ecrtool for these registries.

        ECRTOOL_REGISTRY stands for every account and region; otherwise the registries are each
        account (default: the caller's) in each region (default: the settings').
        """
        from ecrtool.service import docker_setup

        wanted_regions = list(dict.fromkeys(validate_region(region) for region in regions))
        wanted_accounts = list(dict.fromkeys(validate_account(account) for account in accounts))
        if self.settings.registry_override:
            hosts = [self.settings.registry_override]
        else:
            wanted_regions = wanted_regions or [self.aws.region(self.settings.region)]
            if not wanted_accounts:
                wanted_accounts = [self.settings.registry_id or self.aws.caller_account()]
            hosts = [registry_host(account, region) for account in wanted_accounts for region in wanted_regions]
        if public:
            hosts.append(PUBLIC_HOST)
        if sudo:
            return docker_setup.configure_root(hosts)
        return docker_setup.configure(dockerconfig.config_path(), hosts, helper_path=docker_setup.find_helper())

    def doctor(self) -> DoctorReport:
        from ecrtool.service.doctor import Doctor

        return Doctor(self).run()

    def tag(self, image_text: str, repo: str | None, tags: tuple[str, ...]) -> TagResult:
        image = parse_local_image(image_text)
        repo_ref = self._repo_option(repo)
        repository, chosen = push_targets(image, repo_ref.repository if repo_ref else None, tags)
        details = self._local_image(image.text)
        target = self._target(repo_ref, need_host=True)
        remote = f"{target.host}/{repository}"
        for tag in chosen:
            self.docker.tag(details, remote, tag)
        return TagResult(source=image.text, references=[f"{remote}:{tag}" for tag in chosen])

    def push(
        self,
        image_text: str,
        repo: str | None,
        tags: tuple[str, ...],
        *,
        create: bool = False,
        progress: Progress | None = None,
    ) -> PushResult:
        image = parse_local_image(image_text)
        repo_ref = self._repo_option(repo)
        repository, chosen = push_targets(image, repo_ref.repository if repo_ref else None, tags)
        source = self._local_image(image.text)
        target = self._target(repo_ref)
        created = self._ensure_repository(target, repository, create)
        auth = self._auth(target)
        remote = f"{auth.registry}/{repository}"
        existing = {tag for tag in chosen if self.docker.inspect_image(f"{remote}:{tag}") is not None}
        added: list[str] = []
        references: list[str] = []
        digest: str | None = None
        size: int | None = None
        try:
            for tag in chosen:
                reference = f"{remote}:{tag}"
                self.docker.tag(source, remote, tag)
                if tag not in existing:
                    added.append(reference)
                start = partial(self.docker.push, remote, tag)
                found, auth = self._transfer(target, auth, "push", reference, start, progress)
                digest = found.get("Digest") or digest
                size = found.get("Size") or size
                references.append(reference)
        except BaseException:
            # Nothing half-done: the local names this push invented go again; the image stays.
            for reference in added:
                try:
                    self.docker.untag(reference)
                except EcrToolError:
                    pass
            raise
        return PushResult(
            registry=auth.registry,
            repository=repository,
            references=references,
            digest=digest,
            size_bytes=size,
            created_repository=created,
        )

    def pull(self, ref_text: str, *, progress: Progress | None = None) -> PullResult:
        ref = parse_repo_ref(ref_text, self.settings.registry_override, public=True)
        if ref.public:
            return self._pull_public(ref, progress)
        target = self._target(ref)
        auth = self._auth(target)
        remote = f"{auth.registry}/{ref.repository}"
        wanted = ref.digest or ref.tag or "latest"
        reference = f"{remote}@{wanted}" if ref.digest else f"{remote}:{wanted}"
        try:
            start = partial(self.docker.pull, remote, wanted)
            found, auth = self._transfer(target, auth, "pull", reference, start, progress)
        except NotFound as err:
            raise self._explain_missing(target, ref, wanted) from err
        details = self.docker.inspect_image(reference)
        return PullResult(
            reference=reference,
            digest=found.get("Digest") or ref.digest,
            image_id=details.image_id if details else None,
        )

    def _pull_public(self, ref: RepoRef, progress: Progress | None) -> PullResult:
        """A public gallery image, anonymously or with what `ecrtool login --public` stored.

        The engine's client sends stored credentials by itself, so this makes no AWS call at all.
        """
        reference = self._local_reference(ref)
        host = reference.split("/", 1)[0]
        wanted = ref.digest or ref.tag or "latest"
        try:
            events = self.docker.pull(f"{host}/{ref.repository}", wanted, None)
            found = self._follow("pull", reference, host, events, progress)
        except AuthError as err:
            raise AuthError(f"{err}: log in with `ecrtool login --public`, then pull again") from err
        except NotFound as err:
            raise NotFound(f"{err}: check the alias, repository and tag on https://gallery.ecr.aws") from err
        details = self.docker.inspect_image(reference)
        digest = found.get("Digest") or ref.digest
        return PullResult(reference=reference, digest=digest, image_id=details.image_id if details else None)

    def _local_reference(self, ref: RepoRef) -> str:
        """The name the engine knows the image by once pulled."""
        if ref.public:
            host = self.settings.public_registry_override or PUBLIC_HOST
        else:
            host = str(self._target(ref, need_host=True).host)
        wanted = ref.digest or ref.tag or "latest"
        return f"{host}/{ref.repository}@{wanted}" if ref.digest else f"{host}/{ref.repository}:{wanted}"

    def run(
        self,
        ref_text: str,
        spec: RunSpec,
        *,
        pull: str = "missing",
        output: Output | None = None,
        progress: Progress | None = None,
    ) -> RunResult:
        """Pull REF when the policy says so (authenticating as pull does), then create and start a container."""
        from ecrtool.model.containers import PULL_POLICIES  # only run needs the container rules

        if pull not in PULL_POLICIES:
            raise InvalidInput(f"invalid pull policy {pull!r}: use {', '.join(PULL_POLICIES)}")
        ref = parse_repo_ref(ref_text, self.settings.registry_override, public=True)
        reference = self._local_reference(ref)
        present = pull != "always" and self.docker.inspect_image(reference) is not None
        pulled: PullResult | None = None
        if pull == "always" or (pull == "missing" and not present):
            pulled = self.pull(ref_text, progress=progress)
            reference = pulled.reference
        elif not present:
            raise NotFound(
                f"image {reference} is not on this Docker engine and --pull never forbids fetching it: "
                f"pull it with `ecrtool pull {ref_text}`, or use --pull missing"
            )
        outcome = self.docker.run(replace(spec, image=reference), output)
        return RunResult(
            reference=reference,
            container_id=outcome.container_id,
            exit_code=outcome.exit_code,
            pulled=pulled is not None,
            digest=pulled.digest if pulled else None,
        )

    def user_data(
        self,
        ref_text: str,
        *,
        os_name: str,
        service: bool,
        run: dict[str, Any],
        install: str | None = None,
        launch_template: str | None = None,
        instance_profile: str | None = None,
        file_name: str = "user-data.sh",
    ) -> UserData:
        """`ecrtool ec2 user-data`: the script an instance runs at first boot to run REF. No AWS call."""
        from ecrtool.service import userdata

        ref = parse_repo_ref(ref_text, self.settings.registry_override, public=True)
        region = self.settings.region or ref.region
        if region is None and not ref.public:
            try:
                region = self.aws.region()  # AWS_REGION or the profile's: read locally
            except InvalidInput:
                raise InvalidInput(
                    "the user data needs the instance's region: pass --region, or a full reference "
                    "(ACCOUNT.dkr.ecr.REGION.amazonaws.com/REPO:TAG)"
                ) from None
        return userdata.generate(
            ref_text=ref_text,
            os_name=os_name,
            region=region,
            registry_id=self.settings.registry_id,
            run=userdata.check_run_args(ref, service=service, **run),
            service=service,
            spec=install,
            launch_template=launch_template,
            instance_profile=instance_profile,
            file_name=file_name,
            public=ref.public,
        )

    def settings_report(self) -> SettingsReport:
        """`ecrtool config show`: the effective settings and where each came from."""
        from ecrtool.model.settings import describe

        def profile_region() -> str | None:
            try:
                return self.aws.region()
            except EcrToolError:
                return None

        return describe(self.settings, os.environ, profile_region)

    def images(self, ref_text: str) -> list[ImageInfo]:
        ref = parse_repo_ref(ref_text, self.settings.registry_override)
        target = self._target(ref)
        found = list(target.ecr.images(ref.repository))
        found.sort(key=lambda image: (image.pushed_at is None, image.pushed_at), reverse=True)
        return found

    def repositories(self) -> list[RepositoryInfo]:
        target = self._target()
        return sorted((self._uri(repo) for repo in target.ecr.repositories()), key=lambda repo: repo.name)

    def delete_images(self, ref_text: str, tags: Iterable[str], digests: Iterable[str]) -> DeleteImagesResult:
        ref = parse_repo_ref(ref_text, self.settings.registry_override)
        if ref.tag or ref.digest:
            raise InvalidInput("name the images to delete with --tag and --digest, not in the repository name")
        ids = [{"imageTag": validate_tag(tag)} for tag in tags]
        ids += [{"imageDigest": validate_digest(digest)} for digest in digests]
        unique = list({tuple(sorted(item.items())): item for item in ids}.values())
        target = self._target(ref)
        deleted, failures, calls = target.ecr.batch_delete(ref.repository, unique)
        return DeleteImagesResult(repository=ref.repository, deleted=deleted, failures=failures, calls=calls)

    def delete_repository(self, ref_text: str, *, force: bool, confirm: Confirm) -> DeleteRepositoryResult:
        ref = parse_repo_ref(ref_text, self.settings.registry_override)
        if ref.tag or ref.digest:
            raise InvalidInput("to delete one image pass --tag or --digest; to delete the repository name it alone")
        validate_repository(ref.repository)
        target = self._target(ref)
        info = self._uri(target.ecr.describe_repository(ref.repository))
        count = target.ecr.image_count(ref.repository)
        if count and not force:
            raise EcrToolError(
                f"repository {ref.repository!r} still holds images: pass --force to delete them with it,"
                f" or delete them first with `ecrtool delete {ref.repository} --tag TAG`"
            )
        if not confirm(ref.repository, count):
            raise Refused(f"kept repository {ref.repository!r}: deletion not confirmed")
        target.ecr.delete_repository(ref.repository, force=force)
        return DeleteRepositoryResult(repository=ref.repository, uri=info.uri, images_deleted=count)

    # -- helpers ----------------------------------------------------------------------------------

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

    def _ensure_repository(self, target: Target, repository: str, create: bool) -> bool:
        try:
            target.ecr.describe_repository(repository)
            return False
        except NotFound:
            if not create:
                raise NotFound(
                    f"repository {repository!r} does not exist in {target.region}: create it with "
                    f"`ecrtool create {repository}` or pass --create"
                ) from None
        target.ecr.create_repository(repository)
        return True

    def _explain_missing(self, target: Target, ref: RepoRef, wanted: str) -> EcrToolError:
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

    def _transfer(
        self,
        target: Target,
        auth: RegistryAuth,
        action: str,
        reference: str,
        start: Start,
        progress: Progress | None,
    ) -> tuple[dict[str, Any], RegistryAuth]:
        """One push or pull through the engine, with the credentials it ended up using.

        A token can expire or be revoked while a command runs (a long push of many tags, a cached
        token): when the registry refuses it, fetch a fresh one, once per command, and run the step again.
        """
        try:
            return self._follow(action, reference, auth.registry, start(auth), progress), auth
        except AuthError:
            if self._reauthenticated:
                raise
            self._reauthenticated = True
        self._forget_tokens()  # the refused token may be the cache's: the fresh one must come from ECR
        fresh = self._auth(target)
        try:
            return self._follow(action, reference, fresh.registry, start(fresh), progress), fresh
        except AuthError as err:
            raise AuthError(
                f"{err}; a fresh token from ecr:GetAuthorizationToken was refused as well: check that the"
                " registry belongs to the account and region of your credentials (--registry-id, --region)"
            ) from err

    def _follow(
        self,
        action: str,
        reference: str,
        registry: str,
        events: Iterator[dict[str, Any]],
        progress: Progress | None,
    ) -> dict[str, Any]:
        """Drain the engine's event stream: report progress, collect the digest, raise on an error event."""
        found: dict[str, Any] = {}
        probe_at = 0.0
        for event in self._watch_refusals(events):
            if "error" in event or "errorDetail" in event:
                message = str(event.get("error") or (event.get("errorDetail") or {}).get("message") or "failed")
                raise stream_error(action, reference, registry, message)
            aux = event.get("aux")
            if isinstance(aux, dict) and aux.get("Digest"):
                found["Digest"] = aux["Digest"]
                found["Size"] = aux.get("Size")
                continue
            status = str(event.get("status", ""))
            if status.startswith("Retrying in") and time.monotonic() >= probe_at:
                # The engine retries a failed upload or download for close to a minute. A registry that
                # takes no connections at all is down, not slow: say so now instead.
                probe_at = time.monotonic() + PROBE_INTERVAL
                problem = unreachable(registry)
                if problem:
                    raise RegistryError(
                        f"registry {registry} stopped answering during the {action} of {reference} ({problem}):"
                        f" check that it is up and reachable, then run the {action} again"
                    )
            if status.startswith("Digest: "):
                found["Digest"] = status.removeprefix("Digest: ").strip()
            if progress is not None and status:
                detail = event.get("progressDetail") or {}
                progress(
                    ProgressEvent(
                        action=action,
                        reference=reference,
                        layer=event.get("id"),
                        status=status,
                        current=detail.get("current"),
                        total=detail.get("total"),
                    )
                )
        return found


def stream_error(action: str, reference: str, registry: str, message: str) -> EcrToolError:
    lowered = message.lower()
    if is_auth_failure(lowered):
        return AuthError(f"registry {registry} refused authentication for {action} of {reference}: {message}")
    if "name unknown" in lowered or "manifest unknown" in lowered or "not found" in lowered:
        return NotFound(f"{action} of {reference}: {message}")
    return RegistryError(f"{action} of {reference} to registry {registry} failed: {message}")
