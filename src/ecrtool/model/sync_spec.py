"""`ecrtool sync`'s spec: which repositories go where and which of their tags, read from YAML (or TOML) and
checked before anything is asked of a registry; the tag selection (list, regex, semver range, newest N);
and the plan and report a sync returns.

A spec, in YAML (TOML: the same keys, `[[images]]` tables)::

    defaults:                       # optional: keys every entry takes unless it says otherwise
      create: true                  # create a missing destination repository (default true; false leaves it
                                    # to a repository creation template, as a push would)
      referrers: false              # copy each image's OCI referrers (signatures, SBOMs) too
    jobs: 4                         # images copied at once (1..32)
    rate: 10                        # manifests put a second, across every destination (ECR: 10 PutImage/s)
    images:
      - from: docker.io/library/nginx     # any registry's repository (ECR's too); with :TAG, that tag alone
        to: mirror/nginx                  # an ECR repository, by name or URI (default: prefix + from's path)
        prefix: mirror/                   # instead of `to`: the destination is prefix + the source's path
        tags: ['^1\\.2[0-9]+$']           # regexes, each matching a whole tag (a plain tag is one too)
        semver: '>=1.25 <1.27'            # a range over tags that are versions (v1.2.3, 1.2, 1)
        newest: 3                         # of the tags otherwise selected, the 3 highest versions
        platform: linux/amd64             # of an index, that platform's image alone (under the same tag)

Every error names the spec, the line and the key (`sync.yaml:7: images[1].tags[0]: ...`), and is
InvalidInput: exit 2, before any registry or AWS is asked.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ecrtool.model.errors import InvalidInput

MAX_SPEC_BYTES = 1024 * 1024
MAX_JOBS = 32
MAX_RATE = 1000.0
DEFAULT_JOBS = 4
DEFAULT_RATE = 10.0  # ECR's default quota of PutImage requests a second (per account and region)
_PATTERN_LIMIT = 1000
# OCI 1.1's referrers tag (a registry without the referrers API lists an image's signatures under it): it
# goes with its image (`referrers: true`), never as an image of its own
_REFERRERS_TAG = re.compile(r"sha256-[0-9a-f]{64}")
_PLATFORM = re.compile(r"[a-z0-9_.-]+/[a-z0-9_.-]+(/[a-z0-9_.-]+)?")
_ENTRY_KEYS = frozenset({"from", "to", "prefix", "tags", "semver", "newest", "platform", "referrers", "create"})
_DEFAULT_KEYS = _ENTRY_KEYS - {"from", "to"}
_TOP_KEYS = frozenset({"images", "defaults", "jobs", "rate"})


# -- versions and ranges -----------------------------------------------------------------------------

_VERSION = re.compile(r"v?(\d{1,9})(?:\.(\d{1,9}))?(?:\.(\d{1,9}))?(?:[-+.](.*))?", re.IGNORECASE)


@dataclass(frozen=True, order=True)
class Version:
    """A tag read as a version: its numbers, and whether it has a suffix (1.25-alpine, 2.0.0-rc1), which
    ranks it below the plain version and keeps it out of ranges."""

    core: tuple[int, int, int]
    plain: bool
    suffix: str

    @classmethod
    def of(cls, tag: str) -> Version | None:
        found = _VERSION.fullmatch(tag)
        if found is None:
            return None
        major, minor, patch, suffix = found.groups()
        core = (int(major), int(minor or 0), int(patch or 0))
        return cls(core, suffix is None, suffix or "")


def newest_first(tags: Iterable[str]) -> list[str]:
    """TAGS highest version first; tags that are no version after every version, by name."""
    versions = [(version, tag) for tag in tags if (version := Version.of(tag)) is not None]
    others = sorted(tag for tag in tags if Version.of(tag) is None)
    return [tag for _, tag in sorted(versions, reverse=True)] + others


_COMPARATOR = re.compile(r"(>=|<=|>|<|=|\^|~)?\s*v?(\d{1,9}|[x*])(?:\.(\d{1,9}|[x*]))?(?:\.(\d{1,9}|[x*]))?")


@dataclass(frozen=True)
class Range:
    """A semver range, npm's syntax: comparators (>=1.25, <1.27, =1.2.3, ^1.2, ~1.2, 1.2, 1.x) ANDed by
    spaces or commas, alternatives joined by ||. Bounds are [low, high) pairs per alternative."""

    text: str
    alternatives: tuple[tuple[tuple[tuple[int, int, int], bool, tuple[int, int, int] | None], ...], ...]

    @classmethod
    def parse(cls, text: str) -> Range:
        alternatives = []
        for part in text.split("||"):
            items = [item for item in re.split(r"[\s,]+", _join_operators(part.strip())) if item]
            if not items:
                raise ValueError(f"an empty alternative in {text!r}")
            alternatives.append(tuple(_bound(item) for item in items))
        return cls(text, tuple(alternatives))

    def __contains__(self, version: object) -> bool:
        if not isinstance(version, Version) or not version.plain:
            return False
        core = version.core
        return any(
            all(
                (core >= low if inclusive else core > low) and (high is None or core < high)
                for low, inclusive, high in alt
            )
            for alt in self.alternatives
        )


def _join_operators(text: str) -> str:
    """An operator belongs to the version after it: ">= 1.2" is ">=1.2"."""
    return re.sub(r"(>=|<=|>|<|=|\^|~)\s+", r"\1", text)


_ZERO = (0, 0, 0)


def _bound(item: str) -> tuple[tuple[int, int, int], bool, tuple[int, int, int] | None]:
    """One comparator as (low, low inclusive, high exclusive or None)."""
    found = _COMPARATOR.fullmatch(item)
    if found is None:
        raise ValueError(f"{item!r} is no comparator (>=1.25, <2, ^1.2, ~1.2.3, 1.x)")
    op, *raw = found.groups()
    numbers: list[int] = []
    for value in raw:
        if value is None or value in "x*":
            break
        numbers.append(int(value))
    given = len(numbers)
    low = tuple(numbers + [0] * (3 - given))
    low3 = (low[0], low[1], low[2])

    def bump(position: int) -> tuple[int, int, int]:
        parts = list(low3[:position]) + [0] * (3 - position)
        parts[position - 1] += 1
        return (parts[0], parts[1], parts[2])

    if given == 0:  # x, *, >=x: anything
        if op in ("<", ">"):
            raise ValueError(f"{item!r} excludes every version")
        return _ZERO, True, None
    # the first version past what a partial version (1.2) stands for: 1.3.0
    past = bump(given) if given < 3 else None
    if op in (None, "="):
        return low3, True, past if past else bump(3)
    if op == ">=":
        return low3, True, None
    if op == ">":
        return (past, True, None) if past else (low3, False, None)
    if op == "<":
        return _ZERO, True, low3
    if op == "<=":
        return _ZERO, True, past if past else bump(3)
    if op == "~":
        return low3, True, bump(min(given, 2)) if given >= 2 else bump(1)
    # ^: up to the next change of the first non-zero number given
    first = next((n for n, value in enumerate(numbers) if value != 0), given - 1)
    return low3, True, bump(first + 1)


# -- the spec ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TagRule:
    """Which of a repository's tags go: TAG alone (from's :TAG), or those matching PATTERNS (any of them),
    within RANGE, then the NEWEST of them."""

    tag: str | None = None
    patterns: tuple[str, ...] = ()
    range: Range | None = None
    newest: int | None = None

    def select(self, tags: Sequence[str]) -> list[str]:
        """The tags of TAGS this rule selects, highest version first."""
        if self.tag is not None:
            return [self.tag] if self.tag in tags else []
        compiled = [re.compile(pattern) for pattern in self.patterns]
        chosen = [
            tag
            for tag in dict.fromkeys(tags)
            if not _REFERRERS_TAG.fullmatch(tag)
            and (not compiled or any(pattern.fullmatch(tag) for pattern in compiled))
            and (self.range is None or Version.of(tag) in self.range)
        ]
        ordered = newest_first(chosen)
        return ordered[: self.newest] if self.newest is not None else ordered


@dataclass(frozen=True)
class SyncEntry:
    """One `images` entry: its source repository (as written, tag removed), its destination repository
    (`to`, else PREFIX + the source's path), which tags, and how."""

    index: int
    line: int
    source: str
    destination: str | None
    prefix: str
    rule: TagRule
    platform: str | None = None
    referrers: bool = False
    create: bool = True

    def where(self, spec: str, key: str) -> str:
        """How an error names KEY of this entry: SPEC's file, the entry's line, the key's path."""
        return f"{spec}:{self.line}: images[{self.index}].{key}"


@dataclass(frozen=True)
class SyncSpec:
    name: str
    entries: tuple[SyncEntry, ...]
    jobs: int = DEFAULT_JOBS
    rate: float = DEFAULT_RATE


class _Lines(dict[Any, Any]):
    """A YAML mapping that remembers the line of each key (1-based)."""

    lines: dict[Any, int]


class _SeqLines(list[Any]):
    lines: list[int]


def _yaml(text: str) -> Any:
    import yaml

    class Loader(yaml.SafeLoader):
        pass

    def mapping(loader: yaml.SafeLoader, node: yaml.MappingNode) -> _Lines:
        found = _Lines()
        found.lines = {}
        loader.flatten_mapping(node)
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            if not isinstance(key, str):
                raise _Bad(key_node.start_mark.line + 1, "", f"a key must be a word, not {key!r}")
            if key in found:
                raise _Bad(key_node.start_mark.line + 1, key, "given twice")
            found[key] = loader.construct_object(value_node, deep=True)
            found.lines[key] = key_node.start_mark.line + 1
        return found

    def sequence(loader: yaml.SafeLoader, node: yaml.SequenceNode) -> _SeqLines:
        found = _SeqLines(loader.construct_object(item, deep=True) for item in node.value)
        found.lines = [item.start_mark.line + 1 for item in node.value]
        return found

    Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, mapping)
    Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, sequence)
    try:
        return yaml.load(text, Loader=Loader)  # noqa: S506 - a SafeLoader: plain data only
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        line = mark.line + 1 if mark is not None else 0
        raise _Bad(line, "", f"not YAML: {err.problem or err.context or 'unreadable'}") from None
    except yaml.YAMLError as err:
        raise _Bad(0, "", f"not YAML: {err}") from None


