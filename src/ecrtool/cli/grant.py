"""`ecrtool grant|revoke REPO --pull|--push (--account ID | --org ID | --role ARN | --lambda | --ecs-tasks)…`
and `ecrtool policy show REPO`: who may pull and push, as a repository's (or the registry's) policy."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

from ecrtool.cli.app import app
from ecrtool.cli.options import global_options

F = TypeVar("F", bound=Callable[..., Any])

_GRANT_OPTIONS = [
    click.argument("repo", required=False),
    click.option(
        "--pull", is_flag=True, help="Pull: ecr:BatchGetImage, GetDownloadUrlForLayer, BatchCheckLayerAvailability."
    ),
    click.option(
        "--push", is_flag=True, help="Push: ecr:PutImage, InitiateLayerUpload, UploadLayerPart, CompleteLayerUpload…"
    ),
    click.option(
        "--replicate",
        is_flag=True,
        help="With --registry: replication into this registry (ecr:CreateRepository, ecr:ReplicateImage).",
    ),
    click.option("--account", "accounts", multiple=True, metavar="ID", help="An AWS account (12 digits); repeatable."),
    click.option(
        "--org", "orgs", multiple=True, metavar="ID", help="Every account of an organization (o-…); repeatable."
    ),
    click.option("--role", "roles", multiple=True, metavar="ARN", help="One IAM role (arn:aws:iam::ID:role/NAME)."),
    click.option("--lambda", "lambda_", is_flag=True, help="lambda.amazonaws.com (functions' container images)."),
    click.option("--ecs-tasks", is_flag=True, help="ecs-tasks.amazonaws.com."),
    click.option(
        "--source-arn",
        metavar="ARN",
        help="For --lambda/--ecs-tasks: the calling resource (wildcards allowed), e.g. "
        "arn:aws:lambda:REGION:ACCOUNT:function:*; without it, the registry's own account only.",
    ),
    click.option("--registry", is_flag=True, help="Work on the registry's policy instead of a repository's."),
]


def grant_options(func: F) -> F:
    for option in reversed(_GRANT_OPTIONS):
        func = option(func)
    return func


def _specs(
    accounts: tuple[str, ...],
    orgs: tuple[str, ...],
    roles: tuple[str, ...],
    lambda_: bool,
    ecs_tasks: bool,
    source_arn: str | None,
) -> list[Any]:
    from ecrtool.model.errors import InvalidInput
    from ecrtool.service.grants import GranteeSpec

    if source_arn is not None and not (lambda_ or ecs_tasks):
        raise InvalidInput("--source-arn narrows --lambda or --ecs-tasks: add one of them")
    if lambda_ and ecs_tasks and source_arn is not None:
        raise InvalidInput("--source-arn names one service's resource: grant --lambda and --ecs-tasks separately")
    specs = [GranteeSpec("account", a) for a in accounts]
    specs += [GranteeSpec("org", o) for o in orgs]
    specs += [GranteeSpec("role", r) for r in roles]
    specs += [GranteeSpec(kind, source_arn or "") for kind, on in (("lambda", lambda_), ("ecs-tasks", ecs_tasks)) if on]
    return specs


def _run(
    ctx: click.Context, verb: str, repo: str | None, pull: bool, push: bool, replicate: bool, registry: bool, **who: Any
) -> None:
    from ecrtool.cli.render_policy import policy
    from ecrtool.service.grants import Grants

    access = [name for name, on in (("pull", pull), ("push", push), ("replicate", replicate)) if on]
    specs = _specs(**who)
    a = app(ctx, Grants)
    call = a.service.grant if verb == "grant" else a.service.revoke
    policy(a.render, call(repo, access, specs, registry=registry))


@click.command(
    epilog="Examples:\n\n  ecrtool grant shared/app --pull --account 210987654321\n\n"
    "  ecrtool grant shared/app --pull --org o-a1b2c3d4e5\n\n"
    "  ecrtool grant shared/app --pull --lambda --source-arn 'arn:aws:lambda:ca-west-1:210987654321:function:*'\n\n"
    "  ecrtool grant shared/app --pull --ecs-tasks -o json\n\n"
    "  ecrtool grant --registry --replicate --account 210987654321   # its replication rules may copy here\n\n"
    "Granting twice leaves one statement; statements ecrtool did not write stay as they are.\n"
    "Replaces: aws ecr get-repository-policy, hand-editing the JSON, aws ecr set-repository-policy",
)
@grant_options
@global_options
@click.pass_context
def grant(
    ctx: click.Context, repo: str | None, pull: bool, push: bool, replicate: bool, registry: bool, **who: Any
) -> None:
    """Let an account, organization, role or service pull (or push) REPO: one statement per grantee merged
    into its policy (--registry: the registry's), then the policy as it now stands."""
    _run(ctx, "grant", repo, pull, push, replicate, registry, **who)


@click.command(
    epilog="Examples:\n\n  ecrtool revoke shared/app --pull --account 210987654321\n\n"
    "  ecrtool revoke shared/app --push --role arn:aws:iam::210987654321:role/deployer\n\n"
    "Removes only ecrtool's statement for that grantee and access; every other statement stays byte for byte.\n"
    "Replaces: aws ecr get-repository-policy, hand-editing the JSON, aws ecr set-repository-policy",
)
@grant_options
@global_options
@click.pass_context
def revoke(
    ctx: click.Context, repo: str | None, pull: bool, push: bool, replicate: bool, registry: bool, **who: Any
) -> None:
    """Take back what `ecrtool grant` gave: the grantee's pull (or push) statement leaves REPO's policy."""
    _run(ctx, "revoke", repo, pull, push, replicate, registry, **who)


@click.group(
    epilog="Examples:\n\n  ecrtool policy show shared/app\n\n  ecrtool policy show --registry -o json\n\n"
    "Replaces: aws ecr get-repository-policy / get-registry-policy"
)
def policy() -> None:
    """Read a repository's (or the registry's) access policy."""


@policy.command(
    epilog="Examples:\n\n  ecrtool policy show shared/app\n\n  ecrtool policy show shared/app -o json\n\n"
    "  ecrtool policy show --registry\n\nReplaces: aws ecr get-repository-policy --repository-name shared/app"
)
@click.argument("repo", required=False)
@click.option("--registry", is_flag=True, help="The registry's policy instead of a repository's.")
@global_options
@click.pass_context
def show(ctx: click.Context, repo: str | None, registry: bool) -> None:
    """Print REPO's policy as a table of statements (-o json: the document itself)."""
    from ecrtool.cli.render_policy import policy as render_policy
    from ecrtool.service.grants import Grants

    a = app(ctx, Grants)
    render_policy(a.render, a.service.show(repo, registry=registry))
