"""The instance's metadata (IMDSv2) and the container-credentials endpoint, on a loopback port of the bridge.

What botocore, the AWS CLI and every SDK ask of the instance metadata service, answered as an instance
that requires IMDSv2 (HttpTokens=required) answers it: a session token from ``PUT /latest/api/token``
(its TTL header 1..21600, else 400; a PUT carrying X-Forwarded-For refused 403), then GETs carrying it
(without a live one, 401). The instance's role hands out keys of account 123456789012 that the stack's
ECR API, STS and registry accept until their Expiration; the keys rotate on a period (LOCAL_ECR_ROLE_TTL
at `up`, or POST /_bridge/imds on the bridge's API port). The same port answers the ECS/CodeBuild
container-credentials call (AWS_CONTAINER_CREDENTIALS_FULL_URI with AWS_CONTAINER_AUTHORIZATION_TOKEN).

Never 169.254.169.254: that address may be the host's own metadata service. The stand-in is named by
AWS_EC2_METADATA_SERVICE_ENDPOINT (``scripts/local-ecr env --instance``).

Keys and tokens are signed with the stack's secret rather than remembered, so they outlive a bridge
restart as they would outlive a hiccup of the metadata service.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import os
import secrets
import threading
import time
import urllib.parse
import uuid
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from .state import ACCOUNT_ID, CONTAINER_PATH, REGION, Account, State, account_of

log = logging.getLogger("localecr.imds")

ROLE = "ecrtool-local-instance-role"
ZONE = f"{REGION}a"
TOKEN_PATH = "/latest/api/token"
HEALTH_PATH = "/_bridge/health"  # readiness for `status`/`wait`; answered whatever the mode
MAX_TOKEN_TTL = 21600  # IMDS's limit for X-aws-ec2-metadata-token-ttl-seconds
DEFAULT_ROLE_TTL = 3600
MAX_ROLE_TTL = 43200
HANG_LIMIT = 120.0  # a hanging answer gives up after this long, so threads do not pile up forever
# how the stand-in can misbehave for tests (POST /_bridge/imds {"mode": ...})
MODES = ("on", "off", "hang", "hop-limit")
_TIME = "%Y-%m-%dT%H:%M:%SZ"
# ECR (JSON) and STS (query) words for keys past their expiry, as AWS says them
EXPIRED_MESSAGE = "The security token included in the request is expired"


def _stamp(epoch: float) -> str:
    return time.strftime(_TIME, time.gmtime(epoch))


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True)
class RoleKeys:
    """One set of the role's keys, as the metadata service hands it out."""

    access_key: str
    secret_key: str
    token: str
    issued: int
    expires: int


@dataclass(frozen=True)
class Caller:
    """Who signed a request: a stack account (or None), and whether the key was the role's, expired."""

    account: Account | None
    expired: bool = False
    role_key: bool = False


