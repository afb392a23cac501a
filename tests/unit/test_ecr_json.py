"""ECR calls without botocore: when they are made, what goes out, and what a user reads when they fail.

The client talks real HTTP to a small server in this process that answers as the ECR API would.
"""

from __future__ import annotations

import ipaddress
import json
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from unittest import mock

import botocore.session
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.retries.standard import ExponentialBackoff

from ecrtool.aws import signed as ecr_json
from ecrtool.aws.ecr import Ecr
from ecrtool.aws.errors import translate
from ecrtool.aws.session import AwsSession
from ecrtool.model.errors import EcrToolError, NotFound

KEYS = {"AWS_ACCESS_KEY_ID": "AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY": "secret/key+example"}


class Api:
    """What the server answers, in order (the last one repeats), and what it was sent."""

    def __init__(self) -> None:
        self.answers: list[tuple[int, dict[str, str], bytes]] = [(200, {}, b"{}")]
        self.received: list[tuple[dict[str, str], bytes]] = []
        self.peers: list[tuple[str, int]] = []  # the client's address for each request: one per connection
        self.pauses: list[float] = []  # seconds to wait before each answer, in order
        # the first requests wait at this barrier for each other before answering: met only if they overlap
        self.meet: threading.Barrier | None = None
        self.hang_up = False  # close each connection after its answer, without saying so
        self.chunked = False


