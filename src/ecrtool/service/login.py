"""Logging the Docker engine in to a registry: the one flow `ecrtool login` and the console script's fast path share.

`token_registry` names the registry a token is for; `log_in` has the engine check the token and
stores it where the docker command reads it. Tokens.login calls both after getting a token (from the
cache or from AWS); `cached_login` calls both for a fresh cached token without building the service,
which would load AWS, docker-py and every command's rules. Where a login needs more than the cache
(AWS, to name the caller's account; docker-py, for an engine not on a unix socket; the docker command;
a token to fetch), `cached_login` answers None before it has asked the engine anything, and the
caller runs the full command line instead; so it does when the engine refuses the cached token, which
it drops first, so that the full login asks the engine with a fresh token, not the same one again.
"""

from __future__ import annotations

import os

from ecrtool.docker import config as dockerconfig
from ecrtool.docker.engine_api import EngineApi
from ecrtool.model import token_cache
from ecrtool.model.auth import AuthToken, RegistryAuth
from ecrtool.model.errors import AuthError
from ecrtool.model.refs import endpoint_host, registry_host
from ecrtool.model.settings import DEFAULTS, Settings, describe_host

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (see ecrtool.model.value)
if TYPE_CHECKING:
    from ecrtool.docker.runner import DockerRunner


def token_registry(override: str | None, account: str | None, region: str, proxy_endpoint: str | None) -> str | None:
    """The registry host a token for ACCOUNT in REGION is for, found without asking AWS.

    ECRTOOL_REGISTRY's host (OVERRIDE) when set; else the account's registry in REGION, the account
    being ACCOUNT or the one the token's endpoint names. None when neither names an account: then only
    sts:GetCallerIdentity can.
    """
    if override:
        return override
    named = endpoint_host(proxy_endpoint)
    account = account or (named.account if named else None)
    return registry_host(account, region) if account else None


def log_in(docker: DockerRunner, host: str, token: AuthToken) -> str:
    """Have the engine check TOKEN with the registry at HOST, and keep it where the docker command looks.

    Returns where the credentials were stored: the docker command runner's `docker login` stores them
    itself (root's config under sudo); otherwise they go into the Docker config.
    """
    stored = docker.login(RegistryAuth(registry=host, username=token.username, password=token.password))
    return stored or dockerconfig.store_credentials(host, token.username, token.password)


def cached_login(settings: Settings) -> tuple[str, AuthToken, str] | None:
    """`ecrtool login` on a fresh cached token, as Tokens.login does it; None when that needs more than the cache.

    Returns the registry, the token and where the credentials were stored: what a LoginResult holds,
    without loading the results module. None is answered before the engine is asked anything, or when
    it refused the cached token (then dropped from the cache); any other failure raises what
    Tokens.login raises for it (an engine out of reach, a Docker config that cannot be written).
    """
    if settings.runner != DEFAULTS["runner"] or settings.sudo or settings.no_cache:
        return None
    if settings.profile or settings.debug:
        return None
    # AwsSession.region's order, short of the AWS config file, which only botocore reads
    region = settings.region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    identity = token_cache.environment_identity(os.environ, settings.profile)
    if identity is None:
        # an instance role, as AwsSession names it; its region too when nothing else names one
        from ecrtool.aws import config_file, imds

        if not imds.instance_role_applies(os.environ, settings.profile):
            return None
        if not region and config_file.exists(os.environ):
            return None
        metadata = imds.instance(os.environ)
        try:
            identity = imds.identity_name(metadata)
            region = region or metadata.region()
        except AuthError:
            return None  # the full command line says why (it does not wait for the metadata again)
    if not region or identity is None:
        return None
    if settings.registry_id:
        from ecrtool.model.config import choose_profile, load_config

        if choose_profile(None, settings.registry_id, region, load_config()).profile:
            return None  # the config file names a profile for that registry: botocore's to read
    key = token_cache.make_key(settings.registry_id, region, identity)
    token = token_cache.load(key)
    if token is None:
        return None
    host = token_registry(settings.registry_override, settings.registry_id, region, token.proxy_endpoint)
    engine = describe_host(settings.docker_host)
    if host is None or not engine.startswith("unix://"):
        return None
    try:
        return host, token, log_in(EngineApi(engine.removeprefix("unix://")), host, token)
    except AuthError:
        # revoked or rotated before its time: a fresh token from AWS is more than the cache can give
        token_cache.forget(key)
        return None
