"""The state folder of a local ECR stack: where each file lives, the ports, the accounts and the env.

Everything the stack remembers between runs sits in one folder (``$LOCAL_ECR_HOME``, by default
``<repo>/.local-ecr``), so ``down --purge`` is a single ``rm -rf``: the registry's data, the ECR
API's repositories (ecr-state.json), the stack's certificate authority and keys.

The stack serves two accounts in two regions under ECR's own names over TLS (``faces``: the
/etc/hosts lines, the certificates), unless it is started with LOCAL_ECR_PLAIN=1: a second stack on
the same machine (the fault tests' private one) cannot take the names the first holds, and serves
the default account and region on plain loopback ports instead (ECRTOOL_REGISTRY, AWS_ENDPOINT_URL).

Its env comes in three kinds: ``keys`` (the first account's keys and the region, and instance metadata
switched off so that nothing falls through to a host's own), ``instance`` (no keys, no region, no
profile: only the stand-in's instance metadata, imds.py, as on an EC2 instance) and ``container``
(the container-credentials endpoint, as in an ECS task or a CodeBuild job).
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import shlex
import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

REGION = "ca-west-1"
ACCOUNT_ID = "123456789012"  # moto's default account
USER = "AWS"  # ECR's registry user name is always AWS
REGIONS = (REGION, "us-east-1")


@dataclass(frozen=True)
class Account:
    account_id: str
    access_key: str
    secret_key: str


# Each account's access keys: the API and the registry serve each only what is its own.
ACCOUNTS = (
    Account(ACCOUNT_ID, "testing", "testing"),
    Account("210987654321", "AKIALOCALECRSECOND01", "local-ecr-second-account-secret"),
)
# The path of the container-credentials endpoint on the instance metadata port (AWS_CONTAINER_CREDENTIALS_FULL_URI)
CONTAINER_PATH = "/v2/credentials/local-ecr"
# The loopback address ECR's names resolve to while the stack is up (port 443, as ECR's)
FRONT_IP = os.environ.get("LOCAL_ECR_FRONT_IP") or "127.77.0.1"


def account_of(access_key: str) -> Account | None:
    return next((account for account in ACCOUNTS if account.access_key == access_key), None)


# containerd puts "docker-exec/containerd/containerd.sock.ttrpc" under the state folder and a unix
# socket path must fit in 108 bytes, so the folder itself has to stay short.
MAX_STATE_LEN = 50
MARKER = ".local-ecr-state"


def resolve_home(repo_root: Path) -> Path:
    """The state folder to use: $LOCAL_ECR_HOME or <repo>/.local-ecr, moved under /tmp if too long."""
    wanted = Path(os.environ.get("LOCAL_ECR_HOME") or repo_root / ".local-ecr").absolute()
    if len(str(wanted)) <= MAX_STATE_LEN:
        return wanted
    short = Path("/tmp") / f"local-ecr-{hashlib.sha256(str(wanted).encode()).hexdigest()[:12]}"
    print(
        f"local-ecr: {wanted} is too long for the docker sockets; using {short} instead",
        file=sys.stderr,
    )
    return short


@dataclass(frozen=True)
class Ports:
    api: int  # the bridge on plain http: the ECR and STS APIs (plain stacks) and /_bridge/* (tests)
    registry: int  # the registry's ECR face on plain http (plain stacks)
    moto: int
    internal: int  # docker-registry itself, reached only by the bridge
    imds: int  # the instance metadata stand-in (imds.py); 0 in a ports file from before it


class State:
    """Paths inside one state folder, plus reading and creating the files the stack needs."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.ports_file = root / "ports"
        self.password_file = root / "password"
        self.htpasswd_file = root / "htpasswd"
        self.registry_config = root / "registry.yml"
        self.registry_data = root / "registry-data"
        self.docker_sock = root / "docker.sock"
        self.docker_config = root / "docker-config"
        self.env_file = root / "env"
        self.plain_file = root / "plain"
        self.secret_file = root / "token-secret"
        self.container_token_file = root / "container-token"  # AWS_CONTAINER_AUTHORIZATION_TOKEN
        self.ecr_state = root / "ecr-state.json"
        self.ca_cert = root / "ca.crt"
        self.ca_key = root / "ca.key"
        self.server_cert = root / "server.crt"
        self.server_key = root / "server.key"
        self.ca_bundle = root / "ca-bundle.pem"

    @property
    def plain(self) -> bool:
        """Whether this stack serves plain loopback ports instead of ECR's names (LOCAL_ECR_PLAIN=1 at up)."""
        return self.plain_file.exists()

    def pid_file(self, component: str) -> Path:
        # written by scripts/local-ecr at start; dockerd also keeps its own docker.pid
        return self.root / f"{component}.pid"

    def log_file(self, component: str) -> Path:
        return self.root / f"{component}.log"

    # -- reading -----------------------------------------------------------------------------------

    def ports(self) -> Ports:
        try:
            values = dict(line.split("=", 1) for line in self.ports_file.read_text().splitlines() if "=" in line)
            return Ports(
                int(values["API_PORT"]),
                int(values["REGISTRY_PORT"]),
                int(values["MOTO_PORT"]),
                int(values["INTERNAL_PORT"]),
                int(values.get("IMDS_PORT", 0)),
            )
        except (OSError, KeyError, ValueError) as err:
            raise SystemExit(f"local-ecr: no stack in {self.root} yet; run scripts/local-ecr up") from err

    def password(self) -> str:
        return self.password_file.read_text().strip()

    def secret(self) -> bytes:
        return self.secret_file.read_bytes()

    def container_token(self) -> str:
        return self.container_token_file.read_text().strip()

    def env(self, kind: str = "keys") -> dict[str, str]:
        """What points ecrtool, aws and docker at the stack: the engine and the CA bundle; on a plain stack
        also its endpoints, which ECR's names would otherwise give. Then, by KIND, the credentials:

        keys       the first account's keys and the region; AWS_EC2_METADATA_DISABLED=true, so that no
                   process can fall through to a host's own instance metadata (169.254.169.254)
        instance   no keys, no region, no profile: only AWS_EC2_METADATA_SERVICE_ENDPOINT, the stand-in,
                   and no config or credentials file (~/.aws stays out), as on an EC2 instance
        container  AWS_CONTAINER_CREDENTIALS_FULL_URI and its AWS_CONTAINER_AUTHORIZATION_TOKEN, with the
                   region, as ECS and CodeBuild set them in a task or job
        """
        env = {
            "LOCAL_ECR_HOME": str(self.root),
            "DOCKER_HOST": f"unix://{self.docker_sock}",
            # a private CLI config keeps `docker login` to the stack out of ~/.docker
            "DOCKER_CONFIG": str(self.docker_config),
        }
        if kind == "keys":
            env.update(
                AWS_ACCESS_KEY_ID=ACCOUNTS[0].access_key,
                AWS_SECRET_ACCESS_KEY=ACCOUNTS[0].secret_key,
                AWS_DEFAULT_REGION=REGION,
                AWS_REGION=REGION,
                AWS_EC2_METADATA_DISABLED="true",
            )
        elif kind in ("instance", "container"):
            imds = self.ports().imds
            if not imds:
                raise SystemExit(f"local-ecr: {self.root} has no instance metadata yet; run scripts/local-ecr up")
            # the files botocore and the AWS CLI would otherwise read from ~/.aws
            env.update(AWS_CONFIG_FILE="/dev/null", AWS_SHARED_CREDENTIALS_FILE="/dev/null")
            if kind == "instance":
                env["AWS_EC2_METADATA_SERVICE_ENDPOINT"] = f"http://127.0.0.1:{imds}/"
                # botocore's and ecrtool's wait for an answer (1 s unless set): the stand-in is Python on a
                # machine the tests keep busy, where an instance's own service answers in a millisecond
                env["AWS_METADATA_SERVICE_TIMEOUT"] = "5"
            else:
                env.update(
                    AWS_CONTAINER_CREDENTIALS_FULL_URI=f"http://127.0.0.1:{imds}{CONTAINER_PATH}",
                    AWS_CONTAINER_AUTHORIZATION_TOKEN=self.container_token(),
                    AWS_DEFAULT_REGION=REGION,
                    AWS_REGION=REGION,
                    AWS_EC2_METADATA_DISABLED="true",  # a task's or job's credentials come from the endpoint
                )
        else:
            raise ValueError(f"no env of kind {kind!r}")
        if self.plain:
            ports = self.ports()
            env["AWS_ENDPOINT_URL"] = f"http://127.0.0.1:{ports.api}"
            env["ECRTOOL_REGISTRY"] = f"127.0.0.1:{ports.registry}"
        else:
            # botocore, awscli and ecrtool read AWS_CA_BUNDLE; Python's ssl and OpenSSL read SSL_CERT_FILE
            env["AWS_CA_BUNDLE"] = str(self.ca_bundle)
            env["SSL_CERT_FILE"] = str(self.ca_bundle)
        return env

    def env_exports(self, kind: str = "keys") -> str:
        return "".join(f"export {key}={shlex.quote(value)}\n" for key, value in self.env(kind).items())

    # -- creating ----------------------------------------------------------------------------------

    def prepare(self) -> None:
        """Create what is missing (folder, ports, password, htpasswd) and rewrite the configs."""
        self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.root.chmod(0o700)
        (self.root / MARKER).touch()
        self.docker_config.mkdir(mode=0o700, exist_ok=True)
        if not self.ports_file.exists() or "INTERNAL_PORT" not in self.ports_file.read_text():
            api, registry, moto, internal, imds = _free_ports(5)
            _write_private(
                self.ports_file,
                f"API_PORT={api}\nREGISTRY_PORT={registry}\nMOTO_PORT={moto}\nINTERNAL_PORT={internal}\n"
                f"IMDS_PORT={imds}\n",
            )
        elif not self.ports().imds:  # a stack from before the instance metadata keeps its other ports
            ports = self.ports()
            taken = {ports.api, ports.registry, ports.moto, ports.internal}
            imds = next(port for port in (_free_ports(1)[0] for _ in range(100)) if port not in taken)
            _write_private(self.ports_file, self.ports_file.read_text() + f"IMDS_PORT={imds}\n")
        if os.environ.get("LOCAL_ECR_PLAIN", "").strip() in ("1", "true", "yes"):
            self.plain_file.touch()
        if not self.secret_file.exists():
            fd = os.open(self.secret_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "wb") as handle:
                handle.write(secrets.token_bytes(32))
        if not self.container_token_file.exists():
            _write_private(self.container_token_file, secrets.token_urlsafe(32))
        if not self.password_file.exists():
            _write_private(self.password_file, secrets.token_urlsafe(32) + "\n")
            self.htpasswd_file.unlink(missing_ok=True)
        if not self.htpasswd_file.exists():
            _write_private(self.htpasswd_file, _htpasswd_line(self.password()))
        _write_private(self.registry_config, self._registry_yaml())
        _write_private(self.env_file, self.env_exports())

    def set_password(self) -> str:
        """Rotate the registry password; returns the new one. The registry rereads htpasswd when it
        changes, and each file is replaced in one rename so it never reads half of one."""
        password = secrets.token_urlsafe(32)
        line = _htpasswd_line(password)
        for path, text in ((self.password_file, password + "\n"), (self.htpasswd_file, line)):
            fresh = path.with_name(path.name + ".new")
            _write_private(fresh, text)
            fresh.replace(path)
        return password

    def _registry_yaml(self) -> str:
        ports = self.ports()
        q = json.dumps  # a JSON string is a valid YAML scalar, whatever the path holds
        return f"""\
version: 0.1
log:
  level: info
  formatter: text
storage:
  filesystem:
    rootdirectory: {q(str(self.registry_data))}
  delete:
    enabled: true
http:
  addr: {q(f"127.0.0.1:{ports.internal}")}
  secret: {q(secrets.token_hex(16))}
auth:
  htpasswd:
    realm: local-ecr
    path: {q(str(self.htpasswd_file))}
notifications:
  events:
    includereferences: true
  endpoints:
    - name: bridge
      url: {q(f"http://127.0.0.1:{ports.api}/_bridge/events")}
      timeout: 2s
      threshold: 3
      backoff: 1s
      ignoredmediatypes:
        - application/octet-stream
      ignore:
        actions:
          - pull
"""


def _free_ports(count: int) -> list[int]:
    # hold every socket open until all are chosen so the kernel cannot hand out one port twice
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def _htpasswd_line(password: str) -> str:
    # the password goes through stdin: argv is readable by every user via /proc
    done = subprocess.run(["htpasswd", "-niB", USER], input=password, capture_output=True, text=True, check=True)
    return done.stdout.strip() + "\n"


def _write_private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
