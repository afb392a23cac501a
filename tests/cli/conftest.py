"""Fixtures for the CLI tier: an isolated environment, moto for AWS, a fake Docker engine, and a runner."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from ecrtool.cli.main import cli
from ecrtool.docker.runner import DockerRunner, LocalImageDetails
from ecrtool.model.auth import RegistryAuth
from ecrtool.model.containers import Output, RunOutcome, RunSpec

REGION = "ca-west-1"
ACCOUNT = "123456789012"  # moto's default account
HOST = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com"
IMAGE_ID = "sha256:" + "1" * 64
DIGEST = "sha256:" + "d" * 64
LAYER = "0123456789ab"
CONTAINER_ID = "c0ffee" + "0" * 58

Events = Callable[[str], Iterable[dict[str, Any]]]


def push_events(reference: str) -> Iterator[dict[str, Any]]:
    """What docker-py yields for a push with stream=True, decode=True."""
    tag = reference.rsplit(":", 1)[-1]
    yield {"status": f"The push refers to repository [{reference.rsplit(':', 1)[0]}]"}
    yield {"status": "Preparing", "progressDetail": {}, "id": LAYER}
    yield {"status": "Pushing", "progressDetail": {"current": 512, "total": 1024}, "id": LAYER}
    yield {"status": "Pushed", "progressDetail": {}, "id": LAYER}
    yield {"status": f"{tag}: digest: {DIGEST} size: 528"}
    yield {"progressDetail": {}, "aux": {"Tag": tag, "Digest": DIGEST, "Size": 528}}


def pull_events(reference: str) -> Iterator[dict[str, Any]]:
    yield {"status": f"Pulling from {reference}", "id": reference.rsplit(":", 1)[-1]}
    yield {"status": "Pull complete", "progressDetail": {}, "id": LAYER}
    yield {"status": f"Digest: {DIGEST}"}
    yield {"status": f"Status: Downloaded newer image for {reference}"}


class FakeDocker:
    """A DockerRunner that keeps images in a dict, records every call and plays scripted event streams."""

    def __init__(self) -> None:
        self.images: dict[str, LocalImageDetails] = {}
        self.calls: list[tuple[str, ...]] = []
        self.auths: list[RegistryAuth] = []
        self.push_script: Events = push_events
        self.pull_script: Events = pull_events
        self.runs: list[RunSpec] = []
        self.run_output: list[tuple[str, bytes]] = [("stdout", b"hello from the container\n")]
        self.run_exit_code = 0

    @staticmethod
    def _normal(reference: str) -> str:
        if "@" in reference or reference.startswith("sha256:"):
            return reference
        return reference if reference.rfind(":") > reference.rfind("/") else f"{reference}:latest"

    def add_image(self, name: str, image_id: str = IMAGE_ID) -> None:
        self.images[self._normal(name)] = LocalImageDetails(image_id=image_id, repo_tags=[name], repo_digests=[])

    def untag_calls(self) -> list[str]:
        return [call[1] for call in self.calls if call[0] == "untag"]

    def inspect_image(self, reference: str) -> LocalImageDetails | None:
        self.calls.append(("inspect", reference))
        found = self.images.get(self._normal(reference))
        if found is None and reference.removeprefix("sha256:").isalnum():
            short = reference.removeprefix("sha256:")
            found = next((d for d in self.images.values() if d.image_id[7:].startswith(short)), None)
        return found

    def tag(self, source: str, repository: str, tag: str) -> None:
        self.calls.append(("tag", source, f"{repository}:{tag}"))
        found = next(d for d in self.images.values() if d.image_id == source)
        self.images[f"{repository}:{tag}"] = found

    def untag(self, reference: str) -> None:
        self.calls.append(("untag", reference))
        self.images.pop(reference, None)

    def push(self, repository: str, tag: str, auth: RegistryAuth) -> Iterator[dict[str, Any]]:
        self.calls.append(("push", f"{repository}:{tag}"))
        self.auths.append(auth)
        yield from self.push_script(f"{repository}:{tag}")

    def pull(self, repository: str, ref: str, auth: RegistryAuth | None) -> Iterator[dict[str, Any]]:
        reference = f"{repository}@{ref}" if ref.startswith("sha256:") else f"{repository}:{ref}"
        self.calls.append(("pull", reference))
        if auth is not None:
            self.auths.append(auth)
        yield from self.pull_script(reference)
        self.images[reference] = LocalImageDetails(image_id=IMAGE_ID, repo_tags=[reference], repo_digests=[])

    def login(self, auth: RegistryAuth) -> None:
        self.calls.append(("login", auth.registry, auth.username))
        self.auths.append(auth)

    def version(self) -> dict[str, Any]:
        return {"Version": "28.2.2", "ApiVersion": "1.50", "Os": "linux", "Arch": "amd64"}

    def run(self, spec: RunSpec, output: Output | None) -> RunOutcome:
        """Detached: an id. Attached: the scripted output, then the scripted exit code."""
        self.calls.append(("run", spec.image))
        self.runs.append(spec)
        if spec.detach:
            return RunOutcome(CONTAINER_ID, None)
        for stream, data in self.run_output:
            if output is not None:
                output(stream, data)
        return RunOutcome(CONTAINER_ID, self.run_exit_code)


def _fake_is_a_runner(fake: FakeDocker) -> DockerRunner:
    return fake  # mypy checks the fake against the protocol the service relies on


@pytest.fixture(scope="session", autouse=True)
def shared_botocore_models() -> Iterator[None]:
    """Every boto3 session re-reads botocore's JSON models; share one loader so the tier stays fast."""
    import botocore.loaders

    loader = botocore.loaders.create_loader()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("botocore.session.create_loader", lambda *args, **kwargs: loader)
        yield


