"""Running a container through docker-py, on whichever engine: the engine API's runner and docker-py's both
hand their docker-py client here (the docker command runs its own).

Attached, the container's output is passed on as it comes and its exit code awaited; Ctrl-C stops it as
`docker run` does; with --rm it is removed once it is done.
"""

from __future__ import annotations

from typing import Any

from ecrtool.docker.errors import docker_py_errors
from ecrtool.model.containers import Output, RunOutcome, RunSpec


def run_container(client: Any, spec: RunSpec, output: Output | None, docker_host: str | None) -> RunOutcome:
    """Create and start SPEC's container with CLIENT (a docker-py APIClient); DOCKER_HOST is named in errors."""
    bindings: dict[str, list[Any]] = {}
    for port in spec.ports:
        bindings.setdefault(f"{port.container_port}/{port.protocol}", []).append(
            (port.host_ip, port.host_port) if port.host_ip else port.host_port
        )
    with docker_py_errors("create", docker_host):
        host_config = client.create_host_config(
            port_bindings=bindings or None,
            binds=[mount.docker for mount in spec.mounts] or None,
            restart_policy={"Name": spec.restart.name, "MaximumRetryCount": spec.restart.max_retries}
            if spec.restart
            else None,
            # attached, ecrtool removes the container itself once it has its exit code
            auto_remove=spec.remove and spec.detach,
        )
        created = client.create_container(
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
        _start(client, container, spec, docker_host)
        return RunOutcome(container, None)
    try:
        # attach before start, so not a byte of output is missed; without replaying the (empty) log, as
        # `docker run` attaches: a replay racing the start could hand the same output over twice
        with docker_py_errors("attach", docker_host):
            frames = client.attach(container, stdout=True, stderr=True, stream=True, logs=False, demux=True)
        _start(client, container, spec, docker_host)
        with docker_py_errors("attach", docker_host):
            for out, err in frames:
                if output is not None and out:
                    output("stdout", out)
                if output is not None and err:
                    output("stderr", err)
        with docker_py_errors("wait", docker_host):
            status = client.wait(container)
        return RunOutcome(container, int(status.get("StatusCode", 1)))
    except KeyboardInterrupt:
        # Ctrl-C (or SIGTERM): stop the container as `docker run` does, then go
        _quietly(client.stop, container, timeout=10)
        raise
    finally:
        if spec.remove:
            _quietly(client.remove_container, container, force=True)


def _start(client: Any, container: str, spec: RunSpec, docker_host: str | None) -> None:
    try:
        with docker_py_errors("start", docker_host):
            client.start(container)
    except BaseException:
        if spec.remove:
            _quietly(client.remove_container, container, force=True)
        raise


def _quietly(fn: Any, *args: Any, **kwargs: Any) -> None:
    """Clean-up that must not hide the error (or Ctrl-C) that caused it."""
    try:
        fn(*args, **kwargs)
    except Exception:  # noqa: BLE001 - best effort by design
        pass
