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


def context(cafile: str) -> ssl.SSLContext:
    """An SSL context that trusts the certificates of CAFILE, and only those (as botocore's)."""
    with _lock:
        found = _contexts.get(cafile)
        if found is None:
            found = _contexts[cafile] = ssl.create_default_context(cafile=cafile)
        return found
