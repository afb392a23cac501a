"""Settings gathered from global options and the environment, checked before anything runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from ecrtool.model.errors import InvalidInput
from ecrtool.model.settings import Settings


def test_defaults() -> None:
    settings = Settings.build(environ={})
    assert (settings.region, settings.output, settings.quiet, settings.registry_override) == (None, "text", False, None)


def test_registry_override_from_the_environment() -> None:
    assert Settings.build(environ={"ECRTOOL_REGISTRY": "127.0.0.1:5000"}).registry_override == "127.0.0.1:5000"
    assert Settings.build(environ={"ECRTOOL_REGISTRY": ""}).registry_override is None


@pytest.mark.parametrize("value", ["http://127.0.0.1:5000/v2", "a b", " ", "host/path"])
def test_bad_registry_override(value: str) -> None:
    with pytest.raises(InvalidInput, match="ECRTOOL_REGISTRY"):
        Settings.build(environ={"ECRTOOL_REGISTRY": value})


@pytest.mark.parametrize(("option", "value"), [("region", "mars"), ("registry_id", "12345")])
def test_bad_options(option: str, value: str) -> None:
    with pytest.raises(InvalidInput):
        Settings.build(environ={}, **{option: value})


def test_aws_region_variable_is_honoured(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from ecrtool.aws.session import AwsSession

    empty = tmp_path / "config"
    empty.write_text("")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(empty))
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    assert AwsSession().region() == "eu-west-1"
    assert AwsSession(region="ca-west-1").region() == "ca-west-1"
