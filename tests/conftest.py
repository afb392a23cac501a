"""Fixtures shared by the test tiers: the local ECR's environment and a runner for the real ecrtool."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
STACK = ROOT / "scripts" / "local-ecr"
BIN = Path(sys.executable).parent


ACCOUNT = "123456789012"
REGION = "ca-west-1"


# -- never the host's instance metadata (issue 17) --------------------------------------------------------
# 169.254.169.254 (fd00:ec2::254 over IPv6, and the container-credentials addresses beside it) can be this
# machine's own metadata service, no part of the project: nothing in the suite may reach it. Every child
# process inherits AWS_EC2_METADATA_DISABLED unless the local ECR's stand-in is named
# (scripts/local-ecr env --instance), and this process refuses to connect there at all (metadata_guard).
if not os.environ.get("AWS_EC2_METADATA_SERVICE_ENDPOINT"):
    os.environ.setdefault("AWS_EC2_METADATA_DISABLED", "true")


def install_metadata_guard(record: str | None = None) -> Any:
    """Refuse every connection to, or lookup of, an instance metadata address in this process before a
    packet leaves: note it (`attempts`; a line in the file RECORD if given) and raise `error`. The wrappers
    call `originals` (looked up on each call); `uninstall` puts them back. Self-contained: its source goes
    into a sitecustomize.py that guards child processes (test_no_host_metadata)."""
    import ipaddress
    import os
    import socket
    import sys
    import types

    metadata = ("169.254.169.254", "fd00:ec2::254", "169.254.170.2", "169.254.170.23", "fd00:ec2::23")
    blocked = {ipaddress.ip_address(address) for address in metadata}

    class MetadataAccessBlocked(RuntimeError):
        """Not an OSError, which a client would take for an unreachable host and quietly go on from."""

    originals = {
        "connect": socket.socket.connect,
        "connect_ex": socket.socket.connect_ex,
        "create_connection": socket.create_connection,
        "getaddrinfo": socket.getaddrinfo,
    }
    guard = types.SimpleNamespace(error=MetadataAccessBlocked, attempts=[], record=record, originals=originals)

    def reaches(host: object, resolve: bool = True) -> bool:
        """HOST is a metadata address in any form connect() takes (2852039166 and 0xa9.0xfe.0xa9.0xfe too,
        as inet_aton reads them), or (RESOLVE) a name that resolves to one."""
        text = (host.decode(errors="replace") if isinstance(host, bytes) else str(host)).strip("[]").split("%")[0]
        try:
            found = ipaddress.ip_address(text)
        except ValueError:
            try:
                found = ipaddress.ip_address(socket.inet_aton(text))
            except (OSError, ValueError):
                try:
                    return resolve and any(reaches(info[4][0]) for info in originals["getaddrinfo"](text, None))
                except (OSError, UnicodeError):
                    return False
        return (found.ipv4_mapped or found if found.version == 6 else found) in blocked

    def refuse(name: str, host: object) -> None:
        guard.attempts.append(f"{name} {host}")
        if guard.record:
            with open(guard.record, "a") as handle:
                handle.write(f"{os.getpid()} {sys.argv!r}: {name} {host}\n")
        raise MetadataAccessBlocked(
            f"{name} {host} refused: it may be this machine's own instance metadata service; "
            "name the local ECR's stand-in instead (scripts/local-ecr env --instance)"
        )

    def guarded(name: str, host_of: Any, resolve: bool) -> Any:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            host = host_of(*args, **kwargs)
            if host not in (None, "") and reaches(host, resolve):
                refuse(name, host)
            return guard.originals[name](*args, **kwargs)

        return wrapper

    def inet(sock: socket.socket, address: Any, *_: Any) -> Any:
        return address[0] if sock.family in (socket.AF_INET, socket.AF_INET6) else None

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        infos = guard.originals["getaddrinfo"](host, *args, **kwargs)  # a lookup sends nothing to HOST
        for info in infos:
            if reaches(info[4][0], resolve=False):
                refuse("getaddrinfo", f"{host} ({info[4][0]})")
        return infos

    guard.wrappers = {
        # connect() resolves a name itself, out of getaddrinfo's sight; create_connection goes through it
        "connect": guarded("connect", inet, resolve=True),
        "connect_ex": guarded("connect_ex", inet, resolve=True),
        "create_connection": guarded("create_connection", lambda address, *_, **__: address[0], resolve=False),
        "getaddrinfo": getaddrinfo,
    }

    def put(functions: dict[str, Any]) -> None:
        socket.socket.connect = functions["connect"]  # type: ignore[method-assign]
        socket.socket.connect_ex = functions["connect_ex"]  # type: ignore[method-assign]
        socket.create_connection = functions["create_connection"]
        socket.getaddrinfo = functions["getaddrinfo"]

    put(guard.wrappers)
    guard.uninstall = lambda: put(originals)
    return guard


@pytest.fixture(scope="session", autouse=True)
def metadata_guard() -> Iterator[Any]:
    """The guard for the whole session: an in-process call to instance metadata fails loudly, and the
    session ends in an error naming any attempt that a library swallowed."""
    guard = install_metadata_guard()
    yield guard
    guard.uninstall()
    assert not guard.attempts, f"the suite tried to reach instance metadata: {guard.attempts}"


@pytest.fixture
def metadata_guard_source() -> str:
    """install_metadata_guard's source, for a sitecustomize.py that guards child processes."""
    import inspect

    return inspect.getsource(install_metadata_guard)


