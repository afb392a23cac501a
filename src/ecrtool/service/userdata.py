"""EC2 user data that makes an instance run an ECR image: Docker, ecrtool, then login, pull and run.

The script is bash for cloud-init (`aws ec2 run-instances --user-data file://…`), run once as root at
first boot. It installs and enables Docker, lets the OS's default user use it without sudo, installs
ecrtool in /opt/ecrtool, and then runs the image: detached, or with service=True as a systemd unit
that pulls afresh at each start, restarts it when it stops and survives reboots. Every value put in
the script is quoted for the shell (and, in the unit, for systemd), so nothing in it is ever code.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Sequence
from dataclasses import dataclass

from ecrtool import __version__
from ecrtool.model.containers import parse_mount, parse_port, parse_restart, validate_name
from ecrtool.model.errors import InvalidInput
from ecrtool.model.refs import RepoRef
from ecrtool.model.results import UserData

VENV = "/opt/ecrtool"
ECRTOOL = f"{VENV}/bin/ecrtool"
READ_ONLY_POLICY = "AmazonEC2ContainerRegistryReadOnly"
PULL_ACTIONS = (
    "ecr:GetAuthorizationToken, ecr:BatchGetImage, ecr:GetDownloadUrlForLayer, ecr:BatchCheckLayerAvailability"
)


@dataclass(frozen=True)
class OsRecipe:
    user: str
    install: tuple[str, ...]  # shell lines: Docker and a Python >= 3.10 for ecrtool's virtualenv
    venv: tuple[str, ...]  # shell lines: create the virtualenv and install SPEC ({spec} is filled in, quoted)


RECIPES: dict[str, OsRecipe] = {
    # Amazon Linux 2023: its python3 is 3.9, python3.11 is a package
    "al2023": OsRecipe(
        user="ec2-user",
        install=("dnf install -y docker python3.11 python3.11-pip",),
        venv=(f"python3.11 -m venv {VENV}", f"{VENV}/bin/pip install --quiet {{spec}}"),
    ),
    # Amazon Linux 2: no Python >= 3.10 in its repositories, so uv brings one
    "al2": OsRecipe(
        user="ec2-user",
        install=("yum install -y docker",),
        venv=(
            "curl --proto '=https' --tlsv1.2 -LsSf https://astral.sh/uv/install.sh"
            " | env UV_INSTALL_DIR=/opt/uv UV_NO_MODIFY_PATH=1 sh",
            f"UV_PYTHON_INSTALL_DIR=/opt/uv/python /opt/uv/uv venv --python 3.12 {VENV}",
            f"/opt/uv/uv pip install --python {VENV}/bin/python {{spec}}",
        ),
    ),
    # Ubuntu 22.04 and later: python3 is 3.10 or newer
    "ubuntu": OsRecipe(
        user="ubuntu",
        install=(
            "export DEBIAN_FRONTEND=noninteractive",
            "apt-get update -q",
            "apt-get install -y -q docker.io python3-venv",
        ),
        venv=(f"python3 -m venv {VENV}", f"{VENV}/bin/pip install --quiet {{spec}}"),
    ),
}

_SPEC_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._\-\[\],<>=!~+:/@#%]*$")
_SYSTEMD_SAFE_RE = re.compile(r"^[A-Za-z0-9_./:=@+,-]+$")


def systemd_quote(arg: str) -> str:
    """One argument for an Exec= line: systemd splits on spaces, expands $ and % and reads C escapes."""
    if _SYSTEMD_SAFE_RE.match(arg):
        return arg
    escaped = arg.replace("\\", "\\\\").replace('"', '\\"').replace("%", "%%").replace("$", "$$")
    return f'"{escaped}"'


@dataclass(frozen=True)
class RunArgs:
    """The run options for the instance, checked here but kept as typed: they run there, not here."""

    name: str
    ports: tuple[str, ...] = ()
    env: tuple[str, ...] = ()
    env_file: str | None = None
    volumes: tuple[str, ...] = ()
    restart: str | None = None
    command: tuple[str, ...] = ()
    remove: bool = False

    def argv(self) -> list[str]:
        args = ["--name", self.name, *(["--rm"] if self.remove else [])]
        for port in self.ports:
            args += ["-p", port]
        for pair in self.env:
            args += ["-e", pair]
        if self.env_file:
            args += ["--env-file", self.env_file]
        for volume in self.volumes:
            args += ["-v", volume]
        if self.restart:
            args += ["--restart", self.restart]
        return args


def check_run_args(
    ref: RepoRef,
    *,
    name: str | None,
    ports: Sequence[str],
    env: Sequence[str],
    env_file: str | None,
    volumes: Sequence[str],
    restart: str | None,
    command: Sequence[str],
    service: bool,
    remove: bool = False,
) -> RunArgs:
    for port in ports:
        parse_port(port)
    for pair in env:
        key, sep, _ = pair.partition("=")
        if not sep or not key:
            raise InvalidInput(
                f"-e {pair}: give KEY=VALUE; on the instance there is no environment to take {pair}'s value from"
            )
        if "\n" in pair or "\0" in pair:
            raise InvalidInput(f"the value of {key} holds a newline or NUL, which Docker cannot pass on")
    for volume in volumes:
        parse_mount(volume, resolve=False)
    if restart:
        parse_restart(restart)
        if service:
            raise InvalidInput("--service restarts the container through systemd: drop --restart")
        if remove and parse_restart(restart).name != "no":
            raise InvalidInput("--rm and --restart do not go together: a container that is removed cannot be restarted")
    if env_file is not None and not env_file.startswith("/"):
        raise InvalidInput(f"--env-file {env_file}: give the file's absolute path on the instance")
    default = ref.repository.rsplit("/", 1)[-1]
    return RunArgs(
        name=validate_name(name or default),
        ports=tuple(ports),
        env=tuple(env),
        env_file=env_file,
        volumes=tuple(volumes),
        restart=restart,
        command=tuple(command),
        remove=remove or service,  # under systemd each start is a new container
    )


def generate(
    *,
    ref_text: str,
    os_name: str,
    region: str | None,
    registry_id: str | None,
    run: RunArgs,
    service: bool,
    spec: str | None = None,
    launch_template: str | None = None,
    instance_profile: str | None = None,
    file_name: str = "user-data.sh",
    public: bool = False,
) -> UserData:
    recipe = RECIPES.get(os_name)
    if recipe is None:
        raise InvalidInput(f"unknown --os {os_name!r}: use {', '.join(RECIPES)}")
    spec = spec or f"ecrtool=={__version__}"
    if not _SPEC_RE.match(spec):
        raise InvalidInput(
            f"invalid --install {spec!r}: give a pip requirement, such as ecrtool==1.0 or a git+https URL"
        )
    globals_: list[str] = []
    if region:
        globals_ += ["--region", region]
    if registry_id:
        globals_ += ["--registry-id", registry_id]
    tail = ["--", *run.command] if run.command else []
    launch = launch_command(region, file_name, launch_template, instance_profile)

    lines = [
        "#!/bin/bash",
        f"# EC2 user data from `ecrtool ec2 user-data` (ecrtool {__version__}): Docker, ecrtool, then {ref_text}.",
        "#",
        "# Launch an instance with it:",
        f"#   {launch}",
        "#",
    ]
    if public:
        lines += [
            "# The image is in the public gallery: the instance needs no ECR rights to pull it.",
        ]
    else:
        lines += [
            "# The instance's role (its instance profile) needs ECR pull rights: attach the AWS managed policy",
            f"# {READ_ONLY_POLICY}, or allow on the repository:",
            f"#   {PULL_ACTIONS}",
            "# Without them the login below fails with AccessDenied.",
        ]
    if run.env:
        lines += [
            "# -e values are written in this user data, which anyone allowed ec2:DescribeInstanceAttribute can",
            "# read: keep secrets in SSM Parameter Store or Secrets Manager, not here.",
        ]
    lines += [
        "#",
        "# cloud-init runs this once, as root, at first boot; its output is in /var/log/cloud-init-output.log.",
        "set -euo pipefail",
        "",
        f"# 1. Docker, started now and at every boot; {recipe.user} may use it without sudo from their next login",
        *recipe.install,
        "systemctl enable --now docker",
        f"usermod -aG docker {recipe.user}",
        "",
        "# 2. ecrtool, in its own virtualenv, also as /usr/local/bin/ecrtool",
        *(line.replace("{spec}", shlex.quote(spec)) for line in recipe.venv),
        f"ln -sf {ECRTOOL} /usr/local/bin/ecrtool",
        f"ECRTOOL={ECRTOOL}",
        "",
        "# 3. the image: log in (root's Docker config keeps the login for plain `docker pull`), pull, run",
        _shell(globals_, ["login", *(["--public"] if public else [])]),
        _shell(globals_, ["pull", ref_text]),
    ]
    unit_name = None
    if service:
        unit_name = f"ecrtool-{run.name}.service"
        exec_start = [ECRTOOL, *globals_, "run", ref_text, "--pull", "always", *run.argv(), *tail]
        lines += [
            f"cat >/etc/systemd/system/{unit_name} <<'UNIT'",
            "[Unit]",
            f"Description={ref_text.replace('%', '%%')}, run by ecrtool",
            "Wants=network-online.target",
            "After=network-online.target docker.service",
            "Requires=docker.service",
            "",
            "[Service]",
            "# each start pulls afresh (a new token, a moved tag); stopping the unit stops the container",
            f"ExecStartPre=-/usr/bin/docker rm --force {run.name}",
            "ExecStart=" + " ".join(systemd_quote(arg) for arg in exec_start),
            "Restart=always",
            "RestartSec=5",
            "# ecrtool exits 130 when told to stop",
            "SuccessExitStatus=130",
            "TimeoutStopSec=30",
            "",
            "[Install]",
            "WantedBy=multi-user.target",
            "UNIT",
            "systemctl daemon-reload",
            f"systemctl enable --now {unit_name}",
        ]
    else:
        lines.append(_shell(globals_, ["run", ref_text, "--pull", "never", "-d", *run.argv(), *tail]))
    return UserData(script="\n".join(lines) + "\n", launch_command=launch, os=os_name, user=recipe.user, unit=unit_name)


def _shell(globals_: list[str], args: list[str]) -> str:
    line = " ".join(['"$ECRTOOL"', *(shlex.quote(arg) for arg in [*globals_, *args])])
    if any("$" in arg or "`" in arg for arg in args):
        # shellcheck would take a quoted $ for a mistake; here it is the value itself
        return "# shellcheck disable=SC2016 # a literal $ or `, single-quoted on purpose\n" + line
    return line


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
    return " ".join(shlex.quote(arg) for arg in args)
