"""`ecrtool run`: pull when needed (authenticating itself), then docker run; the container's exit code is ecrtool's."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

import click

from ecrtool.cli.app import app
from ecrtool.cli.options import global_options

# containers.PULL_POLICIES, spelled out so that loading the command line does not load the container
# rules (tests/unit/test_startup.py keeps the two equal)
PULL_POLICIES = ("missing", "always", "never")


def run_options(func: click.decorators.FC) -> click.decorators.FC:
    """docker run's options that ecrtool passes on; shared with `ecrtool ec2 user-data`."""
    options = [
        click.option("--name", metavar="NAME", help="Name the container."),
        click.option(
            "-p", "--publish", "ports", multiple=True, metavar="HOST:CONTAINER", help="Publish a port; repeatable."
        ),
        click.option(
            "-e",
            "--env",
            "env",
            multiple=True,
            metavar="KEY=VALUE",
            help="Set a variable; KEY alone passes ecrtool's own value (kept off the command line). Repeatable.",
        ),
        click.option(
            "--env-file", metavar="FILE", help="Variables from a file of KEY=VALUE lines, as docker reads it."
        ),
        click.option(
            "-v",
            "--volume",
            "volumes",
            multiple=True,
            metavar="SRC:DST[:ro]",
            help="Mount a path or volume; repeatable.",
        ),
        click.option("--rm", "remove", is_flag=True, help="Remove the container when it exits."),
        click.option("--restart", metavar="POLICY", help="Restart policy: no, always, unless-stopped, on-failure[:N]."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


@contextmanager
def _terminate_stops_the_container() -> Iterator[None]:
    """SIGTERM (systemctl stop, docker's own stop of a wrapper) ends an attached run as Ctrl-C does."""
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@click.command(
    epilog="Examples:\n\n  ecrtool run trees:viruses\n\n"
    "  ecrtool run trees:viruses -d --name web -p 8080:80 -e MODE=prod --restart unless-stopped\n\n"
    "  ecrtool run public.ecr.aws/docker/library/busybox:latest -- echo hello\n\n"
    "  ecrtool --sudo run trees:viruses       # on a host where you are not in the docker group\n\n"
    "Replaces: aws ecr get-login-password | docker login ...; docker pull ...; docker run ..."
)
@click.argument("ref")
@click.argument("command", nargs=-1, type=click.UNPROCESSED)
@click.option("-d", "--detach", is_flag=True, help="Run in the background and print the container id.")
@click.option(
    "--pull",
    "pull_policy",
    type=click.Choice(PULL_POLICIES),
    default="missing",
    show_default=True,
    help="Pull the image: when it is not here, always, or never.",
)
@run_options
@global_options
@click.pass_context
def run(
    ctx: click.Context,
    ref: str,
    command: tuple[str, ...],
    detach: bool,
    pull_policy: str,
    name: str | None,
    ports: tuple[str, ...],
    env: tuple[str, ...],
    env_file: str | None,
    volumes: tuple[str, ...],
    remove: bool,
    restart: str | None,
) -> int:
    """Run REF (as pull takes it) in a container, pulling it first when needed; put the COMMAND after --.

    Attached, the container's output is ecrtool's and so is its exit code; Ctrl-C stops the
    container. With -d, ecrtool prints the container id and leaves it running.
    """
    from ecrtool.model.containers import build_spec

    spec = build_spec(
        command=command,
        name=name,
        detach=detach,
        ports=ports,
        env=env,
        env_file=env_file,
        volumes=volumes,
        remove=remove,
        restart=restart,
    )
    from ecrtool.service.transfers import Transfers

    a = app(ctx, Transfers)
    with a.render.progress() as progress:
        if detach:
            result = a.service.run(ref, spec, pull=pull_policy, progress=progress)
        else:
            with _terminate_stops_the_container():
                result = a.service.run(ref, spec, pull=pull_policy, output=a.render.container_output, progress=progress)
    a.render.ran(result)
    return result.exit_code or 0
