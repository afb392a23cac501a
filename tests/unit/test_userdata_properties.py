"""Any text given to any flag of `ecrtool ec2 user-data` is refused, or reaches its command as exactly that
one argument: run on the instance, the script hands every command the argv it was meant to, and the unit's
ExecStart, split as systemd splits it, is the intended argv.

Each flag gets 200 examples of hostile text (line breaks, quotes, $, backticks, %, backslashes, NUL,
heredoc delimiters, non-ASCII). A script that is not refused passes `bash -n`, then runs under bash with
recording shims on PATH for the package manager, systemctl, usermod, ln, python and ecrtool, in a
temporary root; shellcheck checks the scripts as an instance gets them (root /), all at once at the end.
"""

from __future__ import annotations

import re
import shlex
import shutil
import stat
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ecrtool.model.containers import read_env_file
from ecrtool.model.errors import InvalidInput
from ecrtool.service.userdata import UV_PYTHON, UV_REQUIREMENT, RunOptions, generate, launch_command

SHA = "ab" * 32
COMMIT = "0123456789abcdef0123456789abcdef01234567"
WHEEL = f"https://files.example.com/ecrtool-1.0-py3-none-any.whl#sha256={SHA}"
SHIMMED = (
    "dnf", "yum", "amazon-linux-extras", "apt-get", "systemctl", "usermod", "ln",
    "python3", "python3.8", "python3.11", "pip", "docker", "ecrtool",
)  # fmt: skip
# a shim appends its argc and argv, NUL-separated, to $SHIM_LOG
SHIM = '#!/bin/sh\nprintf "%s\\0" "$#" "$0" "$@" >>"$SHIM_LOG"\n'

HOSTILE = [
    "\n", "\r", "\r\n", "'", '"', "$", "`", "%", "\\", "\0", "\nUNIT\n", "\nEOF\n", "UNIT", "EOF", " ", "\t",
    "é", "☃", "\u2028", "\x85", "\x1b[31m", "\x7f", "\udcff", "$(touch /tmp/pwned)", "`id`", ";", "&&", "|",
    "#", "${HOME}", "$HOME", "%n", "%%", "$$", "\\\n", "'\"'\"'", "*", "?", "~", "!", "-", "--", "=", ":", "/",
]  # fmt: skip
hostile = st.lists(st.one_of(st.sampled_from(HOSTILE), st.text(max_size=6)), max_size=8).map("".join)


def shaped(*forms: str) -> st.SearchStrategy[str]:
    """Hostile text alone, or put into each FORM where {} stands (so that some of it gets past the checks)."""
    return st.one_of(hostile, *(hostile.map(form.format) for form in forms))


STRATEGIES: dict[str, st.SearchStrategy[Any]] = {
    "--image": shaped("trees:{}", "{}:v1", "public.ecr.aws/{}/busybox:latest"),
    "--name": shaped("web{}", "{}web"),
    "-p": st.one_of(shaped("80:{}", "{}:80", "127.0.0.1:80:80/{}"), st.sampled_from(["80:8080", "１:2/udp"])),
    "-e": shaped("KEY={}", "A_1={}", "{}=value"),
    "--env-file": shaped("/{}", "/etc/{}.env"),
    "-v": shaped("/{}:/data", "/srv/{}:/data:ro", "{}:/data", "data:/{}"),
    "--restart": st.one_of(hostile, st.sampled_from(["no", "always", "unless-stopped", "on-failure:3"])),
    "COMMAND": st.lists(hostile, min_size=1, max_size=4),
    "--install": shaped(
        "https://files.example.com/{}.whl#sha256=" + SHA, "git+https://git.example.com/{}@" + COMMIT, "ecrtool=={}"
    ),
    "--index-url": shaped("https://pypi.example.com/{}", "http://127.0.0.1:3141/{}/+simple/"),
    "--region": shaped("ca-west-{}", "{}-west-1"),
    "--registry-id": shaped("12345678901{}", "{}123456789012"),
    "--launch-template": shaped("lt-{}", "lt-0abc{}"),
    "--instance-profile": shaped("role{}", "{}"),
    "--file": shaped("{}.sh", "/tmp/{}/user-data.sh"),
}