class _Bad(Exception):
    def __init__(self, line: int, key: str, problem: str) -> None:
        super().__init__(problem)
        self.line, self.key, self.problem = line, key, problem


def parse_spec(text: str | bytes, name: str) -> SyncSpec:
    """The spec in TEXT (YAML, or TOML when NAME ends in .toml), checked whole; InvalidInput naming NAME,
    the line and the key of the first thing wrong."""
    try:
        return _parse(text, name)
    except _Bad as bad:
        where = f"{name}:{bad.line}" if bad.line else name
        key = f" {bad.key}:" if bad.key else ""
        problem = " ".join(bad.problem.split())  # one line, whatever a parser's message holds
        raise InvalidInput(f"sync spec {where}:{key} {problem}") from None
    except RecursionError:
        raise InvalidInput(f"sync spec {name}: nested too deeply to be a spec") from None


def _parse(text: str | bytes, name: str) -> SyncSpec:
    if len(text) > MAX_SPEC_BYTES:
        raise _Bad(0, "", f"over {MAX_SPEC_BYTES // 1024} KiB: not a spec")
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError:
            raise _Bad(0, "", "not UTF-8 text") from None
    if "\x00" in text:
        raise _Bad(0, "", "holds a NUL byte: not text")
    if name.lower().endswith(".toml"):
        if sys.version_info >= (3, 11):
            import tomllib
        else:  # pragma: no cover - Python 3.10: the same parser, as tomli
            import tomli as tomllib

        try:
            doc: Any = tomllib.loads(text)
        except tomllib.TOMLDecodeError as err:
            raise _Bad(0, "", f"not TOML: {err}") from None
    else:
        doc = _yaml(text)
    if not isinstance(doc, Mapping):
        raise _Bad(1, "", "a spec is a mapping with an `images` list: see `ecrtool sync --help`")
    _no_strangers(doc, _TOP_KEYS, "")
    defaults = doc.get("defaults", {})
    if not isinstance(defaults, Mapping):
        raise _Bad(_line(doc, "defaults"), "defaults", "a mapping of keys every entry takes")
    _no_strangers(defaults, _DEFAULT_KEYS, "defaults.", "`from` and `to` belong to each entry")
    images = doc.get("images")
    if not isinstance(images, list) or not images:
        raise _Bad(_line(doc, "images"), "images", "a list of entries, each with `from`, is required")
    entries = tuple(_entry(n, item, _item_line(images, n, doc), defaults) for n, item in enumerate(images))
    jobs = _integer(doc, "jobs", "jobs", DEFAULT_JOBS, 1, MAX_JOBS)
    rate = doc.get("rate", DEFAULT_RATE)
    if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0 < rate <= MAX_RATE:
        raise _Bad(_line(doc, "rate"), "rate", f"manifests put a second: a number above 0, at most {MAX_RATE:g}")
    return SyncSpec(name, entries, jobs, float(rate))


