"""Which certificates ecrtool trusts over https, as botocore does: AWS_CA_BUNDLE's file when set, else certifi's.

One place for the rule, shared by the signed ECR client (aws/) and the registry client (registry/):
a context is built once per CA file and process.
"""

from __future__ import annotations

import os
import ssl
import threading
from collections.abc import Mapping

_contexts: dict[str, ssl.SSLContext] = {}
_lock = threading.Lock()


def default_ca_bundle() -> str:
    """The certificates botocore trusts when AWS_CA_BUNDLE is not set: certifi's."""
    import certifi  # only for https: a plain-http endpoint needs no certificates

    return str(certifi.where())


def ca_bundle(environ: Mapping[str, str] | None = None) -> str:
    """The CA file to trust: AWS_CA_BUNDLE when set, else certifi's bundle."""
    env = os.environ if environ is None else environ
    return env.get("AWS_CA_BUNDLE") or default_ca_bundle()


def prepare(cafile: str | None = None) -> None:
    """Start building CAFILE's context (default: ca_bundle()) on a thread of its own, for context() to find.

    OpenSSL parses the bundle (a few hundred certificates, some 30 ms) without holding the GIL, so a
    command that starts this before importing its modules has the context when its first request needs
    it. Whoever calls context() first builds it; the other finds it made. A bundle that cannot be read
    is left for context() to report, in the thread that asked.
    """
    chosen = cafile or ca_bundle()

    def build() -> None:
        try:
            context(chosen)
        except Exception:  # noqa: BLE001 - context() raises it again, to the caller that needs the context
            pass

    threading.Thread(target=build, name="tls-context", daemon=True).start()


def context(cafile: str) -> ssl.SSLContext:
    """An SSL context that trusts the certificates of CAFILE, and only those (as botocore's)."""
    with _lock:
        found = _contexts.get(cafile)
        if found is None:
            found = _contexts[cafile] = ssl.create_default_context(cafile=cafile)
        return found
