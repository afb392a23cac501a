"""What every command needs: the settings, the service and the renderer for this invocation."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import click

from ecrtool.cli.options import settings

if TYPE_CHECKING:
    from ecrtool.cli.render import Renderer
    from ecrtool.service.service import Service


@dataclass
class App:
    service: Service
    render: Renderer


def app(ctx: click.Context) -> App:
    # imported when a command runs, not when the command line is parsed: `ecrtool --help` and
    # `--version` load neither the service (and its results) nor the renderer
    from ecrtool.cli.render import Renderer
    from ecrtool.service.service import Service

    current = settings(ctx)
    return App(service=Service(current), render=Renderer(output=current.output, quiet=current.quiet))