def _line(doc: Any, key: Any, fallback: int = 0) -> int:
    lines = getattr(doc, "lines", None)
    if isinstance(lines, dict):
        return int(lines.get(key, fallback))
    return fallback


def _item_line(items: Any, n: int, parent: Any) -> int:
    lines = getattr(items, "lines", None)
    return int(lines[n]) if isinstance(lines, list) and n < len(lines) else _line(parent, "images")


def _no_strangers(doc: Mapping[Any, Any], known: frozenset[str], path: str, hint: str = "") -> None:
    for key in doc:
        if key not in known:
            extra = f" ({hint})" if hint and key in ("from", "to") else ""
            raise _Bad(_line(doc, key), f"{path}{key}", f"unknown key{extra}: the keys are {', '.join(sorted(known))}")


def _integer(doc: Mapping[str, Any], key: str, path: str, default: int | None, low: int, high: int) -> Any:
    value = doc.get(key, default)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise _Bad(_line(doc, key), path, f"a whole number from {low} to {high}, not {value!r}")
    return value


def _text(doc: Mapping[str, Any], key: str, path: str, limit: int = 512) -> str | None:
    value = doc.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip() or len(value) > limit or not value.isprintable():
        raise _Bad(_line(doc, key), path, f"a non-empty line of text (at most {limit} characters)")
    return value.strip()