@dataclass
class Stack:
    """The running local ECR: the environment that points ecrtool, aws and docker at it."""

    env: dict[str, str]

    @property
    def plain(self) -> bool:
        """A stack on plain loopback ports (ECRTOOL_REGISTRY), not ECR's names over TLS."""
        return "ECRTOOL_REGISTRY" in self.env

    @property
    def registry(self) -> str:
        """The first account's registry in the first region, as ecrtool names it."""
        return self.env.get("ECRTOOL_REGISTRY") or registry_host(ACCOUNT, REGION)

    def registry_url(self, account: str = ACCOUNT, region: str = REGION) -> str:
        if self.plain:
            return f"http://{self.registry}"
        return f"https://{registry_host(account, region)}"

    @property
    def api(self) -> str:
        """The bridge's own plain endpoint: the ECR API of a plain stack, and /_bridge/* on every stack."""
        ports = dict(line.split("=", 1) for line in (self.home / "ports").read_text().splitlines() if "=" in line)
        return f"http://127.0.0.1:{ports['API_PORT']}"

    @property
    def home(self) -> Path:
        return Path(self.env["LOCAL_ECR_HOME"])

    def password(self, account: str = ACCOUNT, region: str = REGION) -> str:
        """A registry password for ACCOUNT's registry in REGION, as GetAuthorizationToken hands one out."""
        return str(self.control("token", {"account": account, "region": region})["password"])

    @property
    def ca_bundle(self) -> str | bool:
        """What an https client must trust to reach the stack (requests' `verify`)."""
        return self.env.get("AWS_CA_BUNDLE") or True

    def accepts(self, password: str, account: str = ACCOUNT, region: str = REGION) -> bool:
        """Whether ACCOUNT's registry in REGION takes PASSWORD (user AWS), as a docker login would ask it."""
        import requests

        url = f"{self.registry_url(account, region)}/v2/"
        return requests.get(url, auth=("AWS", password), verify=self.ca_bundle, timeout=10).status_code == 200

    def control(self, name: str, doc: dict[str, object] | None = None) -> dict[str, object]:
        """Ask the bridge's test endpoints (/_bridge/NAME): call counts, faults, registry passwords."""
        import json
        import urllib.request

        data = None if doc is None else json.dumps(doc).encode()
        with urllib.request.urlopen(f"{self.api}/_bridge/{name}", data=data, timeout=10) as reply:
            result: dict[str, object] = json.load(reply)
            return result


def registry_host(account: str, region: str) -> str:
    return f"{account}.dkr.ecr.{region}.amazonaws.com"


def _stack_env() -> dict[str, str]:
    done = subprocess.run([str(STACK), "env"], capture_output=True, text=True, env=_path_env(os.environ))
    if done.returncode != 0:
        pytest.fail(f"the local ECR is not up (run `make up`): {done.stderr.strip()}", pytrace=False)
    exports: dict[str, str] = {}
    for line in done.stdout.splitlines():
        if line.startswith("export "):
            key, _, value = line.removeprefix("export ").partition("=")
            exports[key] = shlex.split(value)[0] if value else ""
    return exports


def _path_env(base: os._Environ[str] | dict[str, str]) -> dict[str, str]:
    env = dict(base)
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    return env


@pytest.fixture(scope="session")
def stack() -> Stack:
    return Stack(env=_stack_env())


