"""EC2 instance metadata (IMDSv2) over http.client: the instance role, its credentials, the account and region.

On an instance with no keys and no profile, botocore's credential chain ends at the instance role, which
it reads from instance metadata. ecrtool reads it itself in that case (`instance_role_applies`), so a
login or a pull on an instance loads no botocore: a session token (PUT, then sent with each GET), the role
name, the identity document (account and region) and, only when a registry token must be fetched, the
role's credentials. What it reads lives in this process's memory only and is never written anywhere.

The endpoint is botocore's: AWS_EC2_METADATA_SERVICE_ENDPOINT, else the IPv6 address with
AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE=IPv6, else the link-local IPv4 address; AWS_EC2_METADATA_DISABLED=true
turns it off. Each request waits botocore's AWS_METADATA_SERVICE_TIMEOUT (1 s unless set) at most: an
instance whose metadata does not answer (metadata off, or a container behind a hop limit of 1) is one
clear error, not a long wait.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Mapping
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from ecrtool.model.errors import AuthError
from ecrtool.model.value import Value

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (see ecrtool.model.value)
if TYPE_CHECKING:
    from ecrtool.aws.signed import Keys

DEFAULT_TIMEOUT = 1.0
TOKEN_TTL = "21600"  # seconds, as botocore asks
REFRESH = timedelta(minutes=15)  # role keys are read again this long before they expire (botocore's advisory)
# botocore's METADATA_BASE_URL and METADATA_BASE_URL_IPv6: only ever contacted on an instance; the
# project's tests name the local stand-in with AWS_EC2_METADATA_SERVICE_ENDPOINT or disable metadata
_IPV4_ENDPOINT = "http://169.254.169.254/"
_IPV6_ENDPOINT = "http://[fd00:ec2::254]/"
# variables any of which makes botocore take credentials from somewhere before the instance role
_EARLIER_SOURCES = (
    "AWS_ACCESS_KEY_ID",
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_ROLE_ARN",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "BOTO_CONFIG",
)
HOP_LIMIT_FIX = (
    "on an instance, turn its metadata on, and for a container give the response a second hop: "
    "aws ec2 modify-instance-metadata-options --instance-id ID --http-tokens required "
    "--http-endpoint enabled --http-put-response-hop-limit 2"
)


class MetadataUnavailable(AuthError):
    """Instance metadata did not answer, or refused: no instance role to take credentials or a region from."""


class RoleCredentials(Value):
    """The instance role's current keys (a Value: the credential helper's path has no time for dataclasses)."""

    __slots__ = ("role", "keys", "expiration")
    role: str
    keys: Keys
    expiration: datetime | None

    def __init__(self, role: str, keys: Keys, expiration: datetime | None) -> None:
        self.role = role
        self.keys = keys
        self.expiration = expiration


def disabled(environ: Mapping[str, str]) -> bool:
    return environ.get("AWS_EC2_METADATA_DISABLED", "").strip().lower() == "true"


def endpoint(environ: Mapping[str, str]) -> str:
    named = environ.get("AWS_EC2_METADATA_SERVICE_ENDPOINT")
    if named:
        return named
    if environ.get("AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE", "").strip().lower() == "ipv6":
        return _IPV6_ENDPOINT
    return _IPV4_ENDPOINT


def _timeout(environ: Mapping[str, str]) -> float:
    """botocore's metadata_service_timeout: AWS_METADATA_SERVICE_TIMEOUT seconds, else 1."""
    try:
        seconds = float(environ.get("AWS_METADATA_SERVICE_TIMEOUT") or DEFAULT_TIMEOUT)
    except ValueError:
        return DEFAULT_TIMEOUT
    return seconds if 0 < seconds <= 60 else DEFAULT_TIMEOUT


def instance_role_applies(environ: Mapping[str, str], profile: str | None) -> bool:
    """True when botocore's chain would reach the instance role: nothing it reads first is configured."""
    from ecrtool.aws.config_file import plain_profile

    if profile is not None or disabled(environ) or not plain_profile(environ):
        return False
    if any(environ.get(name) for name in _EARLIER_SOURCES):
        return False
    home = environ.get("HOME") or os.path.expanduser("~")
    credentials = environ.get("AWS_SHARED_CREDENTIALS_FILE") or os.path.join(home, ".aws", "credentials")
    # a non-empty credentials file or boto config could hold keys for the default profile: botocore's to read
    for path in (os.path.expanduser(credentials), "/etc/boto.cfg", os.path.join(home, ".boto")):
        if os.path.isfile(path) and os.path.getsize(path) > 0:
            return False
    return True


