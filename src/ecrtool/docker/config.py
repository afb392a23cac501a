"""The Docker client's config file: where `docker login` keeps credentials, how ecrtool writes them, and
how it finds them again for a pull that brings none of its own.

Credentials go to the configured credential helper (credHelpers for the host, else credsStore) on its
stdin, or into `auths` of config.json, written atomically with mode 0600 like `docker login` does (through
the link, when config.json is a symlink); they are read back the same way round, as docker-py's
auth.resolve_authconfig reads them.
"""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path

from ecrtool.model.auth import RegistryAuth
from ecrtool.model.errors import EcrToolError, InvalidInput

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (see ecrtool.model.value)
if TYPE_CHECKING:
    from typing import Any

# the credential helper docker runs for the registries configure-docker points at ecrtool
HELPER = "ecrtool"
PROGRAM = f"docker-credential-{HELPER}"
# Docker Hub's names: what a repository without a registry host means, and the key its credentials go under
INDEX_NAME = "docker.io"
INDEX_URL = "https://index.docker.io/v1/"
# the user name a credential helper gives for an identity token (docker-credential-helpers' convention)
TOKEN_USERNAME = "<token>"


def config_dir(environ: dict[str, str] | None = None) -> Path:
    env = os.environ if environ is None else environ
    if env.get("DOCKER_CONFIG"):
        return Path(env["DOCKER_CONFIG"])
    return Path(env.get("HOME") or Path.home()) / ".docker"


def config_path(environ: dict[str, str] | None = None) -> Path:
    return config_dir(environ) / "config.json"


