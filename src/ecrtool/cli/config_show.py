"""`ecrtool config show`: the effective settings and where each came from."""

from __future__ import annotations

import click

from ecrtool.cli.app import app
from ecrtool.cli.options import global_options


@click.group(
    epilog="Example:\n\n  ecrtool config show\n\n"
    "Settings come from flags, then ECRTOOL_* variables, then the config file "
    "($XDG_CONFIG_HOME/ecrtool/config.toml, else ~/.config/ecrtool/config.toml)."
)
def config() -> None:
    """The settings: region, registry_id, docker_host, runner and sudo."""


@config.command(
    "show",
    epilog="Examples:\n\n  ecrtool config show\n\n  ecrtool --sudo config show -o json\n\n"
    'A config file:\n\n  region = "ca-west-1"\n\n  runner = "cli"\n\n  sudo = true',
)
@global_options
@click.pass_context
def show(ctx: click.Context) -> None:
    """Print each setting's effective value and its source: a flag, a variable, the file's line, a default."""
    from ecrtool.service.setup import Setup

    a = app(ctx, Setup)
    a.render.settings_report(a.service.settings_report())
