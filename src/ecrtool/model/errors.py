"""The project's one error hierarchy; the CLI turns each into one line on stderr and an exit code."""

from __future__ import annotations

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


class EcrToolError(Exception):
    """A failure a user can act on: the message says what went wrong and what to do next."""

    exit_code = EXIT_FAILURE


class InvalidInput(EcrToolError):
    """The command line or the settings are wrong; nothing was sent to AWS or Docker."""

    exit_code = EXIT_USAGE


class NotFound(EcrToolError):
    """A repository, image or tag that the command needs does not exist."""


class AlreadyExists(EcrToolError):
    """Something the command would create is already there."""


class TagTaken(EcrToolError):
    """A tag of an immutable repository already names another image: it cannot move."""


class AuthError(EcrToolError):
    """Credentials are missing, refused or not allowed to do what was asked."""


class DockerUnavailable(EcrToolError):
    """The Docker engine cannot be reached or refuses the connection."""


class RegistryError(EcrToolError):
    """The registry failed a push or pull."""


class Refused(EcrToolError):
    """The command would destroy data and the user has not confirmed it."""

    exit_code = EXIT_USAGE


class NoScan(NotFound):
    """The image has never been scanned (ECR's ScanNotFoundException): `ecrtool scan` starts one."""


class ScanQuota(EcrToolError):
    """ECR refused to start a scan: a basic scan runs at most once per image in 24 hours; its results stand."""
