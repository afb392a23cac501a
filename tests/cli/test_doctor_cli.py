"""`ecrtool doctor` with moto and a fake engine: healthy, and each failure with its fix."""

from __future__ import annotations

import http.server
import json
import os
import socket
import ssl
import threading
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

CHECKS = [
    "AWS credentials",
    "region",
    "ecr:GetAuthorizationToken",
    "Docker engine",
    "Docker socket",
    "Docker config",
    "credential helper",
    "token cache",
    "registry",
]


class VersionedDocker:
    """An engine that only reports its version: all doctor asks of it."""

    def __init__(self, up: bool = True) -> None:
        self.up = up

    def version(self) -> dict[str, Any]:
        from ecrtool.model.errors import DockerUnavailable

        if not self.up:
            raise DockerUnavailable("cannot reach the Docker engine at unix:///nowhere.sock: start it")
        return {"Version": "28.2.2", "ApiVersion": "1.50", "Os": "linux", "Arch": "amd64"}


@pytest.fixture
def engine(monkeypatch: pytest.MonkeyPatch) -> VersionedDocker:
    fake = VersionedDocker()
    monkeypatch.setattr("ecrtool.service.base.build_runner", lambda settings: fake)
    return fake


@pytest.fixture
def registry() -> Iterator[str]:
    """A registry's /v2/ that asks for credentials, as ECR's does."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(401 if self.path == "/v2/" else 404)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    yield f"127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.fixture
def healthy(
    aws: Any, engine: VersionedDocker, registry: str, isolated_env: Path, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """Everything in place: credentials (moto), engine, a socket, the config entry, the helper, a registry."""
    monkeypatch.setenv("ECRTOOL_REGISTRY", registry)
    sock_path = isolated_env / "docker.sock"
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(sock_path))
    monkeypatch.setenv("DOCKER_HOST", f"unix://{sock_path}")
    (isolated_env / ".docker").mkdir()
    (isolated_env / ".docker" / "config.json").write_text(json.dumps({"credHelpers": {registry: "ecrtool"}}))
    folder = isolated_env / "bin"
    folder.mkdir()
    (folder / "docker-credential-ecrtool").write_text("#!/bin/sh\n")
    (folder / "docker-credential-ecrtool").chmod(0o755)
    monkeypatch.setenv("PATH", f"{folder}{os.pathsep}/usr/bin{os.pathsep}/bin")
    return isolated_env


def checks(stdout: str) -> dict[str, dict[str, Any]]:
    data = json.loads(stdout)
    assert [check["name"] for check in data["checks"]] == CHECKS
    return {check["name"]: check for check in data["checks"]}


def test_healthy(invoke: Any, healthy: Path) -> None:
    result = invoke("doctor")
    assert result.exit_code == 0, result.output
    assert "every check passed" in result.stdout
    assert result.stdout.count("✓") == len(CHECKS) and "✗" not in result.stdout
    found = checks(invoke("doctor", "-o", "json").stdout)
    assert all(check["status"] == "ok" and check["fix"] is None for check in found.values())
    assert "account 123456789012" in found["AWS credentials"]["detail"]
    assert found["region"]["detail"] == "ca-west-1 (from AWS_DEFAULT_REGION)"
    assert found["Docker engine"]["detail"].startswith("28.2.2 (API 1.50, linux/amd64)")
    assert "uses docker-credential-ecrtool" in found["Docker config"]["detail"]
    assert found["registry"]["detail"].endswith("answers (HTTP 401)")


def test_no_credentials(invoke: Any, engine: VersionedDocker, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "ca-west-1")
    result = invoke("doctor", "-o", "json")
    assert result.exit_code == 1
    found = checks(result.stdout)
    assert found["AWS credentials"]["status"] == "fail"
    assert "no AWS credentials found" in found["AWS credentials"]["detail"]
    assert "AWS_ACCESS_KEY_ID" in found["AWS credentials"]["fix"]
    assert found["ecr:GetAuthorizationToken"]["status"] == "fail"
    assert found["registry"]["status"] == "skip"  # no account, no registry host
    assert found["Docker engine"]["status"] == "ok"


def test_no_region(invoke: Any, aws: Any, engine: VersionedDocker, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    result = invoke("doctor", "-o", "json")
    assert result.exit_code == 1
    found = checks(result.stdout)
    assert found["region"]["status"] == "fail" and "--region" in found["region"]["fix"]
    assert found["ecr:GetAuthorizationToken"]["status"] == "skip"


def test_no_engine_and_no_socket(invoke: Any, healthy: Path, engine: VersionedDocker, tmp_path: Path) -> None:
    engine.up = False
    missing = tmp_path / "missing.sock"
    result = invoke("doctor", "--docker-host", f"unix://{missing}", "-o", "json")
    assert result.exit_code == 1
    found = checks(result.stdout)
    assert found["Docker engine"]["status"] == "fail"
    assert "systemctl start docker" in found["Docker engine"]["fix"]
    assert found["Docker socket"] == {
        "name": "Docker socket",
        "status": "fail",
        "detail": f"no socket at {missing}",
        "fix": "start the engine (sudo systemctl start docker) or point --docker-host / DOCKER_HOST at a running one",
        "ok": False,
    }


def test_helper_missing(invoke: Any, healthy: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", f"/usr/bin{os.pathsep}/bin")
    result = invoke("doctor")
    assert result.exit_code == 1
    assert "1 check(s) failed" in result.stdout
    assert "✗" in result.stdout and "docker-credential-ecrtool is not on PATH" in result.stdout
    found = checks(invoke("doctor", "-o", "json").stdout)
    assert [name for name, check in found.items() if check["status"] == "fail"] == ["credential helper"]


def test_docker_config_without_the_helper(invoke: Any, healthy: Path, registry: str) -> None:
    config = healthy / ".docker" / "config.json"
    config.write_text(json.dumps({"auths": {registry: {"auth": "QVdTOnNlY3JldA=="}}}))
    found = checks(invoke("doctor", "-o", "json").stdout)
    assert found["Docker config"]["status"] == "fail"
    assert "expires 12 hours after login" in found["Docker config"]["detail"]
    assert found["Docker config"]["fix"].startswith("run `ecrtool configure-docker`")
    config.write_text("{}")
    found = checks(invoke("doctor", "-o", "json").stdout)
    assert "has no credentials for" in found["Docker config"]["detail"]


def test_registry_unreachable(invoke: Any, healthy: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()
    monkeypatch.setenv("ECRTOOL_REGISTRY", f"127.0.0.1:{port}")
    found = checks(invoke("doctor", "-o", "json").stdout)
    assert found["registry"]["status"] == "fail"
    assert found["registry"]["detail"].startswith(f"cannot reach http://127.0.0.1:{port}/v2/")
    assert "proxy" in found["registry"]["fix"]


def test_quiet_shows_only_failures(invoke: Any, healthy: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", f"/usr/bin{os.pathsep}/bin")
    result = invoke("doctor", "-q")
    assert result.exit_code == 1
    assert "credential helper" in result.stdout and "AWS credentials" not in result.stdout


def test_with_sudo_the_docker_config_is_roots(
    invoke: Any, healthy: Path, engine: VersionedDocker, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr("ecrtool.docker.command.DockerCli", lambda docker_host=None, sudo=False: engine)
    root_config = tmp_path / "root" / ".docker" / "config.json"
    monkeypatch.setattr("ecrtool.service.doctor.root_config_path", lambda: root_config)
    found = checks(invoke("doctor", "--sudo", "-o", "json").stdout)
    # DOCKER_CONFIG has the entry, but sudo docker reads root's config, which does not
    assert found["Docker config"]["status"] == "fail"
    assert str(found["Docker config"]["detail"]).startswith(f"{root_config} (root's: docker runs through sudo)")
    assert found["Docker config"]["fix"] == "run `ecrtool configure-docker --sudo`"
    assert found["Docker socket"]["status"] == "ok" and "through sudo" in found["Docker socket"]["detail"]
    assert found["Docker engine"]["status"] == "ok"


def test_the_region_says_where_it_came_from(invoke: Any, healthy: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = healthy / "ecrtool.toml"
    config.write_text('# team defaults\nregion = "us-east-1"\n')
    monkeypatch.setenv("ECRTOOL_CONFIG", str(config))
    found = checks(invoke("doctor", "-o", "json").stdout)
    assert found["region"]["detail"] == f"us-east-1 (from {config}, line 2)"
    assert checks(invoke("doctor", "--region", "ca-west-1", "-o", "json").stdout)["region"]["detail"] == (
        "ca-west-1 (from --region)"
    )


def test_a_region_from_aws_region_is_named_so(invoke: Any, healthy: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    found = checks(invoke("doctor", "-o", "json").stdout)
    assert found["region"]["detail"] == "eu-west-1 (from AWS_REGION)"


def test_aws_region_wins_over_aws_default_region(invoke: Any, healthy: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "ca-west-1")
    found = checks(invoke("doctor", "-o", "json").stdout)
    assert found["region"]["detail"] == "eu-west-1 (from AWS_REGION)"
    # config show names the same variable for the same region
    shown = json.loads(invoke("config", "show", "-o", "json").stdout)
    assert shown["settings"]["region"] == {"value": "eu-west-1", "source": "AWS_REGION"}


def test_a_region_from_the_profile_is_named_so(invoke: Any, healthy: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    monkeypatch.delenv("AWS_REGION", raising=False)
    aws_config = healthy / "aws-config"
    aws_config.write_text("[default]\nregion = eu-west-1\n")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(aws_config))
    found = checks(invoke("doctor", "-o", "json").stdout)
    assert found["region"]["detail"] == "eu-west-1 (from the AWS profile)"


def test_empty_region_variables_are_not_named(invoke: Any, healthy: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_REGION", "")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "ca-west-1")
    found = checks(invoke("doctor", "-o", "json").stdout)
    assert found["region"]["detail"] == "ca-west-1 (from AWS_DEFAULT_REGION)"


# -- the registry under its real name, over https ---------------------------------------------------

ECR_HOST = "123456789012.dkr.ecr.ca-west-1.amazonaws.com"  # moto's account in the healthy fixture's region


def self_signed(folder: Path, name: str) -> tuple[Path, Path]:
    """A throwaway certificate for NAME, signed by its own key: (certificate, key) as PEM files."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.now(timezone.utc)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / f"{name}.crt", folder / f"{name}.key"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path


