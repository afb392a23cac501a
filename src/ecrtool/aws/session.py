"""AWS session, clients and the translation of botocore errors into the project's errors.

botocore is imported here, and only when a command first needs a client, so `ecrtool --help` stays fast.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import Any

from ecrtool.aws.errors import CREDENTIALS_HINT, translate
from ecrtool.model.errors import AuthError, InvalidInput

MAX_ATTEMPTS = 5  # per AWS call, retries included


class AwsSession:
    """One boto3 session for a command; the region is resolved once and every client shares it."""

    def __init__(self, region: str | None = None, profile: str | None = None) -> None:
        self._region = region
        self._profile = profile
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
                self._session = botocore.session.Session(profile=self._profile)
                self._session.get_scoped_config()  # an unknown profile fails here, as boto3's would
            except botocore.exceptions.ProfileNotFound as err:
                raise InvalidInput(
                    f"AWS profile {self._profile!r} not found: check --profile or AWS_PROFILE "
                    "against ~/.aws/config (aws configure list-profiles)"
                ) from err
        return self._session

    def region(self, wanted: str | None = None) -> str:
        # AWS_REGION is what the AWS CLI v2 and the SDKs read; boto3 reads only AWS_DEFAULT_REGION.
        region = (
            wanted
            or self._region
            or os.environ.get("AWS_REGION")
            # what botocore would find first anyway, read here so that knowing the region loads no boto3
            or os.environ.get("AWS_DEFAULT_REGION")
            or self._boto_session().get_config_variable("region")
        )
        if not region:
            raise InvalidInput(
                "no AWS region: pass --region, set AWS_REGION or AWS_DEFAULT_REGION, or set region in ~/.aws/config"
            )
        return str(region)

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
        """The client, made on first use: a command whose token is cached never loads botocore at all.

        For ECR with the keys in the environment, the hot-path calls skip botocore altogether (ecr_json).
        """
        botocore_client = LazyClient(lambda: self.client(service, region))
        if service != "ecr":
            return botocore_client
        from ecrtool.aws import signed as ecr_json

        name = self.region(region)
        endpoint = ecr_json.endpoint_for(name, os.environ, self._profile)
        keys = ecr_json.environment_keys(os.environ)
        if endpoint is None or keys is None:
            return botocore_client
        light = ecr_json.EcrJsonClient(
            endpoint, name, keys, max_attempts=MAX_ATTEMPTS, ca_bundle=os.environ.get("AWS_CA_BUNDLE") or None
        )
        return SignedEcrClient(light, botocore_client)

    def caller_account(self) -> str:
        sts = self.client("sts")
        with translate("sts:GetCallerIdentity"):
            return str(sts.get_caller_identity()["Account"])

    def identity(self) -> str:
        """A stable name for the caller's credentials, found without asking AWS: the token cache's key.

        Static keys are named by their key id; refreshing credentials (roles, SSO, instance metadata)
        change key id as they refresh, so they are named by the profile and how it gets them.
        """
        from ecrtool.model.token_cache import STATIC_METHODS, static_identity

        session = self._boto_session()
        with translate("AWS credentials"):
            credentials = session.get_credentials()
            if credentials is None:
                raise AuthError(f"no AWS credentials found: {CREDENTIALS_HINT}")
            method = str(getattr(credentials, "method", "") or "")
            if method in STATIC_METHODS:
                return static_identity(str(credentials.access_key))
            scoped = session.get_scoped_config() or {}
        named = {key: str(scoped[key]) for key in _PROFILE_IDENTITY_KEYS if scoped.get(key)}
        named.update({k: v for k, v in os.environ.items() if k in _ROLE_VARIABLES and v})
        return f"{method}:{session.profile or 'default'}:" + ",".join(f"{k}={v}" for k, v in sorted(named.items()))


class SignedEcrClient:
    """ECR's hot-path calls signed and sent by ecrtool itself; every other call goes to botocore's client."""

    def __init__(self, light: Any, fallback: LazyClient) -> None:
        self._light = light
        self._fallback = fallback

    def __getattr__(self, name: str) -> Any:
        # retag's two calls too: botocore's import and client cost more than the calls (BENCHMARKS.md)
        if name in (
            "get_authorization_token",
            "describe_repositories",
            "create_repository",
            "batch_get_image",
            "put_image",
        ):
            return getattr(self._light, name)
        return getattr(self._fallback, name)


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