@dataclass
class Case:
    """The values of one run of `ecrtool ec2 user-data`: the defaults, with one flag's replaced."""

    ref: str = "trees:v1"
    name: str | None = None
    ports: tuple[str, ...] = ("80:8080",)
    env: tuple[str, ...] = ("MODE=prod",)
    env_file: str | None = None
    volumes: tuple[str, ...] = ("/srv/data:/data:ro",)
    restart: str | None = None
    command: tuple[str, ...] = ("serve", "--port", "8080")
    install: str = WHEEL
    index_url: str | None = None
    region: str | None = "ca-west-1"
    registry_id: str | None = None
    launch_template: str | None = None
    instance_profile: str | None = None
    file_name: str = "user-data.sh"
    service: bool = False
    os_name: str = "al2023"

    @classmethod
    def with_flag(cls, flag: str, value: Any, os_name: str, service: bool) -> Case:
        case = cls(os_name=os_name, service=service)
        if flag == "--index-url":
            case.install = "ecrtool==1.0"
        attribute = {
            "--image": "ref", "--name": "name", "-p": "ports", "-e": "env", "--env-file": "env_file",
            "-v": "volumes", "--restart": "restart", "COMMAND": "command", "--install": "install",
            "--index-url": "index_url", "--region": "region", "--registry-id": "registry_id",
            "--launch-template": "launch_template", "--instance-profile": "instance_profile", "--file": "file_name",
        }[flag]  # fmt: skip
        if flag in ("-p", "-v", "-e"):
            value = (value,)
        elif flag == "COMMAND":
            value = tuple(value)
        if flag == "--env-file":
            case.env = ()  # a container takes one env file: -e's or this one
        setattr(case, attribute, value)
        return case

    def generate(self, root: str) -> Any:
        return generate(
            ref_text=self.ref,
            os_name=self.os_name,
            region=self.region,
            registry_id=self.registry_id,
            run=RunOptions(
                name=self.name,
                ports=self.ports,
                env=self.env,
                env_file=self.env_file,
                volumes=self.volumes,
                restart=self.restart,
                command=self.command,
            ),
            service=self.service,
            install=self.install,
            index_url=self.index_url,
            launch_template=self.launch_template,
            instance_profile=self.instance_profile,
            file_name=self.file_name,
            root=root,
        )

    # -- what the instance should see ---------------------------------------------------------------------

    @property
    def container(self) -> str:
        return self.name if self.name is not None else self.ref.rsplit(":", 1)[0].rsplit("/", 1)[-1]

    def globals(self) -> list[str]:
        return [*(["--region", self.region] if self.region else []),
                *(["--registry-id", self.registry_id] if self.registry_id else [])]  # fmt: skip

    def run_args(self, root: str) -> list[str]:
        args = ["--name", self.container, *(["--rm"] if self.service else [])]
        for port in self.ports:
            args += ["-p", port]
        for volume in self.volumes:
            args += ["-v", volume]
        if self.env_file is not None:
            args += ["--env-file", self.env_file]
        if self.restart:
            args += ["--restart", self.restart]
        if self.env:
            args += ["--env-file", f"{root}/etc/ecrtool/{self.container}.env"]
        return args + (["--", *self.command] if self.command else [])

    def calls(self, root: str) -> list[list[str]]:
        ecrtool = f"{root}/opt/ecrtool/bin/ecrtool"
        venv = f"{root}/opt/ecrtool"
        user = "ubuntu" if self.os_name == "ubuntu" else "ec2-user"
        packages = {
            "al2023": [["dnf", "install", "-y", "docker", "python3.11", "python3.11-pip"]],
            "al2": [["yum", "install", "-y", "docker"], ["amazon-linux-extras", "install", "-y", "python3.8"]],
            "ubuntu": [["apt-get", "update", "-q"], ["apt-get", "install", "-y", "-q", "docker.io", "python3-venv"]],
        }[self.os_name]
        python = {
            "al2023": [["python3.11", "-m", "venv", venv]],
            "al2": [
                [
                    "python3.8",
                    "-m",
                    "pip",
                    "install",
                    "--quiet",
                    "--disable-pip-version-check",
                    "--require-hashes",
                    "--target",
                    f"{root}/opt/uv",
                    "-r",
                    f"{root}/opt/uv/requirements.txt",
                ],
                [f"{root}/opt/uv/bin/uv", "venv", "--quiet", "--seed", "--python", UV_PYTHON, venv],
            ],  # fmt: skip
            "ubuntu": [["python3", "-m", "venv", venv]],
        }[self.os_name]
        index = ["--index-url", self.index_url] if self.index_url else []
        calls = [
            *packages,
            ["systemctl", "enable", "--now", "docker"],
            ["usermod", "-aG", "docker", user],
            *python,
            [f"{venv}/bin/pip", "install", "--quiet", "--disable-pip-version-check", *index, self.install],
            ["ln", "-sf", ecrtool, f"{root}/usr/local/bin/ecrtool"],
            [ecrtool, *self.globals(), "login", *(["--public"] if self.ref.startswith("public.ecr.aws/") else [])],
            [ecrtool, *self.globals(), "pull", self.ref],
        ]
        if self.service:
            return calls + [["systemctl", "daemon-reload"], ["systemctl", "enable", "--now", self.unit_name]]
        return calls + [[ecrtool, *self.globals(), "run", self.ref, "--pull", "never", "-d", *self.run_args(root)]]

    @property
    def unit_name(self) -> str:
        return f"ecrtool-{self.container}.service"

    def exec_start(self, root: str) -> list[str]:
        ecrtool = f"{root}/opt/ecrtool/bin/ecrtool"
        return [ecrtool, *self.globals(), "run", self.ref, "--pull", "always", *self.run_args(root)]


