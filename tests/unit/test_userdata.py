"""EC2 user data: what the script does for each OS, how it quotes, and what it refuses."""

from __future__ import annotations

import shlex
from typing import Any

import pytest

from ecrtool.model.errors import InvalidInput
from ecrtool.service.userdata import RECIPES, UV_REQUIREMENT, RunOptions, generate, launch_command, systemd_quote

REF = "trees:viruses"
WHEEL = "https://example.com/ecrtool-1.0-py3-none-any.whl#sha256=" + "a" * 64


def user_data(
    *,
    ref: str = REF,
    os_name: str = "al2023",
    service: bool = False,
    install: str | None = WHEEL,
    index_url: str | None = None,
    **run: Any,
) -> Any:
    return generate(
        ref_text=ref,
        os_name=os_name,
        region="ca-west-1",
        registry_id=None,
        run=RunOptions(**run),
        service=service,
        install=install,
        index_url=index_url,
    )


def script(**kwargs: Any) -> str:
    return str(user_data(**kwargs).script)


def commands(text: str) -> list[list[str]]:
    """The script's commands as bash splits them: comments and line continuations dropped, `>FILE` kept
    as the words ">" and FILE."""
    found: list[list[str]] = []
    pending = ""
    for line in text.replace("\\\n", " ").splitlines(keepends=True):
        pending += line
        try:
            words = shlex.split(pending, comments=True)
        except ValueError:  # a quoted value goes on to the next line
            continue
        pending = ""
        if words:
            found.append([part for word in words for part in ([">", word[1:]] if word.startswith(">") else [word])])
    return found


def ecrtool_lines(text: str) -> list[list[str]]:
    return [line for line in commands(text) if line[0] == "/opt/ecrtool/bin/ecrtool"]


@pytest.mark.parametrize(
    ("os_name", "user", "install"),
    [
        ("al2023", "ec2-user", "dnf install -y docker python3.11 python3.11-pip"),
        ("al2", "ec2-user", "yum install -y docker"),
        ("ubuntu", "ubuntu", "apt-get install -y -q docker.io python3-venv"),
    ],
)
def test_docker_for_the_default_user(os_name: str, user: str, install: str) -> None:
    text = script(os_name=os_name)
    assert text.startswith("#!/bin/bash\n")
    assert install in text
    assert "systemctl enable --now docker" in text
    assert f"usermod -aG docker {user}" in text
    assert ["/opt/ecrtool/bin/pip", "install", "--quiet", "--disable-pip-version-check", WHEEL] in commands(text)
    assert "ln -sf /opt/ecrtool/bin/ecrtool /usr/local/bin/ecrtool" in text


def test_al2_pipes_no_installer_into_a_shell() -> None:
    text = script(os_name="al2")
    assert "| sh" not in text and "curl" not in text
    lines = commands(text)
    assert ["printf", "%s\\n", UV_REQUIREMENT, ">", "/opt/uv/requirements.txt"] in lines
    install = next(line for line in lines if line[:4] == ["python3.8", "-m", "pip", "install"])
    assert "--require-hashes" in install and install[-2:] == ["-r", "/opt/uv/requirements.txt"]
    assert UV_REQUIREMENT.startswith("uv==") and UV_REQUIREMENT.count("--hash=sha256:") == 2
    uv = next(line for line in lines if "/opt/uv/bin/uv" in line)
    assert uv[-4:] == ["--seed", "--python", "3.12", "/opt/ecrtool"]


def test_login_pull_and_a_detached_run() -> None:
    lines = ecrtool_lines(script(name="web", ports=("80:8080",), restart="unless-stopped", command=("serve",)))
    assert lines == [
        ["/opt/ecrtool/bin/ecrtool", "--region", "ca-west-1", "login"],
        ["/opt/ecrtool/bin/ecrtool", "--region", "ca-west-1", "pull", REF],
        ["/opt/ecrtool/bin/ecrtool", "--region", "ca-west-1", "run", REF, "--pull", "never", "-d",
         "--name", "web", "-p", "80:8080", "--restart", "unless-stopped", "--", "serve"],
    ]  # fmt: skip


