"""Start-up stays cheap: `ecrtool --help` and `--version` load click and the command modules, nothing more;
the console script itself loads nothing until it knows the command, and a login on a cached token not even
the standard library's slower modules."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from ecrtool.cli.ec2 import OS_NAMES
from ecrtool.cli.run import PULL_POLICIES
from ecrtool.model import token_cache
from ecrtool.model.auth import AuthToken
from ecrtool.model.containers import PULL_POLICIES as CORE_PULL_POLICIES
from ecrtool.service.userdata import RECIPES

# what a command may load, but --help must not: each costs start-up time (botocore alone ~150 ms)
HEAVY = (
    "boto3",
    "botocore",
    "docker",
    "requests",
    "rich",
    "ecrtool.service",
    "ecrtool.aws",
    "ecrtool.docker",
    "ecrtool.registry",
    "ecrtool.model.settings",
    "ecrtool.model.config",
)


@pytest.mark.parametrize("entry", ["ecrtool.cli.launch", "ecrtool.cli.main"])  # the console script's, and the CLI's own
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
    script = "import sys\nimport ecrtool.cli.launch\nprint(sorted(m for m in sys.modules if m.startswith('ecrtool')))\n"
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == "['ecrtool', 'ecrtool.cli', 'ecrtool.cli.launch']"


# the other commands, the other families of the service and the models only they use: a copy that loaded
# them would pay for some 30 modules and their dataclasses on its way to the first request
OTHERS = (
    "ecrtool.cli.push",
    "ecrtool.cli.prune",
    "ecrtool.cli.lifecycle",
    "ecrtool.cli.run",
    "ecrtool.service.prune",
    "ecrtool.service.scan",
    "ecrtool.service.repos",
    "ecrtool.service.setup",
    "ecrtool.model.retention",
    "ecrtool.model.findings",
    "ecrtool.model.listing",
)


def test_copy_loads_its_own_command_and_family_and_no_other() -> None:
    script = (
        "import sys\n"
        "sys.argv = ['ecrtool', 'copy', 'Bad Name', 'trees:1']\n"
        "from ecrtool.cli.main import main\n"
        "try:\n    main()\nexcept SystemExit as done:\n    code = done.code\n"
        f"loaded = sorted(m for m in sys.modules if m.startswith({OTHERS!r}))\n"
        "print(code, loaded, 'ecrtool.service.copy' in sys.modules, file=sys.stderr)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.stderr.startswith("ecrtool: error: invalid reference 'Bad Name'")
    assert done.stderr.strip().splitlines()[-1] == "2 [] True"


# what a cached login does without: a good part of its time went to importing these (inspect brings ast,
# dis and tokenize) and to building dataclasses
SLOW = ("dataclasses", "typing", "inspect")


def test_a_cached_login_loads_neither_dataclasses_nor_typing(tmp_path: Path) -> None:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("AWS_", "ECRTOOL_", "DOCKER_"))}
    env.update(
        HOME=str(tmp_path),
        XDG_CACHE_HOME=str(tmp_path / "cache"),
        DOCKER_CONFIG=str(tmp_path / "docker"),
        DOCKER_HOST=f"unix://{tmp_path}/docker.sock",
        ECRTOOL_CONFIG=str(tmp_path / "config.toml"),
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_REGION="ca-west-1",
    )
    identity = token_cache.environment_identity(env, None)
    assert identity is not None
    expires = datetime.now(timezone.utc) + timedelta(hours=11)
    token = AuthToken("AWS", "pass-word", expires, "https://123456789012.dkr.ecr.ca-west-1.amazonaws.com")
    key = token_cache.make_key(None, "ca-west-1", identity, environ=env)
    assert token_cache.store(key, token, directory=token_cache.cache_dir(env))
    script = (
        "import sys\n"
        "from ecrtool.docker.engine_http import Engine\n"
        "Engine.login = lambda self, auth: None  # the engine's answer is no matter here\n"
        "from ecrtool.cli.launch import cached_login\n"
        "assert cached_login(['login'])\n"
        f"print(sorted(m for m in sys.modules if m in {SLOW!r}), file=sys.stderr)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=60)
    assert done.stdout.startswith("Login Succeeded: 123456789012.dkr.ecr.ca-west-1.amazonaws.com"), done.stderr
    assert done.stderr.strip().splitlines()[-1] == "[]"
