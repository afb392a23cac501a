"""How ecrtool opens every http(s) connection of its own: the proxy the environment names, and one TLS trust.

The registry client (registry/), the signed ECR client (aws/) and `doctor` all open their connections
here, so that one rule decides for all of them, as curl and botocore read it: HTTPS_PROXY for an https
URL and HTTP_PROXY for an http one (the lower-case names first, as either is set), unless NO_PROXY
names the host (`*`, a name and its subdomains, `.domain`, `host:port`, an address or a CIDR block).
An https connection goes through the proxy in a CONNECT tunnel, so TLS stays end to end and is checked
against model/tls's context (AWS_CA_BUNDLE's certificates, else certifi's, as botocore's); an http
request goes to the proxy in absolute form. Credentials in the proxy's URL are sent as
Proxy-Authorization. Standard library only: urllib3 would do the same for some 40 ms more at start-up.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Mapping
from http.client import HTTPConnection, HTTPSConnection
from typing import Any
from urllib.parse import unquote, urlsplit

from ecrtool.model import tls
from ecrtool.model.errors import InvalidInput

_DEFAULT_PORTS = {"http": 80, "https": 443}


class Proxy:
    """A proxy from the environment: where it listens, and the Proxy-Authorization its URL's credentials make."""

    __slots__ = ("host", "port", "headers", "url")

    def __init__(self, host: str, port: int, headers: dict[str, str], url: str) -> None:
        self.host, self.port, self.headers, self.url = host, port, headers, url

    def __repr__(self) -> str:
        return f"Proxy({self.host}:{self.port})"


def _variable(scheme: str, env: Mapping[str, str]) -> tuple[str, str]:
    for name in (f"{scheme}_proxy", f"{scheme.upper()}_PROXY"):
        if env.get(name, "").strip():
            return name, env[name].strip()
    return "", ""


def bypassed(host: str, port: int, environ: Mapping[str, str] | None = None) -> bool:
    """Whether NO_PROXY (or no_proxy) says HOST:PORT is reached directly."""
    env = os.environ if environ is None else environ
    listed = env.get("no_proxy") or env.get("NO_PROXY") or ""
    if not listed.strip():
        return False
    import ipaddress  # only for a NO_PROXY to read: the signed client's hot path rarely has one

    name = host.strip("[]").lower().rstrip(".")
    try:
        address = ipaddress.ip_address(name)
    except ValueError:
        address = None
    for raw in listed.replace(" ", ",").split(","):
        entry = raw.strip().lower()
        if not entry:
            continue
        if entry == "*":
            return True
        entry_port = None
        if entry.startswith("[") and "]" in entry:  # [::1]:5000
            inside, _, rest = entry[1:].partition("]")
            entry, entry_port = inside, rest.removeprefix(":") or None
        elif entry.count(":") == 1:  # host:port (an IPv6 address alone has more colons)
            entry, _, entry_port = entry.partition(":")
        if entry_port is not None and entry_port != str(port):
            continue
        if address is not None:
            try:
                if address in ipaddress.ip_network(entry, strict=False):
                    return True
            except ValueError:
                pass
            continue
        entry = entry.removeprefix("*").lstrip(".").rstrip(".")
        if entry and (name == entry or name.endswith("." + entry)):
            return True
    return False


def proxy_for(
    scheme: str, host: str, port: int | None = None, environ: Mapping[str, str] | None = None
) -> Proxy | None:
    """The proxy a request to SCHEME://HOST:PORT goes through, or None for a direct connection."""
    env = os.environ if environ is None else environ
    name, value = _variable(scheme, env)
    if not value or bypassed(host, port or _DEFAULT_PORTS[scheme], env):
        return None
    parts = urlsplit(value if "://" in value else f"http://{value}")
    if parts.scheme != "http" or not parts.hostname:
        raise InvalidInput(
            f"{name}={value!r}: ecrtool speaks to a proxy in plain http (http://HOST:PORT), which then tunnels"
            " https end to end; give the proxy's http address"
        )
    try:
        proxy_port = parts.port or 80
    except ValueError as err:
        raise InvalidInput(f"{name}={value!r}: {err}") from None
    headers = {}
    if parts.username is not None:
        secret = f"{unquote(parts.username)}:{unquote(parts.password or '')}".encode()
        headers["Proxy-Authorization"] = "Basic " + base64.b64encode(secret).decode()
    shown = f"http://{parts.hostname}:{proxy_port}"
    return Proxy(parts.hostname, proxy_port, headers, shown)


class _AbsoluteForm(HTTPConnection):
    """An http connection to a proxy: each request names its whole URL, as a proxy needs it."""

    def __init__(self, proxy: Proxy, target: str, **options: Any) -> None:
        super().__init__(proxy.host, proxy.port, **options)
        self._target = target
        self._proxy_headers = proxy.headers

    def putrequest(self, method: str, url: str, skip_host: bool = False, skip_accept_encoding: bool = False) -> None:
        if not url.startswith(("http://", "https://")):
            url = f"http://{self._target}{url}"
        super().putrequest(method, url, skip_host=skip_host, skip_accept_encoding=skip_accept_encoding)
        for key, value in self._proxy_headers.items():
            self.putheader(key, value)


def connection(
    secure: bool,
    host: str,
    port: int | None,
    *,
    timeout: float,
    cafile: str | None = None,
    blocksize: int = 8192,
    environ: Mapping[str, str] | None = None,
) -> HTTPConnection:
    """A connection (not yet opened) to HOST:PORT over https when SECURE, else http, through the environment's
    proxy when it names one for it; https trusts CAFILE (default: tls.ca_bundle()) and only that."""
    scheme = "https" if secure else "http"
    number = port or _DEFAULT_PORTS[scheme]
    proxy = proxy_for(scheme, host, number, environ)
    literal = f"[{host}]" if ":" in host else host
    if not secure:
        if proxy is None:
            return HTTPConnection(host, number, timeout=timeout, blocksize=blocksize)
        target = literal if number == 80 else f"{literal}:{number}"
        return _AbsoluteForm(proxy, target, timeout=timeout, blocksize=blocksize)
    context = tls.context(cafile or tls.ca_bundle(environ))
    if proxy is None:
        return HTTPSConnection(host, number, timeout=timeout, context=context, blocksize=blocksize)
    conn = HTTPSConnection(proxy.host, proxy.port, timeout=timeout, context=context, blocksize=blocksize)
    conn.set_tunnel(host, number, headers=proxy.headers)  # CONNECT HOST:PORT, then TLS with HOST inside it
    return conn
