"""Nothing in the suite reaches the host's instance metadata (169.254.169.254, fd00:ec2::254).

That address can be this machine's own metadata service, which is no part of the project (issue 17).
conftest sets AWS_EC2_METADATA_DISABLED for every child process unless the local ECR's stand-in is
named, and guards this process's sockets; here the guard is shown to refuse (with a tripwire under it,
so that a broken guard would fail the test rather than send a packet), and real ecrtool processes run
under the same guard, through a sitecustomize.py, to show they never try.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

BIN = Path(sys.executable).parent
# every spelling connect() would take to the same two services
SPELLINGS = [
    (socket.AF_INET, "169.254.169.254"),
    (socket.AF_INET, "2852039166"),
    (socket.AF_INET, "0xa9.0xfe.0xa9.0xfe"),
    (socket.AF_INET6, "fd00:ec2::254"),
    (socket.AF_INET6, "FD00:EC2:0:0:0:0:0:254"),
    (socket.AF_INET6, "::ffff:169.254.169.254"),
]


@pytest.fixture
def tripwire(metadata_guard: Any, monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """What the guard would pass through to, replaced by a recorder: nothing below the guard is reached."""
    for name, wrapper in metadata_guard.wrappers.items():
        installed = getattr(socket.socket if name.startswith("connect") else socket, name)
        assert installed is wrapper, f"the metadata guard is not installed on socket {name}"
    reached: list[object] = []

    def record(*args: object, **_: object) -> None:
        reached.append(args)
        raise AssertionError(f"the guard let {args} through")

    for name in ("connect", "connect_ex", "create_connection"):
        monkeypatch.setitem(metadata_guard.originals, name, record)
    monkeypatch.setattr(metadata_guard, "attempts", [])  # these are on purpose; the session's stay clean
    return reached


def test_children_inherit_instance_metadata_switched_off() -> None:
    if os.environ.get("AWS_EC2_METADATA_SERVICE_ENDPOINT"):
        assert "169.254.169.254" not in os.environ["AWS_EC2_METADATA_SERVICE_ENDPOINT"]
    else:
        assert os.environ["AWS_EC2_METADATA_DISABLED"] == "true"


@pytest.mark.parametrize(("family", "address"), SPELLINGS)
def test_the_guard_refuses_a_connection_to_instance_metadata(
    metadata_guard: Any, tripwire: list[object], family: int, address: str
) -> None:
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        with pytest.raises(metadata_guard.error):
            sock.connect((address, 80))
        with pytest.raises(metadata_guard.error):
            sock.connect_ex((address, 80))
    with pytest.raises(metadata_guard.error):
        socket.create_connection((address, 80), timeout=0.1)
    with pytest.raises(metadata_guard.error):
        socket.getaddrinfo(address, 80)  # a numeric lookup sends nothing; its answer is refused
    assert not tripwire
    assert len(metadata_guard.attempts) == 4


def test_botocore_reaching_for_instance_metadata_fails_loudly(metadata_guard: Any, tripwire: list[object]) -> None:
    from botocore.exceptions import HTTPClientError
    from botocore.utils import InstanceMetadataFetcher

    fetcher = InstanceMetadataFetcher(timeout=0.2, env={})  # its default endpoint, metadata not switched off
    with pytest.raises(HTTPClientError) as failed:
        fetcher.retrieve_iam_role_credentials()
    assert isinstance(failed.value.kwargs["error"], metadata_guard.error)
    assert not tripwire and metadata_guard.attempts


def test_the_guard_leaves_other_addresses_alone(metadata_guard: Any) -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        socket.create_connection(server.getsockname(), timeout=2).close()
    assert socket.getaddrinfo("127.0.0.1", 80)
    assert not metadata_guard.attempts


# -- real ecrtool processes, guarded the same way -----------------------------------------------------


@pytest.fixture
def guarded_env(tmp_path: Path, metadata_guard_source: str) -> tuple[dict[str, str], Path, Path]:
    """An environment whose Python processes load the guard at start (sitecustomize.py on PYTHONPATH),
    note their start in LOADED and any attempt in RECORD; no keys, no region, no ~/.aws, no engine."""
    site, loaded, record = tmp_path / "site", tmp_path / "loaded", tmp_path / "attempts"
    site.mkdir()
    (site / "sitecustomize.py").write_text(
        "from __future__ import annotations\n\n"
        f"{metadata_guard_source}\n\n"
        "import os as _os\nimport sys as _sys\n\n"
        f"GUARD = install_metadata_guard({str(record)!r})\n"
        f"with open({str(loaded)!r}, 'a') as _handle:\n"
        "    _handle.write(f'{_os.getpid()} {_sys.argv!r}\\n')\n"
    )
    credentials = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE")
    env = {k: v for k, v in os.environ.items() if k not in credentials and not k.startswith(("ECRTOOL_", "DOCKER_"))}
    env = {k: v for k, v in env.items() if k not in ("AWS_REGION", "AWS_DEFAULT_REGION", "PYTHONPATH")}
    home = tmp_path / "home"
    home.mkdir()
    env.update(
        PYTHONPATH=str(site),
        HOME=str(home),
        PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}",
        DOCKER_HOST=f"unix://{tmp_path / 'no-engine.sock'}",
        DOCKER_CONFIG=str(home / ".docker"),
    )
    # the guard is the second line of defence: the children must not even try (conftest's setting)
    endpoint = env.get("AWS_EC2_METADATA_SERVICE_ENDPOINT", "")
    assert env.get("AWS_EC2_METADATA_DISABLED") == "true" or endpoint.startswith("http://127."), endpoint
    return env, loaded, record


@pytest.mark.parametrize(
    ("command", "stdin"),
    [
        (["ecrtool", "config", "show"], None),
        (["ecrtool", "login", "--region", "ca-west-1"], None),
        (["ecrtool", "login"], None),
        (["docker-credential-ecrtool", "get"], "123456789012.dkr.ecr.ca-west-1.amazonaws.com\n"),
    ],
    ids=["config-show", "login-region", "login", "credential-helper"],
)
def test_ecrtool_with_no_credentials_never_reaches_instance_metadata(
    guarded_env: tuple[dict[str, str], Path, Path], command: list[str], stdin: str | None
) -> None:
    env, loaded, record = guarded_env
    exe = shutil.which(command[0], path=env["PATH"])
    assert exe, f"{command[0]} is not installed in this environment (make install)"
    done = subprocess.run([exe, *command[1:]], input=stdin, capture_output=True, text=True, env=env, timeout=60)
    assert loaded.exists(), f"the guard did not load in {command[0]}: {done.stderr}"  # else this proves nothing
    assert not record.exists(), record.read_text()
    assert "MetadataAccessBlocked" not in done.stderr


def test_a_child_that_reaches_for_instance_metadata_is_caught(
    guarded_env: tuple[dict[str, str], Path, Path],
) -> None:
    """The recording works in a child: one with metadata switched on is stopped and noted (a tripwire
    under its guard, as above, so that nothing could leave even if the guard were broken)."""
    env, loaded, record = guarded_env
    env = {k: v for k, v in env.items() if not k.startswith("AWS_EC2_METADATA")}
    child = (
        "import socket, sitecustomize\n"
        "guard = sitecustomize.GUARD\n"
        "assert socket.socket.connect is guard.wrappers['connect']\n"
        "def tripwire(*args, **kwargs):\n"
        "    raise SystemExit(f'the guard let {args} through')\n"
        "for name in ('connect', 'connect_ex', 'create_connection'):\n"
        "    guard.originals[name] = tripwire\n"
        "from botocore.utils import InstanceMetadataFetcher\n"
        "try:\n"
        "    InstanceMetadataFetcher(timeout=0.2).retrieve_iam_role_credentials()\n"
        "except Exception as err:\n"
        "    print(type(err).__name__)\n"
    )
    done = subprocess.run([sys.executable, "-c", child], capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 0, done.stderr
    assert loaded.exists()
    assert "169.254.169.254" in record.read_text()
