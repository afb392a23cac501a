"""`ecrtool login` when the registry token is in the cache: the engine's check and the stored credentials.

This is Service.login's way for a fresh cached token (the same cache key, registry host, engine call
and Docker config), taken without the service, which loads the AWS and Docker gateways and every
command's rules. Where that way needs more (AWS, to name the caller or the account; docker-py, for an
engine not on a unix socket; the docker command; a token to fetch) it answers None and the caller runs
the full login instead.
"""

from __future__ import annotations

import os

from ecrtool.docker import config as dockerconfig
from ecrtool.docker.engine_http import Engine, EngineError
from ecrtool.model import token_cache
from ecrtool.model.auth import AuthToken, RegistryAuth
from ecrtool.model.refs import endpoint_host, registry_host
from ecrtool.model.settings import DEFAULTS, Settings, describe_host


def login_from_cache(settings: Settings) -> tuple[str, AuthToken, str] | None:
    """Log the engine in with the cached token, as Service.login would; None when that needs more than the cache.

    Returns the registry, the token and where the credentials were stored: what a LoginResult holds,
    without loading the results module (twenty dataclasses: a good part of such a login's time).

    Raises what Service.login raises for the same failure (a refused token, an engine out of reach, a
    Docker config that cannot be written).
    """
    if settings.runner != DEFAULTS["runner"] or settings.sudo or settings.no_cache:
        return None
    if settings.profile or settings.debug:
        return None
    # AwsSession.region's order, short of the AWS config file, which only botocore reads
    region = settings.region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    identity = token_cache.environment_identity(os.environ, settings.profile)
    if not region or identity is None:
        return None
    token = token_cache.load(token_cache.make_key(settings.registry_id, region, identity))
    if token is None:
        return None
    host = settings.registry_override or _ecr_host(settings.registry_id, region, token.proxy_endpoint)
    engine = describe_host(settings.docker_host)
    if host is None or not engine.startswith("unix://"):
        return None
    # the Docker gateway (typing, dataclasses) loads only for a failure's message
    auth = RegistryAuth(registry=host, username=token.username, password=token.password)
    try:
        Engine(engine.removeprefix("unix://")).login(auth.as_docker())
    except (EngineError, OSError) as err:
        from ecrtool.docker.api import socket_error

        raise socket_error("login", err, settings.docker_host) from err
    stored = dockerconfig.store_credentials(host, token.username, token.password)
    return host, token, stored


def _ecr_host(account: str | None, region: str, proxy_endpoint: str | None) -> str | None:
    """Service._host without AWS: the account from the settings or the token's endpoint, else None."""
    found = endpoint_host(proxy_endpoint)
    if account is None and found:
        account = found.account
    return registry_host(account, region) if account else None
