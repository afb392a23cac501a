"""What `ecrtool run` asks of a container, and the rules its options follow; pure, checked before Docker.

The options mirror `docker run`'s: -p [IP:]HOST:CONTAINER[/PROTO], -e KEY=VALUE (or -e KEY, taken
from ecrtool's own environment so a secret stays off every command line), --env-file (Docker's
format), -v SOURCE:TARGET[:OPTIONS], --name, --restart and --rm.
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from ecrtool.model.errors import InvalidInput

PULL_POLICIES = ("missing", "always", "never")
RESTART_POLICIES = ("no", "always", "unless-stopped", "on-failure")

_NAME_RE = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]+$")
_ENV_KEY_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_VOLUME_NAME_RE = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]*$")
_MOUNT_OPTIONS = {"ro", "rw", "z", "Z"}

# A piece of the container's output: ("stdout" | "stderr", bytes).
Output = Callable[[str, bytes], None]


@dataclass(frozen=True)
class PortBinding:
    host_port: int
    container_port: int
    protocol: str = "tcp"
    host_ip: str | None = None

    @property
    def docker(self) -> str:
        """As `docker run -p` takes it."""
        host = f"{self.host_ip}:{self.host_port}" if self.host_ip else str(self.host_port)
        return f"{host}:{self.container_port}/{self.protocol}"


@dataclass(frozen=True)
class Mount:
    source: str
    target: str
    options: str = ""  # "ro", "rw", "z", "Z", comma-separated, as docker takes them

    @property
    def docker(self) -> str:
        return f"{self.source}:{self.target}" + (f":{self.options}" if self.options else "")


@dataclass(frozen=True)
class RestartPolicy:
    name: str
    max_retries: int = 0

    @property
    def docker(self) -> str:
        return f"{self.name}:{self.max_retries}" if self.name == "on-failure" and self.max_retries else self.name


@dataclass(frozen=True)
class RunSpec:
    """One container to create and start. `env` holds values that may be secrets: never log or print them."""

    image: str = ""
    command: tuple[str, ...] = ()
    name: str | None = None
    detach: bool = False
    ports: tuple[PortBinding, ...] = ()
    env: tuple[tuple[str, str], ...] = field(default=(), repr=False)
    mounts: tuple[Mount, ...] = ()
    remove: bool = False
    restart: RestartPolicy | None = None


@dataclass(frozen=True)
class RunOutcome:
    container_id: str
    exit_code: int | None  # None when detached


def validate_name(name: str) -> str:
    if not _NAME_RE.match(name) or len(name) > 128:
        raise InvalidInput(
            f"invalid container name {name!r}: use letters, digits, '_', '.' and '-', starting with a letter or digit"
        )
    return name


def _port(text: str, whole: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 65535:
        raise InvalidInput(f"invalid port mapping {whole!r}: ports are numbers from 1 to 65535 (HOST:CONTAINER)")
    return int(text)


def parse_port(text: str) -> PortBinding:
    """[IP:]HOST:CONTAINER[/tcp|udp|sctp]"""
    spec, _, protocol = text.partition("/")
    protocol = protocol or "tcp"
    if protocol not in ("tcp", "udp", "sctp"):
        raise InvalidInput(f"invalid port mapping {text!r}: the protocol is tcp, udp or sctp")
    parts = spec.rsplit(":", 2)
    if len(parts) < 2:
        raise InvalidInput(f"invalid port mapping {text!r}: expected HOST:CONTAINER, such as 8080:80")
    host_ip = None
    if len(parts) == 3:
        try:
            host_ip = str(ipaddress.IPv4Address(parts[0]))
        except ValueError:
            raise InvalidInput(f"invalid port mapping {text!r}: {parts[0]!r} is not an IPv4 address") from None
    return PortBinding(_port(parts[-2], text), _port(parts[-1], text), protocol, host_ip)


def _check_value(key: str, value: str, where: str) -> tuple[str, str]:
    if not _ENV_KEY_RE.match(key):
        raise InvalidInput(f"invalid environment variable name {key!r}{where}: use letters, digits and '_'")
    if "\n" in value or "\0" in value:
        raise InvalidInput(f"the value of {key}{where} holds a newline or NUL, which Docker cannot pass on")
    return key, value


def parse_env(text: str, environ: Mapping[str, str] | None = None) -> tuple[str, str]:
    """KEY=VALUE, or KEY alone for the value KEY has in ecrtool's own environment."""
    key, sep, value = text.partition("=")
    if not sep:
        env = os.environ if environ is None else environ
        if key not in env:
            if not _ENV_KEY_RE.match(key):
                raise InvalidInput(f"invalid environment setting {text!r}: expected KEY=VALUE")
            raise InvalidInput(f"-e {key}: {key} is not set in ecrtool's environment: give {key}=VALUE or export it")
        value = env[key]
    return _check_value(key, value, "")


