"""The registry token cache, shared by every command and the credential helper.

An ECR token lives 12 hours and costs an API call (and, in the credential helper, boto3's start-up) to
fetch, so one is kept per account, region and AWS identity under $XDG_CACHE_HOME/ecrtool/tokens and
reused until 15 minutes before it expires. The files hold registry passwords: they are 0600 in a 0700
folder and written atomically; a file that is not ours, not private, or not what we wrote is ignored
(and replaced by the next fetch), never trusted. A token without a future expiry is never cached.
Caching is best effort: a cache that cannot be read or written is the same as an empty one.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import stat
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta, timezone
from pathlib import Path

from ecrtool.model.auth import AuthToken
from ecrtool.model.value import Value

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (see ecrtool.model.value)
if TYPE_CHECKING:
    from typing import Any

FORMAT = 1
# Reuse a token until this long before it expires, so a long push never starts with a dying token.
MARGIN = timedelta(minutes=15)
_MAX_BYTES = 64 * 1024
# Credentials whose access key id names the identity for good; other providers (roles, SSO, instance
# metadata) hand out a new key id with each refresh, so they are named by how they were configured.
STATIC_METHODS = frozenset({"env", "explicit", "shared-credentials-file", "config-file", "boto-config"})
_NAME_RE = re.compile(r"^[a-z0-9-]+$")


def _debug(message: str, *args: object) -> None:
    # logging is loaded only when there is something to say: a login on a cached token has no time for it
    import logging

    logging.getLogger(__name__).debug(message, *args)


def cache_dir(environ: Mapping[str, str] | None = None) -> Path:
    env = os.environ if environ is None else environ
    base = env.get("XDG_CACHE_HOME") or ""
    if not os.path.isabs(base):  # the XDG spec: a relative value is invalid and ignored
        base = str(Path(env.get("HOME") or Path.home()) / ".cache")
    return Path(base) / "ecrtool" / "tokens"


class CacheKey(Value):
    """Which token: the registry's account (None for the caller's default registry), the region, and who asks.

    `identity` names the AWS identity and the API endpoint; only its hash reaches the file name.
    """

    __slots__ = ("account", "region", "identity")
    account: str | None
    region: str
    identity: str

    def __init__(self, account: str | None, region: str, identity: str) -> None:
        self.account = account
        self.region = region
        self.identity = identity

    @property
    def filename(self) -> str:
        digest = hashlib.sha256(self.identity.encode()).hexdigest()[:24]
        account = self.account or "default"
        if not _NAME_RE.match(account) or not _NAME_RE.match(self.region):
            account, region = "x", hashlib.sha256(f"{account}/{self.region}".encode()).hexdigest()[:12]
        else:
            region = self.region
        return f"{account}-{region}-{digest}.json"


def make_key(
    account: str | None,
    region: str,
    identity: str,
    *,
    service: str = "ecr",
    environ: Mapping[str, str] | None = None,
) -> CacheKey:
    """The key for a token from SERVICE's API; the endpoint is part of it, so a test ECR never lends a real one."""
    env = os.environ if environ is None else environ
    variable = "AWS_ENDPOINT_URL_" + service.upper().replace("-", "_")
    endpoint = env.get(variable) or env.get("AWS_ENDPOINT_URL") or ""
    return CacheKey(account=account, region=region, identity=f"{service}|{endpoint}|{identity}")


def environment_identity(environ: Mapping[str, str], profile: str | None) -> str | None:
    """The identity when it is plain from the environment (access keys, no --profile), without loading boto3.

    botocore takes these keys first unless a profile is named explicitly, so this agrees with
    `AwsSession.identity()` for the same credentials.
    """
    if profile is None and environ.get("AWS_ACCESS_KEY_ID") and environ.get("AWS_SECRET_ACCESS_KEY"):
        return static_identity(environ["AWS_ACCESS_KEY_ID"])
    return None


def static_identity(access_key_id: str) -> str:
    return f"key:{access_key_id}"


# -- reading -------------------------------------------------------------------------------------


class CachedToken(Value):
    """A token read back from the cache, with when it was fetched."""

    __slots__ = ("token", "fetched_at", "path")
    token: AuthToken
    fetched_at: datetime | None
    path: Path

    def __init__(self, token: AuthToken, fetched_at: datetime | None, path: Path) -> None:
        self.token = token
        self.fetched_at = fetched_at
        self.path = path


def _now(now: datetime | None) -> datetime:
    return now or datetime.now(timezone.utc)


def _usable_dir(directory: Path, *, create: bool) -> bool:
    """The folder is ours and private (made so if it is ours); never write into someone else's."""
    if create:
        try:
            directory.parent.mkdir(mode=0o700, parents=True, exist_ok=True)  # $XDG_CACHE_HOME/ecrtool
            directory.mkdir(mode=0o700, exist_ok=True)
        except OSError as err:
            _debug("token cache folder %s not usable: %s", directory, err)
            return False
    try:
        info = os.lstat(directory)
    except OSError:
        return False
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.geteuid():
        _debug("token cache folder %s is not a folder of this user's: not used", directory)
        return False
    if info.st_mode & 0o077:
        try:
            os.chmod(directory, 0o700)
        except OSError:
            return False
    return True