def _flag(doc: Mapping[str, Any], defaults: Mapping[str, Any], key: str, path: str, default: bool) -> bool:
    owner = doc if key in doc else defaults
    value = owner.get(key, default)
    if not isinstance(value, bool):
        raise _Bad(_line(owner, key), path, f"true or false, not {value!r}")
    return value


def _entry(n: int, item: Any, line: int, defaults: Mapping[str, Any]) -> SyncEntry:
    at = f"images[{n}]"
    if not isinstance(item, Mapping):
        raise _Bad(line, at, "an entry is a mapping with `from` (and `to`, `tags`...)")
    _no_strangers(item, _ENTRY_KEYS, f"{at}.")
    merged: dict[str, Any] = {key: defaults[key] for key in defaults}
    merged.update(item)

    def owner(key: str) -> Mapping[str, Any]:
        return item if key in item else defaults

    def path(key: str) -> str:
        return f"{at}.{key}" if key in item else f"defaults.{key}"

    source = _text(item, "from", f"{at}.from")
    if source is None:
        raise _Bad(line, f"{at}.from", "required: the repository to copy from (docker.io/library/nginx)")
    source_tag = _tag_of(source, line, f"{at}.from")
    destination = _text(item, "to", f"{at}.to")
    prefix = _text(owner("prefix"), "prefix", path("prefix"), 200) or ""
    patterns = _patterns(owner("tags"), path("tags"))
    semver = _text(owner("semver"), "semver", path("semver"), 200)
    newest = _integer(owner("newest"), "newest", path("newest"), None, 1, 10_000)
    platform = _text(owner("platform"), "platform", path("platform"), 100)
    if platform is not None and not _PLATFORM.fullmatch(platform):
        raise _Bad(_line(owner("platform"), "platform"), path("platform"), "os/architecture[/variant], as linux/arm64")
    selecting = [key for key in ("tags", "semver", "newest") if merged.get(key) is not None]
    if source_tag is not None:
        if selecting and any(key in item for key in selecting):
            raise _Bad(line, f"{at}.from", f"names the tag {source_tag!r} and `{selecting[0]}` selects tags: give one")
        rule = TagRule(tag=source_tag)
        source = source[: -len(source_tag) - 1]
    else:
        if not selecting:
            raise _Bad(line, at, "say which tags: `tags` (regexes; ['.*'] for all), `semver` or `newest`")
        try:
            rule = TagRule(patterns=patterns, range=Range.parse(semver) if semver else None, newest=newest)
        except ValueError as err:
            raise _Bad(_line(owner("semver"), "semver"), path("semver"), f"not a semver range: {err}") from None
    return SyncEntry(
        index=n,
        line=line,
        source=source,
        destination=destination,
        prefix=prefix,
        rule=rule,
        platform=platform,
        referrers=_flag(item, defaults, "referrers", path("referrers"), False),
        create=_flag(item, defaults, "create", path("create"), True),
    )


