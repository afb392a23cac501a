"""ECR's JSON API without botocore, for the calls on a command's hot path.

Loading botocore and building a client costs more than the login or the push of a known image it
serves (BENCHMARKS.md), so the calls the ECR gateway sends here (`Ecr._hot`: the token, describing and
creating a repository, BatchGetImage and PutImage) go out as one signed POST each (http.client, on one
kept-alive connection per process, trusting the certificates botocore trusts, through the proxy
HTTPS_PROXY/NO_PROXY choose as for botocore's, by model/proxy) when nothing needs
botocore's machinery: the credentials are the environment's access keys, or the instance role's with
nothing else configured (AwsSession.signed_ecr), no --profile, no FIPS or dual-stack endpoint,
and the AWS config file's profile holds nothing but a region. Anything else, and every other call, goes
through botocore; so does everything when ECRTOOL_AWS_CLIENT=botocore. Retries follow botocore's
standard mode (ecrtool's 5 attempts).
"""

from __future__ import annotations

import atexit
import json
import logging
import random
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from http.client import HTTPConnection, HTTPException
from typing import Any
from urllib.parse import urlsplit

from ecrtool.aws.config_file import plain_profile
from ecrtool.aws.errors import THROTTLING_CODES, ServiceError, Unreachable
from ecrtool.aws.sigv4 import sign_post
from ecrtool.model import proxy
from ecrtool.model.tls import default_ca_bundle

log = logging.getLogger("ecrtool.ecr_json")

TARGET_PREFIX = "AmazonEC2ContainerRegistry_V20150921"
CONTENT_TYPE = "application/x-amz-json-1.1"
CONNECT_TIMEOUT = 10.0
READ_TIMEOUT = 60.0
USER_AGENT = "ecrtool"

# botocore's standard retry mode: what is retried besides throttling, and the longest wait
TRANSIENT_CODES = frozenset({"RequestTimeout", "RequestTimeoutException", "PriorRequestNotComplete"})
TRANSIENT_STATUSES = frozenset({500, 502, 503, 504})
MAX_BACKOFF = 20.0
RETRY_AFTER_MAX_ADDITIONAL = 5.0  # how much longer than the backoff an answer's x-amz-retry-after may make a wait

_DEFAULT_PORTS = {"http": 80, "https": 443}
# the response fields ECR sends as epoch seconds, which botocore turns into datetimes
_TIMESTAMPS = frozenset({"createdAt", "expiresAt", "imagePushedAt", "lastRecordedPullTime", "updatedAt"})
_SECRETS = frozenset({"authorizationToken", "password"})
# the partitions whose ECR endpoint is api.ecr.REGION.amazonaws.com (not China's .com.cn, nor the isolated ones)
_STANDARD_REGION = re.compile(r"(?:us|eu|ap|sa|ca|me|af|il|mx)-(?!gov-|iso)[a-z]+-\d{1,2}")


@dataclass(frozen=True)
class Keys:
    access_key: str
    secret_key: str
    session_token: str | None

    def __repr__(self) -> str:
        return f"Keys(access_key={self.access_key!r}, secret_key='***', session_token='***')"


def environment_keys(environ: Mapping[str, str]) -> Keys | None:
    access, secret = environ.get("AWS_ACCESS_KEY_ID"), environ.get("AWS_SECRET_ACCESS_KEY")
    if not access or not secret:
        return None
    return Keys(access, secret, environ.get("AWS_SESSION_TOKEN") or environ.get("AWS_SECURITY_TOKEN") or None)


def endpoint_for(region: str, environ: Mapping[str, str], profile: str | None) -> str | None:
    """The ECR endpoint to call without botocore, or None when botocore must make the call.

    None whenever the request botocore would send could differ from the plain one sent here.
    """
    if environ.get("ECRTOOL_AWS_CLIENT", "").strip().lower() == "botocore":
        return None
    if profile is not None:
        return None  # a named profile's credentials, roles, SSO: botocore's providers
    if any(_true(environ.get(name)) for name in ("AWS_USE_FIPS_ENDPOINT", "AWS_USE_DUALSTACK_ENDPOINT")):
        return None
    if _true(environ.get("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS")):
        return None
    if not plain_profile(environ):
        return None
    endpoint = environ.get("AWS_ENDPOINT_URL_ECR") or environ.get("AWS_ENDPOINT_URL")
    if not endpoint:
        if not _STANDARD_REGION.fullmatch(region):
            return None
        endpoint = f"https://api.ecr.{region}.amazonaws.com"
    parts = urlsplit(endpoint)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.path not in ("", "/") or parts.query:
        return None
    return endpoint.rstrip("/")


def _true(value: str | None) -> bool:
    return (value or "").strip().lower() == "true"