def load(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except OSError as err:
        raise EcrToolError(f"cannot read the Docker config {path}: {err.strerror}") from err
    if not text.strip():
        return {}
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise InvalidInput(f"the Docker config {path} is not valid JSON (line {err.lineno}): fix or remove it") from err
    if not isinstance(data, dict):
        raise InvalidInput(f"the Docker config {path} is not a JSON object: fix or remove it")
    return data


def write_atomic(path: Path, data: dict[str, Any]) -> None:
    """Replace the config in one rename so a reader never sees half a file; the new file is 0600."""
    replace_file(path, (json.dumps(data, indent="\t") + "\n").encode("utf-8"))


def replace_file(path: Path, content: bytes) -> None:
    """Write CONTENT to PATH in one rename, 0600; a PATH that is a symlink stays one and its target is replaced.

    docker writes its config through a link the same way (people keep config.json in a dotfiles checkout and
    link it in): renaming over the link itself would turn it into a plain file and leave the target stale.
    The temporary file goes beside the target, so the rename stays on one file system.
    """
    target = Path(os.path.realpath(path)) if path.is_symlink() else path
    target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd, tmp = _new_private_file(target.parent, f".{target.name}.")
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(content)
        os.replace(tmp, target)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _new_private_file(folder: Path, prefix: str) -> tuple[int, str]:
    """A file of a new random name in FOLDER, created 0600 and never through a link: tempfile.mkstemp's way.

    Not mkstemp itself: loading tempfile (shutil, random, bz2, lzma…) would cost a login on a cached token
    a good part of its time.
    """
    flags = os.O_RDWR | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    for _ in range(100):
        name = str(folder / f"{prefix}{os.urandom(6).hex()}")
        try:
            return os.open(name, flags, 0o600), name
        except FileExistsError:
            continue  # taken: another random name
    raise FileExistsError(f"no free temporary name in {folder}")


def helper_for(data: dict[str, Any], registry: str) -> str | None:
    helpers = data.get("credHelpers") or {}
    if isinstance(helpers, dict) and helpers.get(registry):
        return str(helpers[registry])
    store = data.get("credsStore")
    return str(store) if store else None


def store_credentials(registry: str, username: str, password: str, path: Path | None = None) -> str:
    """Store credentials as `docker login` would; returns where they went (file path or helper name)."""
    target = path or config_path()
    data = load(target)
    helper = helper_for(data, registry)
    if helper:
        payload = json.dumps({"ServerURL": registry, "Username": username, "Secret": password})
        program, done = _run_helper(helper, "store", payload, registry, target)
        if done.returncode != 0:
            detail = (done.stdout or done.stderr).strip().splitlines()[:1]
            raise EcrToolError(f"{program} could not store the credentials: {' '.join(detail) or 'failed'}")
        return program
    auths = data.setdefault("auths", {})
    if not isinstance(auths, dict):
        raise InvalidInput(f"the Docker config {target} has an 'auths' that is not an object: fix or remove it")
    token = base64.b64encode(f"{username}:{password}".encode()).decode()
    old = auths.get(registry)
    entry = {k: v for k, v in old.items() if k not in ("auth", "identitytoken")} if isinstance(old, dict) else {}
    entry["auth"] = token
    auths[registry] = entry
    write_atomic(target, data)
    return str(target)


def stored_credentials(host: str, path: Path | None = None) -> RegistryAuth | None:
    """What `docker pull` would send to the registry HOST: the credentials Docker's config holds for it, or None.

    As docker-py's auth.resolve_authconfig: the helper (credHelpers[HOST], else credsStore) when it has
    them, else the `auths` entry for HOST (also under a legacy key such as https://HOST/v1/). Docker Hub
    (docker.io) goes under its URL. An identity token comes back with TOKEN_USERNAME as the user name.
    """
    target = path or config_path()
    data = load(target)
    host = _index_name(host)
    helper = helper_for(data, INDEX_URL if host == INDEX_NAME else host)
    if helper:
        found = _helper_get(helper, INDEX_URL if host == INDEX_NAME else host, target)
        if found is not None:
            return found
    auths = data.get("auths")
    if not isinstance(auths, dict):
        return None
    entry = auths[host] if host in auths else next((e for k, e in auths.items() if _index_name(k) == host), None)
    if not isinstance(entry, dict):
        return None
    if entry.get("identitytoken"):
        return RegistryAuth(host, TOKEN_USERNAME, str(entry["identitytoken"]))
    if not entry.get("auth"):
        return None  # an empty entry: `docker login` left the secret to a helper
    try:
        username, colon, password = base64.b64decode(str(entry["auth"])).decode().partition(":")
    except ValueError:  # binascii.Error and UnicodeDecodeError are ValueErrors
        username = colon = password = ""
    if not colon:
        raise InvalidInput(
            f"the Docker config {target} holds credentials for {host} that are not base64 of user:password:"
            f" log in again (docker login {host}) or remove them"
        )
    return RegistryAuth(host, username, password)


def _index_name(registry: str) -> str:
    """docker-py's resolve_index_name: the host of a registry key (a URL in old configs), Docker Hub as docker.io."""
    host = registry.replace("http://", "").replace("https://", "").split("/", 1)[0]
    return INDEX_NAME if host == f"index.{INDEX_NAME}" else host


def _run_helper(helper: str, verb: str, payload: str, server: str, target: Path) -> tuple[str, Any]:
    """`docker-credential-HELPER VERB` with PAYLOAD on stdin: the program's name and the finished process."""
    import subprocess  # only for a helper: a login that writes config.json has no time to load it

    program = f"docker-credential-{helper}"
    try:
        return program, subprocess.run([program, verb], input=payload, capture_output=True, text=True, timeout=60)
    except FileNotFoundError as err:
        raise EcrToolError(
            f"the Docker config {target} names the credential helper {helper!r} for {server} but {program} is not"
            " on PATH: install it or remove it from the config"
        ) from err
    except subprocess.TimeoutExpired as err:
        raise EcrToolError(f"{program} did not answer within 60s for {server}") from err


def _helper_get(helper: str, server: str, target: Path) -> RegistryAuth | None:
    """`docker-credential-HELPER get` for SERVER (on stdin); None when the helper holds nothing for it."""
    program, done = _run_helper(helper, "get", server, server, target)
    if done.returncode != 0:
        if "credentials not found" in done.stdout.lower():
            return None
        detail = (done.stdout or done.stderr).strip().splitlines()[:1]
        raise EcrToolError(f"{program} could not give the credentials for {server}: {' '.join(detail) or 'failed'}")
    try:
        found = json.loads(done.stdout)
        username, secret = str(found.get("Username") or ""), str(found.get("Secret") or "")
    except (ValueError, AttributeError) as err:
        raise EcrToolError(f"{program} answered for {server} with something other than credentials") from err
    if not username and not secret:
        return None  # docker-credential-pass answers so for a server it does not know
    return RegistryAuth(server, username, secret)