class PrivateStack(Stack):
    """A local ECR of one's own, for tests that stop or kill its parts: the shared one stays untouched."""

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(STACK), *args], capture_output=True, text=True, timeout=120, env=_path_env({**os.environ, **self.env})
        )

    def stop(self, component: str) -> None:
        done = self.run("stop", component)
        assert done.returncode == 0, done.stderr

    def kill(self, component: str) -> None:
        """SIGKILL, as a crash would: no chance to finish what it was doing."""
        import signal

        os.kill(int((self.home / f"{component}.pid").read_text().split()[0]), signal.SIGKILL)

    def up(self) -> None:
        """Start whatever is not running and wait until it answers."""
        done = self.run("up")
        assert done.returncode == 0, done.stderr

    def image(self, name: str, *options: str) -> str:
        done = self.run("image", name, *options)
        assert done.returncode == 0, done.stderr
        return name


@pytest.fixture(scope="session")
def private_stack() -> Iterator[PrivateStack]:
    """A second local ECR (own dockerd, registry, bridge and ports) for the whole session, purged at the end.

    It serves the first account and region on plain loopback ports (ECRTOOL_REGISTRY, AWS_ENDPOINT_URL):
    ECR's names resolve to the shared stack, which holds them while it is up.
    """
    import tempfile

    # a short folder: the docker sockets under it must stay within the 108-byte unix socket limit
    home = tempfile.mkdtemp(prefix="lecr-", dir="/tmp")
    # plain: ECR's names belong to the shared stack while it is up
    env = _path_env({**os.environ, "LOCAL_ECR_HOME": home, "LOCAL_ECR_PLAIN": "1"})
    done = subprocess.run([str(STACK), "up"], capture_output=True, text=True, timeout=300, env=env)
    if done.returncode != 0:
        pytest.fail(f"could not start a private local ECR in {home}: {done.stderr.strip()}", pytrace=False)
    lines = [line for line in done.stdout.splitlines() if line.startswith("export ")]
    exports = dict(shlex.split(line)[1].split("=", 1) for line in lines)
    try:
        yield PrivateStack(env=exports)
    finally:
        subprocess.run([str(STACK), "down", "--purge"], capture_output=True, timeout=120, env=env)


@pytest.fixture
def root_docker_config() -> Iterator[Path]:
    """Root's own Docker config (the one `sudo docker` reads), put back as it was afterwards."""
    import pwd

    path = Path(pwd.getpwnam("root").pw_dir) / ".docker" / "config.json"
    saved = path.read_bytes() if path.exists() else None
    folder_existed = path.parent.exists()
    try:
        yield path
    finally:
        if saved is not None:
            path.write_bytes(saved)
        elif path.exists():
            path.unlink()
            if not folder_existed:
                shutil.rmtree(path.parent, ignore_errors=True)


def user_env(stack_env: dict[str, str], tmp_path: Path) -> dict[str, str]:
    """A clean environment for one test on a stack: its settings, this test's own HOME and Docker config."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "ECRTOOL_", "DOCKER_"))}
    base.update(stack_env)
    home = tmp_path / "home"
    home.mkdir()
    base["HOME"] = str(home)
    base["DOCKER_CONFIG"] = str(home / ".docker")
    return _path_env(base)


@pytest.fixture
def env(stack: Stack, tmp_path: Path) -> dict[str, str]:
    """The shared local ECR's environment for one test."""
    return user_env(stack.env, tmp_path)


@pytest.fixture
def penv(private_stack: PrivateStack, tmp_path: Path) -> dict[str, str]:
    """The private local ECR's environment for one test (tests that stop or break its parts)."""
    return user_env(private_stack.env, tmp_path)


Run = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def private_ecrtool(penv: dict[str, str]) -> Callable[..., subprocess.CompletedProcess[str]]:
    """The real ecrtool against the private local ECR; HOME may name another user (no token cache)."""
    exe = shutil.which("ecrtool", path=penv["PATH"])
    assert exe, "ecrtool is not installed in this environment (make install)"

    def run(*args: str, timeout: float = 180, home: Path | None = None) -> subprocess.CompletedProcess[str]:
        env = penv if home is None else {**penv, "HOME": str(home)}
        return subprocess.run([exe, *args], capture_output=True, text=True, timeout=timeout, env=env)

    return run


