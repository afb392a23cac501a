"""What pip installs on an EC2 instance: a `--install` the user gave, checked, or where this ecrtool came from.

Where it came from is its PEP 610 install record (`direct_url.json` in its dist-info): a VCS URL at its
commit becomes `git+https://…@COMMIT`, an archive URL with its hash `URL#sha256=…` (pip checks that
hash on the instance). Whatever an instance cannot reach — a local path, an editable checkout, a file://
URL, an install from an index that left no record — is refused, saying how to name one with --install.
A `--install file:///…#sha256=…` given by hand names a file on the instance (a wheel baked into its AMI).
Nothing here names a bare requirement on the public index: ecrtool is not published there, and whoever
registers the name later would run as root on every instance.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlsplit

from ecrtool.model.errors import InvalidInput

DIST_NAME = "ecrtool"

# what --install takes, said in every refusal
FORMS = "a wheel URL with #sha256=HASH, git+https://HOST/REPO@COMMIT, or a requirement with --index-url URL"

_HEX_COMMIT = re.compile(r"^(?:[0-9a-f]{40}|[0-9a-f]{64})$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_SUBDIRECTORY = re.compile(r"^[A-Za-z0-9_.][A-Za-z0-9_./-]*$")
# PEP 508 name, optional extras, optional version specifiers; no spaces, no markers, no URL
_VERSION = r"(?:~=|===|==|!=|<=|>=|<|>)[A-Za-z0-9.*+!_-]+"
_REQUIREMENT = re.compile(
    r"^[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?"
    r"(?:\[[A-Za-z0-9](?:[A-Za-z0-9._,-]*[A-Za-z0-9])?\])?"
    rf"(?:{_VERSION}(?:,{_VERSION})*)?$"
)


@dataclass(frozen=True)
class InstallSource:
    """What the instance's pip installs (SPEC), from which index when one is named, and where SPEC came from."""

    spec: str
    index_url: str | None = None
    origin: str = "--install"  # or "this ecrtool's install record"


class Distribution(Protocol):
    """The part of importlib.metadata.Distribution read here (a test passes a fake)."""

    def read_text(self, filename: str) -> str | None: ...


def _printable(text: str, flag: str) -> None:
    if not text or any(ch.isspace() or not ch.isprintable() for ch in text):
        # (a lone surrogate, from bytes that are not UTF-8, is not printable either)
        raise InvalidInput(f"{flag} {text!r}: spaces and control characters have no place in it; give {FORMS}")


def _url_parts(text: str, flag: str) -> tuple[str, str, str, str]:
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 - a bad port raises here
    except ValueError:
        raise InvalidInput(f"{flag} {text!r} is not a URL; give {FORMS}") from None
    if "@" in parts.netloc:
        raise InvalidInput(
            f"{flag} {text!r} holds credentials, which any process on the instance could read from its user "
            "data: use a URL that needs none (or an index the instance's role can reach)"
        )
    return parts.scheme, parts.netloc, parts.path, parts.fragment


def check_index_url(url: str) -> str:
    _printable(url, "--index-url")
    scheme, netloc, _, fragment = _url_parts(url, "--index-url")
    if scheme not in ("https", "http") or not netloc or fragment:
        raise InvalidInput(
            f"--index-url {url!r}: give the index's http(s) URL, such as https://pypi.example.com/simple"
        )
    return url


