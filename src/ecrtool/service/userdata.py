"""EC2 user data that makes an instance run an ECR image: Docker, ecrtool, then login, pull and run.

The script is bash for cloud-init (`aws ec2 run-instances --user-data file://…`), run once as root at
first boot. It installs and enables Docker, lets the OS's default user use it without sudo, installs
ecrtool in /opt/ecrtool, and then runs the image: detached, or with service=True as a systemd unit
that pulls afresh at each start, restarts it when it stops and survives reboots.

Nothing given can become code on the instance. Every value is refused (InvalidInput, naming its flag)
or reaches its command as exactly one argument: shell-quoted in the script, systemd-quoted in the unit
(which the script writes with printf, never a heredoc a value could close), and never in a comment
line. -e values reach the container through a root-only (0600) env file, never a command line or the
world-readable unit.
"""

from __future__ import annotations

import posixpath
import re
import shlex
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

from ecrtool import __version__
from ecrtool.model import install_source
from ecrtool.model.containers import parse_env, parse_mount, parse_port, parse_restart, validate_name
from ecrtool.model.errors import InvalidInput
from ecrtool.model.refs import RepoRef, parse_repo_ref, validate_account, validate_region
from ecrtool.model.results import UserData

READ_ONLY_POLICY = "AmazonEC2ContainerRegistryReadOnly"
PULL_ACTIONS = (
    "ecr:GetAuthorizationToken, ecr:BatchGetImage, ecr:GetDownloadUrlForLayer, ecr:BatchCheckLayerAvailability"
)
COMMAND = "the COMMAND after --"
T = TypeVar("T")

# uv brings a Python >= 3.10 to Amazon Linux 2, whose own stops at 3.8; pinned, and pip checks its wheel's
# hash (manylinux x86_64 and aarch64) before anything of it runs
UV_REQUIREMENT = (
    "uv==0.13.8"
    " --hash=sha256:e18a57b8b352eb7c8feb317b9f6f533c8f0ad9673fd6cf34bbe3cf1a9f6a8984"
    " --hash=sha256:0b3e8b1a4f5e405e31e2ff33de8af4744831e9f7338539671efbd8c3c94e791d"
)
UV_PYTHON = "3.12"


@dataclass(frozen=True)
class Layout:
    """Where the script puts things on the instance. ROOT is / there; a test moves it all to a folder."""

    root: str = "/"

    def path(self, *parts: str) -> str:
        return posixpath.join(self.root, *parts)

    @property
    def venv(self) -> str:
        return self.path("opt", "ecrtool")

    @property
    def ecrtool(self) -> str:
        return self.path("opt", "ecrtool", "bin", "ecrtool")

    @property
    def pip(self) -> str:
        return self.path("opt", "ecrtool", "bin", "pip")

    @property
    def uv_home(self) -> str:
        return self.path("opt", "uv")

    @property
    def link(self) -> str:
        return self.path("usr", "local", "bin", "ecrtool")

    @property
    def units(self) -> str:
        return self.path("etc", "systemd", "system")

    @property
    def env_dir(self) -> str:
        return self.path("etc", "ecrtool")


def _line(argv: Iterable[str]) -> str:
    """One command line of the script: every word shell-quoted."""
    return shlex.join(argv)


def _write(path: str, lines: Iterable[str]) -> str:
    """Script that writes LINES to PATH: printf of quoted lines, never a heredoc that a line could close.

    One line of the file a line of the script, continued with a backslash outside every quote.
    """
    words = [shlex.quote("%s\\n"), *(shlex.quote(line) for line in lines)]
    return "printf " + " \\\n  ".join(words) + " \\\n  >" + shlex.quote(path)


@dataclass(frozen=True)
class OsRecipe:
    user: str
    install: tuple[tuple[str, ...], ...]  # Docker and a Python >= 3.10 for ecrtool's virtualenv
    venv: Callable[[Layout], list[str]]  # script lines: the virtualenv at layout.venv, with pip in it


