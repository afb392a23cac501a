"""How moments read: in the reader's time zone, whichever zone the value came in."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

import pytest

from ecrtool.cli.formats import login_line, when


@pytest.fixture
def berlin(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("TZ", "Europe/Berlin")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def test_a_moment_reads_in_local_time_whatever_its_zone(berlin: None) -> None:
    utc = datetime(2026, 11, 27, 18, 48, 33, tzinfo=timezone.utc)
    assert when(utc) == "2026-11-27 19:48:33 CET"
    assert when(utc.astimezone(timezone(timedelta(hours=-5)))) == "2026-11-27 19:48:33 CET"


def test_the_login_line_names_the_registry_the_file_and_the_expiry(berlin: None) -> None:
    line = login_line("127.0.0.1:5000", "/h/.docker/config.json", datetime(2026, 1, 1, 12, tzinfo=timezone.utc))
    assert line == (
        "Login Succeeded: 127.0.0.1:5000 (credentials stored in /h/.docker/config.json,"
        " valid until 2026-01-01 13:00:00 CET)"
    )
    assert login_line("r", "f", None) == "Login Succeeded: r (credentials stored in f)"