class InstanceMetadata:
    """One process's view of its instance's metadata, read once and kept in memory."""

    def __init__(self, environ: Mapping[str, str], timeout: float | None = None) -> None:
        self._base = endpoint(environ)
        parts = urlsplit(self._base)
        if parts.scheme != "http" or not parts.hostname:
            raise MetadataUnavailable(
                f"AWS_EC2_METADATA_SERVICE_ENDPOINT {self._base!r} is not an http:// URL: fix or unset it"
            )
        self._timeout = timeout if timeout is not None else _timeout(environ)
        self._lock = threading.Lock()
        self._token: str | None = None
        self._role: str | None = None
        self._document: dict[str, str] | None = None
        self._credentials: RoleCredentials | None = None
        self._unreachable: MetadataUnavailable | None = None  # once it has not answered, it is not waited for again

    def role(self) -> str:
        with self._lock:
            if self._role is None:
                names = self._get("meta-data/iam/security-credentials/", what="the instance role").split()
                if not names:
                    raise MetadataUnavailable(
                        "this instance has no IAM role: attach an instance profile whose role may pull "
                        "(AmazonEC2ContainerRegistryReadOnly), or set AWS credentials"
                    )
                self._role = names[0]
            return self._role

    def document(self) -> dict[str, str]:
        """The instance identity document: accountId, region, instanceId among others."""
        with self._lock:
            if self._document is None:
                text = self._get("dynamic/instance-identity/document", what="the instance identity document")
                try:
                    doc = json.loads(text)
                except ValueError as err:
                    raise MetadataUnavailable(
                        f"instance metadata sent an identity document that is not JSON: {err}"
                    ) from None
                self._document = {str(k): str(v) for k, v in doc.items()} if isinstance(doc, dict) else {}
            return self._document

    def region(self) -> str:
        region = self.document().get("region")
        if not region:
            raise MetadataUnavailable("the instance identity document names no region: pass --region")
        return region

    def credentials(self) -> RoleCredentials:
        """The role's current credentials, kept in this process's memory (never on disk) until REFRESH before
        their Expiration, as botocore keeps them; then read again (the role's keys rotate)."""
        from datetime import timezone

        with self._lock:
            kept = self._credentials
        if kept is not None and kept.expiration is not None:
            if kept.expiration - REFRESH > datetime.now(timezone.utc):
                return kept
        fresh = self._read_credentials()
        with self._lock:
            self._credentials = fresh
        return fresh

    def _read_credentials(self) -> RoleCredentials:
        from ecrtool.aws.signed import Keys

        role = self.role()
        with self._lock:
            text = self._get(f"meta-data/iam/security-credentials/{role}", what=f"role {role}'s credentials")
        try:
            doc = json.loads(text)
            keys = Keys(str(doc["AccessKeyId"]), str(doc["SecretAccessKey"]), str(doc.get("Token") or "") or None)
        except (ValueError, KeyError, TypeError) as err:
            raise MetadataUnavailable(
                f"instance metadata sent role {role}'s credentials in a form not known: {err}"
            ) from None
        if doc.get("Code", "Success") != "Success":
            raise MetadataUnavailable(f"instance metadata has no credentials for role {role}: {doc.get('Code')}")
        expiration = None
        if isinstance(doc.get("Expiration"), str):
            try:
                expiration = datetime.fromisoformat(doc["Expiration"].replace("Z", "+00:00"))
            except ValueError:
                expiration = None
        return RoleCredentials(role=role, keys=keys, expiration=expiration)

    # -- the wire ------------------------------------------------------------------------------------

    def _get(self, path: str, *, what: str) -> str:
        for _ in range(2):  # a session token that expired is replaced once
            if self._token is None:
                ttl = {"X-aws-ec2-metadata-token-ttl-seconds": TOKEN_TTL}
                status, body = self._request("PUT", "api/token", ttl, what=what)
                if status != 200 or not body:
                    raise MetadataUnavailable(
                        f"cannot read {what}: instance metadata refused a session token (HTTP {status}); "
                        "off EC2, set AWS credentials and AWS_REGION"
                    )
                self._token = body.decode()
            status, body = self._request("GET", path, {"X-aws-ec2-metadata-token": self._token}, what=what)
            if status != 401:
                break
            self._token = None
        if status == 404 and path.endswith("security-credentials/"):
            return ""
        if status != 200:
            raise MetadataUnavailable(f"cannot read {what}: instance metadata answered HTTP {status}")
        return body.decode()

    def _request(self, method: str, path: str, headers: dict[str, str], *, what: str) -> tuple[int, bytes]:
        from http.client import HTTPConnection, HTTPException

        if self._unreachable is not None:
            raise self._unreachable
        parts = urlsplit(self._base)
        url = parts.path.rstrip("/") + "/latest/" + path
        conn = HTTPConnection(str(parts.hostname), parts.port or 80, timeout=self._timeout)
        try:
            conn.request(method, url, headers=headers)
            answer = conn.getresponse()
            return answer.status, answer.read()
        except (OSError, HTTPException) as err:
            self._unreachable = MetadataUnavailable(
                f"cannot read {what}: instance metadata at {self._base} did not answer within {self._timeout:g} s "
                f"({type(err).__name__}); {HOP_LIMIT_FIX}; off EC2, set AWS credentials and AWS_REGION "
                "(or pass --profile and --region)"
            )
            raise self._unreachable from err
        finally:
            conn.close()


def identity_name(metadata: InstanceMetadata) -> str:
    """The token cache's name for an instance role: its name and account, the same across key rotations."""
    return f"instance-role:{metadata.role()}@{metadata.document().get('accountId', '')}"


_INSTANCES: dict[str, InstanceMetadata] = {}
_INSTANCES_LOCK = threading.Lock()


def instance(environ: Mapping[str, str]) -> InstanceMetadata:
    """The process's one reader of the instance metadata ENVIRON names."""
    base = endpoint(environ)
    with _INSTANCES_LOCK:
        if base not in _INSTANCES:
            _INSTANCES[base] = InstanceMetadata(environ)
        return _INSTANCES[base]
