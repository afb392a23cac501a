"""AWS session, clients and the translation of botocore errors into the project's errors.

botocore is imported here, and only when a command first needs a client, so `ecrtool --help` stays fast.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import Any

from ecrtool.aws import config_file, imds
from ecrtool.aws.errors import CREDENTIALS_HINT, translate
from ecrtool.model.errors import AuthError, InvalidInput

MAX_ATTEMPTS = 5  # per AWS call, retries included
PROFILE_SOURCE = "the AWS profile"


class AwsSession:
    """One boto3 session for a command; the region is resolved once and every client shares it."""

    def __init__(
        self, region: str | None = None, profile: str | None = None, profile_source: str | None = None
    ) -> None:
        self._region = region
        self._profile = profile
        # where PROFILE was named, when not by --profile or AWS_PROFILE: the config file's entry for a registry
        self._profile_source = profile_source
        self._session: Any = None
        self._clients: dict[tuple[str, str], Any] = {}
        # botocore's session is not thread-safe: a copy's destinations make their clients from their threads
        self._lock = threading.RLock()

    def _boto_session(self) -> Any:
        with self._lock:
            return self._made_session()

    def _made_session(self) -> Any:
        if self._session is None:
            # botocore's own session, not boto3's: clients are all ecrtool uses, and boto3 (with
            # s3transfer) would add to the start-up of every command that talks to AWS
            import botocore.exceptions
            import botocore.session

            try:
                session = botocore.session.Session(profile=self._profile)
                session.get_scoped_config()  # an unknown profile fails here, as boto3's would, every time asked
                self._session = session
            except botocore.exceptions.ProfileNotFound as err:
                named = self._profile_source or "--profile or AWS_PROFILE"
                raise InvalidInput(
                    f"AWS profile {self._profile!r} not found: check {named} "
                    "against ~/.aws/config (aws configure list-profiles)"
                ) from err
        return self._session

    def region(self, wanted: str | None = None) -> str:
        return self.region_and_source(wanted)[0]

    def region_and_source(self, wanted: str | None = None) -> tuple[str, str]:
        """The region and where it came from, in the AWS CLI v2's order: the flag or settings, AWS_REGION,
        AWS_DEFAULT_REGION, the profile, then the instance's own region from instance metadata."""
        if wanted or self._region:
            return str(wanted or self._region), "--region"
        for variable in ("AWS_REGION", "AWS_DEFAULT_REGION"):
            # AWS_REGION is what the AWS CLI v2 and the SDKs read; boto3 reads only AWS_DEFAULT_REGION
            if os.environ.get(variable):
                return os.environ[variable], variable
        if self._profile is not None or config_file.exists(os.environ):
            region = self._boto_session().get_config_variable("region")
            if region:
                return str(region), PROFILE_SOURCE
        missing = "no AWS region: pass --region, set AWS_REGION or AWS_DEFAULT_REGION, or set region in ~/.aws/config"
        if not imds.disabled(os.environ):
            try:
                return imds.instance(os.environ).region(), "instance metadata (instance identity document)"
            except imds.MetadataUnavailable as err:
                if self._profile is None and self._instance_role():
                    raise  # no credentials either: the metadata is what is missing (exit 1, its fix)
                raise InvalidInput(f"{missing}; on EC2, {err}") from err
        raise InvalidInput(missing)

    def client(self, service: str, region: str | None = None) -> Any:
        name = self.region(region)
        with self._lock:
            return self._client(service, name)

    def _client(self, service: str, name: str) -> Any:
        key = (service, name)
        if key not in self._clients:
            from botocore.config import Config

            # botocore's standard retry mode: 5 attempts in all (total_max_attempts; its "max_attempts"
            # counts retries), backing off with jitter, longer for throttling than for a 5xx.
            retries = {"mode": "standard", "total_max_attempts": MAX_ATTEMPTS}
            config = Config(retries=retries, connect_timeout=10, read_timeout=60)
            with translate(f"{service} client"):
                self._clients[key] = self._boto_session().create_client(service, region_name=name, config=config)
        return self._clients[key]

    def lazy_client(self, service: str, region: str | None = None) -> Any:
        """botocore's client, made on first use: a command whose token is cached never loads botocore at all."""
        return LazyClient(lambda: self.client(service, region))

    def signed_ecr(self, region: str | None = None) -> Any:
        """ecrtool's own signed ECR client for the hot-path calls, or None where only botocore's would do.

        It serves when the request botocore would send is plain (signed.endpoint_for) and the credentials
        are the environment's keys or, with nothing else configured, the instance role's, read from
        instance metadata at the first call that needs them.
        """
        from ecrtool.aws import signed

        name = self.region(region)
        endpoint = signed.endpoint_for(name, os.environ, self._profile)
        if endpoint is None:
            return None
        keys: signed.Keys | Callable[[], signed.Keys] | None = signed.environment_keys(os.environ)
        if keys is None and self._profile is None and self._instance_role():
            keys = lambda: imds.instance(os.environ).credentials().keys  # noqa: E731
        if keys is None:
            return None
        return signed.EcrJsonClient(
            endpoint, name, keys, max_attempts=MAX_ATTEMPTS, ca_bundle=os.environ.get("AWS_CA_BUNDLE") or None
        )

    def _instance_role(self) -> bool:
        """Whether botocore's chain would end at the instance role: no keys, profile or role anywhere else."""
        return imds.instance_role_applies(os.environ, self._profile)

    def caller_account(self) -> str:
        sts = self.client("sts")
        with translate("sts:GetCallerIdentity"):
            return str(sts.get_caller_identity()["Account"])

    def identity(self) -> str:
        """A stable name for the caller's credentials, found without asking AWS: the token cache's key.

        Static keys are named by their key id; refreshing credentials (roles, SSO, instance metadata)
        change key id as they refresh, so they are named by the profile and how it gets them; an
        instance role by its name and account, so a rotation of its keys keeps the cached tokens.
        """
        from ecrtool.model.token_cache import STATIC_METHODS, static_identity

        if self._instance_role():
            return self._instance_identity()
        session, credentials, method = self._found_credentials()
        if method in STATIC_METHODS:
            return static_identity(str(credentials.access_key))
        if method == "iam-role":
            return self._instance_identity()
        with translate("AWS credentials"):
            scoped = session.get_scoped_config() or {}
        named = {key: str(scoped[key]) for key in _PROFILE_IDENTITY_KEYS if scoped.get(key)}
        named.update({k: v for k, v in os.environ.items() if k in _ROLE_VARIABLES and v})
        return f"{method}:{session.profile or 'default'}:" + ",".join(f"{k}={v}" for k, v in sorted(named.items()))

    def _found_credentials(self) -> tuple[Any, Any, str]:
        """botocore's session, its credentials and the provider's name; AuthError when it finds none.

        Resolved under the lock: botocore's session is not thread-safe, and a copy's destinations ask from
        their threads (a resolution may read files, call STS or instance metadata, and caches what it found).
        """
        session = self._boto_session()
        with translate("AWS credentials"), self._lock:
            credentials = session.get_credentials()
        if credentials is None:
            raise AuthError(f"no AWS credentials found: {CREDENTIALS_HINT}")
        return session, credentials, str(getattr(credentials, "method", "") or "")

    def _instance_identity(self) -> str:
        return imds.identity_name(imds.instance(os.environ))

    def credentials_source(self) -> tuple[str, str]:
        """Which credentials the commands sign with, and where they come from (`config show`, `doctor`)."""
        from ecrtool.aws import signed

        if self._profile is None and signed.environment_keys(os.environ) is not None:
            return "access keys", "AWS_ACCESS_KEY_ID"
        if self._instance_role():
            return f"instance role {imds.instance(os.environ).role()}", "instance metadata"
        session, _, method = self._found_credentials()
        if method == "iam-role":
            return f"instance role {imds.instance(os.environ).role()}", "instance metadata"
        return _METHOD_NAMES.get(method, method), f"profile {session.profile or 'default'}"


# how botocore names its credential providers, in words
_METHOD_NAMES = {
    "env": "access keys (environment)",
    "shared-credentials-file": "access keys (shared credentials file)",
    "config-file": "access keys (AWS config file)",
    "assume-role": "an assumed role",
    "assume-role-with-web-identity": "a web identity role",
    "sso": "AWS IAM Identity Center (SSO)",
    "container-role": "the container's role (container credentials endpoint)",
    "custom-process": "a credential_process",
}


class LazyClient:
    """Stands in for a boto3 client and makes it at the first attribute asked for."""

    def __init__(self, make: Callable[[], Any]) -> None:
        self._make = make
        self._client: Any = None

    def __getattr__(self, name: str) -> Any:
        if self._client is None:
            self._client = self._make()
        return getattr(self._client, name)


# What names a refreshing identity: the profile's role or SSO settings, and the role variables.
_PROFILE_IDENTITY_KEYS = (
    "role_arn",
    "source_profile",
    "credential_source",
    "credential_process",
    "web_identity_token_file",
    "sso_session",
    "sso_account_id",
    "sso_role_name",
)
_ROLE_VARIABLES = frozenset(
    {
        "AWS_ROLE_ARN",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    }
)
