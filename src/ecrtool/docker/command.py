"""The runner on the `docker` command line (--runner cli), optionally through `sudo -n` (--sudo), for EC2
hosts where the user is not in the docker group.

Every argument goes to the subprocess as a list, never through a shell. No secret reaches an argv:
the login password goes on stdin; registry credentials for one push or pull sit in a temporary
Docker config folder (0700, file 0600) named with --config; container environment values sit in a
temporary --env-file (0600). sudo resets the environment, so the engine's address goes as --host.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from ecrtool.docker import config as dockerconfig
from ecrtool.docker.errors import is_auth_failure, is_missing, name_taken, permission_hint, refused, unreachable
from ecrtool.docker.images import LocalImageDetails, image_details
from ecrtool.model.auth import RegistryAuth
from ecrtool.model.containers import Output, RunOutcome, RunSpec
from ecrtool.model.errors import DockerUnavailable, EcrToolError, NotFound
from ecrtool.model.settings import DEFAULT_SOCKET

_LAYER_RE = re.compile(r"^(?P<id>[^\s:]+): (?P<status>.+)$")
_DIGEST_RE = re.compile(r"digest: (?P<digest>sha256:[0-9a-f]{64}) size: (?P<size>\d+)")
_STORED_RE = re.compile(r"stored unencrypted in '?(?P<path>/[^'\s]+?)'?\.?$", re.M)
# What sudo says when it will not run docker for this user (as opposed to its warnings on success).
_SUDO_REFUSALS = (
    "sudo: a password is required",
    "sudo: a terminal is required",
    "is not in the sudoers file",
    "is not allowed to execute",
    "may not run sudo",
    "sudo: docker: command not found",
)
_SOCKET_RE = re.compile(r"socket at unix://(?P<path>/[^\s:]+)")
_NEVER_STARTED = "0001-01-01T00:00:00Z"
_SHORT = 300  # seconds for commands that do not stream (inspect, tag, create, login...)


class _Failed(Exception):
    """A docker command exited non-zero; the caller decides what that means."""

    def __init__(self, returncode: int, stderr: str) -> None:
        super().__init__(stderr)
        self.returncode = returncode
        self.stderr = stderr


class DockerCli:
    """DockerRunner on the docker command (`sudo -n docker` with sudo=True)."""

    def __init__(self, docker_host: str | None = None, *, sudo: bool = False) -> None:
        self._host = docker_host
        self._sudo = sudo

    # -- the command ------------------------------------------------------------------------------

    @property
    def host(self) -> str | None:
        """The engine to name with --host: the setting, or in sudo mode the DOCKER_HOST sudo would drop."""
        if self._host:
            return self._host
        return os.environ.get("DOCKER_HOST") or None if self._sudo else None

    def argv(self, *args: str, config: str | None = None) -> list[str]:
        base = ["sudo", "-n", "docker"] if self._sudo else ["docker"]
        if self.host:
            base.append(f"--host={self.host}")
        if config:
            base.append(f"--config={config}")
        return [*base, *args]

    def _run(self, what: str, *args: str, input: str | None = None, config: str | None = None) -> str:
        argv = self.argv(*args, config=config)
        try:
            done = subprocess.run(argv, input=input, capture_output=True, text=True, timeout=_SHORT)
        except FileNotFoundError as err:
            raise self._missing() from err
        except subprocess.TimeoutExpired as err:
            raise EcrToolError(f"docker {what} did not finish within {_SHORT}s") from err
        if done.returncode != 0:
            raise _Failed(done.returncode, done.stderr)
        return done.stdout

    def _call(self, what: str, *args: str, input: str | None = None, config: str | None = None) -> str:
        try:
            return self._run(what, *args, input=input, config=config)
        except _Failed as failed:
            raise self.translate(what, failed.stderr) from None

    def _missing(self) -> DockerUnavailable:
        if self._sudo and shutil.which("sudo") is None:
            return DockerUnavailable(
                "--sudo needs the sudo command, which is not installed: install it, or drop --sudo"
            )
        return DockerUnavailable(
            "the docker command is not on PATH: install Docker's command line (docker.io / docker-ce-cli), "
            "or use --runner api"
        )

    def translate(self, what: str, stderr: str) -> EcrToolError:
        """The docker command's translator: a failed docker (or sudo) command's stderr as the project's errors."""
        lines = [line.strip() for line in stderr.splitlines() if line.strip() and not line.startswith("WARNING")]
        message = lines[-1] if lines else "failed"
        lowered = stderr.lower()
        if self._sudo and any(refusal in lowered for refusal in _SUDO_REFUSALS):
            return self._sudo_error(lowered)
        if "permission denied while trying to connect" in lowered:
            named = _SOCKET_RE.search(stderr)  # docker names the socket it tried
            socket = named["path"] if named else (self.host or os.environ.get("DOCKER_HOST") or DEFAULT_SOCKET)
            return DockerUnavailable(permission_hint(socket.removeprefix("unix://")))
        if "cannot connect to the docker daemon" in lowered or "error during connect" in lowered:
            return unreachable(self.host or os.environ.get("DOCKER_HOST") or DEFAULT_SOCKET)
        message = message.removeprefix("Error response from daemon: ")
        if is_auth_failure(lowered):
            return refused(what, message)
        if is_missing(lowered):
            return NotFound(f"{what}: {message}")
        if "is already in use by container" in lowered:
            return name_taken(what, message)
        return EcrToolError(f"docker {what} failed: {message}")

    def _sudo_error(self, lowered: str) -> DockerUnavailable:
        user = os.environ.get("USER") or os.environ.get("LOGNAME") or "this user"
        if "password is required" in lowered or "terminal is required" in lowered:
            return DockerUnavailable(
                "sudo wants a password to run docker, and ecrtool runs `sudo -n` (never prompting): allow it "
                f"without one (`{user} ALL=(root) NOPASSWD: /usr/bin/docker` in /etc/sudoers.d/), "
                "or join the docker group (sudo usermod -aG docker $USER) and drop --sudo"
            )
        if "command not found" in lowered:
            return DockerUnavailable("sudo cannot find docker on root's PATH (secure_path): install Docker's CLI")
        return DockerUnavailable(
            f"{user} may not run docker through sudo: add a sudoers rule for docker, "
            "or join the docker group (sudo usermod -aG docker $USER) and drop --sudo"
        )

    @contextmanager
    def _credentials(self, auth: RegistryAuth | None) -> Iterator[str | None]:
        """A Docker config folder holding AUTH for one command; nothing (the user's own config) without AUTH."""
        if auth is None:
            yield None
            return
        folder = tempfile.mkdtemp(prefix="ecrtool-docker-")
        try:
            token = base64.b64encode(f"{auth.username}:{auth.password}".encode()).decode()
            dockerconfig.write_atomic(Path(folder) / "config.json", {"auths": {auth.registry: {"auth": token}}})
            yield folder
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    # -- DockerRunner ------------------------------------------------------------------------------

    def inspect_image(self, reference: str) -> LocalImageDetails | None:
        try:
            text = self._run("inspect", "image", "inspect", reference)
        except _Failed as failed:
            if "no such image" in failed.stderr.lower():
                return None
            raise self.translate("inspect", failed.stderr) from None
        return image_details(json.loads(text)[0])

    def tag(self, source: str, repository: str, tag: str) -> None:
        self._call("tag", "tag", source, f"{repository}:{tag}")

    def untag(self, reference: str) -> None:
        self._call("untag", "image", "rm", "--no-prune", reference)

    def push(self, repository: str, tag: str, auth: RegistryAuth) -> Iterator[dict[str, Any]]:
        with self._credentials(auth) as config:
            yield from self._events("push", ["push", f"{repository}:{tag}"], config, skip=None)

    def pull(self, repository: str, ref: str, auth: RegistryAuth | None) -> Iterator[dict[str, Any]]:
        reference = f"{repository}@{ref}" if ref.startswith("sha256:") else f"{repository}:{ref}"
        with self._credentials(auth) as config:
            yield from self._events("pull", ["pull", reference], config, skip=reference)

    def _events(self, what: str, args: list[str], config: str | None, skip: str | None) -> Iterator[dict[str, Any]]:
        """Run a push or pull, turning its lines into the engine's JSON events (as docker-py yields them)."""
        with tempfile.TemporaryFile(mode="w+") as errors:
            try:
                proc = subprocess.Popen(
                    self.argv(*args, config=config), stdout=subprocess.PIPE, stderr=errors, text=True
                )
            except FileNotFoundError as err:
                raise self._missing() from err
            try:
                assert proc.stdout is not None
                for raw in proc.stdout:
                    line = raw.strip()
                    if line and line != skip:
                        yield _event(line)
                proc.wait()
            except BaseException:
                proc.kill()
                proc.wait()
                raise
            if proc.returncode != 0:
                errors.seek(0)
                stderr = errors.read()
                error = self.translate(what, stderr)
                if isinstance(error, DockerUnavailable):
                    raise error
                # a registry's refusal: an error event, which the service explains as for the api runner
                lines = [line for line in stderr.splitlines() if line.strip() and not line.startswith("WARNING")]
                text = (lines[-1] if lines else "failed").removeprefix("Error response from daemon: ")
                yield {"error": text, "errorDetail": {"message": text}}

    def version(self) -> dict[str, Any]:
        """The engine's own report (docker version's Server part): Version, ApiVersion, Os, Arch; for doctor."""
        report = json.loads(self._call("version", "version", "--format", "{{json .Server}}") or "null")
        if not isinstance(report, dict):
            raise DockerUnavailable(f"the docker command reports no engine at {self.host or 'its default socket'}")
        return report

    def login(self, auth: RegistryAuth) -> str | None:
        argv = self.argv("login", "--username", auth.username, "--password-stdin", auth.registry)
        try:
            done = subprocess.run(argv, input=auth.password + "\n", capture_output=True, text=True, timeout=_SHORT)
        except FileNotFoundError as err:
            raise self._missing() from err
        except subprocess.TimeoutExpired:
            raise EcrToolError(f"docker login to {auth.registry} did not finish within {_SHORT}s") from None
        if done.returncode != 0:
            raise self.translate("login", done.stderr)
        # docker login stored them itself: under sudo in root's Docker config, else where DOCKER_CONFIG says
        stored = _STORED_RE.search(done.stderr)
        if self._sudo:
            return f"{stored['path']} (root's, through sudo)" if stored else "root's Docker credential store (sudo)"
        return stored["path"] if stored else f"the credential store named in {dockerconfig.config_path()}"

    def run(self, spec: RunSpec, output: Output | None) -> RunOutcome:
        args = ["create"]
        if spec.remove and spec.detach:
            args.append("--rm")  # attached, ecrtool removes it once it has the exit code
        if spec.name:
            args += ["--name", spec.name]
        for port in spec.ports:
            args += ["--publish", port.docker]
        for mount in spec.mounts:
            args += ["--volume", mount.docker]
        if spec.restart:
            args += ["--restart", spec.restart.docker]
        with _env_file(spec.env) as env_file:
            if env_file:
                args += ["--env-file", env_file]
            container = self._call("create", *args, spec.image, *spec.command).strip()
        if spec.detach:
            try:
                self._call("start", "start", container)
            except EcrToolError:
                if spec.remove:
                    self._quietly("rm", "--force", container)
                raise
            return RunOutcome(container, None)
        try:
            self._attached(container, output)
            state = json.loads(self._call("inspect", "container", "inspect", "--format", "{{json .State}}", container))
            if state.get("StartedAt", _NEVER_STARTED) == _NEVER_STARTED:
                raise EcrToolError(f"docker start of {container[:12]} failed: {state.get('Error') or 'see above'}")
            return RunOutcome(container, int(state.get("ExitCode", 1)))
        except KeyboardInterrupt:
            # Ctrl-C (or SIGTERM): stop the container as `docker run` does, then go
            self._quietly("stop", "--time", "10", container)
            raise
        finally:
            if spec.remove:
                self._quietly("rm", "--force", container)

    def _attached(self, container: str, output: Output | None) -> None:
        """`docker start --attach`, its output passed on as it comes."""
        try:
            proc = subprocess.Popen(
                self.argv("start", "--attach", container), stdout=subprocess.PIPE, stderr=subprocess.PIPE
            )
        except FileNotFoundError as err:
            raise self._missing() from err
        assert proc.stdout is not None and proc.stderr is not None
        pumps = [
            threading.Thread(target=_pump, args=(proc.stdout, "stdout", output), daemon=True),
            threading.Thread(target=_pump, args=(proc.stderr, "stderr", output), daemon=True),
        ]
        for pump in pumps:
            pump.start()
        try:
            proc.wait()
        except BaseException:
            proc.terminate()
            proc.wait()
            raise
        for pump in pumps:
            pump.join()

    def _quietly(self, *args: str) -> None:
        """Clean-up that must not hide the error (or Ctrl-C) that caused it."""
        try:
            self._run(args[0], *args)
        except (_Failed, EcrToolError):
            pass


def _pump(stream: IO[bytes], name: str, output: Output | None) -> None:
    while chunk := os.read(stream.fileno(), 65536):
        if output is not None:
            output(name, chunk)


@contextmanager
def _env_file(pairs: tuple[tuple[str, str], ...]) -> Iterator[str | None]:
    """The container's environment in a 0600 file for --env-file, so no value shows in a process list."""
    if not pairs:
        yield None
        return
    fd, path = tempfile.mkstemp(prefix="ecrtool-env-")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.writelines(f"{key}={value}\n" for key, value in pairs)
        yield path
    finally:
        os.unlink(path)


def _event(line: str) -> dict[str, Any]:
    """One line of `docker push` / `docker pull` output as the engine's JSON event."""
    digest = _DIGEST_RE.search(line)
    if digest and not line.startswith("Digest:"):
        return {"status": line, "aux": {"Digest": digest["digest"], "Size": int(digest["size"])}}
    match = _LAYER_RE.match(line)
    if match and not line.startswith(("Digest:", "Status:")):
        return {"id": match["id"], "status": match["status"], "progressDetail": {}}
    return {"status": line}