def test_env_values_go_through_a_root_only_file() -> None:
    text = script(name="web", env=("MODE=prod", "MOTD=$(reboot); `id` 'x' %d"))
    lines = commands(text)
    assert ["install", "-d", "-m", "700", "/etc/ecrtool"] in lines
    assert ["install", "-m", "600", "/dev/null", "/etc/ecrtool/web.env"] in lines
    assert ["printf", "%s\\n", "MODE=prod", "MOTD=$(reboot); `id` 'x' %d", ">", "/etc/ecrtool/web.env"] in lines
    run = ecrtool_lines(text)[-1]
    assert run[-2:] == ["--env-file", "/etc/ecrtool/web.env"]
    assert "prod" not in " ".join(run)


def test_no_value_in_a_comment_line() -> None:
    text = script(ports=("80:8080",), command=("serve-hidden-word",))
    comments = [line for line in text.splitlines() if line.lstrip().startswith("#")]
    assert not any("serve-hidden-word" in line or REF in line for line in comments)


def test_the_role_needs_pull_rights_and_secrets_stay_out() -> None:
    text = script()
    assert "AmazonEC2ContainerRegistryReadOnly" in text
    assert "ecr:GetAuthorizationToken" in text and "ecr:BatchGetImage" in text
    assert "SSM Parameter Store or Secrets Manager" in text


def unit_lines(text: str) -> list[str]:
    write = next(line for line in commands(text) if line[:2] == ["printf", "%s\\n"] and line[2] == "[Unit]")
    assert write[-2:] == [">", "/etc/systemd/system/ecrtool-trees.service"]
    return write[2:-2]


def test_a_systemd_unit_that_restarts_and_survives_reboots() -> None:
    text = script(service=True, ports=("80:8080",), command=("serve", "--port", "8080"))
    unit = unit_lines(text)
    assert "<<" not in text  # no heredoc for a value to close
    assert "Restart=always" in unit and "WantedBy=multi-user.target" in unit
    assert ["systemctl", "enable", "--now", "ecrtool-trees.service"] in commands(text)
    exec_start = next(line for line in unit if line.startswith("ExecStart="))
    assert exec_start.removeprefix("ExecStart=").split() == [
        "/opt/ecrtool/bin/ecrtool", "--region", "ca-west-1", "run", REF, "--pull", "always",
        "--name", "trees", "--rm", "-p", "80:8080", "--", "serve", "--port", "8080",
    ]  # fmt: skip


def test_the_public_gallery_needs_no_ecr_rights() -> None:
    text = script(ref="public.ecr.aws/docker/library/busybox:latest")
    assert "AmazonEC2ContainerRegistryReadOnly" not in text
    assert ["/opt/ecrtool/bin/ecrtool", "--region", "ca-west-1", "login", "--public"] in ecrtool_lines(text)


def test_hostile_values_are_quoted() -> None:
    text = script(command=("echo", "a b", "$HOME", "x\nrm -rf /"))
    assert ecrtool_lines(text)[-1][-4:] == ["echo", "a b", "$HOME", "x\nrm -rf /"]


@pytest.mark.parametrize(
    ("arg", "quoted"),
    [
        ("plain-arg_1.0:/x=y@z", "plain-arg_1.0:/x=y@z"),
        ("a b", '"a b"'),
        ("100%", '"100%%"'),
        ("$HOME", '"$$HOME"'),
        ('say "hi"\\', '"say \\"hi\\"\\\\"'),
        ("tab\there", '"tab\\x09here"'),
        (";", '";"'),
        ("", '""'),
    ],
)
def test_systemd_quoting(arg: str, quoted: str) -> None:
    assert systemd_quote(arg) == quoted


@pytest.mark.parametrize("arg", ["a\nb", "a\rb", "a\0b"])
def test_systemd_refuses_a_line_end(arg: str) -> None:
    with pytest.raises(InvalidInput, match="line break"):
        systemd_quote(arg, "-v")


