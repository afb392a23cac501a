"""model/proxy: which proxy the environment names for a URL (HTTPS_PROXY, HTTP_PROXY, NO_PROXY in either
case), and what goes on the wire through it: an http request in absolute form, an https one in a CONNECT
tunnel with TLS end to end, the proxy's credentials as Proxy-Authorization. Against a recording proxy on
127.0.0.1 (the real one, tinyproxy, is in tests/integration/test_wire_proxy.py)."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest

from ecrtool.model import proxy
from ecrtool.model.errors import InvalidInput

HTTPS = {"HTTPS_PROXY": "http://proxy.corp:3128"}


@pytest.mark.parametrize(
    ("environ", "scheme", "host", "port", "expected"),
    [
        (HTTPS, "https", "api.ecr.ca-west-1.amazonaws.com", 443, "http://proxy.corp:3128"),
        ({"https_proxy": "proxy.corp:8080"}, "https", "a.example", 443, "http://proxy.corp:8080"),
        ({"https_proxy": "http://low:1", "HTTPS_PROXY": "http://up:2"}, "https", "a.example", 443, "http://low:1"),
        (HTTPS, "http", "a.example", 80, None),  # HTTPS_PROXY is for https only
        ({"HTTP_PROXY": "http://p:3"}, "http", "a.example", 80, "http://p:3"),
        ({"http_proxy": "http://p:3"}, "https", "a.example", 443, None),
        ({**HTTPS, "NO_PROXY": "*"}, "https", "a.example", 443, None),
        ({**HTTPS, "NO_PROXY": "amazonaws.com"}, "https", "api.ecr.ca-west-1.amazonaws.com", 443, None),
        ({**HTTPS, "no_proxy": ".amazonaws.com"}, "https", "api.ecr.ca-west-1.amazonaws.com", 443, None),
        ({**HTTPS, "NO_PROXY": "*.amazonaws.com"}, "https", "amazonaws.com", 443, None),
        ({**HTTPS, "NO_PROXY": "zonaws.com"}, "https", "api.amazonaws.com", 443, "http://proxy.corp:3128"),
        ({**HTTPS, "NO_PROXY": "a.example:8443"}, "https", "a.example", 443, "http://proxy.corp:3128"),
        ({**HTTPS, "NO_PROXY": "a.example:8443"}, "https", "a.example", 8443, None),
        ({**HTTPS, "NO_PROXY": "10.0.0.0/8, 127.0.0.1"}, "https", "10.1.2.3", 443, None),
        ({**HTTPS, "NO_PROXY": "10.0.0.0/8"}, "https", "11.1.2.3", 443, "http://proxy.corp:3128"),
        ({**HTTPS, "NO_PROXY": "::1"}, "https", "[::1]", 443, None),
        ({**HTTPS, "NO_PROXY": ""}, "https", "a.example", 443, "http://proxy.corp:3128"),
    ],
)
def test_the_proxy_the_environment_names(
    environ: dict[str, str], scheme: str, host: str, port: int, expected: str | None
) -> None:
    found = proxy.proxy_for(scheme, host, port, environ)
    assert (found.url if found else None) == expected


def test_a_proxy_ecrtool_cannot_speak_to_is_invalid_input_naming_the_variable() -> None:
    with pytest.raises(InvalidInput, match="https_proxy='https://p:1'"):
        proxy.proxy_for("https", "a.example", 443, {"https_proxy": "https://p:1"})


class _Proxy:
    """A proxy that records what it is asked and answers as a registry would, without going anywhere."""

    def __init__(self) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.heads: list[bytes] = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.server.accept()
            except OSError:
                return
            with conn:
                data = b""
                while b"\r\n\r\n" not in data:
                    data += conn.recv(4096)
                self.heads.append(data.split(b"\r\n\r\n")[0])
                if data.startswith(b"CONNECT"):
                    conn.sendall(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
                else:
                    conn.sendall(b"HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")


@pytest.fixture
def recording_proxy() -> Iterator[_Proxy]:
    found = _Proxy()
    yield found
    found.server.close()


def test_an_http_request_goes_to_the_proxy_in_absolute_form(recording_proxy: _Proxy) -> None:
    environ = {"HTTP_PROXY": f"http://user:p%40ss@127.0.0.1:{recording_proxy.port}"}
    conn = proxy.connection(False, "registry.example", 5000, timeout=5, environ=environ)
    conn.request("GET", "/v2/")
    assert conn.getresponse().status == 401
    conn.close()

    (head,) = recording_proxy.heads
    lines = head.decode().split("\r\n")
    assert lines[0] == "GET http://registry.example:5000/v2/ HTTP/1.1"
    assert "Host: registry.example:5000" in lines
    assert "Proxy-Authorization: Basic dXNlcjpwQHNz" in lines  # user:p@ss


def test_an_https_request_goes_through_a_connect_tunnel(recording_proxy: _Proxy) -> None:
    environ = {"https_proxy": f"127.0.0.1:{recording_proxy.port}", "AWS_CA_BUNDLE": proxy.tls.default_ca_bundle()}
    conn = proxy.connection(True, "api.ecr.ca-west-1.amazonaws.com", 443, timeout=5, environ=environ)
    with pytest.raises(OSError, match="403"):  # the proxy refused the tunnel: nothing went anywhere else
        conn.request("POST", "/", body=b"{}")
    conn.close()

    (head,) = recording_proxy.heads
    assert head.decode().split("\r\n")[0].startswith("CONNECT api.ecr.ca-west-1.amazonaws.com:443 HTTP/1.")


def test_a_bypassed_host_is_reached_directly(recording_proxy: _Proxy) -> None:
    with socket.create_server(("127.0.0.1", 0)) as direct:
        port = direct.getsockname()[1]
        environ = {"HTTP_PROXY": f"http://127.0.0.1:{recording_proxy.port}", "NO_PROXY": "localhost,127.0.0.1"}
        conn = proxy.connection(False, "127.0.0.1", port, timeout=5, environ=environ)
        conn.connect()
        assert conn.sock.getpeername()[1] == port
        conn.close()
    assert recording_proxy.heads == []