@pytest.fixture(autouse=True)
def isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No AWS, ecrtool or Docker settings from the developer's machine; HOME and Docker config in tmp_path."""
    for key in list(os.environ):
        if key.startswith(("AWS_", "ECRTOOL_", "DOCKER_")) or key in ("FORCE_COLOR", "NO_COLOR"):
            monkeypatch.delenv(key)
    home = tmp_path / "home"
    home.mkdir()
    empty = tmp_path / "empty-aws-file"
    empty.write_text("")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("DOCKER_CONFIG", str(home / ".docker"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(empty))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(empty))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    return home


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """moto's in-process ECR and STS; yields a boto3 ECR client on the same fake account for setup and checks."""
    import boto3
    from moto import mock_aws

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    # moto intercepts botocore's requests; ecrtool's own signed requests would go to the real endpoint
    monkeypatch.setenv("ECRTOOL_AWS_CLIENT", "botocore")
    with mock_aws():
        yield boto3.client("ecr", region_name=REGION)


@pytest.fixture(scope="session")
def moto_server() -> Iterator[str]:
    """moto's ECR and STS as a server on loopback, for ecrtool's own signed client (which moto's in-process
    mock cannot see: it intercepts botocore only)."""
    import socket

    from moto.server import ThreadedMotoServer

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture
def signed_aws(moto_server: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Keys in the environment and AWS_ENDPOINT_URL on moto's server: ecrtool signs its hot-path ECR calls
    itself. Yields a boto3 ECR client on the same server for setup and checks; moto starts empty."""
    import boto3
    import requests

    requests.post(f"{moto_server}/moto-api/reset", timeout=10).raise_for_status()
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_REGION", REGION)
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server)
    yield boto3.client("ecr", region_name=REGION, endpoint_url=moto_server)


@pytest.fixture
def fake_docker(monkeypatch: pytest.MonkeyPatch) -> FakeDocker:
    """The fake engine, installed where the service builds its Docker runner."""
    fake = FakeDocker()
    monkeypatch.setattr("ecrtool.service.base.build_runner", lambda settings: fake)
    return fake


@pytest.fixture
def forbid_backends(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """AWS and Docker gateways that fail the test if ecrtool so much as builds them."""
    touched: list[str] = []

    def forbidden(name: str) -> Callable[..., Any]:
        def build(*args: Any, **kwargs: Any) -> Any:
            touched.append(name)
            pytest.fail(f"{name} was built for input that should have been refused first")

        return build

    monkeypatch.setattr("ecrtool.service.base.AwsSession", forbidden("AwsSession"))
    monkeypatch.setattr("ecrtool.service.base.build_runner", forbidden("DockerApi"))
    return touched


@pytest.fixture
def put_image(aws: Any) -> Callable[..., str]:
    """Store an image manifest under REPOSITORY:TAG in moto's ECR (moto reports SIZE); returns its digest."""

    def put(repository: str, tag: str, size: int = 2048) -> str:
        manifest = {
            "schemaVersion": 2,
            "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
            "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": size, "digest": DIGEST},
            "layers": [
                {
                    "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
                    "size": size,
                    "digest": "sha256:" + tag.encode().hex().ljust(64, "0")[:64],
                }
            ],
        }
        reply = aws.put_image(repositoryName=repository, imageManifest=json.dumps(manifest), imageTag=tag)
        return str(reply["image"]["imageId"]["imageDigest"])

    return put


Invoke = Callable[..., Result]


@pytest.fixture
def invoke() -> Invoke:
    """Run `ecrtool ARGS` in process; every outcome must come through the CLI's own error handler."""

    def run(*args: str, input: str | None = None) -> Result:
        result = CliRunner().invoke(cli, list(args), input=input)
        # main() ends every run with sys.exit; anything else escaped the handler and would be a traceback.
        assert result.exception is None or isinstance(result.exception, SystemExit), result.exc_info
        assert "Traceback" not in result.output
        return result

    return run


@pytest.fixture
def restore_logging() -> Iterator[None]:
    """--debug adds a handler to the root logger; take it away again after the test."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.fixture
def trees(aws: Any) -> str:
    """An empty repository named trees (test_listing_delete fills its own)."""
    aws.create_repository(repositoryName="trees")
    return "trees"
