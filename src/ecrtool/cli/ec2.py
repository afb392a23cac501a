"""`ecrtool ec2 user-data`: the cloud-init script that makes a new EC2 instance run an ECR image."""

from __future__ import annotations

import os

import click

from ecrtool.cli.app import app
from ecrtool.cli.options import global_options
from ecrtool.cli.run import run_options

# userdata.RECIPES' keys, spelled out so that loading the command line does not load the recipes
# (tests/unit/test_startup.py keeps the two equal)
OS_NAMES = ("al2023", "al2", "ubuntu")


@click.group(
    epilog="Example:\n\n  ecrtool ec2 user-data --image trees:viruses --region ca-west-1 --service > user-data.sh\n\n"
    "Then: aws ec2 run-instances --user-data file://user-data.sh --launch-template LaunchTemplateId=lt-..."
)
def ec2() -> None:
    """Helpers for EC2 instances that run images from ECR."""


@ec2.command(
    "user-data",
    epilog="Examples:\n\n  ecrtool ec2 user-data --image trees:viruses --region ca-west-1 > user-data.sh\n\n"
    "  ecrtool ec2 user-data --image trees:viruses --os ubuntu --service -p 80:8080 \\\n"
    "      --file user-data.sh --launch-command --launch-template lt-0abc\n\n"
    "Replaces: a hand-written data.txt (yum install -y docker; service docker start;"
    " usermod -a -G docker ec2-user) plus aws ecr get-login-password | docker login; docker pull; docker run.",
)
@click.option("--image", "ref", required=True, metavar="REF", help="The image to run, as `ecrtool pull` takes it.")
@click.option("--os", "os_name", type=click.Choice(OS_NAMES), default="al2023", show_default=True, help="The AMI's OS.")
@click.option("--service", is_flag=True, help="Run it as a systemd unit: restarted when it stops, kept across reboots.")
@run_options
@click.option(
    "--install",
    metavar="SPEC",
    help="What pip installs on the instance: a wheel URL with #sha256=HASH (checked there), "
    "git+https://HOST/REPO@COMMIT, or a requirement with --index-url. Default: what this ecrtool was "
    "installed from (its install record); an editable or local install has to name one.",
)
@click.option(
    "--index-url",
    metavar="URL",
    help="The package index pip uses on the instance, for --install's requirement and its dependencies.",
)
@click.option("--file", "file_name", metavar="PATH", help="Write the script to PATH instead of stdout.")
@click.option(
    "--launch-command",
    is_flag=True,
    help="Also print the matching `aws ec2 run-instances` line (on stdout with --file, else on stderr).",
)
@click.option("--launch-template", metavar="ID", help="The launch template id for that line.")
@click.option("--instance-profile", metavar="NAME", help="The instance profile (role) for that line.")
@click.argument("command", nargs=-1, type=click.UNPROCESSED)
@global_options
@click.pass_context
def user_data(
    ctx: click.Context,
    ref: str,
    os_name: str,
    service: bool,
    name: str | None,
    ports: tuple[str, ...],
    env: tuple[str, ...],
    env_file: str | None,
    volumes: tuple[str, ...],
    remove: bool,
    restart: str | None,
    install: str | None,
    index_url: str | None,
    file_name: str | None,
    launch_command: bool,
    launch_template: str | None,
    instance_profile: str | None,
    command: tuple[str, ...],
) -> None:
    """Print EC2 user data that installs Docker and ecrtool, then logs in, pulls and runs the image.

    Docker is enabled at boot and the default user (ec2-user, or ubuntu) joins the docker group, so
    docker needs no sudo there. The container runs detached, or with --service under systemd. Run
    options (-p, -e, -v, --name, --restart, and a COMMAND after --) are passed to `ecrtool run` on the
    instance. The script says which ECR rights the instance's role needs.

    User data is readable by any process on the instance (instance metadata,
    http://169.254.169.254/latest/user-data): keep secrets in SSM Parameter Store or Secrets Manager,
    not in -e. -e values reach the container through a root-only (0600) file, never a command line.
    --file is written readable by you alone (0600).
    """
    from ecrtool.service.setup import Setup

    a = app(ctx, Setup)
    result = a.service.user_data(
        ref,
        os_name=os_name,
        service=service,
        run={
            "name": name,
            "ports": ports,
            "env": env,
            "env_file": env_file,
            "volumes": volumes,
            "restart": restart,
            "command": command,
            "remove": remove,
        },
        install=install,
        index_url=index_url,
        launch_template=launch_template,
        instance_profile=instance_profile,
        file_name=file_name or "user-data.sh",
    )
    if file_name:
        _write_private(file_name, result.script)
    a.render.user_data(result, launch_command=launch_command, to_file=file_name)


def _write_private(path: str, text: str) -> None:
    """PATH holds TEXT, readable by its owner alone from the first byte: made 0600 beside it, then renamed."""
    from ecrtool.model.errors import InvalidInput

    folder = os.path.dirname(os.path.abspath(path))
    temp = os.path.join(folder, f".{os.path.basename(path)}.{os.getpid()}.tmp")
    try:
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(text)
            os.replace(temp, path)
        except BaseException:
            os.unlink(temp)
            raise
    except OSError as err:
        raise InvalidInput(f"--file {path}: cannot write it: {err.strerror or err}") from None
