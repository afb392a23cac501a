"""EC2 user data: what the script does for each OS, how it quotes, and what it refuses."""

from __future__ import annotations

import shlex

import pytest

from ecrtool import __version__
from ecrtool.model.errors import InvalidInput
from ecrtool.model.refs import parse_repo_ref
from ecrtool.service.userdata import RECIPES, check_run_args, generate, launch_command, systemd_quote

REF = "trees:viruses"


def script(*, ref: str = REF, os_name: str = "al2023", service: bool = False, **run: object) -> str:
    parsed = parse_repo_ref(ref, public=True)
    args = {"name": None, "ports": (), "env": (), "env_file": None, "volumes": (), "restart": None, "command": ()}
    args.update(run)
    checked = check_run_args(parsed, service=service, **args)  # type: ignore[arg-type]
    return generate(
        ref_text=ref,
        os_name=os_name,
        region="ca-west-1",
        registry_id=None,
        run=checked,
        service=service,
        public=parsed.public,
    ).script


def ecrtool_lines(text: str) -> list[list[str]]:
    return [shlex.split(line) for line in text.splitlines() if line.startswith('"$ECRTOOL" ')]


@pytest.mark.parametrize(
    ("os_name", "user", "install"),
    [
        ("al2023", "ec2-user", "dnf install -y docker"),
        ("al2", "ec2-user", "yum install -y docker"),
        ("ubuntu", "ubuntu", "apt-get install -y -q docker.io"),
    ],
)
def test_docker_for_the_default_user(os_name: str, user: str, install: str) -> None:
    text = script(os_name=os_name)
    assert text.startswith("#!/bin/bash\n")
    assert install in text
    assert "systemctl enable --now docker" in text
    assert f"usermod -aG docker {user}" in text
    assert f"ecrtool=={__version__}" in text
    assert "ln -sf /opt/ecrtool/bin/ecrtool /usr/local/bin/ecrtool" in text


def test_login_pull_and_a_detached_run() -> None:
    lines = ecrtool_lines(script(name="web", ports=("80:8080",), env=("MODE=prod",), restart="unless-stopped"))
    assert lines == [
        ["$ECRTOOL", "--region", "ca-west-1", "login"],
        ["$ECRTOOL", "--region", "ca-west-1", "pull", REF],
        [
            "$ECRTOOL",
            "--region",
            "ca-west-1",
            "run",
            REF,
            "--pull",
            "never",
            "-d",
            "--name",
            "web",
            "-p",
            "80:8080",
            "-e",
            "MODE=prod",
            "--restart",
            "unless-stopped",
        ],
    ]


def test_the_role_needs_pull_rights() -> None:
    text = script()
    assert "AmazonEC2ContainerRegistryReadOnly" in text
    assert "ecr:GetAuthorizationToken" in text and "ecr:BatchGetImage" in text


def test_env_values_come_with_a_warning() -> None:
    assert "ec2:DescribeInstanceAttribute" in script(env=("MODE=prod",))
    assert "ec2:DescribeInstanceAttribute" not in script()


def test_a_systemd_unit_that_restarts_and_survives_reboots() -> None:
    text = script(service=True, ports=("80:8080",), command=("serve", "--port", "8080"))
    assert "cat >/etc/systemd/system/ecrtool-trees.service <<'UNIT'" in text
    assert "Restart=always" in text and "WantedBy=multi-user.target" in text
    assert "systemctl enable --now ecrtool-trees.service" in text
    exec_start = next(line for line in text.splitlines() if line.startswith("ExecStart="))
    assert shlex.split(exec_start.removeprefix("ExecStart=")) == [
        "/opt/ecrtool/bin/ecrtool",
        "--region",
        "ca-west-1",
        "run",
        REF,
        "--pull",
        "always",
        "--name",
        "trees",
        "--rm",
        "-p",
        "80:8080",
        "--",
        "serve",
        "--port",
        "8080",
    ]


def test_the_public_gallery_needs_no_ecr_rights() -> None:
    text = script(ref="public.ecr.aws/docker/library/busybox:latest")
    assert "AmazonEC2ContainerRegistryReadOnly" not in text
    assert ["$ECRTOOL", "--region", "ca-west-1", "login", "--public"] in ecrtool_lines(text)


def test_hostile_values_are_quoted() -> None:
    text = script(env=("MOTD=$(reboot); `id` 'x'",), command=("echo", "a b", "$HOME"))
    run = ecrtool_lines(text)[-1]
    assert run[run.index("-e") + 1] == "MOTD=$(reboot); `id` 'x'"
    assert run[-3:] == ["echo", "a b", "$HOME"]


@pytest.mark.parametrize(
    ("arg", "quoted"),
    [
        ("plain-arg_1.0:/x=y@z", "plain-arg_1.0:/x=y@z"),
        ("a b", '"a b"'),
        ("100%", '"100%%"'),
        ("$HOME", '"$$HOME"'),
        ('say "hi"\\', '"say \\"hi\\"\\\\"'),
    ],
)
def test_systemd_quoting(arg: str, quoted: str) -> None:
    assert systemd_quote(arg) == quoted


@pytest.mark.parametrize(
    ("run", "says"),
    [
        ({"env": ("TOKEN",)}, "give KEY=VALUE"),
        ({"ports": ("80",)}, "HOST:CONTAINER"),
        ({"volumes": ("data",)}, "invalid volume"),
        ({"restart": "sometimes"}, "invalid restart policy"),
        ({"name": "-x"}, "invalid container name"),
        ({"env_file": "app.env"}, "absolute path on the instance"),
    ],
)
def test_refused_run_options(run: dict[str, object], says: str) -> None:
    with pytest.raises(InvalidInput, match=says):
        script(**run)


def test_service_and_restart_do_not_go_together() -> None:
    with pytest.raises(InvalidInput, match="through systemd"):
        script(service=True, restart="always")


def test_unknown_os_and_bad_install_specs() -> None:
    parsed = parse_repo_ref(REF)
    run = check_run_args(
        parsed, name=None, ports=(), env=(), env_file=None, volumes=(), restart=None, command=(), service=False
    )
    with pytest.raises(InvalidInput, match="unknown --os"):
        generate(ref_text=REF, os_name="windows", region="ca-west-1", registry_id=None, run=run, service=False)
    with pytest.raises(InvalidInput, match="invalid --install"):
        generate(
            ref_text=REF,
            os_name="al2023",
            region="ca-west-1",
            registry_id=None,
            run=run,
            service=False,
            spec="ecrtool; reboot",
        )


def test_launch_command() -> None:
    assert launch_command("ca-west-1", "data.txt", "lt-0abc", None) == (
        "aws ec2 run-instances --region ca-west-1 --user-data file://data.txt"
        " --launch-template LaunchTemplateId=lt-0abc"
    )
    assert "--iam-instance-profile Name=ecr-reader" in launch_command(None, "u.sh", None, "ecr-reader")


def test_every_os_has_a_recipe_with_a_user() -> None:
    assert set(RECIPES) == {"al2023", "al2", "ubuntu"}
