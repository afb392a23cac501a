"""`docker-credential-ecrtool`: the console script the docker CLI runs as a credential helper.

    echo 123456789012.dkr.ecr.ca-west-1.amazonaws.com | docker-credential-ecrtool get

Verbs: get (server URL on stdin, credentials JSON on stdout), list (the registries served, as JSON),
erase (`docker logout HOST`: drops the cached token, so a refused one is replaced at the next get),
store (accepted and ignored: tokens come from AWS, not from `docker login`), version.
An error is one line on stderr and a non-zero exit; a registry this helper does not serve gets the
protocol's not-found message on stdout, so docker goes on without credentials. ECRTOOL_DEBUG=1 logs
the AWS calls (secrets redacted) and shows tracebacks.

It lives outside `ecrtool.cli` because docker runs it before every pull and push: the cli package
loads click and every command, this needs neither (the protocol has no options).
"""

from __future__ import annotations

import json
import os
import sys
import traceback
from collections.abc import Sequence
from typing import TextIO

from ecrtool import __version__
from ecrtool.model.errors import EXIT_FAILURE, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, EcrToolError

USAGE = "usage: docker-credential-ecrtool get|list|store|erase|version (docker runs it: see ecrtool configure-docker)"


def run(args: Sequence[str], stdin: TextIO, stdout: TextIO, stderr: TextIO) -> int:
    """One protocol exchange; returns the exit code."""
    from ecrtool.docker.config import PROGRAM
    from ecrtool.service import credhelper

    debug = os.environ.get("ECRTOOL_DEBUG", "").lower() in ("1", "true", "yes")
    if len(args) != 1 or args[0] not in credhelper.VERBS:
        stderr.write(f"{PROGRAM}: error: {USAGE}\n")
        return EXIT_USAGE
    verb = args[0]
    if verb == "version":
        stdout.write(f"{PROGRAM} (ecrtool) {__version__}\n")
        return EXIT_OK
    if debug:
        from ecrtool.cli.debuglog import configure  # only with ECRTOOL_DEBUG: the cli package's cost is fine then

        configure()
    try:
        payload = stdin.read()
        if verb == "get":
            stdout.write(json.dumps(credhelper.get(payload)) + "\n")
        elif verb == "list":
            stdout.write(json.dumps(credhelper.served()) + "\n")
        elif verb == "erase":
            credhelper.erase(payload)  # `docker logout HOST`: the cached token goes, the next get fetches anew
        # store: nothing to keep (tokens come from AWS); succeeding lets `docker login` carry on
        return EXIT_OK
    except credhelper.NotServed:
        stdout.write(credhelper.NOT_FOUND_MESSAGE + "\n")
        return EXIT_FAILURE
    except EcrToolError as err:
        return _fail(stderr, PROGRAM, str(err), err.exit_code, debug)
    except KeyboardInterrupt:
        return _fail(stderr, PROGRAM, "interrupted", EXIT_INTERRUPTED, False)
    except Exception as err:  # the last resort: still one line, a traceback only with ECRTOOL_DEBUG=1
        message = f"unexpected {type(err).__name__}: {err} (set ECRTOOL_DEBUG=1 for details)"
        return _fail(stderr, PROGRAM, message, EXIT_FAILURE, debug)


def _fail(stderr: TextIO, program: str, message: str, code: int, debug: bool) -> int:
    if debug:
        traceback.print_exc(file=stderr)
    stderr.write(f"{program}: error: {message}\n")
    return code


def main() -> None:
    """The console script."""
    sys.exit(run(sys.argv[1:], sys.stdin, sys.stdout, sys.stderr))