def _al2_venv(at: Layout) -> list[str]:
    requirements = posixpath.join(at.uv_home, "requirements.txt")
    return [
        _line(["install", "-d", "-m", "755", at.uv_home]),
        _write(requirements, [UV_REQUIREMENT]),
        _line(
            [
                "python3.8",
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "--require-hashes",
                "--target",
                at.uv_home,
                "-r",
                requirements,
            ]
        ),  # fmt: skip
        _line(
            [
                "env",
                f"UV_PYTHON_INSTALL_DIR={posixpath.join(at.uv_home, 'python')}",
                posixpath.join(at.uv_home, "bin", "uv"),
                "venv",
                "--quiet",
                "--seed",
                "--python",
                UV_PYTHON,
                at.venv,
            ]
        ),  # fmt: skip
    ]


RECIPES: dict[str, OsRecipe] = {
    # Amazon Linux 2023: its python3 is 3.9, python3.11 is a package
    "al2023": OsRecipe(
        user="ec2-user",
        install=(("dnf", "install", "-y", "docker", "python3.11", "python3.11-pip"),),
        venv=lambda at: [_line(["python3.11", "-m", "venv", at.venv])],
    ),
    # Amazon Linux 2: no Python >= 3.10 in its repositories; the python3.8 of its extras installs a pinned
    # uv, which brings one
    "al2": OsRecipe(
        user="ec2-user",
        install=(("yum", "install", "-y", "docker"), ("amazon-linux-extras", "install", "-y", "python3.8")),
        venv=_al2_venv,
    ),
    # Ubuntu 22.04 and later: python3 is 3.10 or newer
    "ubuntu": OsRecipe(
        user="ubuntu",
        install=(
            ("export", "DEBIAN_FRONTEND=noninteractive"),
            ("apt-get", "update", "-q"),
            ("apt-get", "install", "-y", "-q", "docker.io", "python3-venv"),
        ),
        venv=lambda at: [_line(["python3", "-m", "venv", at.venv])],
    ),
}


# -- what each value may hold ------------------------------------------------------------------------

# what str.splitlines ends a line at: `ecrtool run` reads the env file with it (as Docker does at \n)
_LINE_ENDS = frozenset("\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029")
# what ends a line for systemd's unit file reader
_UNIT_LINE_ENDS = frozenset("\n\r\0")
_SYSTEMD_SAFE_RE = re.compile(r"^[A-Za-z0-9_./:=@+,-]+$")
_LAUNCH_TEMPLATE_RE = re.compile(r"^lt-[0-9a-f]{1,32}$")
_INSTANCE_PROFILE_RE = re.compile(r"^[\w+=,.@-]{1,128}$", re.ASCII)


def _text(value: str, flag: str) -> str:
    """Any value: a NUL cannot be an argument, and a lone surrogate (bytes that were not UTF-8) not text."""
    if "\0" in value:
        raise InvalidInput(f"{flag} {value!r} holds a NUL, which no command can be given")
    if any("\ud800" <= ch <= "\udfff" for ch in value):
        raise InvalidInput(f"{flag} {value!r} is not valid UTF-8")
    return value