class Instance:
    """The instance the stand-in describes: its id, its role and the role's current keys, and what a
    test set (the keys' lifetime, the service's mode)."""

    def __init__(self, secret: bytes, container_token: str, ttl: int = DEFAULT_ROLE_TTL) -> None:
        self._key = hmac.new(secret, b"local-ecr instance metadata", hashlib.sha256).digest()
        self.container_token = container_token
        self.instance_id = "i-0" + self._derive(b"instance-id").hex()[:16]
        self.role_id = "AROA" + base64.b32encode(self._derive(b"role-id")).decode()[:17]
        self.profile_id = "AIPA" + base64.b32encode(self._derive(b"profile-id")).decode()[:17]
        self.started = int(time.time())
        self.default_ttl = ttl
        self.ttl = ttl
        self.mode = "on"
        self.changed = threading.Condition()  # a hanging answer waits on it for the mode to change
        self._current: RoleKeys | None = None
        self._lock = threading.Lock()

    @classmethod
    def from_state(cls, state: State) -> Instance:
        return cls(state.secret(), state.container_token(), role_ttl(os.environ.get("LOCAL_ECR_ROLE_TTL")))

    # -- signing -----------------------------------------------------------------------------------

    def _derive(self, label: bytes) -> bytes:
        return hmac.new(self._key, label, hashlib.sha256).digest()

    def _seal(self, kind: str, claims: dict[str, Any]) -> str:
        payload = _b64(json.dumps(claims, separators=(",", ":")).encode())
        return f"{payload}.{_b64(self._derive(f'{kind}:{payload}'.encode()))}"

    def _open(self, kind: str, sealed: str) -> dict[str, Any] | None:
        payload, _, signature = sealed.partition(".")
        if not signature or not hmac.compare_digest(signature, _b64(self._derive(f"{kind}:{payload}".encode()))):
            return None
        try:
            claims = json.loads(_unb64(payload))
        except ValueError:
            return None
        return claims if isinstance(claims, dict) else None

    # -- IMDSv2 session tokens -----------------------------------------------------------------------

    def session_token(self, ttl: int) -> str:
        return self._seal("imds", {"e": time.time() + ttl, "n": secrets.token_hex(4)})

    def session_live(self, token: str) -> bool:
        claims = self._open("imds", token)
        return claims is not None and float(claims.get("e", 0)) > time.time()

    # -- the role's keys -----------------------------------------------------------------------------

    def keys(self) -> RoleKeys:
        """The keys served now: a new set once three quarters of the current one's life have passed, so
        a client refreshing before the Expiration always finds keys with time left (AWS: new
        credentials are available at least five minutes before the old ones expire)."""
        now = time.time()
        with self._lock:
            current = self._current
            if current is None or now >= current.issued + (current.expires - current.issued) * 3 / 4:
                self._current = current = self._mint(now)
            return current

    def _mint(self, now: float) -> RoleKeys:
        access_key = "ASIA" + base64.b32encode(secrets.token_bytes(10)).decode()[:16]
        issued, expires = int(now), int(now) + self.ttl
        token = self._seal("role", {"k": access_key, "a": ACCOUNT_ID, "e": expires})
        log.info("role keys %s issued, expiring %s", access_key, _stamp(expires))
        return RoleKeys(access_key, self.secret_key(access_key), token, issued, expires)

    def secret_key(self, access_key: str) -> str:
        return base64.b64encode(self._derive(f"secret:{access_key}".encode())).decode()[:40]

    def rotate(self) -> RoleKeys:
        """Hand out new keys from now on; the old ones stay good until their own Expiration."""
        with self._lock:
            self._current = self._mint(time.time())
            return self._current

    def caller(self, access_key: str, session_token: str | None) -> Caller:
        """The account a request's access key (and session token) belongs to: a stack account's key, or
        one of the role's keys before its Expiration (after it, expired); anything else is no one's."""
        found = account_of(access_key)
        if found is not None:
            return Caller(found)
        if not access_key.startswith("ASIA") or not session_token:
            return Caller(None)
        claims = self._open("role", session_token)
        if claims is None or claims.get("k") != access_key:
            return Caller(None)
        if float(claims.get("e", 0)) <= time.time():
            return Caller(None, expired=True, role_key=True)
        return Caller(Account(str(claims.get("a")), access_key, self.secret_key(access_key)), role_key=True)

    def caller_identity(self) -> bytes:
        """STS GetCallerIdentity for the role's keys: the instance's assumed-role session."""
        arn = f"arn:aws:sts::{ACCOUNT_ID}:assumed-role/{ROLE}/{self.instance_id}"
        return (
            '<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">\n'
            "  <GetCallerIdentityResult>\n"
            f"    <Arn>{arn}</Arn>\n"
            f"    <UserId>{self.role_id}:{self.instance_id}</UserId>\n"
            f"    <Account>{ACCOUNT_ID}</Account>\n"
            "  </GetCallerIdentityResult>\n"
            f"  <ResponseMetadata>\n    <RequestId>{uuid.uuid4()}</RequestId>\n  </ResponseMetadata>\n"
            "</GetCallerIdentityResponse>\n"
        ).encode()

    # -- what a test sets ----------------------------------------------------------------------------

    def control(self, doc: dict[str, Any]) -> dict[str, Any]:
        """POST /_bridge/imds. Keys, each optional, applied in this order:

        reset: true      the lifetime of `up` (LOCAL_ECR_ROLE_TTL) and mode "on"
        ttl: SECONDS     the lifetime of keys minted from now on (1..43200)
        rotate: true     mint new keys now (the old ones stay good until their Expiration)
        mode: on | off | hang | hop-limit   off: every connection closed unanswered; hang: no answer
                         until the mode changes (or 120 s); hop-limit: token PUTs hang, as from a container
                         behind an instance's hop limit of 1, while GETs are answered (401 without token)
        """
        unknown = set(doc) - {"reset", "ttl", "rotate", "mode"}
        if unknown:
            raise ValueError(f"unknown keys {sorted(unknown)}: use reset, ttl, rotate, mode")
        mode = doc.get("mode")
        if mode is not None and mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}")
        ttl = role_ttl(doc["ttl"]) if "ttl" in doc else None
        with self.changed:
            if doc.get("reset"):
                self.ttl, self.mode = self.default_ttl, "on"
            if ttl is not None:
                self.ttl = ttl
            if mode is not None:
                self.mode = mode
            self.changed.notify_all()
        keys = self.rotate() if doc.get("rotate") else self.keys()
        return {
            "role": ROLE,
            "instance_id": self.instance_id,
            "account": ACCOUNT_ID,
            "region": REGION,
            "ttl": self.ttl,
            "mode": self.mode,
            "access_key": keys.access_key,
            "expiration": _stamp(keys.expires),
        }

    # -- the documents IMDS serves -------------------------------------------------------------------

    def credentials(self) -> dict[str, str]:
        keys = self.keys()
        return {
            "Code": "Success",
            "LastUpdated": _stamp(keys.issued),
            "Type": "AWS-HMAC",
            "AccessKeyId": keys.access_key,
            "SecretAccessKey": keys.secret_key,
            "Token": keys.token,
            "Expiration": _stamp(keys.expires),
        }

    def container_credentials(self) -> dict[str, str]:
        keys = self.keys()
        return {
            "RoleArn": f"arn:aws:iam::{ACCOUNT_ID}:role/{ROLE}",
            "AccessKeyId": keys.access_key,
            "SecretAccessKey": keys.secret_key,
            "Token": keys.token,
            "Expiration": _stamp(keys.expires),
        }

    def metadata(self, path: str) -> tuple[str, str] | None:
        """(content type, body) of a metadata PATH under /latest/, None for one the instance has not."""
        text, doc = "text/plain", "application/json"
        identity = {
            "accountId": ACCOUNT_ID,
            "architecture": "x86_64",
            "availabilityZone": ZONE,
            "billingProducts": None,
            "devpayProductCodes": None,
            "marketplaceProductCodes": None,
            "imageId": "ami-0123456789abcdef0",
            "instanceId": self.instance_id,
            "instanceType": "t3.micro",
            "kernelId": None,
            "pendingTime": _stamp(self.started),
            "privateIp": "10.0.0.10",
            "ramdiskId": None,
            "region": REGION,
            "version": "2017-09-30",
        }
        values: dict[str, tuple[str, Any]] = {
            "meta-data": (text, "ami-id\niam/\ninstance-id\ninstance-type\nlocal-ipv4\nplacement/"),
            "meta-data/ami-id": (text, identity["imageId"]),
            "meta-data/instance-id": (text, self.instance_id),
            "meta-data/instance-type": (text, identity["instanceType"]),
            "meta-data/local-ipv4": (text, identity["privateIp"]),
            "meta-data/placement": (text, "availability-zone\navailability-zone-id\nregion"),
            "meta-data/placement/availability-zone": (text, ZONE),
            "meta-data/placement/availability-zone-id": (text, "caw1-az1"),
            "meta-data/placement/region": (text, REGION),
            "meta-data/iam": (text, "info\nsecurity-credentials/"),
            "meta-data/iam/security-credentials": (text, ROLE),
            "dynamic": (text, "instance-identity/"),
            "dynamic/instance-identity": (text, "document"),
            "dynamic/instance-identity/document": (doc, identity),
        }
        if path == "meta-data/iam/info":
            info = {
                "Code": "Success",
                "LastUpdated": _stamp(self.keys().issued),
                "InstanceProfileArn": f"arn:aws:iam::{ACCOUNT_ID}:instance-profile/{ROLE}",
                "InstanceProfileId": self.profile_id,
            }
            values[path] = (doc, info)
        elif path == f"meta-data/iam/security-credentials/{ROLE}":
            values[path] = (doc, self.credentials())
        found = values.get(path)
        if found is None:
            return None
        kind, value = found
        # IMDS pretty-prints its JSON documents with " : " between key and value
        body = value if isinstance(value, str) else json.dumps(value, indent=2, separators=(",", " : "))
        return kind, body