def serve(host: str, tls: ssl.SSLContext | None = None) -> Iterator[tuple[Api, str]]:
    """A server on HOST (an IPv4 or IPv6 address) answering as the ECR API would, and its endpoint."""
    state = Api()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            body = self.rfile.read(int(self.headers["Content-Length"]))
            state.received.append(({k: v for k, v in self.headers.items()}, body))
            state.peers.append(self.client_address[:2])
            index = min(len(state.received), len(state.answers)) - 1
            if len(state.received) <= len(state.pauses):
                time.sleep(state.pauses[len(state.received) - 1])
            if state.meet is not None and len(state.received) <= state.meet.parties:
                state.meet.wait()  # a broken barrier (a wait past its timeout) ends this answer unanswered
            status, headers, content = state.answers[index]
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            if state.chunked:
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                for start in range(0, len(content), 7):
                    piece = content[start : start + 7]
                    self.wfile.write(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
                self.wfile.write(b"0\r\n\r\n")
            else:
                self.send_header("Content-Length", str(len(content)))
                self.end_headers()
                self.wfile.write(content)
            self.close_connection = self.close_connection or state.hang_up

        def log_message(self, *args: Any) -> None:
            pass

    class Server(ThreadingHTTPServer):
        address_family = socket.AF_INET6 if ":" in host else socket.AF_INET

        def handle_error(self, request: Any, client_address: Any) -> None:
            pass  # a client that hung up first (a test of timeouts) is no news

    server = Server((host, 0), Handler)
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    netloc = f"[{host}]" if ":" in host else host
    yield state, f"{'https' if tls else 'http'}://{netloc}:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def api() -> Iterator[tuple[Api, str]]:
    yield from serve("127.0.0.1")


@pytest.fixture
def api6() -> Iterator[tuple[Api, str]]:
    yield from serve("::1")


@pytest.fixture
def certificate(tmp_path: Path) -> Path:
    """A self-signed certificate for 127.0.0.1, its key beside it (key.pem): trusted by nobody until told."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "local ECR")])
    now = datetime.now(timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(hours=1))
        .not_valid_after(now + timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )
    (tmp_path / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "key.pem").write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return tmp_path / "cert.pem"


@pytest.fixture
def tls_api(certificate: Path) -> Iterator[tuple[Api, str]]:
    """The server, on https with the self-signed certificate."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(certificate, certificate.with_name("key.pem"))
    yield from serve("127.0.0.1", tls=context)


@pytest.fixture(autouse=True)
def _no_connection_left_over() -> Iterator[None]:
    yield
    ecr_json.ENDPOINT.close()  # the process's kept-alive connection: each test starts its own


def client(endpoint: str, sleeps: list[float] | None = None) -> ecr_json.EcrJsonClient:
    keys = ecr_json.environment_keys(KEYS)
    assert keys is not None
    record = sleeps if sleeps is not None else []
    return ecr_json.EcrJsonClient(endpoint, "ca-west-1", keys, max_attempts=5, sleep=record.append)


def error(code: str, message: str = "it went wrong") -> bytes:
    return json.dumps({"__type": code, "message": message}).encode()


# -- what goes out ---------------------------------------------------------------------------------


def botocore_authorization(endpoint: str, headers: dict[str, str], body: bytes) -> str:
    """The Authorization header botocore's signer gives the request that arrived, at the moment it was signed."""
    moment = datetime.strptime(headers["X-Amz-Date"], "%Y%m%dT%H%M%SZ")
    request = AWSRequest(
        method="POST",
        url=endpoint + "/",
        data=body,
        headers={"X-Amz-Target": headers["X-Amz-Target"], "Content-Type": headers["Content-Type"]},
    )
    credentials = Credentials(KEYS["AWS_ACCESS_KEY_ID"], KEYS["AWS_SECRET_ACCESS_KEY"])
    with mock.patch("botocore.auth.get_current_datetime", return_value=moment):
        SigV4Auth(credentials, "ecr", "ca-west-1").add_auth(request)
    return str(request.headers["Authorization"])


def test_a_call_is_the_request_botocore_would_sign(api: tuple[Api, str]) -> None:
    state, endpoint = api
    client(endpoint).describe_repositories(repositoryNames=["trees"], registryId="123456789012")
    headers, body = state.received[0]
    assert headers["X-Amz-Target"] == "AmazonEC2ContainerRegistry_V20150921.DescribeRepositories"
    assert headers["Content-Type"] == "application/x-amz-json-1.1"
    assert json.loads(body) == {"repositoryNames": ["trees"], "registryId": "123456789012"}
    # botocore's signer, given the same moment, signs the request exactly as it arrived
    assert headers["Authorization"] == botocore_authorization(endpoint, headers, body)
    assert KEYS["AWS_SECRET_ACCESS_KEY"] not in json.dumps(headers)


def test_an_ipv6_endpoint_is_signed_and_sent_as_botocore_does(api6: tuple[Api, str]) -> None:
    state, endpoint = api6
    client(endpoint).describe_repositories()
    headers, body = state.received[0]
    assert headers["Host"] == endpoint.removeprefix("http://")  # [::1]:port
    assert headers["Authorization"] == botocore_authorization(endpoint, headers, body)


@pytest.mark.parametrize(
    "endpoint",
    [
        "http://[::1]",
        "http://[::1]:4566",
        "https://[::1]:443",
        "http://127.0.0.1:80",
        "http://127.0.0.1:4566",
        "https://api.ecr.ca-west-1.amazonaws.com",
        "https://API.ecr.ca-west-1.amazonaws.com:443",
    ],
)
def test_the_host_is_named_as_botocore_names_it(endpoint: str) -> None:
    request = AWSRequest(method="POST", url=endpoint + "/")
    expected = SigV4Auth(Credentials("a", "b"), "ecr", "ca-west-1").headers_to_sign(request)["host"]
    assert ecr_json.host_header(endpoint) == expected


def test_answers_come_back_as_botocore_shapes_them(api: tuple[Api, str]) -> None:
    state, endpoint = api
    token = {"authorizationToken": "QVdTOnNlY3JldA==", "expiresAt": 1795800000.5, "proxyEndpoint": "https://x"}
    state.answers = [(200, {}, json.dumps({"authorizationData": [token]}).encode())]
    state.chunked = True
    reply = client(endpoint).get_authorization_token()
    expires = reply["authorizationData"][0]["expiresAt"]
    assert isinstance(expires, datetime)
    assert expires == datetime.fromtimestamp(1795800000.5, timezone.utc)
    assert reply["authorizationData"][0]["authorizationToken"] == "QVdTOnNlY3JldA=="


def test_the_ecr_gateway_works_over_it(api: tuple[Api, str]) -> None:
    state, endpoint = api
    repo = {"repositoryName": "trees", "repositoryUri": "x/trees", "registryId": "1", "createdAt": 1700000000}
    state.answers = [(200, {}, json.dumps({"repositories": [repo]}).encode())]
    info = Ecr(client(endpoint)).describe_repository("trees")
    assert info.name == "trees"
    assert info.created_at == datetime.fromtimestamp(1700000000, timezone.utc)


# -- the connection --------------------------------------------------------------------------------


def test_calls_in_one_process_share_one_connection(api: tuple[Api, str]) -> None:
    state, endpoint = api
    client(endpoint).get_authorization_token()
    client(endpoint).describe_repositories()
    assert len(state.received) == 2
    assert len(set(state.peers)) == 1


def test_calls_from_two_threads_go_at_once_and_their_connections_are_kept(api: tuple[Api, str]) -> None:
    state, endpoint = api
    # each of the first two answers waits for the other request: calls made one after the other never meet
    state.meet = threading.Barrier(2, timeout=10)
    answered: list[object] = []
    threads = [
        threading.Thread(target=lambda: answered.append(client(endpoint).describe_repositories())) for _ in range(2)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(answered) == 2 and not state.meet.broken
    assert len(set(state.peers)) == 2
    client(endpoint).get_authorization_token()
    client(endpoint).get_authorization_token()
    assert len(state.received) == 4 and len(set(state.peers)) == 2  # later calls reuse what they opened


def test_a_connection_the_endpoint_closed_while_idle_is_opened_again(api: tuple[Api, str]) -> None:
    state, endpoint = api
    state.hang_up = True
    state.answers = [(200, {}, b'{"repositories": []}')]
    sleeps: list[float] = []
    client(endpoint, sleeps).describe_repositories()
    time.sleep(0.1)  # the endpoint's close arrives while the connection sits idle
    assert client(endpoint, sleeps).describe_repositories() == {"repositories": []}
    assert len(set(state.peers)) == 2
    assert sleeps == []  # not an attempt that failed: no backoff


def test_an_answer_too_slow_is_not_read_as_the_next_ones(api: tuple[Api, str], monkeypatch: pytest.MonkeyPatch) -> None:
    state, endpoint = api
    monkeypatch.setattr(ecr_json, "READ_TIMEOUT", 0.2)
    state.pauses = [0.5]
    state.answers = [(200, {}, b'{"repositories": ["late"]}'), (200, {}, b'{"repositories": ["on time"]}')]
    sleeps: list[float] = []
    assert client(endpoint, sleeps).describe_repositories() == {"repositories": ["on time"]}
    assert len(sleeps) == 1 and len(set(state.peers)) == 2


def test_aws_ca_bundle_is_the_certificates_trusted(
    tls_api: tuple[Api, str], certificate: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    state, endpoint = tls_api
    for name in ("HTTPS_PROXY", "https_proxy", "AWS_PROFILE", "AWS_DEFAULT_PROFILE", "ECRTOOL_AWS_CLIENT"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env(tmp_path, AWS_ENDPOINT_URL=endpoint, AWS_CA_BUNDLE=str(certificate)).items():
        monkeypatch.setenv(name, value)
    state.answers = [(200, {}, b'{"repositories": []}')]
    assert AwsSession(region="ca-west-1").signed_ecr().describe_repositories() == {"repositories": []}
    assert state.received[0][0]["User-Agent"] == "ecrtool"  # signed and sent by ecrtool, not botocore


def test_without_aws_ca_bundle_certifis_certificates_are_trusted(
    tls_api: tuple[Api, str], certificate: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    state, endpoint = tls_api
    with pytest.raises(EcrToolError, match="cannot reach the AWS endpoint .*CERTIFICATE_VERIFY_FAILED"):
        with translate("ecr:DescribeRepositories"):
            client(endpoint).describe_repositories()
    assert state.received == []
    import certifi

    monkeypatch.setattr(certifi, "where", lambda: str(certificate))  # as if certifi's bundle held it
    assert client(endpoint).describe_repositories() == {}


# -- failures, as a user reads them ----------------------------------------------------------------


def test_a_missing_repository_is_not_retried_and_reads_as_not_found(api: tuple[Api, str]) -> None:
    state, endpoint = api
    state.answers = [(400, {}, error("com.amazonaws.ecr#RepositoryNotFoundException"))]
    with pytest.raises(NotFound, match="repository 'trees' does not exist"):
        Ecr(client(endpoint)).describe_repository("trees")
    assert len(state.received) == 1


def test_the_error_code_may_come_in_the_header(api: tuple[Api, str]) -> None:
    state, endpoint = api
    state.answers = [(400, {"x-amzn-ErrorType": "AccessDeniedException:http://internal/"}, b"{}")]
    with pytest.raises(EcrToolError, match="access denied for ecr:DescribeRepositories"):
        Ecr(client(endpoint)).describe_repository("trees")


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_server_errors_take_five_attempts_with_short_backoff(api: tuple[Api, str], status: int) -> None:
    state, endpoint = api
    state.answers = [(status, {}, error("ServerException", "try later"))]
    sleeps: list[float] = []
    with pytest.raises(EcrToolError) as caught:
        Ecr(client(endpoint, sleeps)).describe_repository("trees")
    assert len(state.received) == 5
    assert str(caught.value) == (
        f"AWS answered ecr:DescribeRepositories with HTTP {status} (ServerException: try later) on all 5 attempts:"
        " the service is having trouble; run the command again later"
    )
    # botocore's standard mode: rand(0, 1) * 50 ms * 2 ** i between attempts
    assert len(sleeps) == 4 and all(0 <= s <= 0.05 * 2**i for i, s in enumerate(sleeps))


def test_throttling_backs_off_longer_then_succeeds(api: tuple[Api, str]) -> None:
    state, endpoint = api
    state.answers = [(400, {}, error("ThrottlingException", "Rate exceeded")), (200, {}, b'{"repositories": []}')]
    sleeps: list[float] = []
    with mock.patch("random.random", return_value=0.5):
        assert client(endpoint, sleeps).describe_repositories() == {"repositories": []}
    assert sleeps == [0.5]  # rand(0, 1) * 1 s for a throttled first attempt
    assert len(state.received) == 2


@pytest.mark.parametrize(
    ("retry_after", "throttled_wait", "server_error_wait"),
    [
        ("1500", 1.5, 1.5),  # longer than the backoff: waited as asked
        ("60000", 0.5 + 5, 0.025 + 5),  # at most 5 s longer than the backoff
        ("10", 0.5, 0.025),  # shorter than the backoff: the backoff
        ("soon", 0.5, 0.025),  # not milliseconds: ignored
        ("-5", 0.5, 0.025),
    ],
)
@pytest.mark.parametrize("throttled", [True, False])
def test_x_amz_retry_after_sets_the_wait_as_botocore_takes_it(
    api: tuple[Api, str], retry_after: str, throttled_wait: float, server_error_wait: float, throttled: bool
) -> None:
    state, endpoint = api
    failure = (400, error("ThrottlingException")) if throttled else (503, error("ServiceUnavailableException"))
    state.answers = [(failure[0], {"x-amz-retry-after": retry_after}, failure[1]), (200, {}, b"{}")]
    sleeps: list[float] = []
    with mock.patch("random.random", return_value=0.5):
        client(endpoint, sleeps).describe_repositories()
    assert sleeps == [pytest.approx(throttled_wait if throttled else server_error_wait)]
    # botocore's standard mode, given the same answer and the same draw, waits as long
    detector = SimpleNamespace(is_throttling_error_from_context=lambda context: throttled)
    backoff = ExponentialBackoff(random=lambda: 0.5, throttling_detector=detector)
    context = SimpleNamespace(attempt_number=1, http_response=SimpleNamespace(headers=state.answers[0][1]))
    assert sleeps == [pytest.approx(backoff.delay_amount(context))]


def test_throttled_to_the_end_says_so(api: tuple[Api, str]) -> None:
    state, endpoint = api
    state.answers = [(429, {}, b"")]
    with pytest.raises(EcrToolError, match=r"AWS throttled ecr:GetAuthorizationToken \(429\) on all 5 attempts"):
        with translate("ecr:GetAuthorizationToken"):
            client(endpoint).get_authorization_token()


def test_no_endpoint_at_all_is_said_after_five_attempts() -> None:
    with socket.socket() as spare:
        spare.bind(("127.0.0.1", 0))
        port = spare.getsockname()[1]  # closed again below: nothing listens there
    sleeps: list[float] = []
    with pytest.raises(EcrToolError, match="cannot reach the AWS endpoint for ecr:GetAuthorizationToken"):
        with translate("ecr:GetAuthorizationToken"):
            client(f"http://127.0.0.1:{port}", sleeps).get_authorization_token()
    assert len(sleeps) == 4


# -- when botocore makes the call instead ----------------------------------------------------------


def env(tmp_path: Path, **extra: str) -> dict[str, str]:
    return {**KEYS, "HOME": str(tmp_path), **extra}


def test_keys_in_the_environment_go_to_the_regions_endpoint(tmp_path: Path) -> None:
    assert ecr_json.endpoint_for("ca-west-1", env(tmp_path), None) == "https://api.ecr.ca-west-1.amazonaws.com"


@pytest.mark.parametrize("region", ["us-east-1", "ca-west-1", "eu-central-2", "ap-southeast-5", "mx-central-1"])
def test_the_endpoint_is_the_one_botocore_resolves(
    tmp_path: Path, region: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_ECR", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)  # make test runs with the local ECR's endpoint exported
    for name, value in env(tmp_path).items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("ECRTOOL_AWS_CLIENT", "botocore")
    botocore_client = AwsSession(region=region).client("ecr")
    assert ecr_json.endpoint_for(region, env(tmp_path), None) == botocore_client.meta.endpoint_url


def test_an_endpoint_url_in_the_environment_is_used(tmp_path: Path) -> None:
    found = ecr_json.endpoint_for("ca-west-1", env(tmp_path, AWS_ENDPOINT_URL="http://127.0.0.1:4566/"), None)
    assert found == "http://127.0.0.1:4566"
    both = env(tmp_path, AWS_ENDPOINT_URL="http://a:1", AWS_ENDPOINT_URL_ECR="http://b:2")
    assert ecr_json.endpoint_for("ca-west-1", both, None) == "http://b:2"


@pytest.mark.parametrize(
    "extra",
    [
        {"ECRTOOL_AWS_CLIENT": "botocore"},
        {"AWS_USE_FIPS_ENDPOINT": "true"},
        {"AWS_USE_DUALSTACK_ENDPOINT": "true"},
        {"AWS_IGNORE_CONFIGURED_ENDPOINT_URLS": "true"},
    ],
)
def test_settings_botocore_acts_on_send_the_call_through_botocore(tmp_path: Path, extra: dict[str, str]) -> None:
    assert ecr_json.endpoint_for("ca-west-1", env(tmp_path, **extra), None) is None


@pytest.mark.parametrize(
    "extra",
    [
        {"HTTPS_PROXY": "http://proxy:3128"},
        {"https_proxy": "http://proxy:3128", "NO_PROXY": "example.com"},
        {"HTTPS_PROXY": "http://proxy:3128", "NO_PROXY": "localhost,.amazonaws.com"},
    ],
)
def test_a_proxy_keeps_the_call_on_the_signed_client_which_goes_through_it(
    tmp_path: Path, extra: dict[str, str]
) -> None:
    # model/proxy opens the signed client's connection through the proxy (tests/unit/test_proxy.py)
    assert ecr_json.endpoint_for("ca-west-1", env(tmp_path, **extra), None) == "https://api.ecr.ca-west-1.amazonaws.com"


def test_other_credentials_go_through_botocore(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert ecr_json.endpoint_for("ca-west-1", env(tmp_path), "prod") is None  # --profile wins over the keys
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE", "AWS_DEFAULT_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/deploy")  # a web identity's role, SSO...
    assert AwsSession(region="ca-west-1").signed_ecr() is None
    monkeypatch.delenv("AWS_ROLE_ARN")
    assert AwsSession(region="ca-west-1").signed_ecr() is None  # no instance metadata to read a role from


@pytest.mark.parametrize("region", ["cn-north-1", "us-gov-west-1", "us-iso-east-1", "mars"])
def test_regions_outside_the_standard_partition_go_through_botocore(tmp_path: Path, region: str) -> None:
    assert ecr_json.endpoint_for(region, env(tmp_path), None) is None


@pytest.mark.parametrize(
    ("text", "plain"),
    [
        ("[default]\nregion = ca-west-1\noutput = json\n", True),
        ("[profile other]\nendpoint_url = http://elsewhere\n", True),
        ("[default]\nendpoint_url = http://elsewhere\n", False),
        ("[default]\nservices = local\n[services local]\necr =\n  endpoint_url = http://x\n", False),
        ("[default]\nca_bundle = /etc/corp.pem\n", False),
        ("not an ini file [", False),
    ],
)
def test_the_config_files_profile_may_hold_a_region_only(tmp_path: Path, text: str, plain: bool) -> None:
    (tmp_path / ".aws").mkdir()
    (tmp_path / ".aws" / "config").write_text(text)
    found = ecr_json.endpoint_for("ca-west-1", env(tmp_path), None)
    assert (found is not None) == plain


def test_the_profile_named_by_aws_profile_is_the_one_read(tmp_path: Path) -> None:
    config = tmp_path / "config"
    config.write_text("[default]\nregion = ca-west-1\n[profile odd]\nendpoint_url = http://x\n")
    named = env(tmp_path, AWS_CONFIG_FILE=str(config), AWS_PROFILE="odd")
    assert ecr_json.endpoint_for("ca-west-1", named, None) is None


def test_aws_default_profile_wins_over_aws_profile_as_with_botocore(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "config"
    config.write_text("[profile plain]\nregion = ca-west-1\n[profile odd]\nendpoint_url = http://x\n")
    named = env(tmp_path, AWS_CONFIG_FILE=str(config), AWS_PROFILE="plain", AWS_DEFAULT_PROFILE="odd")
    for name, value in named.items():
        monkeypatch.setenv(name, value)
    assert botocore.session.Session().profile == "odd"  # whose endpoint_url botocore would call
    assert ecr_json.endpoint_for("ca-west-1", named, None) is None


def test_the_keys_never_show_in_a_repr() -> None:
    keys = ecr_json.environment_keys({**KEYS, "AWS_SESSION_TOKEN": "sessiontoken"})
    assert "secret/key" not in repr(keys) and "sessiontoken" not in repr(keys)


def test_the_debug_log_shows_the_answer_with_the_token_masked(
    api: tuple[Api, str], caplog: pytest.LogCaptureFixture
) -> None:
    state, endpoint = api
    token = {"authorizationToken": "QVdTOnNlY3JldA==", "proxyEndpoint": "https://x"}
    state.answers = [(200, {}, json.dumps({"authorizationData": [token]}).encode())]
    with caplog.at_level("DEBUG", logger="ecrtool.ecr_json"):
        client(endpoint).get_authorization_token()
    assert '"authorizationToken": "***"' in caplog.text and "https://x" in caplog.text
    assert "QVdTOnNlY3JldA==" not in caplog.text