def _checked(flag: str, check: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """CHECK(*ARGS); its refusal names FLAG first, so that the message says which option to change."""
    try:
        return check(*args, **kwargs)
    except InvalidInput as err:
        raise InvalidInput(f"{flag}: {err}") from None


def systemd_quote(arg: str, flag: str = "a value") -> str:
    """One argument of an Exec= line as systemd reads it back (systemd.service(5) "Command lines").

    systemd splits on spaces, reads C escapes in quotes, then expands %-specifiers and $VARIABLES: so
    `\\` and `"` are escaped, `%` doubled, `$` doubled, other control characters written as \\xNN. A
    line end cannot be escaped in a unit's line: refused.
    """
    if any(ch in _UNIT_LINE_ENDS for ch in arg):
        raise InvalidInput(f"{flag} {arg!r} holds a line break, which a systemd unit cannot carry (--service)")
    if _SYSTEMD_SAFE_RE.match(arg):
        return arg
    out = []
    for ch in arg:
        if ch in '\\"':
            out.append("\\" + ch)
        elif ch in "%$":
            out.append(ch * 2)
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\x{ord(ch):02x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


@dataclass(frozen=True)
class RunOptions:
    """`ecrtool run`'s options as given, for the instance: checked here, run there."""

    name: str | None = None
    ports: tuple[str, ...] = ()
    env: tuple[str, ...] = ()
    env_file: str | None = None
    volumes: tuple[str, ...] = ()
    restart: str | None = None
    command: tuple[str, ...] = ()
    remove: bool = False


@dataclass(frozen=True)
class _Run:
    """The run options checked: each value with the flag it came from, for the unit's refusals."""

    name: str
    env: tuple[tuple[str, str], ...]
    args: tuple[tuple[str, str | None], ...]  # (argument, the flag its value came from, or None)
    command: tuple[str, ...]

    def argv(self, env_file: str | None) -> list[tuple[str, str | None]]:
        args = list(self.args)
        if env_file:
            args += [("--env-file", None), (env_file, "--env-file")]
        return args + ([("--", None), *((arg, COMMAND) for arg in self.command)] if self.command else [])


def _check_run(ref: RepoRef, run: RunOptions, service: bool) -> _Run:
    for port in run.ports:
        _checked("-p", parse_port, _text(port, "-p"))
    env: list[tuple[str, str]] = []
    for pair in run.env:
        key, sep, value = _text(pair, "-e").partition("=")
        if not sep:
            raise InvalidInput(
                f"-e {pair!r}: give KEY=VALUE; on the instance there is no environment to take {key}'s value from"
            )
        _checked("-e", parse_env, pair, {})
        if any(ch in _LINE_ENDS for ch in value):
            raise InvalidInput(f"-e {key}: the value holds a line break, which an env file (Docker's format) cannot")
        env.append((key, value))
    if env and run.env_file is not None:
        raise InvalidInput(
            "-e and --env-file together: on the instance the -e values go into an env file of their own, and a "
            "container takes one; put them in the --env-file, or drop it"
        )
    for volume in run.volumes:
        _checked("-v", parse_mount, _text(volume, "-v"), resolve=False)
    if run.restart:
        _checked("--restart", parse_restart, _text(run.restart, "--restart"))
        if service:
            raise InvalidInput("--service restarts the container through systemd: drop --restart")
        if run.remove and parse_restart(run.restart).name != "no":
            raise InvalidInput("--rm and --restart do not go together: a container that is removed cannot be restarted")
    if run.env_file is not None and not _text(run.env_file, "--env-file").startswith("/"):
        raise InvalidInput(f"--env-file {run.env_file!r}: give the file's absolute path on the instance")
    for arg in run.command:
        _text(arg, COMMAND)
    name = run.name if run.name is not None else ref.repository.rsplit("/", 1)[-1]
    _checked("--name", validate_name, _text(name, "--name"))
    args: list[tuple[str, str | None]] = [("--name", None), (name, "--name")]
    if run.remove or service:  # under systemd each start is a new container
        args.append(("--rm", None))
    for flag, values in (("-p", run.ports), ("-v", run.volumes)):
        for value in values:
            args += [(flag, None), (value, flag)]
    if run.env_file is not None:
        args += [("--env-file", None), (run.env_file, "--env-file")]
    if run.restart:
        args += [("--restart", None), (run.restart, "--restart")]
    return _Run(name=name, env=tuple(env), args=tuple(args), command=tuple(run.command))


def check_launch(file_name: str, launch_template: str | None, instance_profile: str | None) -> None:
    if any(not ch.isprintable() for ch in _text(file_name, "--file")) or not file_name:
        raise InvalidInput(f"--file {file_name!r}: give a path without control characters")
    if launch_template is not None and not _LAUNCH_TEMPLATE_RE.match(launch_template):
        raise InvalidInput(f"--launch-template {launch_template!r}: give a launch template id, such as lt-0abc123")
    if instance_profile is not None and not _INSTANCE_PROFILE_RE.match(instance_profile):
        raise InvalidInput(
            f"--instance-profile {instance_profile!r}: give an instance profile name "
            "(1-128 letters, digits and +=,.@_-)"
        )


# -- the script --------------------------------------------------------------------------------------


def generate(
    *,
    ref_text: str,
    os_name: str,
    region: str | None,
    registry_id: str | None,
    run: RunOptions,
    service: bool,
    install: str | None = None,
    index_url: str | None = None,
    launch_template: str | None = None,
    instance_profile: str | None = None,
    file_name: str = "user-data.sh",
    registry_override: str | None = None,
    root: str = "/",
) -> UserData:
    """The script for OS_NAME, or InvalidInput naming the first value that cannot go in it.

    INSTALL None means this ecrtool's own install record (install_source.recorded), read last so that a
    wrong value elsewhere is named first.
    """
    recipe = RECIPES.get(os_name)
    if recipe is None:
        raise InvalidInput(f"unknown --os {os_name!r}: use {', '.join(RECIPES)}")
    ref = _checked("--image", parse_repo_ref, _text(ref_text, "--image"), registry_override, public=True)
    globals_: list[tuple[str, str | None]] = []
    if region:
        _checked("--region", validate_region, _text(region, "--region"))
        globals_ += [("--region", None), (region, "--region")]
    if registry_id:
        _checked("--registry-id", validate_account, _text(registry_id, "--registry-id"))
        globals_ += [("--registry-id", None), (registry_id, "--registry-id")]
    checked = _check_run(ref, run, service)
    check_launch(file_name, launch_template, instance_profile)
    if install is not None:
        source = install_source.check_install(_text(install, "--install"), index_url)
    else:
        if index_url is not None:
            install_source.check_index_url(_text(index_url, "--index-url"))
        source = install_source.recorded(index_url)

    at = Layout(root)
    env_file = posixpath.join(at.env_dir, f"{checked.name}.env") if checked.env else None
    unit_name = f"ecrtool-{checked.name}.service" if service else None
    unit = _unit(at, ref_text, checked, globals_, env_file) if service else None
    lines = [
        "#!/bin/bash",
        "# shellcheck disable=SC1003,SC2016,SC2088 # values are single-quoted on purpose: a $ ` \\ ~ in one is literal",
        f"# EC2 user data from `ecrtool ec2 user-data` (ecrtool {__version__}): Docker, ecrtool, then the image.",
        "#",
    ]
    if ref.public:
        lines += ["# The image is in the public gallery: the instance needs no ECR rights to pull it."]
    else:
        lines += [
            "# The instance's role (its instance profile) needs ECR pull rights: attach the AWS managed policy",
            f"# {READ_ONLY_POLICY}, or allow on the repository:",
            f"#   {PULL_ACTIONS}",
            "# Without them the login below fails with AccessDenied.",
        ]
    lines += [
        "#",
        "# Any process on the instance can read this user data (instance metadata), and so can anyone allowed",
        "# ec2:DescribeInstanceAttribute: keep secrets in SSM Parameter Store or Secrets Manager, not here.",
        "# cloud-init runs this once, as root, at first boot; its output is in /var/log/cloud-init-output.log.",
        "set -euo pipefail",
        "",
        f"# 1. Docker, started now and at every boot; {recipe.user} may use it without sudo from their next login",
        *(_line(argv) for argv in recipe.install),
        _line(["systemctl", "enable", "--now", "docker"]),
        _line(["usermod", "-aG", "docker", recipe.user]),
        "",
        "# 2. ecrtool, in its own virtualenv, also on PATH; pip checks a #sha256= in the URL before installing",
        *recipe.venv(at),
        _line(
            [
                at.pip,
                "install",
                "--quiet",
                "--disable-pip-version-check",
                *(["--index-url", source.index_url] if source.index_url else []),
                source.spec,
            ]
        ),  # fmt: skip
        _line(["ln", "-sf", at.ecrtool, at.link]),
        "",
        "# 3. the image: log in (root's Docker config keeps the login for plain `docker pull`), pull, run",
    ]
    if env_file:
        lines += [
            "# -e values: in a file only root can read, not on a command line or in the unit",
            _line(["install", "-d", "-m", "700", at.env_dir]),
            _line(["install", "-m", "600", "/dev/null", env_file]),
            _write(env_file, (f"{key}={value}" for key, value in checked.env)),
        ]
    plain_globals = [arg for arg, _ in globals_]
    lines += [
        _line([at.ecrtool, *plain_globals, "login", *(["--public"] if ref.public else [])]),
        _line([at.ecrtool, *plain_globals, "pull", ref_text]),
    ]
    if unit is not None and unit_name is not None:
        lines += [
            "# the unit, written line by line: each start pulls afresh; stopping the unit stops the container",
            _write(posixpath.join(at.units, unit_name), unit),
            _line(["systemctl", "daemon-reload"]),
            _line(["systemctl", "enable", "--now", unit_name]),
        ]
    else:
        run_args = [arg for arg, _ in checked.argv(env_file)]
        lines.append(_line([at.ecrtool, *plain_globals, "run", ref_text, "--pull", "never", "-d", *run_args]))
    launch = launch_command(region, file_name, launch_template, instance_profile)
    return UserData(script="\n".join(lines) + "\n", launch_command=launch, os=os_name, user=recipe.user, unit=unit_name)


def _unit(
    at: Layout, ref_text: str, run: _Run, globals_: list[tuple[str, str | None]], env_file: str | None
) -> list[str]:
    exec_start = [
        (at.ecrtool, None),
        *globals_,
        ("run", None),
        (ref_text, "--image"),
        ("--pull", None),
        ("always", None),
        *run.argv(env_file),
    ]
    if any(not ch.isprintable() or ch == "\\" for ch in ref_text):  # parse_repo_ref refuses them: never here
        raise InvalidInput(f"--image {ref_text!r}: a systemd unit's description cannot carry it")
    return [
        "[Unit]",
        # Description= is not split into words, but it does expand %-specifiers
        f"Description=ecrtool: the container {run.name} ({ref_text.replace('%', '%%')})",
        "Wants=network-online.target",
        "After=network-online.target docker.service",
        "Requires=docker.service",
        "",
        "[Service]",
        "ExecStartPre=-/usr/bin/docker rm --force " + systemd_quote(run.name, "--name"),
        "ExecStart=" + " ".join(systemd_quote(arg, flag or "a value") for arg, flag in exec_start),
        "Restart=always",
        "RestartSec=5",
        "# ecrtool exits 130 when told to stop",
        "SuccessExitStatus=130",
        "TimeoutStopSec=30",
        "",
        "[Install]",
        "WantedBy=multi-user.target",
    ]


def launch_command(
    region: str | None, file_name: str, launch_template: str | None, instance_profile: str | None
) -> str:
    """The matching `aws ec2 run-instances`, as the team's notes launch instances: with a launch template."""
    args = ["aws", "ec2", "run-instances"]
    if region:
        args += ["--region", region]
    args += ["--user-data", f"file://{file_name}"]
    args += ["--launch-template", f"LaunchTemplateId={launch_template or 'LAUNCH_TEMPLATE_ID'}"]
    if instance_profile:
        args += ["--iam-instance-profile", f"Name={instance_profile}"]
    return shlex.join(args)