@pytest.mark.parametrize(
    ("kwargs", "says"),
    [
        ({"env": ("TOKEN",)}, "^-e 'TOKEN': give KEY=VALUE"),
        ({"env": ("A=1\n2",)}, "^-e: "),
        ({"env": ("A=1\u20282",)}, "^-e A: the value holds a line break"),
        ({"env": ("A=1",), "env_file": "/etc/app.env"}, "^-e and --env-file together"),
        ({"ports": ("80",)}, "^-p: invalid port mapping"),
        ({"volumes": ("data",)}, "^-v: invalid volume"),
        ({"restart": "sometimes"}, "^--restart: invalid restart policy"),
        ({"name": "-x"}, "^--name: invalid container name"),
        ({"env_file": "app.env"}, "^--env-file 'app.env': give the file's absolute path"),
        ({"command": ("a\0b",)}, "^the COMMAND after -- 'a.x00b' holds a NUL"),
        ({"command": ("\udcff",)}, "^the COMMAND after -- .* is not valid UTF-8"),
        ({"ref": "Trees"}, "^--image: invalid"),
        ({"service": True, "restart": "always"}, "through systemd"),
        ({"service": True, "command": ("a\nb",)}, "^the COMMAND after -- 'a.nb' holds a line break"),
        ({"service": True, "volumes": ("/a\rb:/data",)}, "^-v '/a.rb:/data' holds a line break"),
        ({"service": True, "env_file": "/x\nUNIT\n"}, "^--env-file '/x.nUNIT.n' holds a line break"),
        ({"install": "ecrtool==1.0"}, "^--install 'ecrtool==1.0' names no index"),
        ({"os_name": "windows"}, "unknown --os"),
    ],
)
def test_refused(kwargs: dict[str, Any], says: str) -> None:
    with pytest.raises(InvalidInput, match=says):
        script(**kwargs)


@pytest.mark.parametrize(
    ("flag", "value"),
    [("region", "ca-west-1\ntouch /tmp/pwned"), ("region", "mars"), ("registry_id", "12;id")],
)
def test_region_and_registry_id_are_checked_again(flag: str, value: str) -> None:
    args: dict[str, Any] = {"region": "ca-west-1", "registry_id": None, flag: value}
    with pytest.raises(InvalidInput, match=f"^--{flag.replace('_', '-')}: "):
        generate(ref_text=REF, os_name="al2023", run=RunOptions(), service=False, install=WHEEL, **args)


def test_without_a_region_the_instance_uses_its_own() -> None:
    text = generate(ref_text=REF, os_name="al2023", region=None, registry_id=None, run=RunOptions(), service=False,
                    install=WHEEL).script  # fmt: skip
    assert ["/opt/ecrtool/bin/ecrtool", "login"] in commands(text)


@pytest.mark.parametrize(
    ("kwargs", "says"),
    [
        ({"launch_template": "lt-1\ntouch /tmp/pwned #"}, "^--launch-template "),
        ({"instance_profile": "a b"}, "^--instance-profile "),
        ({"file_name": "x\ny"}, "^--file "),
    ],
)
def test_launch_values_are_checked(kwargs: dict[str, Any], says: str) -> None:
    with pytest.raises(InvalidInput, match=says):
        generate(ref_text=REF, os_name="al2023", region="ca-west-1", registry_id=None, run=RunOptions(),
                 service=False, install=WHEEL, **kwargs)  # fmt: skip


def test_the_launch_command_is_not_in_the_script() -> None:
    result = generate(ref_text=REF, os_name="al2023", region="ca-west-1", registry_id=None, run=RunOptions(),
                      service=False, install=WHEEL, launch_template="lt-0abc", file_name="data.txt")  # fmt: skip
    assert "run-instances" not in result.script and "lt-0abc" not in result.script
    assert "--launch-template LaunchTemplateId=lt-0abc" in result.launch_command


def test_launch_command() -> None:
    assert launch_command("ca-west-1", "data.txt", "lt-0abc", None) == (
        "aws ec2 run-instances --region ca-west-1 --user-data file://data.txt"
        " --launch-template LaunchTemplateId=lt-0abc"
    )
    assert "--iam-instance-profile Name=ecr-reader" in launch_command(None, "u.sh", None, "ecr-reader")
    assert shlex.split(launch_command(None, "my data's.sh", None, None))[4] == "file://my data's.sh"


def test_an_index_url_goes_to_pip() -> None:
    text = script(install="ecrtool==1.0", index_url="https://pypi.example.com/simple")
    assert ["/opt/ecrtool/bin/pip", "install", "--quiet", "--disable-pip-version-check",
            "--index-url", "https://pypi.example.com/simple", "ecrtool==1.0"] in commands(text)  # fmt: skip


def test_every_os_has_a_recipe_with_a_user() -> None:
    assert set(RECIPES) == {"al2023", "al2", "ubuntu"}
