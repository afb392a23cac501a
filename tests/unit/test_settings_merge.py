"""Settings from flags, then ECRTOOL_* variables, then the config file, each with the place it came from."""

from __future__ import annotations

from pathlib import Path

import pytest

from ecrtool.model.errors import InvalidInput
from ecrtool.model.settings import Settings, describe


@pytest.fixture
def config_home(tmp_path: Path) -> Path:
    return tmp_path / "xdg"


def write_config(config_home: Path, text: str) -> Path:
    path = config_home / "ecrtool" / "config.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def build(config_home: Path, env: dict[str, str] | None = None, **flags: object) -> Settings:
    return Settings.build(environ={"XDG_CONFIG_HOME": str(config_home), **(env or {})}, **flags)  # type: ignore[arg-type]


def test_defaults_without_a_file(config_home: Path) -> None:
    settings = build(config_home)
    assert (settings.region, settings.registry_id, settings.docker_host, settings.runner, settings.sudo) == (
        None,
        None,
        None,
        "api",
        False,
    )
    assert set(settings.sources.values()) == {"default"}


def test_the_file_fills_in_and_says_on_which_line(config_home: Path) -> None:
    path = write_config(
        config_home,
        '# ecrtool\nregion = "ca-west-1"\nregistry_id = "123456789012"\n'
        'docker_host = "unix:///run/docker.sock"\nrunner = "cli"\nsudo = false\n\n[registries."x"]\nprofile = "p"\n',
    )
    settings = build(config_home)
    assert (settings.region, settings.registry_id, settings.docker_host, settings.runner, settings.sudo) == (
        "ca-west-1",
        "123456789012",
        "unix:///run/docker.sock",
        "cli",
        False,
    )
    assert settings.sources["region"] == f"{path}, line 2"
    assert settings.sources["sudo"] == f"{path}, line 6"


def test_variables_beat_the_file_and_flags_beat_both(config_home: Path) -> None:
    write_config(config_home, 'region = "ca-west-1"\nrunner = "cli"\n')
    env = {"ECRTOOL_REGION": "us-east-1", "ECRTOOL_SUDO": "yes"}
    settings = build(config_home, env)
    assert (settings.region, settings.sources["region"]) == ("us-east-1", "ECRTOOL_REGION")
    assert (settings.sudo, settings.sources["sudo"]) == (True, "ECRTOOL_SUDO")
    flagged = build(config_home, env, region="eu-west-1", sudo=False)
    assert (flagged.region, flagged.sources["region"]) == ("eu-west-1", "--region")
    assert (flagged.sudo, flagged.sources["sudo"]) == (False, "--no-sudo")


def test_sudo_implies_the_cli_runner(config_home: Path) -> None:
    settings = build(config_home, sudo=True)
    assert (settings.runner, settings.sources["runner"]) == ("cli", "implied by sudo (--sudo)")


def test_sudo_with_the_api_runner_named_is_refused(config_home: Path) -> None:
    write_config(config_home, 'runner = "api"\n')
    with pytest.raises(InvalidInput, match=r"sudo \(from ECRTOOL_SUDO\).*runner is api \(from .*config.toml, line 1\)"):
        build(config_home, {"ECRTOOL_SUDO": "1"})


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ('region = "ca-west-1"\nregoin = "x"\n', "line 2: unknown setting 'regoin'"),
        ('sudo = "yes"\n', "line 1: sudo must be true or false"),
        ("registry_id = 123456789012\n", "line 1: registry_id must be a quoted"),
        ('\n\nregion = "Mars"\n', r"line 3: invalid region 'Mars'"),
        ('runner = "podman"\n', "line 1: invalid runner 'podman'"),
        ('docker_host = "/var/run/docker.sock"\n', "line 1: invalid Docker host"),
        ('region = "ca-west-1\n', r"is not valid TOML: .*line 1"),
    ],
)
def test_a_bad_file_is_an_error_naming_the_file_and_line(config_home: Path, text: str, says: str) -> None:
    path = write_config(config_home, text)
    with pytest.raises(InvalidInput, match=says) as caught:
        build(config_home)
    assert str(path) in str(caught.value)


@pytest.mark.parametrize(
    ("env", "says"),
    [
        ({"ECRTOOL_REGION": "mars"}, r"invalid region 'mars'.*\(from ECRTOOL_REGION\)"),
        ({"ECRTOOL_SUDO": "maybe"}, "invalid ECRTOOL_SUDO 'maybe': use true or false"),
        ({"ECRTOOL_RUNNER": "socket"}, r"invalid runner 'socket'.*\(from ECRTOOL_RUNNER\)"),
        ({"ECRTOOL_PUBLIC_REGISTRY": "http://x/"}, "invalid ECRTOOL_PUBLIC_REGISTRY"),
    ],
)
def test_bad_variables_are_named(config_home: Path, env: dict[str, str], says: str) -> None:
    with pytest.raises(InvalidInput, match=says):
        build(config_home, env)


def test_a_malformed_file_is_an_error_even_when_flags_set_everything(config_home: Path) -> None:
    write_config(config_home, "region = \n")
    with pytest.raises(InvalidInput, match="not valid TOML"):
        build(
            config_home,
            region="ca-west-1",
            registry_id="123456789012",
            docker_host="unix:///x",
            runner="api",
            sudo=False,
        )


def test_describe_falls_back_to_aws_and_docker_variables(config_home: Path) -> None:
    env = {"XDG_CONFIG_HOME": str(config_home), "AWS_REGION": "ca-central-1", "DOCKER_HOST": "tcp://10.0.0.1:2375"}
    report = describe(Settings.build(environ=env), env, lambda: None)
    rows = {row.name: (row.value, row.source) for row in report.settings}
    assert rows["region"] == ("ca-central-1", "AWS_REGION")
    assert rows["docker_host"] == ("tcp://10.0.0.1:2375", "DOCKER_HOST")
    assert rows["runner"] == ("api", "default")
    assert report.config_file == str(config_home / "ecrtool" / "config.toml")
    assert not report.config_file_exists


def test_describe_without_any_region(config_home: Path) -> None:
    env = {"XDG_CONFIG_HOME": str(config_home)}
    rows = {row.name: row for row in describe(Settings.build(environ=env), env, lambda: None).settings}
    assert rows["region"].value is None and "--region" in rows["region"].source
    assert rows["docker_host"].value == "unix:///var/run/docker.sock"
