"""The settings every command shares, gathered from global options and the environment."""

from __future__ import annotations

import os
from dataclasses import dataclass

from ecrtool.core.refs import validate_account, validate_region
from ecrtool.errors import InvalidInput


@dataclass(frozen=True)
class Settings:
    region: str | None = None
    profile: str | None = None
    registry_id: str | None = None
    docker_host: str | None = None
    registry_override: str | None = None
    output: str = "text"
    quiet: bool = False
    debug: bool = False
    no_cache: bool = False  # --no-cache or ECRTOOL_NO_CACHE=1: neither read nor write the token cache

    @classmethod
    def build(
        cls,
        *,
        region: str | None = None,
        profile: str | None = None,
        registry_id: str | None = None,
        docker_host: str | None = None,
        output: str | None = None,
        quiet: bool = False,
        debug: bool = False,
        no_cache: bool = False,
        environ: dict[str, str] | None = None,
    ) -> Settings:
        env = os.environ if environ is None else environ
        if region is not None:
            validate_region(region)
        if registry_id is not None:
            validate_account(registry_id)
        override = env.get("ECRTOOL_REGISTRY") or None
        if override is not None and ("/" in override or not override.strip() or " " in override):
            raise InvalidInput(f"invalid ECRTOOL_REGISTRY {override!r}: expected host[:port], such as 127.0.0.1:5000")
        return cls(
            region=region,
            profile=profile,
            registry_id=registry_id,
            docker_host=docker_host,
            registry_override=override,
            output=output or "text",
            quiet=quiet,
            debug=debug,
            no_cache=bool(no_cache) or env.get("ECRTOOL_NO_CACHE", "").lower() in ("1", "true", "yes"),
        )
