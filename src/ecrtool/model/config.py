"""The config file, ~/.config/ecrtool/config.toml (XDG_CONFIG_HOME honoured), read as TOML.

A malformed file is an error that names the file and the line; a missing file is an empty config.
Its top-level keys are settings (`region = "ca-west-1"`, see SETTINGS); tables belong to the
features that read them: `[registries."HOST"]` and `[accounts."ID"]` name the AWS profile a command
speaks to that registry or account as (choose_profile).
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

from ecrtool.model.errors import InvalidInput
from ecrtool.model.value import Value

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (see ecrtool.model.value)
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any


def config_path(environ: dict[str, str] | None = None) -> Path:
    env = os.environ if environ is None else environ
    if env.get("ECRTOOL_CONFIG"):
        return Path(env["ECRTOOL_CONFIG"])
    base = env.get("XDG_CONFIG_HOME") or str(Path(env.get("HOME") or Path.home()) / ".config")
    return Path(base) / "ecrtool" / "config.toml"


def load_config(path: Path | None = None) -> dict[str, Any]:
    target = path or config_path()
    try:
        text = target.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError) as err:
        raise InvalidInput(f"cannot read the config file {target}: {err}") from err
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10
        import tomli as tomllib
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise InvalidInput(f"the config file {target} is not valid TOML: {err}; fix or remove it") from err


# The settings the file may hold at its top level, with the TOML type each takes.
SETTINGS: dict[str, type] = {"region": str, "registry_id": str, "docker_host": str, "runner": str, "sudo": bool}


class FileSetting(Value):
    """One setting read from the config file, with where it was, for messages and `ecrtool config show`."""

    __slots__ = ("value", "path", "line")
    value: Any
    path: Path
    line: int

    def __init__(self, value: Any, path: Path, line: int) -> None:
        self.value = value
        self.path = path
        self.line = line

    @property
    def where(self) -> str:
        return f"{self.path}, line {self.line}"


def _line_of(text: str, key: str) -> int:
    """The line a top-level KEY is set on (tomllib does not say); 1 when it cannot be found."""
    pattern = re.compile(rf"^\s*(?:{re.escape(key)}|\"{re.escape(key)}\"|'{re.escape(key)}')\s*=")
    for number, line in enumerate(text.splitlines(), start=1):
        if line.lstrip().startswith("["):
            break  # past the top level: the rest belongs to tables
        if pattern.match(line):
            return number
    return 1


def read_settings(path: Path | None = None) -> dict[str, FileSetting]:
    """The settings in the config file, type-checked; an unknown top-level setting is an error (a typo)."""
    target = path or config_path()
    data = load_config(target)
    if not data:
        return {}
    text = target.read_text(encoding="utf-8")
    found: dict[str, FileSetting] = {}
    for key, value in data.items():
        if isinstance(value, dict):
            continue
        line = _line_of(text, key)
        if key not in SETTINGS:
            raise InvalidInput(
                f"the config file {target}, line {line}: unknown setting {key!r}; the settings are "
                f"{', '.join(SETTINGS)}: fix or remove it"
            )
        wanted = SETTINGS[key]
        if not isinstance(value, wanted) or (isinstance(value, str) and not value.strip()):
            kind = "true or false" if wanted is bool else "a quoted, non-empty string"
            raise InvalidInput(f"the config file {target}, line {line}: {key} must be {kind}: fix or remove it")
        found[key] = FileSetting(value=value, path=target, line=line)
    return found


class ProfileChoice(Value):
    """The AWS profile a command speaks to a registry as, and why: None is botocore's own choice
    (AWS_PROFILE, the environment's keys, the default profile, an instance role)."""

    __slots__ = ("profile", "reason")
    profile: str | None
    reason: str

    def __init__(self, profile: str | None, reason: str) -> None:
        self.profile = profile
        self.reason = reason


EXPLICIT = "--profile (it beats the config file)"
AMBIENT = "no entry in the config file: AWS_PROFILE, the environment's keys or the default profile"


class ProfileEntry(Value):
    """One `[registries."HOST"]` or `[accounts."ID"]` entry of the config file, and the line it starts on."""

    __slots__ = ("table", "key", "account", "region", "profile", "line")
    table: str  # "registries" or "accounts"
    key: str  # the host or the account id, as written (hosts lower-cased)
    account: str | None  # the account the entry covers (a registries entry's when its host is ECR's)
    region: str | None  # the region a registries entry covers; None for an accounts entry
    profile: str
    line: int

    def __init__(self, table: str, key: str, account: str | None, region: str | None, profile: str, line: int) -> None:
        self.table = table
        self.key = key
        self.account = account
        self.region = region
        self.profile = profile
        self.line = line

    @property
    def name(self) -> str:
        return f'[{self.table}."{self.key}"]'


def profile_entries(config: Mapping[str, Any], path: Path | None = None) -> list[ProfileEntry]:
    """The config file's registry and account entries that name a profile, checked: an account is 12
    digits, a profile a non-empty string; anything else is an error naming the file and the line."""
    from ecrtool.model.refs import parse_ecr_host

    target = path or config_path()
    text: str | None = None
    entries: list[ProfileEntry] = []
    for table in ("registries", "accounts"):
        found = config.get(table)
        if found is None:
            continue
        if not isinstance(found, dict):
            what = "registry hosts" if table == "registries" else "account ids"
            raise InvalidInput(f"the config file {target}: [{table}] must be a table of {what}: fix it")
        for key, entry in found.items():
            if text is None:
                text = _read_text(target)
            line = _table_line(text, table, str(key))
            where = f'the config file {target}, line {line}: [{table}."{key}"]'
            if not isinstance(entry, dict):
                raise InvalidInput(f'{where} must be a table, such as profile = "NAME": fix it')
            profile = entry.get("profile")
            if profile is None:
                continue
            if not isinstance(profile, str) or not profile.strip():
                raise InvalidInput(f"{where} profile must be a profile name from ~/.aws/config: fix it")
            host = str(key).lower()
            if table == "accounts":
                if not re.fullmatch(r"\d{12}", str(key)):
                    raise InvalidInput(f"{where}: an account id is 12 digits: fix it")
                entries.append(ProfileEntry(table, str(key), str(key), None, profile, line))
            else:
                ecr = parse_ecr_host(host)
                account, region = (ecr.account, ecr.region) if ecr else (None, None)
                entries.append(ProfileEntry(table, host, account, region, profile, line))
    return entries


def choose_profile(
    explicit: str | None,
    account: str | None,
    region: str | None,
    config: Mapping[str, Any],
    host: str | None = None,
) -> ProfileChoice:
    """The one rule for the identity a command speaks to a registry as.

    An explicit --profile wins; else the config file's `[registries."HOST"]` entry for the registry
    (its host, or an ECR host naming the same account and region), else its `[accounts."ID"]` entry for
    the account; else botocore's own choice (AWS_PROFILE, the environment's keys, the default profile).
    """
    if explicit:
        return ProfileChoice(explicit, EXPLICIT)
    if account is None and host is None:
        return ProfileChoice(None, AMBIENT)
    from ecrtool.model.refs import registry_host

    wanted = (host or (registry_host(account, region) if account and region else "")).lower()
    entries = profile_entries(config)
    path = config_path()
    for entry in entries:
        if entry.table == "registries" and (
            entry.key == wanted or (account and entry.account == account and entry.region == region)
        ):
            return ProfileChoice(entry.profile, f"{entry.name} in {path}, line {entry.line}")
    for entry in entries:
        if entry.table == "accounts" and entry.account == account:
            return ProfileChoice(entry.profile, f"{entry.name} in {path}, line {entry.line}")
    return ProfileChoice(None, AMBIENT)


def profile_routes(config: Mapping[str, Any], explicit: str | None) -> list[tuple[str, str, str, str]]:
    """`config show`'s rows for the profile entries: (entry, profile used, why, what it covers)."""
    path = config_path()
    entries = profile_entries(config)
    rows: list[tuple[str, str, str, str]] = []
    for entry in sorted(entries, key=lambda found: found.line):  # in the file's order
        if entry.table == "accounts":
            own = [e.name for e in entries if e.table == "registries" and e.account == entry.account]
            covers = f"account {entry.account}'s registries in every region"
            if own:
                covers += f", but {', '.join(own)}"
        elif entry.account:
            covers = f"account {entry.account}'s registry in {entry.region}"
        else:
            covers = "the registry of that host (ECRTOOL_REGISTRY's, when it names it)"
        where = f"{path}, line {entry.line}"
        if explicit:
            rows.append((entry.name, explicit, f"--profile beats {where} (profile {entry.profile})", covers))
        else:
            rows.append((entry.name, entry.profile, where, covers))
    return rows


def registry_profile(host: str, config: Mapping[str, Any]) -> str | None:
    """The AWS profile the config file names for the registry at HOST ([registries] or [accounts]), if any."""
    from ecrtool.model.refs import parse_ecr_host

    ecr = parse_ecr_host(host)
    account, region = (ecr.account, ecr.region) if ecr else (None, None)
    return choose_profile(None, account, region, config, host=host).profile


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return ""


def _table_line(text: str, table: str, key: str) -> int:
    """The line the table [TABLE."KEY"] (or TABLE.KEY) starts on; 1 when it cannot be found."""
    pattern = re.compile(rf"^\s*\[\s*{table}\s*\.\s*(?:\"{re.escape(key)}\"|'{re.escape(key)}'|{re.escape(key)})\s*\]")
    for number, line in enumerate(text.splitlines(), start=1):
        if pattern.match(line):
            return number
    return 1
