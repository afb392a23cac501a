"""Durations as people type them on a command line: `30d`, `12h`, `2w`, `90m`, `45s`, or several
together (`1d12h`), and the same spans written back in those words."""

from __future__ import annotations

import re
from datetime import timedelta

from ecrtool.model.errors import InvalidInput

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_PART = re.compile(r"(\d+)([smhdw])")
_WHOLE = re.compile(r"(?:\d+[smhdw])+")
_LONGEST = 36500 * 86400  # a century: any longer is a typo, and past datetime's range


def parse_duration(text: str, option: str = "duration") -> timedelta:
    """TEXT as a span of time; InvalidInput naming OPTION for anything else (a bare number, a negative,
    an unknown unit), since a prune that guessed a unit would delete the wrong images."""
    spoken = text.strip().lower()
    if not _WHOLE.fullmatch(spoken):
        raise InvalidInput(
            f"{option} {text!r} is not a duration: give a number and a unit, such as 30d, 12h, 2w, 90m or 45s"
        )
    seconds = sum(int(number) * _UNITS[unit] for number, unit in _PART.findall(spoken))
    if seconds > _LONGEST:
        raise InvalidInput(f"{option} {text!r} is longer than ECR has existed: give at most 36500d")
    return timedelta(seconds=seconds)


def format_duration(span: timedelta) -> str:
    """SPAN in the largest whole units: 2w, 1d12h, 90s; 0s for nothing."""
    seconds = int(span.total_seconds())
    if seconds <= 0:
        return "0s"
    parts = []
    for unit, size in sorted(_UNITS.items(), key=lambda item: -item[1]):
        count, seconds = divmod(seconds, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts)
