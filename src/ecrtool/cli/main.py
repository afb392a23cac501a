"""The command line: the `ecrtool` group, its commands, and the one handler that turns errors into exit codes."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence
from typing import Any, NoReturn

import click

from ecrtool import __version__
from ecrtool.cli.options import global_options, is_debug
from ecrtool.model.errors import EXIT_FAILURE, EXIT_INTERRUPTED, EcrToolError

# Each command's module (cli/NAME.py) and function. A command line imports the one module it runs;
# `ecrtool --help` imports them all, for their one-line help (click's lazily loaded subcommands).
COMMANDS = {
    "create": "create",
    "login": "login",
    "tag": "tag",
    "push": "push",
    "retag": "retag",
    "pull": "pull",
    "copy": "copy",
    "replication": "replication",
    "scan": "scan",
    "run": "run",
    "images": "listing",
    "repos": "listing",
    "delete": "delete",
    "prune": "prune",
    "archive": "archive",
    "restore": "archive",
    "lifecycle": "lifecycle",
    "configure-docker": "configure_docker",
    "doctor": "doctor",
    "ec2": "ec2",
    "config": "config_show",
    "inspect": "inspect",
    "digest": "inspect",
    "sync": "sync",
    "grant": "grant",
    "revoke": "grant",
    "policy": "grant",
    "template": "template",
}


class _Interrupted(Exception):
    """Ctrl-C inside a command, carried past click, which would print a blank line for it first."""


class EcrToolGroup(click.Group):
    """A group whose main() is the one error handler, so CliRunner sees what a user sees."""

    # whether this run's options, as parsed, asked for --debug: read once the command has run or failed
    _debug = False

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        if args and args[0] not in COMMANDS:
            # click's "Did you mean" looks among the commands loaded: for a name it does not know, load them all
            for name in COMMANDS:
                command = self.get_command(ctx, name)
                if command is not None:
                    self.commands[name] = command
        return super().resolve_command(ctx, args)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        module = COMMANDS.get(cmd_name)
        if module is None:
            return None
        command: click.Command = getattr(importlib.import_module(f"ecrtool.cli.{module}"), cmd_name.replace("-", "_"))
        return command

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt:
            raise _Interrupted() from None
        finally:
            self._debug = is_debug(ctx)

    def main(  # type: ignore[override]
        self, args: Sequence[str] | None = None, prog_name: str | None = None, **extra: Any
    ) -> Any:
        argv = list(sys.argv[1:] if args is None else args)
        self._debug = False  # not "--debug" in argv: in `--region --debug`, it is the region's value
        extra.pop("standalone_mode", None)
        try:
            code = super().main(args=argv, prog_name="ecrtool", standalone_mode=False, **extra)
        except EcrToolError as err:
            fail(str(err), err.exit_code, self._debug)
        except (click.exceptions.Abort, KeyboardInterrupt, _Interrupted):
            # on a terminal the line starts after the echoed ^C; in a pipe or log it is the only line
            fail("interrupted", EXIT_INTERRUPTED, False, newline=sys.stderr.isatty())
        except click.UsageError as err:
            hint = f" (see '{err.ctx.command_path} --help')" if err.ctx else ""
            fail(f"{err.format_message()}{hint}", err.exit_code, False)
        except click.ClickException as err:
            fail(err.format_message(), err.exit_code, False)
        except BrokenPipeError:
            sys.exit(EXIT_FAILURE)
        except Exception as err:  # the last resort: still one line, a traceback only with --debug
            fail(f"unexpected {type(err).__name__}: {err} (rerun with --debug for details)", EXIT_FAILURE, self._debug)
        sys.exit(code if isinstance(code, int) else 0)


# Characters that end a line for the reader (str.splitlines): a message quoting user input shows them escaped.
_LINE_ENDS = str.maketrans({ch: ascii(ch)[1:-1] for ch in "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"})


def fail(message: str, code: int, debug: bool, newline: bool = False) -> NoReturn:
    message = message.translate(_LINE_ENDS)  # one line on stderr, whatever text the error quotes
    if debug:
        import traceback  # only now: it costs start-up time every other run would pay for nothing

        traceback.print_exc()
    prefix = "\n" if newline else ""
    click.echo(f"{prefix}ecrtool: error: {message}", err=True)
    sys.exit(code)


@click.group(
    cls=EcrToolGroup,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110},
    epilog="Example:\n\n  ecrtool push viruses --repo trees --region ca-west-1\n\n"
    "Global options work before or after the command name. Exit codes: 0 ok, 1 failure, "
    "2 invalid input, 130 interrupted.",
)
@click.version_option(__version__, "--version", prog_name="ecrtool")
@global_options
@click.pass_context
def cli(ctx: click.Context) -> None:
    """Work with Amazon ECR in one command: create, login, tag, push, pull, copy, list and delete.

    The account, region and registry are worked out from your AWS settings.
    """
    # Global options are applied by their callbacks (options.global_options); nothing else to do here.


def main() -> None:
    """The console script: run the command line with sys.argv."""
    cli.main()
