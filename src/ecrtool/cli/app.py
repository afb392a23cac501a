"""What every command needs: the settings, its family of the service and the renderer for this invocation."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Generic, TypeVar

import click

from ecrtool.cli.options import settings

if TYPE_CHECKING:
    from ecrtool.cli.render import Renderer
    from ecrtool.service.base import ServiceBase

Family = TypeVar("Family", bound="ServiceBase")


@dataclass
class App(Generic[Family]):
    service: Family
    render: Renderer


def app(ctx: click.Context, family: type[Family]) -> App[Family]:
    """The command's FAMILY of jobs (service/: Copies, Transfers, Repositories...) and the renderer.

    A command imports its family when it runs, not when the command line is parsed: `ecrtool --help`
    loads no service, and a command loads its own family's modules and no other's (start-up time).
    """
    import gc

    from ecrtool.cli.render import Renderer

    # What loading the modules made lives as long as the process: out of the collector's sight, it is not
    # traversed again by its collections or at exit (some 15 ms less at exit for a copy on this machine).
    # Once a process: a test runner that invokes many commands in one keeps collecting what its tests make.
    if not gc.get_freeze_count():
        gc.freeze()
    current = settings(ctx)
    return App(service=family(current), render=Renderer(output=current.output, quiet=current.quiet))
