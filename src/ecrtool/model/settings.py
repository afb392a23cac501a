"""The settings every command shares, gathered from global options, the environment and the config file.

region, registry_id, docker_host, runner and sudo come from, in order: the flag (--region …), the
environment (ECRTOOL_REGION …), the config file (region = "…"), else the default; `sources` says which,
for `ecrtool config show` and for messages. Below all three, boto3 still reads AWS_REGION and the
profile, and docker-py DOCKER_HOST.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping

from ecrtool.model.config import config_path, read_settings
from ecrtool.model.errors import InvalidInput
from ecrtool.model.refs import is_registry_host, validate_account, validate_region
from ecrtool.model.value import Value

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (see ecrtool.model.value)
if TYPE_CHECKING:
    from typing import Any

    from ecrtool.model.results import SettingsReport  # `config show` only: reading settings loads no result types

MERGED = ("region", "registry_id", "docker_host", "runner", "sudo")
RUNNERS = ("api", "cli")
DEFAULTS: dict[str, Any] = {"region": None, "registry_id": None, "docker_host": None, "runner": "api", "sudo": False}
DEFAULT_SOURCE = "default"
DEFAULT_SOCKET = "unix:///var/run/docker.sock"
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")
_DOCKER_HOST_RE = re.compile(r"^(?:unix|tcp|ssh|http|https|npipe|fd)://\S+$")
# below the settings, in this order, as AwsSession.region reads them: AWS_REGION is what the AWS CLI v2 and
# the SDKs read, AWS_DEFAULT_REGION what boto3 reads
REGION_VARIABLES = ("AWS_REGION", "AWS_DEFAULT_REGION")


def region_variable(environ: Mapping[str, str]) -> str | None:
    """The variable a region comes from when no setting names one; None when the AWS profile decides."""
    return next((name for name in REGION_VARIABLES if environ.get(name)), None)


def env_name(key: str) -> str:
    return f"ECRTOOL_{key.upper()}"


def flag_name(key: str, value: Any = None) -> str:
    if key == "sudo" and value is False:
        return "--no-sudo"
    return "--" + key.replace("_", "-")


def _host_override(env: Mapping[str, str], name: str) -> str | None:
    value = env.get(name) or None
    # a host name or address, never anything else: it starts every reference handed to the docker command,
    # where a leading '-' would be read as an option
    if value is not None and not is_registry_host(value):
        raise InvalidInput(f"invalid {name} {value!r}: expected host[:port], such as 127.0.0.1:5000")
    return value


def _from_text(key: str, text: str, source: str) -> Any:
    """A setting given as text (an environment variable) as its type; sudo is a yes/no."""
    if key != "sudo":
        return text
    if text.strip().lower() in _TRUE:
        return True
    if text.strip().lower() in _FALSE:
        return False
    raise InvalidInput(f"invalid {source} {text!r}: use true or false (or 1 / 0)")


def _check(key: str, value: Any) -> Any:
    if key == "region":
        validate_region(value)
    elif key == "registry_id":
        validate_account(value)
    elif key == "runner" and value not in RUNNERS:
        raise InvalidInput(f"invalid runner {value!r}: use api (the engine's API) or cli (the docker command)")
    elif key == "docker_host" and not _DOCKER_HOST_RE.match(value):
        raise InvalidInput(
            f"invalid Docker host {value!r}: expected a URL such as unix:///var/run/docker.sock or tcp://HOST:2375"
        )
    return value


class Settings(Value):
    __slots__ = (
        "region",
        "profile",
        "registry_id",
        "docker_host",
        "registry_override",
        "output",
        "quiet",
        "debug",
        "no_cache",
        "runner",
        "sudo",
        "public_registry_override",
        "sources",
    )
    _UNCOMPARED = ("sources",)  # where the values came from is no part of what they are
    region: str | None
    profile: str | None
    registry_id: str | None
    docker_host: str | None
    registry_override: str | None
    output: str
    quiet: bool
    debug: bool
    no_cache: bool  # --no-cache or ECRTOOL_NO_CACHE=1: neither read nor write the token cache
    runner: str  # api: the engine's API on its socket; cli: the docker command (always with sudo)
    sudo: bool  # run the docker command through `sudo -n`
    public_registry_override: str | None  # ECRTOOL_PUBLIC_REGISTRY: stands in for public.ecr.aws
    # where each of MERGED came from: "--region", "ECRTOOL_REGION", "<config file>, line N" or "default"
    sources: dict[str, str]

    def __init__(
        self,
        region: str | None = None,
        profile: str | None = None,
        registry_id: str | None = None,
        docker_host: str | None = None,
        registry_override: str | None = None,
        output: str = "text",
        quiet: bool = False,
        debug: bool = False,
        no_cache: bool = False,
        runner: str = "api",
        sudo: bool = False,
        public_registry_override: str | None = None,
        sources: dict[str, str] | None = None,
    ) -> None:
        self.region = region
        self.profile = profile
        self.registry_id = registry_id
        self.docker_host = docker_host
        self.registry_override = registry_override
        self.output = output
        self.quiet = quiet
        self.debug = debug
        self.no_cache = no_cache
        self.runner = runner
        self.sudo = sudo
        self.public_registry_override = public_registry_override
        self.sources = {} if sources is None else sources

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
        runner: str | None = None,
        sudo: bool | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> Settings:
        env = os.environ if environ is None else environ
        flags = dict(region=region, registry_id=registry_id, docker_host=docker_host, runner=runner, sudo=sudo)
        values, sources = _merge(flags, env)
        override = _host_override(env, "ECRTOOL_REGISTRY")
        return cls(
            region=values["region"],
            profile=profile,
            registry_id=values["registry_id"],
            docker_host=values["docker_host"],
            runner=values["runner"],
            sudo=values["sudo"],
            public_registry_override=_host_override(env, "ECRTOOL_PUBLIC_REGISTRY"),
            sources=sources,
            registry_override=override,
            output=output or "text",
            quiet=quiet,
            debug=debug,
            no_cache=bool(no_cache) or env.get("ECRTOOL_NO_CACHE", "").lower() in ("1", "true", "yes"),
        )


def _merge(flags: Mapping[str, Any], env: Mapping[str, str]) -> tuple[dict[str, Any], dict[str, str]]:
    """Each of MERGED from the first place that sets it: flag, ECRTOOL_* variable, config file, default."""
    # read even when flags set everything: a malformed file is an error every time, not now and then
    in_file = read_settings(config_path(dict(env)))
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for key in MERGED:
        if flags.get(key) is not None:
            value, source = flags[key], flag_name(key, flags[key])
            values[key] = _check(key, value)
        elif env.get(env_name(key), "").strip():
            source = env_name(key)
            value = _from_text(key, env[source], source)
            try:
                values[key] = _check(key, value)
            except InvalidInput as err:
                raise InvalidInput(f"{err} (from {source})") from None
        else:
            if key in in_file:
                setting = in_file[key]
                source = f"{setting.path}, line {setting.line}"
                try:
                    values[key] = _check(key, setting.value)
                except InvalidInput as err:
                    raise InvalidInput(f"the config file {setting.where}: {err}: fix or remove it") from None
            else:
                values[key], source = DEFAULTS[key], DEFAULT_SOURCE
        sources[key] = source
    if values["sudo"]:
        if values["runner"] == "api" and sources["runner"] != DEFAULT_SOURCE:
            raise InvalidInput(
                f"sudo (from {sources['sudo']}) runs the docker command, but the runner is api "
                f"(from {sources['runner']}): use --runner cli, or drop one of the two"
            )
        if sources["runner"] == DEFAULT_SOURCE:
            values["runner"], sources["runner"] = "cli", f"implied by sudo ({sources['sudo']})"
    return values, sources


def describe(
    settings: Settings,
    environ: Mapping[str, str],
    profile_region: Callable[[], str | None | tuple[str, str]],
    credentials: tuple[str, str] | None = None,
) -> SettingsReport:
    """Each merged setting's effective value and source, down to what boto3 and docker fall back on.

    PROFILE_REGION gives the region found past the variables, with its source when it says one (the
    profile, instance metadata); CREDENTIALS, what the commands sign with and where that comes from."""
    from ecrtool.model.results import SettingsReport, SettingValue

    rows: list[SettingValue] = []
    for key in MERGED:
        value: str | bool | None = getattr(settings, key)
        source = settings.sources.get(key, DEFAULT_SOURCE)
        if value is None and key == "region":
            variable = region_variable(environ)
            if variable:
                value, source = environ[variable], variable
            else:
                found = profile_region()
                value, source = found if isinstance(found, tuple) else (found, "the AWS profile (~/.aws/config)")
                if not value:
                    source = "not set: pass --region or set AWS_REGION"
        elif value is None and key == "registry_id":
            source = "not set: the caller's account (sts:GetCallerIdentity)"
        elif value is None and key == "docker_host":
            if environ.get("DOCKER_HOST"):
                value, source = environ["DOCKER_HOST"], "DOCKER_HOST"
            else:
                value = DEFAULT_SOCKET
        rows.append(SettingValue(key, value, source))
    if credentials is not None:
        rows.append(SettingValue("credentials", credentials[0], credentials[1]))
    for name in ("ECRTOOL_REGISTRY", "ECRTOOL_PUBLIC_REGISTRY"):
        if environ.get(name):
            what = "registry" if name == "ECRTOOL_REGISTRY" else "public_registry"
            rows.append(SettingValue(what, environ[name], name))
    path = config_path(dict(environ))
    return SettingsReport(config_file=str(path), config_file_exists=path.is_file(), settings=rows)


def describe_host(docker_host: str | None) -> str:
    """The engine's address: the settings' docker_host, else $DOCKER_HOST, else the default socket."""
    return docker_host or os.environ.get("DOCKER_HOST") or DEFAULT_SOCKET
