"""What the service needs from a Docker engine (DockerRunner), and build_runner: the one place a runner is
chosen, once, from the settings.

Three runners, one per transport: the docker command (DockerCli: --runner cli, --sudo), the engine's API
on a unix socket without docker-py (EngineApi), and docker-py for engines on TCP or SSH (DockerPy). Each
runner's module loads only when it is chosen.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Protocol

from ecrtool.docker.errors import is_auth_failure
from ecrtool.docker.images import LocalImageDetails
from ecrtool.model.auth import RegistryAuth
from ecrtool.model.settings import describe_host

if TYPE_CHECKING:  # the container rules load only when a container is run
    from ecrtool.model.containers import Output, RunOutcome, RunSpec
    from ecrtool.model.settings import Settings

__all__ = ["DockerRunner", "LocalImageDetails", "build_runner", "is_auth_failure"]


class DockerRunner(Protocol):
    """What the service needs from a Docker engine."""

    def inspect_image(self, reference: str) -> LocalImageDetails | None: ...

    def tag(self, source: str, repository: str, tag: str) -> None: ...

    def untag(self, reference: str) -> None: ...

    def push(self, repository: str, tag: str, auth: RegistryAuth) -> Iterator[dict[str, Any]]: ...

    def pull(self, repository: str, ref: str, auth: RegistryAuth | None) -> Iterator[dict[str, Any]]:
        """Pull REF (a tag or a digest); without AUTH, with the credentials Docker's config holds, if any."""
        ...

    def login(self, auth: RegistryAuth) -> str | None:
        """Check AUTH with the registry; returns where the credentials were stored when the runner stored them."""
        ...

    def version(self) -> dict[str, Any]:
        """The engine's own report: Version, ApiVersion, Os, Arch…; for `ecrtool doctor`."""
        ...

    def run(self, spec: RunSpec, output: Output | None) -> RunOutcome:
        """Create and start a container; attached (not spec.detach), send its output and wait for its exit code."""
        ...


def build_runner(settings: Settings) -> DockerRunner:
    """The runner for SETTINGS: the docker command when asked for (runner cli, sudo), else by the engine's address."""
    if settings.runner == "cli" or settings.sudo:
        from ecrtool.docker.command import DockerCli

        return DockerCli(settings.docker_host, sudo=settings.sudo)
    host = describe_host(settings.docker_host)
    if host.startswith("unix://"):
        from ecrtool.docker.engine_api import EngineApi

        return EngineApi(host.removeprefix("unix://"))
    from ecrtool.docker.dockerpy import DockerPy

    return DockerPy(settings.docker_host)