# -- systemd's reading of an Exec= line, written from systemd.syntax(7) and systemd.service(5) ------------

_C_ESCAPES = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v", "\\": "\\",
              '"': '"', "'": "'", "s": " "}  # fmt: skip


def _unescape(text: str, i: int) -> tuple[str, int]:
    """The C escape at text[i] (a backslash): its character and the index after it."""
    kind = text[i + 1]
    if kind in _C_ESCAPES:
        return _C_ESCAPES[kind], i + 2
    for letter, digits in (("x", 2), ("u", 4), ("U", 8)):
        if kind == letter:
            value = int(text[i + 2 : i + 2 + digits], 16)
            assert value != 0, "systemd refuses \\x00"
            return chr(value), i + 2 + digits
    if kind in "01234567":
        return chr(int(text[i + 1 : i + 4], 8)), i + 4
    raise AssertionError(f"systemd refuses the escape \\{kind}")


def systemd_split(line: str) -> list[str]:
    """An ExecStart= value as systemd makes it an argv: split on whitespace outside quotes, quotes removed,
    C escapes read; then %-specifiers (only %% is expected: "%") and $-variables (only $$: "$")."""
    words: list[str] = []
    i, n = 0, len(line)
    while True:
        while i < n and line[i] in " \t\n\r":
            i += 1
        if i >= n:
            break
        word: list[str] = []
        quote: str | None = None
        while i < n:
            ch = line[i]
            if quote is None and ch in " \t\n\r":
                break
            if quote is None and ch in "'\"":
                quote = ch
                i += 1
            elif quote is not None and ch == quote:
                quote = None
                i += 1
            elif ch == "\\":
                assert i + 1 < n, "a trailing backslash continues the line"
                char, i = _unescape(line, i)
                word.append(char)
            else:
                word.append(ch)
                i += 1
        assert quote is None, f"unterminated quote in {line!r}"
        assert "".join(word) != ";" or line[i - 1] != ";", "a bare ; separates commands"
        words.append("".join(word))
    return [_variables(_specifiers(word)) for word in words]


def _specifiers(word: str) -> str:
    return _undoubled(word, "%", "a specifier")


def _variables(word: str) -> str:
    return _undoubled(word, "$", "a variable")


def _undoubled(word: str, sign: str, what: str) -> str:
    """WORD with each doubled SIGN read as one, as systemd reads %% and $$; a single one fails the test."""
    out, i = [], 0
    while i < len(word):
        if word[i] == sign:
            assert word[i + 1 : i + 2] == sign, f"{what} {sign}{word[i + 1 : i + 2]} in {word!r}"
            out.append(sign)
            i += 2
        else:
            out.append(word[i])
            i += 1
    return "".join(out)


def test_the_splitter_reads_systemd_quoting() -> None:
    assert systemd_split('/bin/x "a b" \'c "d"\' "%%1 $$HOME" "\\x09\\"\\\\" plain') == [
        "/bin/x", "a b", 'c "d"', "%1 $HOME", '\t"\\', "plain",
    ]  # fmt: skip


# -- the instance, in a folder ------------------------------------------------------------------------------


@dataclass
class Sandbox:
    base: Path
    shims: Path
    checked: list[Path] = field(default_factory=list)  # scripts as an instance gets them, for shellcheck

    def root(self) -> Path:
        root = Path(tempfile.mkdtemp(prefix="root-", dir=self.base))
        for folder in ("opt/ecrtool/bin", "opt/uv/bin", "etc/systemd/system", "usr/local/bin"):
            (root / folder).mkdir(parents=True)
        for shim in ("opt/ecrtool/bin/pip", "opt/ecrtool/bin/ecrtool", "opt/uv/bin/uv"):
            (root / shim).symlink_to(self.shims / "ecrtool")
        return root

    def run(self, script: str, root: Path) -> list[list[str]]:
        path = root / "user-data.sh"
        path.write_text(script, encoding="utf-8")
        log = root / "calls"
        done = subprocess.run(
            ["bash", str(path)],
            env={"PATH": f"{self.shims}:/usr/bin:/bin", "SHIM_LOG": str(log), "LC_ALL": "C.UTF-8"},
            capture_output=True,
            timeout=30,
        )
        assert done.returncode == 0, done.stderr.decode(errors="replace")
        words = log.read_bytes().decode("utf-8").split("\0") if log.exists() else [""]
        assert words.pop() == ""
        calls = []
        while words:
            count, name = int(words[0]), words[1]
            if name.startswith(f"{self.shims}/"):
                name = name.rsplit("/", 1)[1]  # a command found on PATH, as the script names it
            calls.append([name, *words[2 : 2 + count]])
            del words[: 2 + count]
        return calls


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    base = Path(tempfile.mkdtemp(prefix="userdata-props-"))
    shims = base / "bin"
    shims.mkdir()
    for name in SHIMMED:
        (shims / name).write_text(SHIM)
        (shims / name).chmod(0o755)
    try:
        yield Sandbox(base, shims)
    finally:
        shutil.rmtree(base)


