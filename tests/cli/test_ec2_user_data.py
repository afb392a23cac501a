"""`ecrtool ec2 user-data` from the command line: the install it names, --file, and what it refuses."""

from __future__ import annotations

import json
import os
import shlex
import stat
from pathlib import Path
from typing import Any

import pytest

COMMIT = "0123456789abcdef0123456789abcdef01234567"
WHEEL = "https://files.example.com/ecrtool-1.0-py3-none-any.whl#sha256=" + "a" * 64
BASE = ["ec2", "user-data", "--image", "trees:v1", "--region", "ca-west-1"]


class Installed:
    def __init__(self, record: dict[str, Any]) -> None:
        self.record = record

    def read_text(self, filename: str) -> str | None:
        return json.dumps(self.record) if filename == "direct_url.json" else None


def test_an_editable_checkout_has_to_name_its_install(invoke: Any, forbid_backends: Any) -> None:
    result = invoke(*BASE)
    assert result.exit_code == 2
    assert result.stdout == ""
    [line] = result.stderr.splitlines()
    assert line.startswith("ecrtool: error: this ecrtool is an editable checkout")
    assert "--install" in line and "#sha256=" in line and "--index-url" in line
    assert forbid_backends == []


def test_an_install_with_a_vcs_record_names_that_url_and_commit(invoke: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    record = {"url": "https://github.com/example/ecrtool.git", "vcs_info": {"vcs": "git", "commit_id": COMMIT}}
    monkeypatch.setattr("importlib.metadata.distribution", lambda name: Installed(record))
    result = invoke(*BASE)
    assert result.exit_code == 0, result.stderr
    pip = next(line for line in result.stdout.splitlines() if line.startswith("/opt/ecrtool/bin/pip install"))
    assert shlex.split(pip)[-1] == f"git+https://github.com/example/ecrtool.git@{COMMIT}"


def test_an_install_with_an_archive_record_names_its_hash(invoke: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    url = "https://files.example.com/ecrtool-1.0-py3-none-any.whl"
    record = {"url": url, "archive_info": {"hashes": {"sha256": "b" * 64}}}
    monkeypatch.setattr("importlib.metadata.distribution", lambda name: Installed(record))
    result = invoke(*BASE, "--index-url", "https://mirror.example.com/simple")
    assert result.exit_code == 0, result.stderr
    pip = next(line for line in result.stdout.splitlines() if line.startswith("/opt/ecrtool/bin/pip install"))
    assert shlex.split(pip)[-3:] == ["--index-url", "https://mirror.example.com/simple", f"{url}#sha256={'b' * 64}"]


def test_a_wrong_value_is_named_before_the_missing_install(invoke: Any) -> None:
    result = invoke(*BASE, "-p", "80")
    assert result.exit_code == 2
    assert result.stderr.startswith("ecrtool: error: -p: invalid port mapping")


@pytest.mark.parametrize(
    ("args", "flag"),
    [
        (["--launch-template", "lt-1\ntouch /tmp/pwned #"], "--launch-template"),
        (["--service", "--env-file", "/x\nUNIT\ntouch /tmp/pwned\n"], "--env-file"),
        (["--instance-profile", "role\n#"], "--instance-profile"),
        (["-e", "A=1\n2"], "-e"),
        (["--install", "ecrtool==1.0"], "--install"),
        (["--install", WHEEL, "--index-url", "https://u:secret@i.example/simple"], "--index-url"),
        (["--service", "--", "sh", "-c", "echo\nid"], "the COMMAND after --"),
    ],
)
def test_refused_with_one_line_naming_the_flag(
    args: list[str], flag: str, invoke: Any, tmp_path: Path, forbid_backends: Any
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    result = invoke(*BASE, "--install", WHEEL, *args, "--file", str(out / "user-data.sh"))
    assert result.exit_code == 2
    [line] = result.stderr.splitlines()
    assert line.startswith(f"ecrtool: error: {flag}")
    assert result.stdout == ""
    assert list(out.iterdir()) == []  # nothing written
    assert forbid_backends == []


def test_file_is_written_for_its_owner_alone(invoke: Any, tmp_path: Path) -> None:
    (tmp_path / "out").mkdir()
    target = tmp_path / "out" / "user-data.sh"
    old_umask = os.umask(0)
    try:
        result = invoke(*BASE, "--install", WHEEL, "-e", "TOKEN=s3cret", "--file", str(target), "--launch-command")
    finally:
        os.umask(old_umask)
    assert result.exit_code == 0, result.stderr
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert target.read_text().startswith("#!/bin/bash\n")
    assert result.stdout.startswith(f"aws ec2 run-instances --region ca-west-1 --user-data file://{target} ")
    assert list(target.parent.iterdir()) == [target]  # no temporary file left beside it


def test_an_existing_file_is_replaced_and_made_private(invoke: Any, tmp_path: Path) -> None:
    target = tmp_path / "user-data.sh"
    target.write_text("old")
    target.chmod(0o644)
    result = invoke(*BASE, "--install", WHEEL, "--file", str(target))
    assert result.exit_code == 0, result.stderr
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert target.read_text().startswith("#!/bin/bash\n")


def test_a_file_in_no_folder_is_refused(invoke: Any, tmp_path: Path) -> None:
    result = invoke(*BASE, "--install", WHEEL, "--file", str(tmp_path / "missing" / "u.sh"))
    assert result.exit_code == 2
    assert result.stderr.startswith(f"ecrtool: error: --file {tmp_path / 'missing' / 'u.sh'}: cannot write it")


def test_the_launch_command_goes_to_stderr_without_a_file(invoke: Any) -> None:
    result = invoke(*BASE, "--install", WHEEL, "--launch-command", "--launch-template", "lt-0abc")
    assert result.exit_code == 0
    assert result.stdout.startswith("#!/bin/bash\n")
    assert "run-instances" not in result.stdout
    assert result.stderr == (
        "aws ec2 run-instances --region ca-west-1 --user-data file://user-data.sh "
        "--launch-template LaunchTemplateId=lt-0abc\n"
    )


def test_without_a_region_the_instance_uses_its_own(invoke: Any) -> None:
    result = invoke("ec2", "user-data", "--image", "trees:v1", "--install", WHEEL)
    assert result.exit_code == 0, result.stderr
    assert "/opt/ecrtool/bin/ecrtool login\n" in result.stdout


def test_help_says_where_secrets_belong(invoke: Any) -> None:
    text = " ".join(invoke("ec2", "user-data", "--help").stdout.split())
    assert "http://169.254.169.254/latest/user-data" in text
    assert "SSM Parameter Store or Secrets Manager" in text
    assert "--index-url" in text and "#sha256=" in text