def check_install(spec: str, index_url: str | None = None, *, origin: str = "--install") -> InstallSource:
    """SPEC as pip will take it on the instance, or InvalidInput saying which forms are taken."""
    _printable(spec, "--install")
    if index_url is not None:
        check_index_url(index_url)
    if "://" not in spec:
        if not _REQUIREMENT.match(spec):
            raise InvalidInput(f"--install {spec!r} is not a requirement (such as ecrtool==1.0); give {FORMS}")
        if index_url is None:
            raise InvalidInput(
                f"--install {spec!r} names no index, and ecrtool is not published on the public one: add "
                "--index-url URL of the index that holds it, or give a wheel URL with #sha256=HASH or "
                "git+https://HOST/REPO@COMMIT"
            )
        return InstallSource(spec, index_url, origin)
    scheme, netloc, path, fragment = _url_parts(spec, "--install")
    if scheme.startswith("git+"):
        repo, at, commit = path.rpartition("@")
        if scheme != "git+https" or not netloc:
            raise InvalidInput(f"--install {spec!r}: give git+https://HOST/REPO@COMMIT (an instance has no SSH keys)")
        if not at or not repo.strip("/") or not _HEX_COMMIT.match(commit):
            raise InvalidInput(
                f"--install {spec!r}: pin a commit, git+https://HOST/REPO@COMMIT with its full hash, "
                "so that every instance installs the same code"
            )
        key, _, value = fragment.partition("=")
        if fragment and (key != "subdirectory" or not _SUBDIRECTORY.match(value) or ".." in value.split("/")):
            raise InvalidInput(f"--install {spec!r}: the only fragment taken is #subdirectory=PATH")
        return InstallSource(spec, index_url, origin)
    if scheme not in ("https", "http", "file") or (scheme != "file" and not netloc) or not path.strip("/"):
        raise InvalidInput(f"--install {spec!r}: give {FORMS}")
    key, _, digest = fragment.partition("=")
    if key != "sha256" or not _SHA256.match(digest):
        raise InvalidInput(
            f"--install {spec!r}: add the file's hash, URL#sha256=HASH (sha256sum FILE), which pip checks on the "
            "instance before it installs anything"
        )
    return InstallSource(spec, index_url, origin)


RECORD = "this ecrtool's install record"


def from_record(dist: Distribution | None, index_url: str | None = None) -> InstallSource:
    """Where DIST was installed from, as an instance can install it again; InvalidInput when it cannot."""
    advice = f"pass --install ({FORMS})"
    if dist is None:
        raise InvalidInput(f"this ecrtool is not an installed package, so an instance cannot install it: {advice}")
    text = dist.read_text("direct_url.json")
    if text is None:
        raise InvalidInput(
            "this ecrtool came from a package index (it has no PEP 610 install record), and the public index "
            f"has no ecrtool: {advice}"
        )
    try:
        record: Any = json.loads(text)
        url = record["url"]
        if not isinstance(url, str):
            raise TypeError(url)
    except (ValueError, KeyError, TypeError):
        raise InvalidInput(f"this ecrtool's install record (direct_url.json) cannot be read: {advice}") from None
    dir_info = record.get("dir_info")
    if isinstance(dir_info, dict) and dir_info.get("editable"):
        raise InvalidInput(f"this ecrtool is an editable checkout ({url}), which an instance cannot reach: {advice}")
    if dir_info is not None or url.startswith("file:"):
        raise InvalidInput(f"this ecrtool was installed from {url}, a local path an instance cannot reach: {advice}")
    vcs = record.get("vcs_info")
    if isinstance(vcs, dict):
        commit = vcs.get("commit_id")
        if vcs.get("vcs") != "git" or not isinstance(commit, str) or not url.startswith("https://"):
            raise InvalidInput(f"this ecrtool came from {url}, which an instance cannot install from: {advice}")
        subdirectory = record.get("subdirectory")
        spec = f"git+{url}@{commit}" + (f"#subdirectory={subdirectory}" if subdirectory else "")
        return check_install(spec, index_url, origin=RECORD)
    archive = record.get("archive_info")
    if isinstance(archive, dict):
        hashes = archive.get("hashes")
        digest = hashes.get("sha256") if isinstance(hashes, dict) else None
        legacy_name, _, legacy_digest = str(archive.get("hash") or "").partition("=")
        if digest is None and legacy_name == "sha256":
            digest = legacy_digest
        if not isinstance(digest, str) or not _SHA256.match(digest):
            raise InvalidInput(
                f"this ecrtool came from {url}, but its install record has no sha256 to check it by: pass "
                f"--install {url}#sha256=HASH"
            )
        return check_install(f"{url.partition('#')[0]}#sha256={digest}", index_url, origin=RECORD)
    raise InvalidInput(f"this ecrtool's install record names neither a commit nor an archive: {advice}")


def recorded(index_url: str | None = None) -> InstallSource:
    """The running ecrtool's own install record, as from_record reads it."""
    from importlib import metadata

    try:
        dist: Distribution | None = metadata.distribution(DIST_NAME)
    except metadata.PackageNotFoundError:
        dist = None
    return from_record(dist, index_url)
