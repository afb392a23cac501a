"""The `ecrtool` console script: a login whose token is cached runs here, every other command line in ecrtool.cli.

Such a login takes milliseconds, less than loading click does, so it is worth going around the command
line for: this recognizes `ecrtool [OPTIONS] login [OPTIONS]` with the few global options the cached
login can take, builds the settings from them exactly as the command line would, and logs in through
core.cached_login. Anything else (another command or option, a typo, --help, a token to fetch, an
error) goes to the full command line, which does the work again and says what users have always been
told; nothing is printed here but the result.
"""

from __future__ import annotations

import sys

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (see ecrtool.model.value)
if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Any

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
    """Run `ecrtool login` on a cached token if ARGV asks for one this can do; False when it did nothing."""
    values = login_options(argv)
    if values is None:
        return False
    from ecrtool.cli.formats import login_line, login_text
    from ecrtool.model.errors import EXIT_FAILURE, EXIT_INTERRUPTED
    from ecrtool.model.settings import Settings
    from ecrtool.service.login import login_from_cache

    try:
        try:
            settings = Settings.build(**values)
            result = login_from_cache(settings)
        except Exception:  # noqa: BLE001 - the full command line does it again and reports the error its way
            return False
        if result is None:
            return False
        registry, token, stored = result
        if settings.output == "json":  # the results module only for the JSON document, which names the type
            from ecrtool.model.results import LoginResult

            found = LoginResult(
                registry=registry, username=token.username, expires_at=token.expires_at, stored_in=stored
            )
            text: str | None = login_text(found, json=True, quiet=settings.quiet)
        else:
            text = None if settings.quiet else login_line(registry, stored, token.expires_at)
        if text is not None:
            sys.stdout.write(text + "\n")
            sys.stdout.flush()
    except BrokenPipeError:
        sys.exit(EXIT_FAILURE)  # as the command line does
    except KeyboardInterrupt:
        from ecrtool.cli.main import fail

        fail("interrupted", EXIT_INTERRUPTED, False, newline=sys.stderr.isatty())
    return True


def main() -> None:
    """The console script (and `python -m ecrtool`)."""
    if cached_login(sys.argv[1:]):
        sys.exit(0)
    from ecrtool.cli.main import main as command_line

    command_line()