def role_ttl(value: object) -> int:
    """A role keys' lifetime in seconds (LOCAL_ECR_ROLE_TTL, or the control's ttl); None or '' for the default."""
    if value is None or value == "":
        return DEFAULT_ROLE_TTL
    try:
        ttl = int(str(value))
    except ValueError:
        raise ValueError(f"the role keys' lifetime must be whole seconds, not {value!r}") from None
    if not 1 <= ttl <= MAX_ROLE_TTL:
        raise ValueError(f"the role keys' lifetime must be 1..{MAX_ROLE_TTL} seconds, not {ttl}")
    return ttl


_ERROR_PAGE = """<?xml version="1.0" encoding="iso-8859-1"?>
<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Transitional//EN"
         "http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd">
<html xmlns="http://www.w3.org/1999/xhtml" xml:lang="en" lang="en">
 <head>
  <title>{status} - {reason}</title>
 </head>
 <body>
  <h1>{status} - {reason}</h1>
 </body>
</html>
"""


class Handler(BaseHTTPRequestHandler):
    server: MetadataServer
    protocol_version = "HTTP/1.1"  # botocore keeps its connection to the metadata service
    server_version = "EC2ws"  # what IMDS calls itself

    def log_message(self, format: str, *args: Any) -> None:
        pass  # _handle logs one line per request, without headers (they hold tokens)

    def version_string(self) -> str:
        return self.server_version

    def do_GET(self) -> None:
        self._handle()

    do_PUT = do_POST = do_DELETE = do_HEAD = do_PATCH = do_OPTIONS = do_GET

    @property
    def instance(self) -> Instance:
        return self.server.instance

    def _handle(self) -> None:
        started = time.monotonic()
        path = urllib.parse.urlsplit(self.path).path
        status = self._serve(path)
        log.info("imds %s %s %s %.0f ms", self.command, path, status, (time.monotonic() - started) * 1000)

    def _serve(self, path: str) -> str:
        length = self.headers.get("Content-Length") or "0"
        if length.isdigit() and int(length) > 0:
            self.rfile.read(min(int(length), 65536))
        if path == HEALTH_PATH:
            return self._answer(200, json.dumps({"imds": True, "mode": self.instance.mode}), "application/json")
        mode = self.instance.mode
        if mode == "off" or (mode == "hop-limit" and self.command == "PUT" and path == TOKEN_PATH):
            if mode == "off":
                self.close_connection = True
                return "closed unanswered"
            mode = "hang"
        if mode == "hang":
            with self.instance.changed:
                self.instance.changed.wait_for(lambda: self.instance.mode not in ("hang", "hop-limit"), HANG_LIMIT)
            self.close_connection = True
            return "hung, closed unanswered"
        if path == CONTAINER_PATH:
            return self._container()
        if path == TOKEN_PATH:
            return self._token()
        if self.command != "GET":
            return self._error(405)
        if not self.instance.session_live(self.headers.get("X-aws-ec2-metadata-token", "")):
            return self._error(401)  # IMDSv1, or a token past its TTL: HttpTokens=required
        found = self.instance.metadata(path[len("/latest/") :].strip("/")) if path.startswith("/latest/") else None
        if found is None:
            return self._error(404)
        kind, body = found
        return self._answer(200, body, kind)

    def _token(self) -> str:
        if self.command != "PUT":
            return self._error(405)
        if "X-Forwarded-For" in self.headers:
            return self._error(403)  # IMDS refuses a token request that came through a proxy
        ttl = self.headers.get("X-aws-ec2-metadata-token-ttl-seconds", "")
        if not ttl.isdigit() or not 1 <= int(ttl) <= MAX_TOKEN_TTL:
            return self._error(400)
        extra = [("X-aws-ec2-metadata-token-ttl-seconds", ttl)]
        return self._answer(200, self.instance.session_token(int(ttl)), "text/plain", extra)

    def _container(self) -> str:
        if self.command != "GET":
            return self._error(405)
        given = self.headers.get("Authorization")
        if not given:
            return self._answer(401, json.dumps({"message": "Authorization header is required"}), "application/json")
        if not hmac.compare_digest(given.encode(), self.instance.container_token.encode()):
            return self._answer(403, json.dumps({"message": "Authorization token is not valid"}), "application/json")
        return self._answer(200, json.dumps(self.instance.container_credentials()), "application/json")

    def _error(self, status: int) -> str:
        reason = self.responses[status][0]
        return self._answer(status, _ERROR_PAGE.format(status=status, reason=reason), "text/html")

    def _answer(self, status: int, body: str, kind: str, extra: list[tuple[str, str]] | None = None) -> str:
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", kind)
        for key, value in extra or []:
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)
        return str(status)


class MetadataServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], instance: Instance) -> None:
        super().__init__(address, Handler)
        self.instance = instance


def serve(instance: Instance, port: int) -> MetadataServer:
    """Start answering on 127.0.0.1:PORT in a thread of its own (loopback only, never 169.254.169.254)."""
    server = MetadataServer(("127.0.0.1", port), instance)
    threading.Thread(target=server.serve_forever, name="imds", daemon=True).start()
    log.info("instance metadata on 127.0.0.1:%d, role %s, keys for %d s", port, ROLE, instance.ttl)
    return server