class EcrJsonClient:
    """The few ECR operations a command's hot path makes, as botocore-shaped method calls."""

    def __init__(
        self,
        endpoint: str,
        region: str,
        keys: Keys | Callable[[], Keys],
        *,
        max_attempts: int,
        ca_bundle: str | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._ca_bundle = ca_bundle  # AWS_CA_BUNDLE: as with botocore, the only certificates trusted (else certifi's)
        self._endpoint = endpoint
        self._region = region
        self._keys = keys  # or how to get them (an instance role's, read at the first call that signs)
        self._max_attempts = max_attempts
        self._sleep = sleep

    def get_authorization_token(self, **params: Any) -> dict[str, Any]:
        return self.call("GetAuthorizationToken", params)

    def describe_repositories(self, **params: Any) -> dict[str, Any]:
        return self.call("DescribeRepositories", params)

    def create_repository(self, **params: Any) -> dict[str, Any]:
        return self.call("CreateRepository", params)

    def batch_get_image(self, **params: Any) -> dict[str, Any]:
        return self.call("BatchGetImage", params)

    def put_image(self, **params: Any) -> dict[str, Any]:
        return self.call("PutImage", params)

    def describe_repository_creation_templates(self, **params: Any) -> dict[str, Any]:
        return self.call("DescribeRepositoryCreationTemplates", params)

    def call(self, operation: str, params: Mapping[str, Any]) -> dict[str, Any]:
        body = json.dumps(params, separators=(",", ":")).encode()
        for attempt in range(1, self._max_attempts + 1):
            last = attempt == self._max_attempts
            try:
                status, headers, content = self._post(operation, body)
            except (OSError, HTTPException) as err:
                log.debug("%s: attempt %d of %d: no answer (%s)", operation, attempt, self._max_attempts, err)
                if last:
                    raise Unreachable(f"{type(err).__name__}: {err}") from err
                self._sleep(_delay(attempt, throttled=False))
                continue
            if status < 300:
                reply = json.loads(content or b"{}")
                log.debug("%s: attempt %d: HTTP %d: %s", operation, attempt, status, json.dumps(_masked(reply)))
                return _timestamps(reply)
            log.debug("%s: attempt %d of %d: HTTP %d", operation, attempt, self._max_attempts, status)
            error = _error(status, headers, content)
            code = error["Error"]["Code"]
            throttled = code in THROTTLING_CODES or (status == 429 and not code)
            if last or not (throttled or code in TRANSIENT_CODES or status in TRANSIENT_STATUSES):
                error["ResponseMetadata"]["RetryAttempts"] = attempt - 1
                raise ServiceError(operation, error)
            self._sleep(_delay(attempt, throttled=throttled, retry_after=headers.get("x-amz-retry-after")))
        raise AssertionError("unreachable: the last attempt returns or raises")

    def _post(self, operation: str, body: bytes) -> tuple[int, dict[str, str], bytes]:
        parts = urlsplit(self._endpoint)
        secure = parts.scheme == "https"
        port = parts.port or (443 if secure else 80)
        host = str(parts.hostname)
        keys = self._keys() if callable(self._keys) else self._keys
        headers = sign_post(
            host=host_header(self._endpoint),
            headers={"X-Amz-Target": f"{TARGET_PREFIX}.{operation}", "Content-Type": CONTENT_TYPE},
            body=body,
            region=self._region,
            service="ecr",
            access_key=keys.access_key,
            secret_key=keys.secret_key,
            session_token=keys.session_token,
        )
        headers["User-Agent"] = USER_AGENT
        return ENDPOINT.post(host, port, secure, headers, body, self._ca_bundle)


def host_header(endpoint: str) -> str:
    """The Host that botocore signs and sends for ENDPOINT: lower case, an IPv6 address in brackets, no default port."""
    parts = urlsplit(endpoint)
    host = str(parts.hostname)
    if ":" in host:
        host = f"[{host}]"
    if parts.port is not None and parts.port != _DEFAULT_PORTS.get(parts.scheme):
        host = f"{host}:{parts.port}"
    return host


class EndpointConnection:
    """The process's connections to ECR's endpoints, kept alive from call to call.

    A call takes an idle connection to its endpoint (or opens one) and gives it back when done, so calls
    from several threads (a copy's destinations) and to several regions go at once, each reusing what an
    earlier call opened. Trusts what botocore trusts: the AWS_CA_BUNDLE file when set, else certifi's
    bundle. A connection the endpoint closed while it sat idle is opened again once, without counting an
    attempt; any other failure closes it (the next attempt opens another), and so does the end of the
    process.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()  # guards the idle connections and the context, never an exchange
        self._idle: dict[tuple[str, int, bool, str | None], list[HTTPConnection]] = {}
        self._closing_at_exit = False

    def post(
        self, host: str, port: int, secure: bool, headers: Mapping[str, str], body: bytes, ca_bundle: str | None
    ) -> tuple[int, dict[str, str], bytes]:
        """POST / to HOST:PORT; the status, the headers (names lower-cased) and the body."""
        cafile = (ca_bundle or default_ca_bundle()) if secure else None
        key = (host, port, secure, cafile)
        conn = self._take(key)
        for again in (False, True):
            reused = conn.sock is not None
            try:
                answer = _exchange(conn, headers, body)
            except BaseException as err:
                conn.close()
                if again or not reused or not isinstance(err, _DROPPED):
                    raise
                log.debug("the endpoint had closed the idle connection (%r): opening another", err)
                continue
            with self._lock:
                self._idle.setdefault(key, []).append(conn)
            return answer
        raise AssertionError("unreachable: the second exchange returns or raises")

    def close(self) -> None:
        with self._lock:
            idle = [conn for conns in self._idle.values() for conn in conns]
            self._idle.clear()
        for conn in idle:
            conn.close()

    def _take(self, key: tuple[str, int, bool, str | None]) -> HTTPConnection:
        host, port, _, cafile = key
        with self._lock:
            idle = self._idle.get(key)
            if idle:
                return idle.pop()
            if not self._closing_at_exit:
                atexit.register(self.close)
                self._closing_at_exit = True
        # as botocore's: the bundle's certificates, and only those; through the environment's proxy when it
        # names one for the endpoint (model/proxy: the same choice as the registry client's)
        return proxy.connection(cafile is not None, host, port, timeout=CONNECT_TIMEOUT, cafile=cafile)


# what a connection the endpoint closed while idle fails with (RemoteDisconnected is a ConnectionResetError)
_DROPPED = (ConnectionResetError, ConnectionAbortedError, BrokenPipeError)

ENDPOINT = EndpointConnection()


def _exchange(conn: HTTPConnection, headers: Mapping[str, str], body: bytes) -> tuple[int, dict[str, str], bytes]:
    if conn.sock is None:
        _connect(conn)
    conn.request("POST", "/", body, dict(headers))
    reply = conn.getresponse()
    content = reply.read()
    return reply.status, {name.lower(): value for name, value in reply.getheaders()}, content


def _connect(conn: HTTPConnection) -> None:
    """Open CONN within CONNECT_TIMEOUT; each read after must come within READ_TIMEOUT."""
    conn.connect()
    conn.sock.settimeout(READ_TIMEOUT)


def _error(status: int, headers: Mapping[str, str], content: bytes) -> dict[str, Any]:
    """The error as botocore's JSON protocol parser reads it: code from __type or x-amzn-ErrorType."""
    try:
        doc = json.loads(content) if content else {}
    except ValueError:
        doc = {}
    if not isinstance(doc, dict):
        doc = {}
    code = str(doc.get("__type") or doc.get("code") or headers.get("x-amzn-errortype", "")).split(":")[0]
    code = code.rsplit("#", 1)[-1]
    message = str(doc.get("message") or doc.get("Message") or "")
    if not code and not message and content and status >= 500:
        message = content.decode(errors="replace")[:300]
    return {"Error": {"Code": code, "Message": message}, "ResponseMetadata": {"HTTPStatusCode": status}}


def _delay(attempt: int, *, throttled: bool, retry_after: str | None = None) -> float:
    """botocore's standard backoff: rand(0, 1) * min(scale * 2 ** (attempt - 1), 20 s).

    An answer's x-amz-retry-after (milliseconds) raises it to that, by RETRY_AFTER_MAX_ADDITIONAL at most,
    as botocore's standard mode does; a value that is no whole number of milliseconds is ignored.
    """
    scale = 1.0 if throttled else 0.05
    delay = random.random() * min(scale * 2 ** (attempt - 1), MAX_BACKOFF)
    asked = _milliseconds(retry_after)
    if asked is not None:
        delay = max(delay, min(asked, delay + RETRY_AFTER_MAX_ADDITIONAL))
    return delay


def _milliseconds(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        seconds = int(value) / 1000
    except (ValueError, OverflowError):
        return None
    return seconds if seconds >= 0 else None


def _masked(value: Any) -> Any:
    """The answer as --debug may show it: every secret's value replaced, here at the source."""
    if isinstance(value, dict):
        return {key: "***" if key in _SECRETS else _masked(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_masked(item) for item in value]
    return value


def _timestamps(value: Any) -> Any:
    """Epoch-second fields as aware datetimes in local time, as botocore hands them out."""
    if isinstance(value, dict):
        return {
            key: _moment(item) if key in _TIMESTAMPS and isinstance(item, (int, float)) else _timestamps(item)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [_timestamps(item) for item in value]
    return value


def _moment(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, timezone.utc).astimezone()
