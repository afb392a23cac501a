"""`ecrtool login`: aws ecr get-login-password | docker login, with the password kept off every command line."""

from __future__ import annotations

import click

from ecrtool.cli.app import app
from ecrtool.cli.options import global_options


@click.command(
    epilog="Examples:\n\n  ecrtool login --region ca-west-1\n\n  ecrtool login --public\n\n"
    "  ecrtool --sudo login      # for `sudo docker` on a host where you are not in the docker group\n\n"
    "Replaces: aws ecr get-login-password --region REGION | docker login --username AWS "
    "--password-stdin ACCOUNT.dkr.ecr.REGION.amazonaws.com"
)
@click.option(
    "--public",
    is_flag=True,
    help="Log in to the public gallery, public.ecr.aws (ecr-public, always in us-east-1), for its higher pull limits.",
)
@global_options
@click.pass_context
def login(ctx: click.Context, public: bool) -> None:
    """Log the Docker engine in to the registry and store the credentials as `docker login` does.

    Afterwards a plain `docker pull` or `docker push` works. The password is valid for 12 hours.
    """
    from ecrtool.service.tokens import Tokens

    a = app(ctx, Tokens)
    a.render.logged_in(a.service.login(public=public))