def read(key: CacheKey, directory: Path | None = None) -> CachedToken | None:
    """The cached token for KEY when the file is ours, private and well formed; None otherwise."""
    folder = directory or cache_dir()
    if not _usable_dir(folder, create=False):
        return None
    path = folder / key.filename
    try:
        # O_NOFOLLOW: a planted symlink is not followed; O_NONBLOCK: a planted FIFO does not hang us.
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_uid != os.geteuid() or info.st_mode & 0o077:
            _debug("token cache file %s is not private to this user: ignored", path)
            return None
        with os.fdopen(fd, "rb", closefd=False) as handle:
            raw = handle.read(_MAX_BYTES + 1)
    except OSError:
        return None
    finally:
        os.close(fd)
    if len(raw) > _MAX_BYTES:
        return None
    return _parse(raw, key, path)


def _parse(raw: bytes, key: CacheKey, path: Path) -> CachedToken | None:
    try:
        doc = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        _debug("token cache file %s is not valid JSON: ignored", path)
        return None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT or doc.get("identity") != _identity_hash(key):
        return None
    username, password = doc.get("username"), doc.get("password")
    proxy = doc.get("proxy_endpoint")
    expires_at = _timestamp(doc.get("expires_at"))
    if not (isinstance(username, str) and username and isinstance(password, str) and password):
        return None
    if expires_at is None or not (proxy is None or isinstance(proxy, str)):
        return None
    token = AuthToken(username=username, password=password, expires_at=expires_at, proxy_endpoint=proxy)
    return CachedToken(token=token, fetched_at=_timestamp(doc.get("fetched_at")), path=path)


def _timestamp(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo else None


def _identity_hash(key: CacheKey) -> str:
    # Stored in the file too: a file renamed or copied under another key's name is not taken for it.
    return hashlib.sha256(f"{key.account}|{key.region}|{key.identity}".encode()).hexdigest()


def fresh(token: AuthToken, now: datetime | None = None) -> bool:
    """True while the token has more than MARGIN left; a token without an expiry is never fresh."""
    expires_at = token.expires_at
    if expires_at is None or expires_at.tzinfo is None:
        return False
    return expires_at - MARGIN > _now(now)


def load(key: CacheKey, *, directory: Path | None = None, now: datetime | None = None) -> AuthToken | None:
    """The cached token for KEY if it is trusted and still fresh."""
    found = read(key, directory)
    if found is None or not fresh(found.token, now):
        return None
    return found.token


# -- writing -------------------------------------------------------------------------------------


def store(
    key: CacheKey, token: AuthToken, *, directory: Path | None = None, now: datetime | None = None
) -> Path | None:
    """Keep TOKEN for KEY (0600, atomic); returns the file, or None when it was not cached."""
    if not fresh(token, now):
        return None  # a past or missing expiry is never cached
    folder = directory or cache_dir()
    if not _usable_dir(folder, create=True):
        return None
    assert token.expires_at is not None
    doc = {
        "format": FORMAT,
        "identity": _identity_hash(key),
        "account": key.account,
        "region": key.region,
        "username": token.username,
        "password": token.password,
        "expires_at": token.expires_at.astimezone(timezone.utc).isoformat(),
        "fetched_at": _now(now).astimezone(timezone.utc).isoformat(),
        "proxy_endpoint": token.proxy_endpoint,
    }
    path = folder / key.filename
    import tempfile  # only here: reading the cache, all a cached login does, needs none of it

    tmp: str | None = None
    try:
        fd, tmp = tempfile.mkstemp(prefix=".token.", dir=folder)  # mkstemp creates it 0600
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            os.fchmod(handle.fileno(), 0o600)
            json.dump(doc, handle)
        # replaces whatever was there, a planted file or a symlink included, in one rename
        os.replace(tmp, path)
        tmp = None
    except OSError as err:
        _debug("token not cached in %s: %s", folder, err)
        return None
    finally:
        if tmp is not None:
            try:
                os.unlink(tmp)
            except OSError:
                pass
    return path


def forget(key: CacheKey, directory: Path | None = None) -> None:
    """Drop KEY's token, as when the registry refuses it."""
    path = (directory or cache_dir()) / key.filename
    try:
        if os.lstat(path).st_uid == os.geteuid():
            os.unlink(path)
    except OSError:
        pass


def cached(
    key: CacheKey,
    fetch: Callable[[], AuthToken],
    *,
    directory: Path | None = None,
    now: datetime | None = None,
) -> tuple[AuthToken, bool]:
    """KEY's token from the cache while fresh, else FETCH's (kept for next time); and whether it was cached."""
    token = load(key, directory=directory, now=now)
    if token is not None:
        return token, True
    token = fetch()
    store(key, token, directory=directory, now=now)
    return token, False
