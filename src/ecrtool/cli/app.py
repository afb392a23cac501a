"""What every command needs: the settings, the service and the renderer for this invocation."""

from __future__ import annotations

from dataclasses import dataclass

import click

from ecrtool.cli.options import settings
from ecrtool.cli.render import Renderer
from ecrtool.core.service import Service


@dataclass
class App:
    service: Service
    render: Renderer


def app(ctx: click.Context) -> App:
    current = settings(ctx)
    return App(service=Service(current), render=Renderer(output=current.output, quiet=current.quiet))
