"""Which AWS profile a command speaks to a registry as: --profile, else the config file's entry for the
registry ([registries."HOST"]) or its account ([accounts."ID"]), else botocore's own choice; and every
command's target (ServiceBase._target) goes through that one rule."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ecrtool.model.config import AMBIENT, EXPLICIT, choose_profile, load_config, profile_routes
from ecrtool.model.errors import InvalidInput
from ecrtool.model.refs import parse_repo_ref
from ecrtool.model.settings import Settings
from ecrtool.service.base import ServiceBase

A, B = "123456789012", "210987654321"
WEST, EAST = "ca-west-1", "us-east-1"
FILE = f"""region = "{WEST}"

[registries."{B}.dkr.ecr.{EAST}.amazonaws.com"]
profile = "b-east"

[accounts."{B}"]
profile = "b"

[registries."127.0.0.1:5000"]
profile = "local"
"""


@pytest.fixture
def config_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "config.toml"
    monkeypatch.setenv("ECRTOOL_CONFIG", str(path))
    return path


@pytest.fixture
def config(config_file: Path) -> dict[str, Any]:
    config_file.write_text(FILE)
    return load_config()


def test_the_accounts_entry_covers_every_region_of_that_account(config: dict[str, Any], config_file: Path) -> None:
    choice = choose_profile(None, B, WEST, config)
    assert choice.profile == "b"
    assert choice.reason == f'[accounts."{B}"] in {config_file}, line 6'


def test_a_registry_entry_beats_its_accounts_entry_in_its_own_region(config: dict[str, Any], config_file: Path) -> None:
    choice = choose_profile(None, B, EAST, config)
    assert choice.profile == "b-east"
    assert choice.reason == f'[registries."{B}.dkr.ecr.{EAST}.amazonaws.com"] in {config_file}, line 3'


def test_an_explicit_profile_beats_the_config_file(config: dict[str, Any]) -> None:
    assert choose_profile("ops", B, EAST, config) == choose_profile("ops", B, WEST, config)
    assert choose_profile("ops", B, EAST, config).profile == "ops"
    assert choose_profile("ops", B, EAST, config).reason == EXPLICIT


def test_an_account_without_an_entry_is_botocores_choice(config: dict[str, Any]) -> None:
    assert choose_profile(None, A, WEST, config).profile is None
    assert choose_profile(None, A, WEST, config).reason == AMBIENT
    assert choose_profile(None, None, WEST, config).profile is None  # the caller's own registry


def test_a_host_that_is_not_ecrs_is_matched_by_name(config: dict[str, Any]) -> None:
    assert choose_profile(None, A, WEST, config, host="127.0.0.1:5000").profile == "local"


def test_a_fips_host_names_the_same_registry(config_file: Path) -> None:
    config_file.write_text(f'[registries."{B}.dkr.ecr-fips.{EAST}.amazonaws.com"]\nprofile = "fips"\n')
    assert choose_profile(None, B, EAST, load_config()).profile == "fips"


@pytest.mark.parametrize(
    ("text", "wanted"),
    [
        ('[accounts."12345"]\nprofile = "x"\n', 'line 1: [accounts."12345"]: an account id is 12 digits'),
        (f'\n[accounts."{B}"]\nprofile = 7\n', 'line 2: [accounts."210987654321"] profile must be a profile name'),
        ('accounts = "x"\n', "[accounts] must be a table of account ids"),
        (f'[accounts]\n"{B}" = "b"\n', "must be a table, such as profile ="),
    ],
)
def test_a_bad_entry_names_the_file_and_line(config_file: Path, text: str, wanted: str) -> None:
    config_file.write_text(text)
    with pytest.raises(InvalidInput) as raised:
        choose_profile(None, B, WEST, load_config())
    assert str(config_file) in str(raised.value)
    assert wanted in str(raised.value)


def test_config_show_rows_say_what_each_entry_covers(config: dict[str, Any], config_file: Path) -> None:
    rows = profile_routes(config, None)
    assert rows[1] == (
        f'[accounts."{B}"]',
        "b",
        f"{config_file}, line 6",
        f'account {B}\'s registries in every region, but [registries."{B}.dkr.ecr.{EAST}.amazonaws.com"]',
    )
    assert rows[0][3] == f"account {B}'s registry in {EAST}"
    explicit = profile_routes(config, "ops")
    assert [row[1] for row in explicit] == ["ops", "ops", "ops"]
    assert explicit[1][2] == f"--profile beats {config_file}, line 6 (profile b)"


class Recorded:
    """An AwsSession stand-in that says which profile it was made for."""

    def __init__(self, region: str | None = None, profile: str | None = None, profile_source: str | None = None):
        self.profile = profile
        self.source = profile_source

    def region(self, wanted: str | None = None) -> str:
        return wanted or WEST

    def lazy_client(self, service: str, region: str | None = None) -> object:
        return object()

    def signed_ecr(self, region: str | None = None) -> None:
        return None


@pytest.mark.parametrize(
    ("reference", "options", "profile"),
    [
        (f"{B}.dkr.ecr.{WEST}.amazonaws.com/app", {}, "b"),
        (f"{B}.dkr.ecr.{EAST}.amazonaws.com/app", {}, "b-east"),
        (f"{A}.dkr.ecr.{WEST}.amazonaws.com/app", {}, None),
        ("app", {}, None),
        ("app", {"registry_id": B}, "b"),  # --registry-id names the account too
        (f"{B}.dkr.ecr.{WEST}.amazonaws.com/app", {"profile": "ops"}, "ops"),
    ],
)
def test_every_target_speaks_as_the_profile_chosen_for_its_registry(
    config: dict[str, Any],
    config_file: Path,
    monkeypatch: pytest.MonkeyPatch,
    reference: str,
    options: dict[str, str],
    profile: str | None,
) -> None:
    monkeypatch.setattr("ecrtool.service.base.AwsSession", Recorded)
    service = ServiceBase(Settings.build(environ={"ECRTOOL_CONFIG": str(config_file)}, **options))
    target = service._target(parse_repo_ref(reference))
    assert target.aws is not None
    assert target.aws.profile == profile  # type: ignore[attr-defined]
    assert target.profile is not None and target.profile.profile == profile
    again = service._target(parse_repo_ref(reference))
    assert again.aws is target.aws  # one session per profile for the command


def test_a_missing_profile_names_the_config_entry_that_chose_it(
    config: dict[str, Any], config_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "aws-credentials"))
    service = ServiceBase(Settings.build(environ={"ECRTOOL_CONFIG": str(config_file)}, region=WEST))
    target = service._target(parse_repo_ref(f"{B}.dkr.ecr.{WEST}.amazonaws.com/app"))
    assert target.aws is not None
    with pytest.raises(InvalidInput) as raised:
        target.aws.identity()
    assert str(raised.value) == (
        f"AWS profile 'b' not found: check [accounts.\"{B}\"] in {config_file}, line 6 against ~/.aws/config "
        "(aws configure list-profiles)"
    )
