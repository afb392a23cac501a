"""Start-up stays cheap: `ecrtool --help` and `--version` load click and the command modules, nothing more;
the console script itself loads nothing until it knows the command."""

from __future__ import annotations

import subprocess
import sys

import pytest

from ecrtool.cli.ec2 import OS_NAMES
from ecrtool.cli.run import PULL_POLICIES
from ecrtool.core.containers import PULL_POLICIES as CORE_PULL_POLICIES
from ecrtool.core.userdata import RECIPES

# what a command may load, but --help must not: each costs start-up time (botocore alone ~150 ms)
HEAVY = ("boto3", "botocore", "docker", "requests", "rich", "ecrtool.core", "ecrtool.settings", "ecrtool.config")


@pytest.mark.parametrize("entry", ["ecrtool.launch", "ecrtool.cli"])  # the console script's, and the CLI's own
@pytest.mark.parametrize(
    "argv", [["--help"], ["--version"], ["push", "--help"], ["ec2", "user-data", "--help"], ["login", "--help"]]
)
def test_help_and_version_load_nothing_heavy(argv: list[str], entry: str) -> None:
    script = (
        "import sys\n"
        f"sys.argv = ['ecrtool', *{argv!r}]\n"
        f"from {entry} import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        f"print(sorted(m for m in sys.modules if m.startswith({HEAVY!r})), file=sys.stderr)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.stderr.strip().splitlines()[-1] == "[]"


def test_choices_spelled_out_in_the_cli_match_the_core() -> None:
    assert OS_NAMES == tuple(RECIPES)
    assert PULL_POLICIES == CORE_PULL_POLICIES


def test_the_console_script_loads_nothing_before_it_knows_the_command() -> None:
    # every command but a cached login goes on to the full command line: none pays for the fast path
    script = "import sys\nimport ecrtool.launch\nprint(sorted(m for m in sys.modules if m.startswith('ecrtool')))\n"
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == "['ecrtool', 'ecrtool.launch']"
