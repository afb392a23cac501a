"""The Docker side's failures as the project's errors: the messages every runner shares, and the translators
for the two transports that get the engine's HTTP answers (its API on a unix socket, docker-py).

The docker command's translator (its stderr) is DockerCli.translate, on the same messages. It loads no
more than the model and engine_http: a login on a cached token imports it for a failure's message.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from ecrtool.docker.engine_http import EngineError
from ecrtool.model.errors import AuthError, DockerUnavailable, EcrToolError, NotFound
from ecrtool.model.settings import describe_host

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (see ecrtool.model.value)
if TYPE_CHECKING:
    from typing import Any


def permission_hint(socket: str) -> str:
    return (
        f"permission denied on the Docker socket {socket}: rerun with --sudo (docker through sudo), "
        "or join the socket's group with `sudo usermod -aG docker $USER` and log in again"
    )


def unreachable(where: str) -> DockerUnavailable:
    """No engine answers at WHERE (a URL such as unix:///var/run/docker.sock)."""
    return DockerUnavailable(
        f"cannot reach the Docker engine at {where}: start it (sudo systemctl start docker) "
        "or point --docker-host / DOCKER_HOST at a running engine"
    )


def refused(what: str, explanation: str) -> EcrToolError:
    if "resource-based policy" in explanation:  # another account's repository, whose policy lacks a grant
        from ecrtool.model.policy import missing_grant

        found = missing_grant(explanation)
        if found is not None:
            return found
    return AuthError(f"the registry refused authentication during {what}: {explanation}")


def name_taken(what: str, explanation: str) -> EcrToolError:
    return EcrToolError(f"Docker {what} failed: {explanation}: pick another --name, or remove the old one")


def is_auth_failure(message: str) -> bool:
    lowered = message.lower()
    # ECR refuses an expired or revoked token with 403 DENIED, which the engine's login reports by its status
    return any(
        needle in lowered
        for needle in (
            "unauthorized",
            "authentication required",
            "no basic auth credentials",
            "denied: ",
            "failed with status: 403",
        )
    )


def is_missing(lowered: str) -> bool:
    """Whether the engine's (lowercased) message says the image or manifest does not exist."""
    return "not found" in lowered or "no such image" in lowered or "manifest unknown" in lowered


def unavailable(docker_host: str | None, err: BaseException) -> DockerUnavailable:
    """Explain why the engine could not be reached, naming the socket and the fix."""
    host = describe_host(docker_host)
    text = f"{err!r} {err}"
    if "Permission denied" in text or "PermissionError" in text:
        return DockerUnavailable(permission_hint(host.removeprefix("unix://")))
    return unreachable(host)


def engine_error(what: str, err: Any) -> EcrToolError:
    """An HTTP error from the engine (an EngineError, or docker-py's APIError) as the project's errors."""
    explanation = str(getattr(err, "explanation", "") or err)
    lowered = explanation.lower()
    status = getattr(err, "status_code", None)
    if is_auth_failure(lowered) or status == 401:
        return refused(what, explanation)
    if status == 409 and "name" in lowered and "in use" in lowered:
        return name_taken(what, explanation)
    if status == 404 or is_missing(lowered):
        return NotFound(f"{what}: {explanation}")
    return EcrToolError(f"Docker {what} failed: {explanation}")


def socket_error(what: str, err: EngineError | OSError, docker_host: str | None) -> EcrToolError:
    """The engine API's translator: a failure of engine_http's WHAT, the engine's answer or an engine out of reach.

    DOCKER_HOST is the setting the socket came from (None: the environment's or the default), named in
    the messages.
    """
    if isinstance(err, EngineError):
        return engine_error(what, err)
    return unavailable(docker_host, err)


@contextmanager
def engine_api_errors(what: str, docker_host: str | None) -> Iterator[None]:
    """socket_error around a block of engine_http calls."""
    try:
        yield
    except (EngineError, OSError) as err:
        raise socket_error(what, err, docker_host) from err


@contextmanager
def docker_py_errors(what: str, docker_host: str | None) -> Iterator[None]:
    """docker-py's translator: the engine's answers (APIError) and an engine out of reach, for WHAT."""
    import docker
    import requests

    try:
        yield
    except docker.errors.APIError as err:
        raise engine_error(what, err) from err
    except (requests.exceptions.ConnectionError, docker.errors.DockerException) as err:
        raise unavailable(docker_host, err) from err
