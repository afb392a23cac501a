"""`ecrtool create`: aws ecr create-repository, with the URI printed."""

from __future__ import annotations

import click

from ecrtool.cli.app import app
from ecrtool.cli.options import global_options


@click.command(
    epilog="Example:\n\n  ecrtool create trees --scan-on-push --tag team=data\n\n"
    "Replaces: aws ecr create-repository --repository-name trees --region REGION"
)
@click.argument("repo")
@click.option("--scan-on-push", is_flag=True, help="Scan images for vulnerabilities when pushed.")
@click.option("--immutable", is_flag=True, help="Refuse to overwrite an existing tag.")
@click.option("--kms-key", metavar="KEY", help="Encrypt with this KMS key (id, alias or ARN) instead of AES-256.")
@click.option("--tag", "tags", multiple=True, metavar="KEY=VALUE", help="Resource tag; repeat for more.")
@click.option("--exist-ok", is_flag=True, help="Succeed if the repository already exists.")
@global_options
@click.pass_context
def create(
    ctx: click.Context,
    repo: str,
    scan_on_push: bool,
    immutable: bool,
    kms_key: str | None,
    tags: tuple[str, ...],
    exist_ok: bool,
) -> None:
    """Create the repository REPO and print its URI."""
    from ecrtool.service.repos import Repositories

    a = app(ctx, Repositories)
    a.render.created(
        a.service.create(
            repo, scan_on_push=scan_on_push, immutable=immutable, kms_key=kms_key, tags=tags, exist_ok=exist_ok
        )
    )
