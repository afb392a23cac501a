"""The registry as ecrtool itself sees it: can a connection to it be opened at all?

The Docker engine talks to the registry; ecrtool only asks this when the engine starts retrying an
upload or download, to tell a registry that is down (fail now, naming it) from one that is slow
(let the engine's retries run).
"""

from __future__ import annotations

import socket

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
    except socket.gaierror as err:
        return f"cannot resolve {address(host)[0]}: {err.strerror or err}"
    except TimeoutError:
        return f"no answer within {timeout:.0f} s"
    except OSError as err:
        return err.strerror or str(err)