@pytest.fixture
def ecrtool(env: dict[str, str]) -> Run:
    """Run the installed `ecrtool` console script, as a user would."""
    exe = shutil.which("ecrtool", path=env["PATH"])
    assert exe, "ecrtool is not installed in this environment (make install)"

    def run(
        *args: str, input: str | None = None, extra_env: dict[str, str] | None = None, timeout: float = 180
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [exe, *args],
            capture_output=True,
            text=True,
            input=input,
            timeout=timeout,
            env={**env, **(extra_env or {})},
        )

    return run


@pytest.fixture
def docker(env: dict[str, str]) -> Run:
    """The plain docker command line, on the local ECR's engine."""

    def run(*args: str, input: str | None = None, timeout: float = 180) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["docker", *args], capture_output=True, text=True, input=input, timeout=timeout, env=env)

    return run


@pytest.fixture(scope="session")
def test_image(stack: Stack) -> Iterator[str]:
    """A small image built FROM scratch in the local engine, named `viruses`."""
    env = _path_env({**os.environ, **stack.env})
    subprocess.run([str(STACK), "image", "viruses"], check=True, capture_output=True, env=env)
    yield "viruses"


@pytest.fixture
def pushed(ecrtool: Run, docker: Run, stack: Stack, test_image: str, repo_name: str) -> str:
    """The test image in a fresh repository, as REPO:viruses, and gone from the engine: a pull has to fetch it."""
    done = ecrtool("push", test_image, "--repo", repo_name, "--create", "-q")
    assert done.returncode == 0, done.stderr
    docker("image", "rm", f"{stack.registry}/{repo_name}:{test_image}")
    return f"{repo_name}:{test_image}"


@pytest.fixture
def faults(stack: Stack) -> Iterator[Callable[..., object]]:
    """Set faults in the local ECR for one test (denied actions, a bad registry password); cleared after."""

    def set_faults(**doc: object) -> object:
        return stack.control("faults", doc)

    yield set_faults
    stack.control("faults", {})


@pytest.fixture
def repo_name() -> str:
    return f"trees-{uuid.uuid4().hex[:10]}"


# -- a registry of no one's: open, on loopback ---------------------------------------------------------


