"""The stack's own certificate authority and the certificate its TLS face shows for ECR's names.

Made once per state folder (``up``), kept 0600. The CA bundle is the system's trusted certificates
plus this CA, so pointing AWS_CA_BUNDLE or SSL_CERT_FILE at it breaks no other TLS connection.
"""

from __future__ import annotations

import datetime
import hashlib
import ipaddress
import os
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from .state import State

SYSTEM_BUNDLES = ("/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt")


def ensure(state: State, names: list[str]) -> None:
    """The CA (kept across ups), a server certificate for NAMES (made anew when they change), the bundle."""
    now = datetime.datetime.now(datetime.timezone.utc)
    if not (state.ca_cert.exists() and state.ca_key.exists()):
        key = ec.generate_private_key(ec.SECP256R1())
        # a common name holds 64 characters at most: the state folder's path is named by its hash
        tag = hashlib.sha256(str(state.root).encode()).hexdigest()[:12]
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"local-ecr CA {tag}")])
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
            .sign(key, hashes.SHA256())
        )
        _write(state.ca_key, _key_pem(key))
        _write(state.ca_cert, cert.public_bytes(serialization.Encoding.PEM))
    ca_key = serialization.load_pem_private_key(state.ca_key.read_bytes(), None)
    assert isinstance(ca_key, ec.EllipticCurvePrivateKey)  # made above, as it always is
    ca_cert = x509.load_pem_x509_certificate(state.ca_cert.read_bytes())
    if not _covers(state.server_cert, names):
        key = ec.generate_private_key(ec.SECP256R1())
        sans: list[x509.GeneralName] = [x509.DNSName(name) for name in names]
        sans.append(x509.IPAddress(ipaddress.ip_address("127.0.0.1")))
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])]))
            .issuer_name(ca_cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=825))
            .add_extension(x509.SubjectAlternativeName(sans), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .sign(ca_key, hashes.SHA256())
        )
        _write(state.server_key, _key_pem(key))
        _write(state.server_cert, cert.public_bytes(serialization.Encoding.PEM))
    system = next((Path(path) for path in SYSTEM_BUNDLES if os.path.exists(path)), None)
    bundle = (system.read_bytes().rstrip() + b"\n" if system else b"") + state.ca_cert.read_bytes()
    _write(state.ca_bundle, bundle, mode=0o644)


def _covers(path: Path, names: list[str]) -> bool:
    """Whether the certificate at PATH names every one of NAMES (a missing or unreadable one does not)."""
    try:
        cert = x509.load_pem_x509_certificate(path.read_bytes())
        sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    except (OSError, ValueError, x509.ExtensionNotFound):
        return False
    return set(names) <= set(sans.value.get_values_for_type(x509.DNSName))


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _write(path: Path, data: bytes, mode: int = 0o600) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    os.fchmod(fd, mode)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
