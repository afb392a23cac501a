"""Options every command shares, defined once and accepted before or after the command name."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import click

if TYPE_CHECKING:
    from ecrtool.model.settings import Settings

F = TypeVar("F", bound=Callable[..., Any])

_KEY = "ecrtool.globals"


def _remember(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
    # A value given after the command name overrides one given before it, as people expect.
    # --no-sudo's False is a choice too: it beats ECRTOOL_SUDO and the config file.
    if value is not None and (value is not False or param.name == "sudo"):
        ctx.find_root().meta.setdefault(_KEY, {})[param.name] = value
        if param.name == "debug":
            from ecrtool.cli.debuglog import configure

            configure()
    return value


_GLOBALS = [
    click.option("--region", metavar="REGION", help="AWS region, e.g. ca-west-1 (default: AWS_REGION, profile)."),
    click.option(
        "--profile",
        metavar="NAME",
        help="AWS profile from ~/.aws/config, for every registry: it beats the config file's "
        '[registries."HOST"] / [accounts."ID"] profile (default: that, else AWS_PROFILE).',
    ),
    click.option("--registry-id", metavar="ACCOUNT", help="Account id of the registry (default: the caller's)."),
    click.option(
        "--docker-host", metavar="URL", help="Docker engine, e.g. unix:///var/run/docker.sock (default: DOCKER_HOST)."
    ),
    click.option(
        "--runner",
        type=click.Choice(["api", "cli"]),
        help="How to drive Docker: api (the engine's API on its socket; the default) or cli (the docker command).",
    ),
    click.option(
        "--sudo/--no-sudo",
        default=None,
        help="Run the docker command through `sudo -n` (implies --runner cli), for users outside the docker group.",
    ),
    click.option("-o", "--output", type=click.Choice(["text", "json"]), help="Output format for results."),
    click.option("-q", "--quiet", is_flag=True, default=None, help="Print only results: no progress, no notes."),
    click.option(
        "--debug", is_flag=True, default=None, help="Log AWS and Docker calls (secrets redacted); tracebacks on error."
    ),
    click.option(
        "--no-cache",
        is_flag=True,
        default=None,
        help="Fetch a fresh registry token: do not read or write the token cache (env: ECRTOOL_NO_CACHE=1).",
    ),
]

_NAMES = {"region", "profile", "registry_id", "docker_host", "output", "quiet", "debug", "no_cache", "runner", "sudo"}


def global_options(func: F) -> F:
    for option in reversed(_GLOBALS):
        func = option(func)
    for param in getattr(func, "__click_params__", []):
        if param.name in _NAMES:
            param.callback = _remember
            param.expose_value = False
            param.is_eager = True
    return func


def global_options_except(*names: str) -> Callable[[F], F]:
    """The global options but NAMES, for a command with its own options of those names (e.g. many --region)."""

    def decorate(func: F) -> F:
        func = global_options(func)
        kept = [param for param in getattr(func, "__click_params__", []) if param.name not in names]
        func.__click_params__ = kept  # type: ignore[attr-defined]
        return func

    return decorate


def settings(ctx: click.Context) -> Settings:
    # imported here: the settings bring the config file and the reference rules, which --help never needs
    from ecrtool.model.settings import Settings

    values = ctx.find_root().meta.get(_KEY, {})
    return Settings.build(**values)


def is_debug(ctx: click.Context | None) -> bool:
    return bool(ctx and ctx.find_root().meta.get(_KEY, {}).get("debug"))
