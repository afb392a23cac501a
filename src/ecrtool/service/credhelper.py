"""Docker's credential-helper protocol, for ECR registries: what `docker-credential-ecrtool` answers.

The docker CLI (not the engine) runs `docker-credential-ecrtool get` for each registry that
config.json's `credHelpers` maps to `ecrtool`, with the registry's host on stdin, and reads
`{"ServerURL", "Username", "Secret"}` from stdout. The token comes from the shared token cache while
it is fresh, so a `docker pull` costs no AWS call for 11¾ hours after the first.

Which registry: ECRTOOL_REGISTRY's host (the settings' account and region), an ECR host
(ACCOUNT.dkr.ecr[-fips].REGION.amazonaws.com[.cn], its own account and region) or public.ecr.aws.
The AWS profile for a registry may be set in the config file: `[registries."HOST"] profile = "NAME"`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from ecrtool.docker import config as dockerconfig
from ecrtool.docker.config import HELPER
from ecrtool.model.config import load_config, registry_profile
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
    from ecrtool.service.tokens import Tokens

    env = dict(os.environ if environ is None else environ)
    host = normalize(server_url)
    if not host:
        raise InvalidInput(MISSING_URL_MESSAGE)
    settings = Settings.build(environ=env)
    if not serves(host, settings):
        raise NotServed(f"{host} is not an ECR registry")
    profile = registry_profile(host, load_config())
    if profile:
        settings = settings.replace(profile=profile)
    # the settings keep ECRTOOL_REGISTRY's spelling; compare and fetch with it
    if settings.registry_override and host == settings.registry_override.lower():
        host = settings.registry_override
    token = Tokens(settings).registry_token(host)
    return {"ServerURL": server_url.strip(), "Username": token.username, "Secret": token.password}


def served(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """Answer `list`: the registries this helper serves, each with its user name (always AWS)."""
    env = dict(os.environ if environ is None else environ)
    settings = Settings.build(environ=env)
    hosts: set[str] = set()
    helpers = dockerconfig.load(dockerconfig.config_path(env)).get("credHelpers") or {}
    if isinstance(helpers, dict):
        hosts.update(str(host) for host, helper in helpers.items() if helper == HELPER)
    if settings.registry_override:
        hosts.add(settings.registry_override)
    registries = load_config().get("registries") or {}
    if isinstance(registries, dict):
        hosts.update(str(host) for host in registries if serves(str(host).lower(), settings))
    return {host: "AWS" for host in sorted(hosts)}
