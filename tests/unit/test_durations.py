from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ecrtool.model.durations import format_duration, parse_duration
from ecrtool.model.errors import InvalidInput


@pytest.mark.parametrize(
    ("text", "span"),
    [
        ("30d", timedelta(days=30)),
        ("12h", timedelta(hours=12)),
        ("2w", timedelta(weeks=2)),
        ("90m", timedelta(minutes=90)),
        ("45s", timedelta(seconds=45)),
        ("1d12h", timedelta(days=1, hours=12)),
        (" 3D ", timedelta(days=3)),
        ("0d", timedelta(0)),
    ],
)
def test_a_duration_reads_as_people_type_it(text: str, span: timedelta) -> None:
    assert parse_duration(text) == span


@pytest.mark.parametrize("text", ["", "30", "-3d", "3 days", "1.5d", "3y", "d", "3d-", "3dd"])
def test_anything_else_names_the_option_and_shows_the_form(text: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_duration(text, "--older-than")
    assert str(caught.value).startswith(f"--older-than {text!r} is not a duration")
    assert "30d" in str(caught.value)


@given(st.integers(min_value=0, max_value=10**9))
def test_a_written_duration_reads_back_as_itself(seconds: int) -> None:
    span = timedelta(seconds=seconds)
    assert parse_duration(format_duration(span)) == span
