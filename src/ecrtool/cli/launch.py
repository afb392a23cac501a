"""The `ecrtool` console script: a login whose token is cached runs here, every other command line in cli.main.

Such a login is quicker than loading click, so it is worth going around the command line for: this
recognizes `ecrtool [OPTIONS] login [OPTIONS]` with the few global options the cached login can take,
builds the settings from them exactly as the command line would, and logs in through the service's
one login flow (service.login). Anything else (another command or option, a typo, --help, a token to
fetch) goes to the full command line before anything is printed or asked of the engine.
"""

from __future__ import annotations

import sys

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (see ecrtool.model.value)
if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Any

    from ecrtool.model.auth import AuthToken
    from ecrtool.model.settings import Settings

COMMAND = "login"
# The global options (cli/options.py) a cached login takes, as Settings.build names them. Every other
# one means AWS, docker-py, the docker command or help: --profile, --debug, --no-cache, --runner, --sudo…
_VALUED = {"--region": "region", "--registry-id": "registry_id", "--docker-host": "docker_host", "--output": "output"}
_FLAGS = {"--quiet": "quiet", "-q": "quiet"}
_OUTPUTS = ("text", "json")  # --output's choices, as click checks them


def login_options(argv: Sequence[str]) -> dict[str, Any] | None:
    """The global options of `ecrtool [OPTIONS] login [OPTIONS]` as click's parsing gives them to
    Settings.build (a later one wins); None for any other command line, or one click would refuse."""
    values: dict[str, Any] = {}
    command = False
    args = iter(argv)
    for arg in args:
        if arg == COMMAND and not command:
            command = True
            continue
        if arg in _FLAGS:
            values[_FLAGS[arg]] = True
            continue
        name, equals, value = arg.partition("=")
        if arg.startswith("-o") and len(arg) > 2 and not arg.startswith("--"):
            name, value = "--output", arg[2:]  # -ojson; as for click, -o=json is '=json'
        elif arg == "-o":
            name = "--output"
        if name not in _VALUED:
            return None
        if not equals and value == "":
            value = next(args, "")
        # click would take '-x' as the value; no valid value starts so, and the settings would refuse it
        if not value or value.startswith("-") or (name == "--output" and value not in _OUTPUTS):
            return None
        values[_VALUED[name]] = value
    return values if command else None


def cached_login(argv: Sequence[str]) -> bool:
    """Run `ecrtool login` on a cached token if ARGV asks for one this can do; False when it did nothing.

    Nothing is printed and the engine is not asked before this knows it can do the login; from then on
    a failure is reported here (one line, the command line's exit code), so the engine is asked once.
    """
    values = login_options(argv)
    if values is None:
        return False
    from ecrtool.model.errors import EXIT_FAILURE, EXIT_INTERRUPTED, EcrToolError
    from ecrtool.model.settings import Settings
    from ecrtool.service.login import cached_login as login_from_cache

    try:
        try:
            settings = Settings.build(**values)
        except EcrToolError:
            return False  # bad settings: the command line says so, its way
        result = login_from_cache(settings)
        if result is None:
            return False
        _print(settings, *result)
    except BrokenPipeError:
        sys.exit(EXIT_FAILURE)  # as the command line does
    except KeyboardInterrupt:
        _fail("interrupted", EXIT_INTERRUPTED, newline=sys.stderr.isatty())
    except EcrToolError as err:
        _fail(str(err), err.exit_code)
    except Exception as err:  # noqa: BLE001 - the command line's last resort, word for word
        _fail(f"unexpected {type(err).__name__}: {err} (rerun with --debug for details)", EXIT_FAILURE)
    return True


def _print(settings: Settings, registry: str, token: AuthToken, stored: str) -> None:
    from ecrtool.cli.formats import login_line, login_text

    if settings.output == "json":  # the results module only for the JSON document, which names the type
        from ecrtool.model.results import LoginResult

        found = LoginResult(registry=registry, username=token.username, expires_at=token.expires_at, stored_in=stored)
        text: str | None = login_text(found, json=True, quiet=settings.quiet)
    else:
        text = None if settings.quiet else login_line(registry, stored, token.expires_at)
    if text is not None:
        sys.stdout.write(text + "\n")
        sys.stdout.flush()


def _fail(message: str, code: int, *, newline: bool = False) -> None:
    from ecrtool.cli.main import fail  # click, only to say what went wrong

    fail(message, code, False, newline=newline)


def main() -> None:
    """The console script (and `python -m ecrtool`)."""
    if cached_login(sys.argv[1:]):
        sys.exit(0)
    from ecrtool.cli.main import main as command_line

    command_line()