@pytest.fixture
def resolve_ecr_host(monkeypatch: pytest.MonkeyPatch) -> Callable[[int], None]:
    """Send connections to ECR_HOST:443 to 127.0.0.1:PORT instead; every other name resolves as before."""
    real = socket.getaddrinfo

    def to_port(port: int) -> None:
        def getaddrinfo(host: Any, service: Any, *args: Any, **kwargs: Any) -> Any:
            if host == ECR_HOST and int(service) == 443:
                return real("127.0.0.1", port, *args, **kwargs)
            return real(host, service, *args, **kwargs)

        monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)

    return to_port


@pytest.fixture
def ecr_named(healthy: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Everything healthy, but the registry is ECR's own name for the caller's account: probed over https."""
    monkeypatch.delenv("ECRTOOL_REGISTRY")
    for name in ("HTTPS_PROXY", "https_proxy", "NO_PROXY", "no_proxy", "AWS_CA_BUNDLE", "SSL_CERT_FILE"):
        monkeypatch.delenv(name, raising=False)
    (healthy / ".docker" / "config.json").write_text(json.dumps({"credHelpers": {ECR_HOST: "ecrtool"}}))
    return healthy


@pytest.fixture
def https_registry(tmp_path: Path, resolve_ecr_host: Callable[[int], None]) -> Iterator[Path]:
    """An https registry's /v2/ that asks for credentials, as ECR's does, reached as ECR_HOST; yields its cert."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(401 if self.path == "/v2/" else 404)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    cert, key = self_signed(tmp_path, ECR_HOST)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    resolve_ecr_host(server.server_address[1])
    yield cert
    server.shutdown()


def test_an_https_registry_under_its_ecr_name_answers(
    invoke: Any, ecr_named: Path, https_registry: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_CA_BUNDLE", str(https_registry))  # trusted, as ECR's certificate is
    result = invoke("doctor", "-o", "json")
    assert result.exit_code == 0, result.output
    found = checks(result.stdout)
    assert found["registry"] == {
        "name": "registry",
        "status": "ok",
        "detail": f"https://{ECR_HOST}/v2/ answers (HTTP 401)",
        "fix": None,
        "ok": True,
    }
    assert found["Docker config"]["detail"].endswith(f"uses docker-credential-ecrtool for {ECR_HOST}")


def test_a_dead_https_registry_cannot_be_reached(
    invoke: Any, ecr_named: Path, resolve_ecr_host: Callable[[int], None]
) -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))  # bound, never listening: connections are refused
        resolve_ecr_host(closed.getsockname()[1])
        result = invoke("doctor", "-o", "json")
    assert result.exit_code == 1
    found = checks(result.stdout)
    assert [name for name, check in found.items() if check["status"] == "fail"] == ["registry"]
    assert found["registry"]["detail"] == f"cannot reach https://{ECR_HOST}/v2/: Connection refused"
    assert "proxy" in found["registry"]["fix"]


def test_an_https_registry_with_a_certificate_not_trusted_here(
    invoke: Any, ecr_named: Path, https_registry: Path
) -> None:
    # what a proxy or firewall that inspects TLS shows: the registry answers, under a certificate of its own
    found = checks(invoke("doctor", "-o", "json").stdout)
    assert found["registry"]["status"] == "fail"
    assert found["registry"]["detail"] == (
        f"https://{ECR_HOST}/v2/ answers with a certificate not trusted here: self-signed certificate"
    )
    assert "trust store" in found["registry"]["fix"] and "network" not in found["registry"]["fix"]