def check_case(sandbox: Sandbox, flag: str, case: Case) -> None:
    try:
        shipped = case.generate("/")
    except InvalidInput as err:
        # one message, naming the flag first (or, for --restart under --service, last)
        name = "the COMMAND after --" if flag == "COMMAND" else flag
        assert str(err).startswith(name) or str(err).endswith(f"drop {name}"), err
        return
    if flag in ("--launch-template", "--instance-profile", "--file"):
        # values of the launch line only: the script is the one without them, the line splits back to them
        assert shipped.script == Case(os_name=case.os_name, service=case.service).generate("/").script
        expected = launch_command(case.region, case.file_name, case.launch_template, case.instance_profile)
        assert shipped.launch_command == expected
        words = shlex.split(expected)
        assert f"file://{case.file_name}" in words
        if case.launch_template:
            assert f"LaunchTemplateId={case.launch_template}" in words
        if case.instance_profile:
            assert f"Name={case.instance_profile}" in words
        return
    syntax = subprocess.run(["bash", "-n"], input=shipped.script.encode(), capture_output=True)
    assert syntax.returncode == 0, syntax.stderr
    index = len(sandbox.checked)
    path = sandbox.base / f"shipped-{index}.sh"
    path.write_text(shipped.script, encoding="utf-8")
    sandbox.checked.append(path)

    root = sandbox.root()
    try:
        result = case.generate(str(root))
        calls = sandbox.run(result.script, root)
        assert calls == case.calls(str(root))
        if case.env:
            env_file = root / "etc" / "ecrtool" / f"{case.container}.env"
            assert stat.S_IMODE(env_file.stat().st_mode) == 0o600
            assert stat.S_IMODE(env_file.parent.stat().st_mode) == 0o700
            assert read_env_file(str(env_file), {}) == [tuple(pair.split("=", 1)) for pair in case.env]
        if case.service:
            unit = (root / "etc" / "systemd" / "system" / case.unit_name).read_text(encoding="utf-8")
            lines = re.split("\r\n|\r|\n", unit)  # where systemd's reader ends a line (not at U+2028)
            keys = [line.split("=", 1)[0] for line in lines if line and not line.startswith("#")]
            assert keys == ["[Unit]", "Description", "Wants", "After", "Requires", "[Service]", "ExecStartPre",
                            "ExecStart", "Restart", "RestartSec", "SuccessExitStatus", "TimeoutStopSec",
                            "[Install]", "WantedBy"]  # fmt: skip
            exec_start = next(line for line in lines if line.startswith("ExecStart="))
            assert systemd_split(exec_start.removeprefix("ExecStart=")) == case.exec_start(str(root))
            assert not any(value in unit for value in case.env if value.partition("=")[2])  # -e values stay out
        if case.os_name == "al2":
            requirements = (root / "opt" / "uv" / "requirements.txt").read_text()
            assert requirements == UV_REQUIREMENT + "\n"
    finally:
        shutil.rmtree(root)


@pytest.mark.parametrize("flag", list(STRATEGIES))
def test_any_text_is_refused_or_reaches_its_command_intact(flag: str, sandbox: Sandbox) -> None:
    sandbox.checked.clear()

    @settings(
        max_examples=200,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(value=STRATEGIES[flag], os_name=st.sampled_from(["al2023", "al2", "ubuntu"]), service=st.booleans())
    def check(value: Any, os_name: str, service: bool) -> None:
        check_case(sandbox, flag, Case.with_flag(flag, value, os_name, service))

    check()
    if sandbox.checked:
        assert shutil.which("shellcheck"), "shellcheck is missing: make test-tools installs it"
        lint = subprocess.run(
            ["shellcheck", "--shell=bash", "--format=gcc", *map(str, sandbox.checked)], capture_output=True, text=True
        )
        assert lint.returncode == 0, (lint.stdout + lint.stderr)[:4000]
