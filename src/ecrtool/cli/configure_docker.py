"""`ecrtool configure-docker`: plain `docker` gets ECR tokens from docker-credential-ecrtool, for good."""

from __future__ import annotations

import click

from ecrtool.cli.app import app
from ecrtool.cli.options import global_options_except


@click.command(
    "configure-docker",
    epilog="Examples:\n\n  ecrtool configure-docker --region ca-west-1 --region us-east-1\n\n"
    "  ecrtool configure-docker --registry-id 123456789012 --public --sudo\n\n"
    "Afterwards `docker pull ACCOUNT.dkr.ecr.REGION.amazonaws.com/trees:viruses` works with no login,"
    " from cron and CI too: the helper fetches (and caches) a token when docker asks.\n\n"
    "Replaces: aws ecr get-login-password | docker login ... every 12 hours, per account and region.",
)
@click.option(
    "--region",
    "regions",
    multiple=True,
    metavar="REGION",
    help="A region to configure; repeat for more (default: yours).",
)
@click.option(
    "--registry-id",
    "accounts",
    multiple=True,
    metavar="ACCOUNT",
    help="An account whose registries to configure; repeat for more (default: the caller's).",
)
@click.option("--public", is_flag=True, help="Also configure public.ecr.aws (ECR Public).")
@global_options_except("region", "registry_id")
@click.pass_context
def configure_docker(ctx: click.Context, regions: tuple[str, ...], accounts: tuple[str, ...], public: bool) -> None:
    """Make the docker command get ECR credentials from docker-credential-ecrtool.

    Adds a credHelpers entry per registry to the Docker config ($DOCKER_CONFIG/config.json or
    ~/.docker/config.json), keeping every other entry and the old file as config.json.bak. Running it
    again changes nothing. With ECRTOOL_REGISTRY set, that host is the one configured.

    With --sudo (or sudo = true in the config file) it configures root's Docker config instead, the
    one `sudo docker` reads: ROOT_HOME/.docker/config.json, since sudo drops DOCKER_CONFIG. It is
    written through `sudo -n` unless you are root, and the helper must be on root's PATH under sudo.
    """
    from ecrtool.service.setup import Setup

    a = app(ctx, Setup)
    result = a.service.configure_docker(regions, accounts, public=public, sudo=a.service.settings.sudo)
    a.render.configured_docker(result)
