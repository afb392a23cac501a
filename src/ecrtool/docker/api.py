"""The names the service still imports from here, until it builds its runner with runner.build_runner;
nothing in the Docker side uses them, and the module goes once the service has moved.
"""

from __future__ import annotations

from ecrtool.docker.errors import is_auth_failure, socket_error
from ecrtool.docker.images import LocalImageDetails
from ecrtool.docker.runner import DockerRunner, build_runner
from ecrtool.model.settings import Settings

__all__ = ["DockerApi", "DockerRunner", "LocalImageDetails", "is_auth_failure", "socket_error"]


def DockerApi(docker_host: str | None = None) -> DockerRunner:
    """The runner for `--runner api` on DOCKER_HOST: build_runner's choice with the default settings."""
    return build_runner(Settings(docker_host=docker_host))
