"""The image config as `ecrtool inspect` reads it: created (Go's nanoseconds), entrypoint, command, labels
and platform; anything else in the blob is no error, only nothing to show."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

from ecrtool.model.inspection import ImageConfig, parse_config, parse_created


def test_a_config_gives_its_platform_created_time_entrypoint_command_and_labels() -> None:
    config = {
        "architecture": "arm64",
        "os": "linux",
        "variant": "v8",
        "created": "2024-05-06T07:08:09.123456789Z",
        "config": {"Entrypoint": ["/app"], "Cmd": ["--serve"], "Labels": {"team": "trees"}, "Env": ["SECRET=x"]},
    }
    assert parse_config(json.dumps(config).encode()) == ImageConfig(
        platform="linux/arm64/v8",
        created=datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=timezone.utc),
        entrypoint=["/app"],
        cmd=["--serve"],
        labels={"team": "trees"},
    )


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"not json",
        b"[]",
        b"{}",
        b'{"config": null, "os": "linux"}',
        b'{"config": {"Cmd": "sh -c x", "Labels": 3}}',
    ],
)
def test_a_config_without_those_facts_gives_none_of_them(data: bytes) -> None:
    assert parse_config(data) == ImageConfig()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-05-06T07:08:09Z", datetime(2024, 5, 6, 7, 8, 9, tzinfo=timezone.utc)),
        ("2024-05-06T09:08:09.5+02:00", datetime(2024, 5, 6, 7, 8, 9, 500000, tzinfo=timezone.utc)),
        ("2024-05-06T07:08:09", datetime(2024, 5, 6, 7, 8, 9, tzinfo=timezone.utc)),
        ("yesterday", None),
        (None, None),
        (1714979289, None),
    ],
)
def test_created_is_read_as_rfc3339(text: object, expected: datetime | None) -> None:
    assert parse_created(text) == expected
