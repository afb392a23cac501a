"""The config file, ~/.config/ecrtool/config.toml (XDG_CONFIG_HOME honoured), read as TOML.

A malformed file is an error that names the file and the line; a missing file is an empty config.
Its top-level keys are settings (`region = "ca-west-1"`, see SETTINGS); tables belong to the
features that read them (`[registries."HOST"]`).
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


def registry_profile(host: str, config: Mapping[str, Any]) -> str | None:
    """The AWS profile the config file names for HOST, if any."""
    registries = config.get("registries") or {}
    if not isinstance(registries, dict):
        raise InvalidInput(f"the config file {config_path()}: [registries] must be a table of registry hosts")
    entry = next((value for key, value in registries.items() if str(key).lower() == host), None)
    if entry is None:
        return None
    profile = entry.get("profile") if isinstance(entry, dict) else None
    if profile is not None and (not isinstance(profile, str) or not profile.strip()):
        raise InvalidInput(f'the config file {config_path()}: [registries."{host}"] profile must be a profile name')
    return profile
