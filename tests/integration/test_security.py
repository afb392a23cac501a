"""Secrets stay secret and names stay names: the registry password never shows in any process's argv,
in output, in --debug logs or in error text; what ecrtool writes is 0600; no image reference can pass
an option or shell text to anything.

They run on a private local ECR (`private_stack`), whose password is known only to these tests.
"""

from __future__ import annotations

import base64
import os
import shutil
import stat
import subprocess
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.integration

Run = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def ecr(penv: dict[str, str]) -> Run:
    exe = shutil.which("ecrtool", path=penv["PATH"])
    assert exe, "ecrtool is not installed in this environment (make install)"

    def run(
        *args: str, cwd: Path | None = None, extra: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        env = {**penv, **(extra or {})}
        return subprocess.run([exe, *args], capture_output=True, text=True, timeout=120, env=env, cwd=cwd)

    return run


@pytest.fixture
def control(private_stack: Any) -> Iterator[Callable[..., dict[str, object]]]:
    private_stack.control("faults", {})
    yield private_stack.control
    private_stack.control("faults", {})


@pytest.fixture(scope="module")
def small(private_stack: Any) -> str:
    return private_stack.image("viruses")


def secret_forms(secret: str) -> list[str]:
    """The password as it could leak: plain, in a Basic/ECR token, or inside any base64 (X-Registry-Auth)."""
    forms = {secret}
    for text in (f"AWS:{secret}", secret):
        forms.add(base64.b64encode(text.encode()).decode().rstrip("="))
        forms.add(base64.urlsafe_b64encode(text.encode()).decode().rstrip("="))
    for shift in range(3):  # base64 of a longer text holds the secret at one of three alignments
        encoded = base64.b64encode(b"\0" * shift + secret.encode()).decode()
        inner = encoded[4:-4]
        forms.update({inner, inner.replace("+", "-").replace("/", "_")})
    return sorted(forms)


def assert_secret_absent(secret: str, *texts: str) -> None:
    for text in texts:
        for form in secret_forms(secret):
            assert form not in text, f"the password (as {form[:6]}...) leaked into: {text[:300]}"


class ArgvWatch:
    """Reads every process's /proc/PID/cmdline over and over, keeping each one that holds a needle.

    With ours_only, only the processes this test started (its descendants) are looked at, so that
    whatever else runs on the machine cannot match.
    """

    def __init__(self, needles: list[str], ours_only: bool = False) -> None:
        self.needles = [needle.encode() for needle in needles]
        self.found: list[list[str]] = []
        self.scans = 0
        self._ours_only = ours_only
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def _watch(self) -> None:
        own = str(os.getpid())
        while not self._stop.is_set():
            for pid in os.listdir("/proc"):
                if not pid.isdigit() or pid == own:
                    continue
                try:
                    with open(f"/proc/{pid}/cmdline", "rb") as handle:
                        raw = handle.read()
                except OSError:
                    continue
                # ancestry only for a match: walking every process's parents made one scan outlast a
                # short-lived `docker login`, which the watch then missed
                if any(needle in raw for needle in self.needles) and (not self._ours_only or _descends_from(pid, own)):
                    self.found.append(raw.decode(errors="replace").split("\0"))
            self.scans += 1

    @contextmanager
    def running(self) -> Iterator[ArgvWatch]:
        self._thread.start()
        try:
            yield self
        finally:
            self._stop.set()
            self._thread.join()


def _descends_from(pid: str, ancestor: str) -> bool:
    while pid not in ("0", "1"):
        try:
            with open(f"/proc/{pid}/stat") as handle:
                pid = handle.read().rpartition(")")[2].split()[1]  # the parent: after "PID (COMM) STATE"
        except (OSError, IndexError):
            return False
        if pid == ancestor:
            return True
    return False


def _not_ecrtool(argv: list[str]) -> bool:
    return not any(part.endswith("/ecrtool") for part in argv[:2])


# -- argv ------------------------------------------------------------------------------------------


def test_the_password_is_in_no_process_argv_while_logging_in_and_pushing(
    private_stack: Any, ecr: Run, small: str
) -> None:
    password = private_stack.password()
    with ArgvWatch(secret_forms(password)).running() as watch:
        for args in (["login", "--no-cache"], ["login"], ["push", small, "--repo", "argv", "--create"]):
            done = ecr(*args)
            assert done.returncode == 0, done.stderr
    assert watch.scans > 20  # it was looking all along
    assert watch.found == []


@pytest.mark.parametrize("runner", [["--sudo"], ["--runner", "cli"]], ids=["sudo", "docker-cli"])
def test_the_password_is_in_no_argv_with_the_docker_command_runner(
    private_stack: Any, ecr: Run, small: str, root_docker_config: Path, runner: list[str]
) -> None:
    """The docker command gets the password on stdin, through `sudo -n` too (root's config is put back)."""
    password = private_stack.password()
    with (
        ArgvWatch(secret_forms(password)).running() as watch,
        ArgvWatch(["--password-stdin"], ours_only=True).running() as ran,
    ):
        for args in (["login", "--no-cache"], ["push", small, "--repo", "argv-cli", "--create"]):
            done = ecr(*runner, *args)
            assert done.returncode == 0, done.stderr
            assert_secret_absent(password, done.stdout, done.stderr)
    assert watch.found == []
    # the watch saw the docker command log in, through sudo when asked: it was looking at the right thing
    logins = [argv for argv in ran.found if "login" in argv]
    assert logins, ran.found
    assert any(argv[:2] == ["sudo", "-n"] for argv in logins) == (runner == ["--sudo"]), logins


def test_the_argv_watch_does_catch_a_password_on_a_command_line(private_stack: Any, penv: dict[str, str]) -> None:
    """The check can fail: `docker login -p PASSWORD`, which the chain's careless form uses, is caught."""
    password = private_stack.password()
    with ArgvWatch(secret_forms(password)).running() as watch:
        subprocess.run(
            ["docker", "login", "-u", "AWS", "-p", password, private_stack.registry],
            capture_output=True,
            env=penv,
            timeout=60,
        )
    assert any(argv[:2] == ["docker", "login"] for argv in watch.found)


# -- output, --debug logs and error text ------------------------------------------------------------


def test_the_password_is_in_no_output_or_debug_log(private_stack: Any, ecr: Run, small: str) -> None:
    password = private_stack.password()
    runs = [
        ecr("login", "--debug", "--no-cache"),
        ecr("login", "-o", "json"),
        ecr("push", small, "--repo", "debugged", "--create", "--debug"),
        ecr("pull", "debugged:viruses", "--debug"),
    ]
    for done in runs:
        assert done.returncode == 0, done.stderr
        assert_secret_absent(password, done.stdout, done.stderr)
    debug = runs[0].stderr
    # the log was on and held the token's answer: redacted
    assert '"authorizationToken": "***"' in debug


def test_a_refused_password_is_in_no_error_text_or_traceback(control: Any, ecr: Run, small: str) -> None:
    refused = "not-the-password-7f3a9c"
    control("faults", {"token_password": refused})
    for args in (["login", "--no-cache"], ["push", small, "--repo", "refused", "--create"]):
        for debug in ([], ["--debug"]):
            done = ecr(*args, *debug)
            assert done.returncode == 1
            assert "refused authentication" in done.stderr
            assert_secret_absent(refused, done.stdout, done.stderr)
            if debug:
                assert "Traceback" in done.stderr  # the error's chain was printed, and it is clean too


# -- files -----------------------------------------------------------------------------------------


def test_files_written_are_private(penv: dict[str, str], private_stack: Any, ecr: Run, small: str) -> None:
    home = Path(penv["HOME"])
    for args in (["login"], ["push", small, "--repo", "private", "--create"]):
        assert ecr(*args).returncode == 0
    written = [path for path in home.rglob("*") if path.is_file()]
    assert Path(penv["DOCKER_CONFIG"]) / "config.json" in written
    for path in written:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    for folder in {path.parent for path in written}:
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700, folder


# -- options and shell text in names ---------------------------------------------------------------

HOSTILE = [
    ["push", "--", "--privileged"],
    ["push", "viruses", "--repo", "--privileged"],
    ["push", "viruses", "--repo", "trees", "--tag", "$(touch pwned)"],
    ["push", "$(touch pwned)"],
    ["push", "viruses;touch pwned"],
    ["tag", "viruses", "--repo", "trees", "--tag", "`touch pwned`"],
    ["pull", "--", "--privileged"],
    ["pull", "trees:$(touch pwned)"],
    ["pull", "trees@sha256:$(touch pwned)"],
    ["create", "--", "--privileged"],
    ["images", "--", "--privileged"],
    ["delete", "trees", "--tag", "$(touch pwned)"],
    ["delete", "trees", "--digest", "--privileged"],
]


@pytest.mark.parametrize("runner", [[], ["--runner", "cli"]], ids=["api", "docker-cli"])
@pytest.mark.parametrize("argv", HOSTILE, ids=lambda argv: " ".join(argv))
def test_no_reference_smuggles_an_option_or_shell_text(
    ecr: Run, small: str, tmp_path: Path, argv: list[str], runner: list[str]
) -> None:
    tmp_path = tmp_path / "cwd"  # where `touch pwned` would land if any shell ran it
    tmp_path.mkdir()
    with ArgvWatch(["--privileged", "pwned"], ours_only=True).running() as watch:
        done = ecr(*runner, *argv, cwd=tmp_path)  # before the command: some argv end with "--"
    assert done.returncode == 2, done.stderr
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("ecrtool: error: "), done.stderr
    assert not (tmp_path / "pwned").exists()
    # only ecrtool's own command line held the text: nothing it started was handed it
    assert [argv for argv in watch.found if _not_ecrtool(argv)] == []


@pytest.mark.parametrize("variable", ["ECRTOOL_REGISTRY", "ECRTOOL_PUBLIC_REGISTRY"])
@pytest.mark.parametrize("value", ["-H", "--privileged", "$(touch pwned)"])
def test_a_registry_setting_cannot_smuggle_an_option(
    ecr: Run, small: str, tmp_path: Path, variable: str, value: str
) -> None:
    """The registry host starts every reference the docker command gets: `docker pull -H/trees:v1` would be
    an option. It must be a host name or address."""
    with ArgvWatch(["--privileged", "pwned", "-H/"], ours_only=True).running() as watch:
        done = ecr("pull", "trees:v1", "--runner", "cli", cwd=tmp_path, extra={variable: value})
    assert done.returncode == 2
    assert (
        done.stderr == f"ecrtool: error: invalid {variable} {value!r}: expected host[:port], such as 127.0.0.1:5000\n"
    )
    assert [argv for argv in watch.found if _not_ecrtool(argv)] == []
    assert not (tmp_path / "pwned").exists()


def test_an_option_like_but_valid_tag_stays_one_name(ecr: Run, small: str, private_stack: Any) -> None:
    """A tag ecrtool accepts goes to the engine as data, whole: it is what lands in the registry."""
    done = ecr("push", small, "--repo", "options", "--tag", "x--privileged", "--create")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0] == f"{private_stack.registry}/options:x--privileged"
    listed = ecr("images", "options", "-o", "json")
    assert '"x--privileged"' in listed.stdout