def _tag_of(source: str, line: int, path: str) -> str | None:
    """The tag a `from` names (registry:5000/app:1 -> 1), if any; a digest is not a sync's."""
    if "@" in source:
        raise _Bad(line, path, f"{source!r} names a digest: a sync selects tags (copy takes digests)")
    last = source.rsplit("/", 1)[-1]
    return last.rsplit(":", 1)[1] if ":" in last else None


def _patterns(doc: Mapping[str, Any], path: str) -> tuple[str, ...]:
    value = doc.get("tags")
    if value is None:
        return ()
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not value:
        raise _Bad(_line(doc, "tags"), path, "a list of regexes, each matching whole tags")
    found = []
    for n, pattern in enumerate(value):
        line = _item_line(value, n, doc) or _line(doc, "tags")
        if not isinstance(pattern, (str, int, float)) or isinstance(pattern, bool):
            raise _Bad(line, f"{path}[{n}]", f"a regex as text, not {pattern!r}")
        text = str(pattern)
        if not text or len(text) > _PATTERN_LIMIT or not text.isprintable():
            raise _Bad(line, f"{path}[{n}]", f"a regex of 1 to {_PATTERN_LIMIT} printable characters")
        try:
            re.compile(text)
        except (re.error, RecursionError, OverflowError) as err:
            raise _Bad(line, f"{path}[{n}]", f"not a regex: {err}") from None
        found.append(text)
    return tuple(found)


# -- the plan and its report -------------------------------------------------------------------------


@dataclass(frozen=True)
class SyncItem:
    """One image of a sync: SOURCE (registry/repository:tag) to DESTINATION (ECR registry/repository:tag),
    the source's DIGEST, what was planned (copy: send what the destination lacks; skip: it holds that digest
    under that tag already; fail: the source could not be read) and what became of it (STATUS: planned,
    copied, skipped, failed, with ERROR)."""

    source: str
    destination: str
    digest: str | None
    action: str
    status: str
    error: str | None = None
    blobs_copied: int = 0
    blobs_mounted: int = 0
    blobs_skipped: int = 0
    bytes_copied: int = 0
    manifests_written: int = 0
    referrers: bool = False  # the spec asks for the image's referrers too


@dataclass(frozen=True)
class SyncResult:
    """What `ecrtool sync` did (or, with DRY_RUN, would do): every image, and the repositories created."""

    spec: str
    dry_run: bool
    items: list[SyncItem]
    created_repositories: list[str] = field(default_factory=list)

    @property
    def failed(self) -> list[SyncItem]:
        return [item for item in self.items if item.status == "failed"]

    def count(self, status: str) -> int:
        return sum(1 for item in self.items if item.status == status)
