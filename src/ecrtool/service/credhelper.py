"""Docker's credential-helper protocol, for ECR registries: what `docker-credential-ecrtool` answers.

The docker CLI (not the engine) runs `docker-credential-ecrtool get` for each registry that
config.json's `credHelpers` maps to `ecrtool`, with the registry's host on stdin, and reads
`{"ServerURL", "Username", "Secret"}` from stdout. The token comes from the shared token cache while
it is fresh, so a `docker pull` costs no AWS call for 11¾ hours after the first.

Which registry: ECRTOOL_REGISTRY's host (the settings' account and region), an ECR host
(ACCOUNT.dkr.ecr[-fips].REGION.amazonaws.com[.cn], its own account and region) or public.ecr.aws.
The AWS profile for a registry may be set in the config file: `[registries."HOST"] profile = "NAME"`, or
for every registry of an account, `[accounts."ID"] profile = "NAME"` (model.config.choose_profile).
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from ecrtool.model.auth import AuthToken
from ecrtool.model.config import choose_profile, load_config
from ecrtool.model.errors import EcrToolError, InvalidInput
from ecrtool.model.refs import PUBLIC_HOST, parse_ecr_host
from ecrtool.model.settings import Settings

VERBS = ("get", "list", "store", "erase", "version")
# The protocol's own messages (docker-credential-helpers' credentials package): docker treats the
# first as "no credentials here" and goes on without them.
NOT_FOUND_MESSAGE = "credentials not found in native keychain"
MISSING_URL_MESSAGE = "no credentials server URL"


class NotServed(EcrToolError):
    """The registry is not one this helper serves; the protocol answers with its not-found message."""


def normalize(server_url: str) -> str:
    """The registry host in what docker sends: `https://HOST/v2/` and `HOST` both give HOST."""
    text = server_url.strip()
    if "://" in text:
        text = text.split("://", 1)[1]
    return text.split("/", 1)[0].lower()


def serves(host: str, settings: Settings) -> bool:
    if not host:
        return False
    override = (settings.registry_override or "").lower()
    return host == override or host == PUBLIC_HOST or parse_ecr_host(host) is not None


def get(server_url: str, environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """Answer `get`: the credentials for the registry named on stdin."""
    env = dict(os.environ if environ is None else environ)
    host = normalize(server_url)
    if not host:
        raise InvalidInput(MISSING_URL_MESSAGE)
    settings = Settings.build(environ=env)
    if not serves(host, settings):
        raise NotServed(f"{host} is not an ECR registry")
    found = parse_ecr_host(host)
    account, region = (found.account, found.region) if found else (settings.registry_id, settings.region)
    choice = choose_profile(settings.profile, account, region, load_config(), host=host)
    if choice.profile:
        settings = settings.replace(profile=choice.profile)
    # the settings keep ECRTOOL_REGISTRY's spelling; compare and fetch with it
    if settings.registry_override and host == settings.registry_override.lower():
        host = settings.registry_override
    token = cached_token(host, settings, env)
    if token is None:
        from ecrtool.service.tokens import Tokens  # AWS's gateway and the service: only to fetch a token

        token = Tokens(settings).registry_token(host)
    return {"ServerURL": server_url.strip(), "Username": token.username, "Secret": token.password}


def erase(server_url: str, environ: Mapping[str, str] | None = None) -> None:
    """Answer `erase` (docker runs it for `docker logout HOST`): drop the cached token for that registry,
    so the next `get` fetches a fresh one, the way out when a registry refuses a token before its time."""
    from ecrtool.model import token_cache

    env = dict(os.environ if environ is None else environ)
    host = normalize(server_url)
    settings = Settings.build(environ=env)
    found = parse_ecr_host(host)
    identity = _identity(settings, env) if found else None
    if found and identity:
        token_cache.forget(token_cache.make_key(found.account, found.region, identity, environ=env))


def _identity(settings: Settings, environ: Mapping[str, str]) -> str | None:
    """The token cache's name for the caller when it is known without botocore: keys, or an instance role."""
    from ecrtool.aws import imds
    from ecrtool.model import token_cache

    identity = token_cache.environment_identity(environ, settings.profile)
    if identity is None and imds.instance_role_applies(environ, settings.profile):
        try:
            identity = imds.identity_name(imds.instance(environ))
        except EcrToolError:
            return None  # Tokens says why
    return identity


def cached_token(host: str, settings: Settings, environ: Mapping[str, str]) -> AuthToken | None:
    """The fresh cached token for an ECR registry HOST, found as Tokens.registry_token finds it, without
    loading the service (docker runs this before every pull); None when that needs more than the cache."""
    from ecrtool.model import token_cache

    found = parse_ecr_host(host)
    if found is None or settings.no_cache or (settings.registry_override and host == settings.registry_override):
        return None
    identity = _identity(settings, environ)
    if identity is None:
        return None
    return token_cache.load(token_cache.make_key(found.account, found.region, identity, environ=environ))


def served(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """Answer `list`: the registries this helper serves, each with its user name (always AWS)."""
    env = dict(os.environ if environ is None else environ)
    settings = Settings.build(environ=env)
    hosts: set[str] = set()
    from ecrtool.docker import config as dockerconfig  # `list` only: `get` runs before every pull
    from ecrtool.docker.config import HELPER

    helpers = dockerconfig.load(dockerconfig.config_path(env)).get("credHelpers") or {}
    if isinstance(helpers, dict):
        hosts.update(str(host) for host, helper in helpers.items() if helper == HELPER)
    if settings.registry_override:
        hosts.add(settings.registry_override)
    registries = load_config().get("registries") or {}
    if isinstance(registries, dict):
        hosts.update(str(host) for host in registries if serves(str(host).lower(), settings))
    return {host: "AWS" for host in sorted(hosts)}
