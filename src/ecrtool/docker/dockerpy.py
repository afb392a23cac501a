"""The runner on docker-py's low-level APIClient, for engines the engine API's runner does not reach: TCP
(with TLS as DOCKER_TLS_VERIFY / DOCKER_CERT_PATH say) and SSH.

docker-py loads with the first call, never with this module; its failures go through docker_py_errors.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ecrtool.docker.containers import run_container
from ecrtool.docker.errors import docker_py_errors, unavailable
from ecrtool.docker.images import LocalImageDetails, image_details, pull_target
from ecrtool.model.auth import RegistryAuth
from ecrtool.model.containers import Output, RunOutcome, RunSpec


def connect(docker_host: str | None) -> Any:
    """docker-py's APIClient for DOCKER_HOST (None: the environment's DOCKER_HOST, else the default socket)."""
    import docker

    try:
        kwargs = docker.utils.kwargs_from_env()
        if docker_host:
            kwargs["base_url"] = docker_host
        return docker.APIClient(timeout=300, **kwargs)
    except docker.errors.DockerException as err:
        raise unavailable(docker_host, err) from err


class DockerPy:
    """DockerRunner on docker-py; the client is built on first use."""

    def __init__(self, docker_host: str | None = None) -> None:
        self._host = docker_host
        self._client: Any = None

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = connect(self._host)
        return self._client

    def inspect_image(self, reference: str) -> LocalImageDetails | None:
        import docker

        with docker_py_errors("inspect", self._host):
            try:
                data = self.client.inspect_image(reference)
            except docker.errors.NotFound:
                return None
        return image_details(data)

    def tag(self, source: str, repository: str, tag: str) -> None:
        with docker_py_errors("tag", self._host):
            self.client.tag(source, repository, tag=tag, force=True)

    def untag(self, reference: str) -> None:
        with docker_py_errors("untag", self._host):
            self.client.remove_image(reference, noprune=True)

    def push(self, repository: str, tag: str, auth: RegistryAuth) -> Iterator[dict[str, Any]]:
        with docker_py_errors("push", self._host):
            yield from self.client.push(repository, tag=tag, stream=True, decode=True, auth_config=auth.as_docker())

    def pull(self, repository: str, ref: str, auth: RegistryAuth | None) -> Iterator[dict[str, Any]]:
        image, tag = pull_target(repository, ref)
        # without credentials, docker-py sends those Docker's config holds for the registry
        sent = auth.as_docker() if auth else None
        with docker_py_errors("pull", self._host):
            yield from self.client.pull(image, tag=tag, stream=True, decode=True, auth_config=sent)

    def login(self, auth: RegistryAuth) -> str | None:
        with docker_py_errors("login", self._host):
            self.client.login(username=auth.username, password=auth.password, registry=auth.registry, reauth=True)
        return None  # the engine only checks them; the caller stores them where the docker CLI reads them

    def version(self) -> dict[str, Any]:
        """The engine's own report (GET /version): Version, ApiVersion, Os, Arch…; for `ecrtool doctor`."""
        with docker_py_errors("version", self._host):
            return dict(self.client.version())

    def run(self, spec: RunSpec, output: Output | None) -> RunOutcome:
        return run_container(self.client, spec, output, self._host)
