"""How results read on stdout, as text and as JSON, without click or rich.

The renderer (cli/render.py) writes every result through these; the cached login (launch.py), which
runs without click, prints its result with the same functions, so both print the same bytes.
"""

from __future__ import annotations

import json
from datetime import datetime

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (see ecrtool.model.value)
if TYPE_CHECKING:
    from typing import Any

    from ecrtool.model.results import LoginResult


def to_jsonable(value: Any) -> Any:
    import dataclasses  # here: the cached login prints text without it (it loads inspect, ast, dis…)

    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(item) for item in value]
    if isinstance(value, dict):
        return {key: to_jsonable(item) for key, item in value.items()}
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def json_text(value: Any) -> str:
    """One result as the JSON document `-o json` prints (without the final newline)."""
    return json.dumps(to_jsonable(value), indent=2, sort_keys=False)


def when(moment: datetime | None) -> str:
    """A moment in the reader's local time: the same whether it came from AWS or from the token cache."""
    return moment.astimezone().strftime("%Y-%m-%d %H:%M:%S %Z").strip() if moment else "-"


def login_text(result: LoginResult, *, json: bool, quiet: bool) -> str | None:
    """What `ecrtool login` prints for RESULT (without the final newline); None for nothing, as with --quiet."""
    if json:
        return json_text(result)
    if quiet:
        return None
    return login_line(result.registry, result.stored_in, result.expires_at)


def login_line(registry: str, stored_in: str, expires_at: datetime | None) -> str:
    """The line `ecrtool login` prints in text."""
    expires = f", valid until {when(expires_at)}" if expires_at else ""
    return f"Login Succeeded: {registry} (credentials stored in {stored_in}{expires})"
