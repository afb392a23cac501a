"""Images in use, as `prune --protect-in-use` and `--protect-file` find them: references read from ECS task
definitions and tasks, Lambda functions and a file of references, matched to one repository's digests.

A reference names an image by tag or by digest (`HOST/REPO:TAG`, `HOST/REPO@sha256:…`, `REPO:TAG`); a tag is
resolved with the repository's own listing (DescribeImages), so nothing is pulled to resolve it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from ecrtool.model.errors import InvalidInput
from ecrtool.model.refs import parse_ecr_host

_DIGEST = re.compile(r"sha256:[0-9a-f]{64}")
_MAX_FILE_REFERENCES = 100_000


@dataclass(frozen=True, slots=True)
class InUse:
    """An image reference a workload uses, and where it was found ("ECS task definition web:3",
    "Lambda function api:7", "file pods.txt line 4")."""

    reference: str
    where: str
    digest: str | None = None  # the digest the workload runs, when it says (a running task, a Lambda version)


@dataclass(frozen=True)
class Place:
    """The repository a cleanup works on: its name, region, account (None: the caller's, any account matches)
    and the registry host a --registry-override names it by."""

    repository: str
    region: str
    account: str | None = None
    override_host: str | None = None


def file_references(text: str, name: str) -> list[InUse]:
    """The references in a --protect-file's TEXT: one or more a line, separated by spaces (as `kubectl get
    pods -A -o jsonpath='{..image}'` prints them), `#` starting a comment. InvalidInput for a line holding
    something that cannot be an image reference (a control character)."""
    found: list[InUse] = []
    for number, line in enumerate(text.splitlines(), 1):
        line = line.split("#", 1)[0]
        if any(ord(ch) < 32 and ch != "\t" for ch in line):
            raise InvalidInput(f"--protect-file {name!r} line {number} holds a control character: give one image "
                               "reference a line, such as 123456789012.dkr.ecr.us-east-1.amazonaws.com/web:1.4")
        for word in line.split():
            found.append(InUse(word.strip("'\""), f"file {name} line {number}"))
            if len(found) > _MAX_FILE_REFERENCES:
                raise InvalidInput(f"--protect-file {name!r} holds over {_MAX_FILE_REFERENCES:,} references")
    return found


def split_reference(reference: str) -> tuple[str | None, str, str | None, str | None]:
    """REFERENCE's host (None when it has none), repository, tag and digest, as docker reads a name."""
    rest, _, digest = reference.partition("@")
    host: str | None = None
    first, sep, tail = rest.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost"):
        host, rest = first, tail
    tag = None
    slash, colon = rest.rfind("/"), rest.rfind(":")
    if colon > slash:
        rest, tag = rest[:colon], rest[colon + 1 :]
    return host, rest, tag or None, digest or None


def _here(host: str | None, place: Place) -> bool:
    if host is None:
        return True
    if place.override_host and host == place.override_host:
        return True
    ecr = parse_ecr_host(host)
    return ecr is not None and ecr.region == place.region and (place.account is None or ecr.account == place.account)


def in_use_digests(uses: Iterable[InUse], place: Place, tags: Mapping[str, str]) -> dict[str, str]:
    """Of USES, those naming PLACE's repository, as digest -> where (the first place each was found). A tag
    is resolved through TAGS (tag -> digest, the repository's listing); one not there names nothing here.
    The digest a workload reports it runs is kept as well as what its tag names now (the tag may have moved
    since it started, and the next start takes the tag's)."""
    found: dict[str, str] = {}
    for use in uses:
        host, repository, tag, digest = split_reference(use.reference)
        if repository != place.repository or not _here(host, place):
            continue
        chosen = [use.digest, digest] if digest else [use.digest, tags.get(tag or "latest")]
        for one in chosen:
            if one and _DIGEST.fullmatch(one):
                found.setdefault(one, use.where)
    return found
