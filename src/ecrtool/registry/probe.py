"""The registry as ecrtool itself sees it: can a connection to it be opened at all, and if not, why?

The Docker engine talks to the registry; ecrtool only asks this when the engine starts retrying an
upload or download, to tell a registry that is down (fail now, naming it) from one that is slow
(let the engine's retries run). `ecrtool doctor` words what its own request to the registry met the
same way.
"""

from __future__ import annotations

import socket
import sys

HTTPS_PORT = 443  # what the engine uses for a registry named without a port, ECR's included


def address(host: str) -> tuple[str, int]:
    """HOST[:PORT] or [IPv6][:PORT] as a (host, port) pair for a TCP connection."""
    if host.startswith("["):
        inside, _, rest = host[1:].partition("]")
        port = rest.removeprefix(":")
        return inside, int(port) if port.isdigit() else HTTPS_PORT
    name, sep, port = host.rpartition(":")
    if sep and port.isdigit():
        return name, int(port)
    return host, HTTPS_PORT


def unreachable(host: str, timeout: float = 5.0) -> str | None:
    """Why no TCP connection to the registry HOST could be opened within TIMEOUT; None if one was."""
    try:
        with socket.create_connection(address(host), timeout=timeout):
            return None
    except OSError as err:
        return why(err, host, timeout)


def why(err: OSError, host: str, timeout: float) -> str:
    """A failed connection to the registry HOST in a few words: the same failure reads the same everywhere."""
    if isinstance(err, socket.gaierror):
        return f"cannot resolve {address(host)[0]}: {err.strerror or err}"
    if isinstance(err, TimeoutError):
        return f"no answer within {timeout:.0f} s"
    return err.strerror or str(err)


def untrusted(err: BaseException) -> str | None:
    """Why the registry's TLS certificate was refused, when that is what ERR is; None for any other error.

    The registry answered then: what stands between is trust (a proxy or firewall that inspects TLS
    shows a certificate of its own), not the network.
    """
    ssl = sys.modules.get("ssl")  # loaded by whatever spoke TLS: with no TLS spoken, no certificate was refused
    if ssl is not None and isinstance(err, ssl.SSLCertVerificationError):
        return str(err.verify_message or err.reason or err)
    return None