def read_env_file(path: str, environ: Mapping[str, str] | None = None) -> list[tuple[str, str]]:
    """Docker's --env-file format: KEY=VALUE lines taken literally, # comments, KEY alone from the environment."""
    env = os.environ if environ is None else environ
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InvalidInput(f"--env-file {path}: no such file") from None
    except (OSError, UnicodeDecodeError) as err:
        raise InvalidInput(f"--env-file {path}: cannot read it: {err}") from None
    pairs: list[tuple[str, str]] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.lstrip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        where = f" in {path}, line {number}"
        if not sep:
            if not _ENV_KEY_RE.match(key):
                raise InvalidInput(f"invalid line{where}: expected KEY=VALUE")
            if key in env:
                pairs.append(_check_value(key, env[key], where))
            continue
        pairs.append(_check_value(key, value, where))
    return pairs


def parse_mount(text: str, *, resolve: bool = True) -> Mount:
    """SOURCE:TARGET[:OPTIONS]; a relative SOURCE (./data) becomes absolute, as docker run does."""
    parts = text.split(":")
    if len(parts) not in (2, 3) or not parts[0] or not parts[1]:
        raise InvalidInput(f"invalid volume {text!r}: expected SOURCE:TARGET[:ro], such as ./data:/data:ro")
    source, target = parts[0], parts[1]
    options = parts[2] if len(parts) == 3 else ""
    if not target.startswith("/"):
        raise InvalidInput(f"invalid volume {text!r}: the target {target!r} must be an absolute path in the container")
    if options and not set(options.split(",")) <= _MOUNT_OPTIONS:
        raise InvalidInput(f"invalid volume {text!r}: options are ro, rw, z or Z")
    if source.startswith(("/", ".", "~")):
        if resolve:
            source = os.path.abspath(os.path.expanduser(source))
    elif not _VOLUME_NAME_RE.match(source):
        raise InvalidInput(f"invalid volume {text!r}: the source is a path (/data, ./data) or a volume name")
    return Mount(source, target, options)


def parse_restart(text: str) -> RestartPolicy:
    name, _, count = text.partition(":")
    if name not in RESTART_POLICIES or (count and (name != "on-failure" or not count.isdigit())):
        raise InvalidInput(f"invalid restart policy {text!r}: use no, always, unless-stopped or on-failure[:N]")
    return RestartPolicy(name, int(count) if count else 0)


def build_spec(
    *,
    command: Iterable[str] = (),
    name: str | None = None,
    detach: bool = False,
    ports: Iterable[str] = (),
    env: Iterable[str] = (),
    env_file: str | None = None,
    volumes: Iterable[str] = (),
    remove: bool = False,
    restart: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> RunSpec:
    """Check every run option and gather them; the image is filled in once the reference is resolved."""
    policy = parse_restart(restart) if restart else None
    if remove and policy is not None and policy.name != "no":
        raise InvalidInput("--rm and --restart do not go together: a container that is removed cannot be restarted")
    pairs = read_env_file(env_file, environ) if env_file else []
    pairs += [parse_env(text, environ) for text in env]
    merged = dict(pairs)  # a later setting of the same name wins, as in docker
    return RunSpec(
        command=tuple(command),
        name=validate_name(name) if name is not None else None,
        detach=detach,
        ports=tuple(parse_port(text) for text in ports),
        env=tuple(merged.items()),
        mounts=tuple(parse_mount(text) for text in volumes),
        remove=remove,
        restart=policy,
    )
