"""The runner on the engine's API at its unix socket, without docker-py: inspect, tag, untag, push, pull,
login and version are a handful of plain requests (engine_http).

docker-py (requests, urllib3) costs more to import than pushing a new tag of a known image takes, so it
loads only to run a container, on the same socket. A pull without credentials of its own sends those
Docker's config holds for the registry, as docker-py and the docker command do.
"""

from __future__ import annotations

from collections.abc import Iterator

from ecrtool.docker import config as dockerconfig
from ecrtool.docker.engine_http import Engine
from ecrtool.docker.errors import engine_api_errors
from ecrtool.docker.images import LocalImageDetails, image_details, pull_target, registry_of
from ecrtool.model.auth import RegistryAuth

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing: a cached login logs in here
if TYPE_CHECKING:
    from typing import Any

    from ecrtool.model.containers import Output, RunOutcome, RunSpec


class EngineApi:
    """DockerRunner on the engine's unix socket at PATH."""

    def __init__(self, path: str) -> None:
        self._engine = Engine(path)
        self._url = f"unix://{path}"  # what the messages name, and where docker-py goes for containers
        self._client: Any = None

    def inspect_image(self, reference: str) -> LocalImageDetails | None:
        with engine_api_errors("inspect", self._url):
            found = self._engine.inspect_image(reference)
        return None if found is None else image_details(found)

    def tag(self, source: str, repository: str, tag: str) -> None:
        with engine_api_errors("tag", self._url):
            self._engine.tag(source, repository, tag)

    def untag(self, reference: str) -> None:
        with engine_api_errors("untag", self._url):
            self._engine.untag(reference)

    def push(self, repository: str, tag: str, auth: RegistryAuth) -> Iterator[dict[str, Any]]:
        with engine_api_errors("push", self._url):
            yield from self._engine.push(repository, tag, auth.as_docker())

    def pull(self, repository: str, ref: str, auth: RegistryAuth | None) -> Iterator[dict[str, Any]]:
        image, tag = pull_target(repository, ref)
        sent = _as_engine(auth or dockerconfig.stored_credentials(registry_of(repository)))
        with engine_api_errors("pull", self._url):
            yield from self._engine.pull(image, tag, sent)

    def login(self, auth: RegistryAuth) -> str | None:
        with engine_api_errors("login", self._url):
            self._engine.login(auth.as_docker())
        return None  # the engine only checks them; the caller stores them where the docker CLI reads them

    def version(self) -> dict[str, Any]:
        """The engine's own report (GET /version): Version, ApiVersion, Os, Arch…; for `ecrtool doctor`."""
        with engine_api_errors("version", self._url):
            return self._engine.version()

    def run(self, spec: RunSpec, output: Output | None) -> RunOutcome:
        from ecrtool.docker.containers import run_container
        from ecrtool.docker.dockerpy import connect

        if self._client is None:
            self._client = connect(self._url)
        return run_container(self._client, spec, output, self._url)


def _as_engine(auth: RegistryAuth | None) -> dict[str, str] | None:
    """AUTH as the engine reads it (X-Registry-Auth), an identity token as one."""
    if auth is None:
        return None
    if auth.username == dockerconfig.TOKEN_USERNAME:
        return {"identitytoken": auth.password, "serveraddress": auth.registry}
    return auth.as_docker()
