"""The Docker gateway: the few engine calls ecrtool makes, over the engine's socket.

On a unix socket the image calls (inspect, tag, push, pull, login, version) are plain requests (engine_http);
running containers, and engines on TCP or SSH, go through docker-py, imported only then.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from ecrtool.docker import config as dockerconfig
from ecrtool.docker.engine_http import Engine, EngineError
from ecrtool.model.auth import RegistryAuth
from ecrtool.model.errors import AuthError, DockerUnavailable, EcrToolError, NotFound
from ecrtool.model.settings import describe_host

if TYPE_CHECKING:  # the container rules load only when a container is run
    from ecrtool.model.containers import Output, RunOutcome, RunSpec


@dataclass(frozen=True)
class LocalImageDetails:
    image_id: str
    repo_tags: list[str]
    repo_digests: list[str]


class DockerRunner(Protocol):
    """What the service needs from a Docker engine."""

    def inspect_image(self, reference: str) -> LocalImageDetails | None: ...

    def tag(self, source: str, repository: str, tag: str) -> None: ...

    def untag(self, reference: str) -> None: ...

    def push(self, repository: str, tag: str, auth: RegistryAuth) -> Iterator[dict[str, Any]]: ...

    def pull(self, repository: str, ref: str, auth: RegistryAuth | None) -> Iterator[dict[str, Any]]: ...

    def login(self, auth: RegistryAuth) -> str | None:
        """Check AUTH with the registry; returns where the credentials were stored when the runner stored them."""
        ...

    def run(self, spec: RunSpec, output: Output | None) -> RunOutcome:
        """Create and start a container; attached (not spec.detach), send its output and wait for its exit code."""
        ...


def unavailable(docker_host: str | None, err: BaseException) -> DockerUnavailable:
    """Explain why the engine could not be reached, naming the socket and the fix."""
    host = describe_host(docker_host)
    text = f"{err!r} {err}"
    if "Permission denied" in text or "PermissionError" in text:
        path = host.removeprefix("unix://")
        return DockerUnavailable(permission_hint(path))
    return DockerUnavailable(
        f"cannot reach the Docker engine at {host}: start it (sudo systemctl start docker) "
        "or point --docker-host / DOCKER_HOST at a running engine"
    )


def permission_hint(socket: str) -> str:
    return (
        f"permission denied on the Docker socket {socket}: rerun with --sudo (docker through sudo), "
        "or join the socket's group with `sudo usermod -aG docker $USER` and log in again"
    )


class DockerApi:
    """DockerRunner on docker-py's low-level APIClient; the client is built on first use."""

    def __init__(self, docker_host: str | None = None) -> None:
        self._host = docker_host
        self._client: Any = None
        host = describe_host(docker_host)
        # On a unix socket the image calls go without docker-py (engine_http); running containers,
        # and engines on TCP or SSH, need docker-py.
        self._socket = host.removeprefix("unix://") if host.startswith("unix://") else None

    @contextmanager
    def _on_socket(self, what: str) -> Iterator[None]:
        """Translate engine_http's failures as _call translates docker-py's."""
        try:
            yield
        except (EngineError, OSError) as err:
            raise socket_error(what, err, self._host) from err

    @property
    def client(self) -> Any:
        if self._client is None:
            import docker

            try:
                kwargs = docker.utils.kwargs_from_env()
                if self._host:
                    kwargs["base_url"] = self._host
                self._client = docker.APIClient(timeout=300, **kwargs)
            except docker.errors.DockerException as err:
                raise unavailable(self._host, err) from err
        return self._client

    def _call(self, what: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        import docker
        import requests

        try:
            return fn(*args, **kwargs)
        except docker.errors.APIError as err:
            raise engine_error(what, err) from err
        except (requests.exceptions.ConnectionError, docker.errors.DockerException) as err:
            raise unavailable(self._host, err) from err

    def inspect_image(self, reference: str) -> LocalImageDetails | None:
        if self._socket is not None:
            with self._on_socket("inspect"):
                found = Engine(self._socket).inspect_image(reference)
            return None if found is None else _details(found)
        import docker

        try:
            data = self._call("inspect", self.client.inspect_image, reference)
        except NotFound:
            return None
        except EcrToolError as err:
            if isinstance(err.__cause__, docker.errors.NotFound):
                return None
            raise
        return _details(data)

    def tag(self, source: str, repository: str, tag: str) -> None:
        if self._socket is not None:
            with self._on_socket("tag"):
                Engine(self._socket).tag(source, repository, tag)
            return
        self._call("tag", self.client.tag, source, repository, tag=tag, force=True)

    def untag(self, reference: str) -> None:
        if self._socket is not None:
            with self._on_socket("untag"):
                Engine(self._socket).untag(reference)
            return
        self._call("untag", self.client.remove_image, reference, noprune=True)

    def push(self, repository: str, tag: str, auth: RegistryAuth) -> Iterator[dict[str, Any]]:
        if self._socket is not None:
            with self._on_socket("push"):
                yield from Engine(self._socket).push(repository, tag, auth.as_docker())
            return
        stream = self._call(
            "push", self.client.push, repository, tag=tag, stream=True, decode=True, auth_config=auth.as_docker()
        )
        yield from self._stream(stream)

    def pull(self, repository: str, ref: str, auth: RegistryAuth | None) -> Iterator[dict[str, Any]]:
        # docker-py joins repository and tag with ':'; a digest goes in the repository part.
        if ref.startswith("sha256:"):
            repository, tag = f"{repository}@{ref}", None
        else:
            tag = ref
        if self._socket is not None:
            # without credentials of its own, the pull sends those Docker's config holds for the registry
            sent = _engine_auth(auth or dockerconfig.stored_credentials(_registry_of(repository)))
            with self._on_socket("pull"):
                yield from Engine(self._socket).pull(repository, tag, sent)
            return
        stream = self._call(
            "pull",
            self.client.pull,
            repository,
            tag=tag,
            stream=True,
            decode=True,
            auth_config=auth.as_docker() if auth else None,
        )
        yield from self._stream(stream)

    def _stream(self, stream: Any) -> Iterator[Any]:
        import docker
        import requests

        try:
            yield from stream
        except (requests.exceptions.ConnectionError, docker.errors.DockerException) as err:
            raise unavailable(self._host, err) from err

    def version(self) -> dict[str, Any]:
        """The engine's own report (GET /version): Version, ApiVersion, Os, Arch…; for `ecrtool doctor`."""
        if self._socket is not None:
            with self._on_socket("version"):
                return Engine(self._socket).version()
        return dict(self._call("version", self.client.version))

    def login(self, auth: RegistryAuth) -> str | None:
        if self._socket is not None:
            with self._on_socket("login"):
                Engine(self._socket).login(auth.as_docker())
            return None
        self._call(
            "login",
            self.client.login,
            username=auth.username,
            password=auth.password,
            registry=auth.registry,
            reauth=True,
        )
        return None  # the engine only checks them; the caller stores them where the docker CLI reads them

    def run(self, spec: RunSpec, output: Output | None) -> RunOutcome:
        from ecrtool.model.containers import RunOutcome

        client = self.client
        bindings: dict[str, list[Any]] = {}
        for port in spec.ports:
            bindings.setdefault(f"{port.container_port}/{port.protocol}", []).append(
                (port.host_ip, port.host_port) if port.host_ip else port.host_port
            )
        host_config = self._call(
            "create",
            client.create_host_config,
            port_bindings=bindings or None,
            binds=[mount.docker for mount in spec.mounts] or None,
            restart_policy={"Name": spec.restart.name, "MaximumRetryCount": spec.restart.max_retries}
            if spec.restart
            else None,
            # attached, ecrtool removes the container itself once it has its exit code
            auto_remove=spec.remove and spec.detach,
        )
        created = self._call(
            "create",
            client.create_container,
            spec.image,
            command=list(spec.command) or None,
            name=spec.name,
            environment=[f"{key}={value}" for key, value in spec.env] or None,
            ports=[(port.container_port, port.protocol) for port in spec.ports] or None,
            host_config=host_config,
            detach=spec.detach,
        )
        container = str(created["Id"])
        if spec.detach:
            self._start(container, spec)
            return RunOutcome(container, None)
        try:
            # attach before start, so not a byte of output is missed
            frames = self._call(
                "attach", client.attach, container, stdout=True, stderr=True, stream=True, logs=True, demux=True
            )
            self._start(container, spec)
            for out, err in self._stream(frames):
                if output is not None and out:
                    output("stdout", out)
                if output is not None and err:
                    output("stderr", err)
            status = self._call("wait", client.wait, container)
            return RunOutcome(container, int(status.get("StatusCode", 1)))
        except KeyboardInterrupt:
            # Ctrl-C (or SIGTERM): stop the container as `docker run` does, then go
            self._quietly(client.stop, container, timeout=10)
            raise
        finally:
            if spec.remove:
                self._quietly(client.remove_container, container, force=True)

    def _start(self, container: str, spec: RunSpec) -> None:
        try:
            self._call("start", self.client.start, container)
        except BaseException:
            if spec.remove:
                self._quietly(self.client.remove_container, container, force=True)
            raise

    @staticmethod
    def _quietly(fn: Any, *args: Any, **kwargs: Any) -> None:
        """Clean-up that must not hide the error (or Ctrl-C) that caused it."""
        try:
            fn(*args, **kwargs)
        except Exception:  # noqa: BLE001 - best effort by design
            pass


def socket_error(what: str, err: EngineError | OSError, docker_host: str | None) -> EcrToolError:
    """A failure of engine_http's WHAT as the project's error: the engine's answer, or an engine out of reach.

    DOCKER_HOST is the setting the socket came from (None: the environment's or the default), named in
    the messages.
    """
    if isinstance(err, EngineError):
        return engine_error(what, err)
    return unavailable(docker_host, err)


def _registry_of(repository: str) -> str:
    """The registry host a repository name starts with; Docker Hub's without one (docker-py's split_repo_name)."""
    first, slash, _ = repository.partition("/")
    if not slash or ("." not in first and ":" not in first and first != "localhost"):
        return dockerconfig.INDEX_NAME
    return first


def _engine_auth(auth: RegistryAuth | None) -> dict[str, str] | None:
    """AUTH as the engine reads it (X-Registry-Auth), an identity token as one."""
    if auth is None:
        return None
    if auth.username == dockerconfig.TOKEN_USERNAME:
        return {"identitytoken": auth.password, "serveraddress": auth.registry}
    return auth.as_docker()


def _details(data: dict[str, Any]) -> LocalImageDetails:
    return LocalImageDetails(
        image_id=data["Id"], repo_tags=data.get("RepoTags") or [], repo_digests=data.get("RepoDigests") or []
    )


def engine_error(what: str, err: Any) -> EcrToolError:
    """Translate a docker APIError (an HTTP error from the engine) into the project's errors."""
    explanation = str(getattr(err, "explanation", "") or err)
    lowered = explanation.lower()
    status = getattr(err, "status_code", None)
    if is_auth_failure(lowered) or status == 401:
        return AuthError(f"the registry refused authentication during {what}: {explanation}")
    if status == 409 and "name" in lowered and "in use" in lowered:
        return EcrToolError(f"Docker {what} failed: {explanation}: pick another --name, or remove the old one")
    if status == 404 or "not found" in lowered or "no such image" in lowered or "manifest unknown" in lowered:
        return NotFound(f"{what}: {explanation}")
    return EcrToolError(f"Docker {what} failed: {explanation}")


def is_auth_failure(message: str) -> bool:
    lowered = message.lower()
    return any(
        needle in lowered
        for needle in ("unauthorized", "authentication required", "no basic auth credentials", "denied: ")
    )
