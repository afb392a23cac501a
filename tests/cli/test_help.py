"""Every command explains itself: --help exits 0 with an example, and stays fast by importing no SDK."""

from __future__ import annotations

import subprocess
import sys

import click
import pytest
from click.testing import CliRunner

from ecrtool.cli.main import cli

COMMANDS = sorted(cli.list_commands(click.Context(cli)))


def test_the_group_lists_every_command() -> None:
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0
    assert "Example:" in result.stdout
    for name in ("create", "login", "tag", "push", "pull", "images", "repos", "delete"):
        assert name in COMMANDS
        assert name in result.stdout


@pytest.mark.parametrize("name", COMMANDS)
def test_every_command_has_help_with_an_example(name: str) -> None:
    result = CliRunner().invoke(cli, [name, "--help"])
    assert result.exit_code == 0, result.output
    assert "Example" in result.stdout
    assert f"ecrtool {name}" in result.stdout
    assert result.stdout.count("\n") > 5


@pytest.mark.parametrize("name", COMMANDS)
def test_short_help_flag_works_too(name: str) -> None:
    result = CliRunner().invoke(cli, [name, "-h"])
    assert result.exit_code == 0
    assert "Usage:" in result.stdout


def test_version() -> None:
    result = CliRunner().invoke(cli, ["--version"])
    assert result.exit_code == 0
    assert result.stdout.startswith("ecrtool, version ")


def test_help_imports_neither_boto3_nor_docker() -> None:
    code = (
        "import sys\n"
        "from click.testing import CliRunner\n"
        "from ecrtool.cli.main import cli\n"
        "for args in (['--help'], ['push', '--help'], ['login', '--help']):\n"
        "    assert CliRunner().invoke(cli, args).exit_code == 0\n"
        "print(sorted(m for m in ('boto3', 'botocore', 'docker', 'rich') if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_a_misspelt_command_is_refused_with_the_name_it_resembles() -> None:
    result = CliRunner().invoke(cli, ["cpy", "trees:1"])
    assert result.exit_code == 2
    suggestion = "ecrtool: error: No such command 'cpy'. Did you mean 'copy'? (see 'ecrtool --help')"
    assert result.stderr.splitlines() == [suggestion]
