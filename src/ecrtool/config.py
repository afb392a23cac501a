"""The config file, ~/.config/ecrtool/config.toml (XDG_CONFIG_HOME honoured), read as TOML.

A malformed file is an error that names the file and the line; a missing file is an empty config.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from ecrtool.errors import InvalidInput


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