class OpenRegistry:
    """A plain docker-registry on 127.0.0.1 with no auth, that can be killed and started again on its data:
    a stand-in for the public gallery, Docker Hub or any other registry."""

    def __init__(self, folder: Path) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.host = f"127.0.0.1:{probe.getsockname()[1]}"
        self.config = folder / "config.yml"
        self.config.write_text(
            f"version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {folder / 'data'}\n"
            f"http:\n  addr: {self.host}\n"
        )
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            ["docker-registry", "serve", str(self.config)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://{self.host}/v2/", timeout=2) as reply:
                    if reply.status == 200:
                        return
            except OSError:
                assert time.monotonic() < deadline, "the open registry did not start"
                time.sleep(0.2)

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait(timeout=10)
        self.proc = None


@pytest.fixture(scope="module")
def open_registry_process(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OpenRegistry]:
    """An OpenRegistry for the module, running; stopped at the end."""
    registry = OpenRegistry(tmp_path_factory.mktemp("open-registry"))
    registry.start()
    try:
        yield registry
    finally:
        if registry.proc is not None:
            registry.kill()


@pytest.fixture(scope="module")
def open_registry(open_registry_process: OpenRegistry) -> str:
    """The open registry's host[:port]."""
    return open_registry_process.host


# -- a stand-in for the engine's socket, for unit and CLI tests -------------------------------------


class FakeSocket:
    """A unix socket that answers every connection with canned HTTP and keeps each request it read.

    `answer` is the reply, as pieces sent one after the other (a test of chunked streams splits them);
    `answer_with` may instead make the pieces from the request, and take its time between them.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.answer: list[bytes] = [b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}"]
        self.answer_with: Callable[[bytes], Iterable[bytes]] | None = None
        self.requests: list[bytes] = []
        self._server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._server.bind(str(path))
        self._server.listen(8)
        threading.Thread(target=self._serve, daemon=True).start()

    @property
    def url(self) -> str:
        return f"unix://{self.path}"

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self._server.accept()
            except OSError:
                return
            with conn:
                data = b""
                while b"\r\n\r\n" not in data:
                    data += conn.recv(65536)
                head, _, body = data.partition(b"\r\n\r\n")
                lines = head.split(b"\r\n")
                lengths = [line.split(b":", 1)[1] for line in lines if line.lower().startswith(b"content-length:")]
                while len(body) < (int(lengths[0]) if lengths else 0):
                    body += conn.recv(65536)
                request = head + b"\r\n\r\n" + body
                self.requests.append(request)
                for piece in self.answer_with(request) if self.answer_with else self.answer:
                    conn.sendall(piece)

    def reply(self, status: int, body: object) -> None:
        """Answer every request with STATUS and BODY as JSON, in one piece."""
        content = json.dumps(body).encode()
        head = f"HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {len(content)}\r\n\r\n"
        self.answer = [head.encode() + content]

    def close(self) -> None:
        self._server.close()


@pytest.fixture
def fake_socket() -> Iterator[Callable[[], FakeSocket]]:
    """Make FakeSockets in a short folder of their own (a unix socket's path has at most 108 bytes)."""
    folder = Path(tempfile.mkdtemp(prefix="sock-", dir="/tmp"))
    made: list[FakeSocket] = []

    def make() -> FakeSocket:
        made.append(FakeSocket(folder / f"{len(made)}.sock"))
        return made[-1]

    yield make
    for server in made:
        server.close()
    shutil.rmtree(folder, ignore_errors=True)


# -- botocore's own stand-in for AWS, for unit tests of the ECR gateway -----------------------------


@pytest.fixture
def client() -> object:
    """A botocore ECR client whose calls a Stubber answers."""
    import boto3

    return boto3.client("ecr", region_name="ca-west-1", aws_access_key_id="testing", aws_secret_access_key="testing")


@pytest.fixture
def stub(client: object) -> Iterator[object]:
    """The client's Stubber: a call the test did not stub fails it, so "no extra call" is checked too."""
    from botocore.stub import Stubber

    with Stubber(client) as stubber:
        yield stubber
        stubber.assert_no_pending_responses()


class StubbedAws:
    """The AwsSession a service asks for a region and an ECR client: here, the stubbed client."""

    def __init__(self, client: object) -> None:
        self._client = client

    def region(self, wanted: str | None = None) -> str:
        return wanted or "ca-west-1"

    def lazy_client(self, service: str, region: str | None = None) -> object:
        return self._client

    def signed_ecr(self, region: str | None = None) -> None:
        return None  # every call goes to the stubbed botocore client

    def client(self, service: str, region: str | None = None) -> object:
        """STS says who the caller is (STUBBED_CALLER); any other service is the stubbed client."""
        return _StubbedSts() if service == "sts" else self._client


STUBBED_CALLER = "arn:aws:iam::123456789012:user/tester"


class _StubbedSts:
    def get_caller_identity(self) -> dict[str, str]:
        return {"Account": "123456789012", "Arn": STUBBED_CALLER, "UserId": "AIDATESTER"}


@pytest.fixture
def stubbed_ecr(client: object, stub: object, monkeypatch: pytest.MonkeyPatch) -> object:
    """The Stubber, its client installed where every service builds its AWS session (through the CLI too)."""
    monkeypatch.setattr("ecrtool.service.base.AwsSession", lambda **kwargs: StubbedAws(client))
    return stub


# the local ECR's second account, and its keys (scripts/localecr/state.py)
SECOND_ACCOUNT_KEYS = ("AKIALOCALECRSECOND01", "local-ecr-second-account-secret")


@pytest.fixture
def second_account_profile(env: dict[str, str]) -> Callable[[Iterable[str]], dict[str, str]]:
    """Write the second account's keys as AWS profile `prod` in the test's HOME and an ecrtool config naming it
    for the given registry hosts; returns the environment (XDG_CONFIG_HOME) that makes ecrtool read it."""

    def write(hosts: Iterable[str]) -> dict[str, str]:
        home = Path(env["HOME"])
        (home / ".aws").mkdir(exist_ok=True)
        (home / ".aws" / "credentials").write_text(
            f"[prod]\naws_access_key_id = {SECOND_ACCOUNT_KEYS[0]}\n"
            f"aws_secret_access_key = {SECOND_ACCOUNT_KEYS[1]}\n"
        )
        (home / ".aws" / "config").write_text("[profile prod]\nregion = ca-west-1\n")
        config = home / "xdg" / "ecrtool" / "config.toml"
        config.parent.mkdir(parents=True, exist_ok=True)
        config.write_text("".join(f'[registries."{host}"]\nprofile = "prod"\n' for host in hosts))
        return {"XDG_CONFIG_HOME": str(home / "xdg")}

    return write
