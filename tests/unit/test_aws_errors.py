"""botocore's exceptions become the project's errors, with a next step and the right exit code."""

from __future__ import annotations

import pytest
from botocore.exceptions import (
    ClientError,
    EndpointConnectionError,
    NoCredentialsError,
    PartialCredentialsError,
    ReadTimeoutError,
)

from ecrtool.aws.errors import translate
from ecrtool.model.errors import AlreadyExists, AuthError, EcrToolError, InvalidInput, NotFound


def client_error(code: str, message: str = "the service said no") -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": message}}, "Operation")


@pytest.mark.parametrize(
    ("error", "kind", "exit_code", "needles"),
    [
        (
            client_error("RepositoryNotFoundException"),
            NotFound,
            1,
            ["repository 'trees' does not exist", "`ecrtool create trees`", "--create"],
        ),
        (
            client_error("RepositoryAlreadyExistsException"),
            AlreadyExists,
            1,
            ["repository 'trees' already exists", "--exist-ok"],
        ),
        (
            client_error("AccessDeniedException", "User: arn:aws:iam::1:user/x is not authorized"),
            AuthError,
            1,
            ["access denied for ecr:CreateRepository", "must allow ecr:CreateRepository", "is not authorized"],
        ),
        (client_error("RepositoryNotEmptyException"), EcrToolError, 1, ["still holds images", "--force"]),
        (client_error("ImageNotFoundException", "no v1"), NotFound, 1, ["image not found 'trees'", "no v1"]),
        (client_error("UnrecognizedClientException"), AuthError, 1, ["rejected the credentials", "--profile"]),
        (client_error("ExpiredTokenException"), AuthError, 1, ["rejected the credentials"]),
        (client_error("InvalidParameterException", "bad kms key"), InvalidInput, 2, ["bad kms key"]),
        (client_error("LimitExceededException", "too many"), EcrToolError, 1, ["hit an ECR limit", "too many"]),
        (client_error("ThrottlingException", "slow down"), EcrToolError, 1, ["ThrottlingException", "slow down"]),
        (NoCredentialsError(), AuthError, 1, ["no AWS credentials found", "AWS_ACCESS_KEY_ID", "--profile"]),
        (PartialCredentialsError(provider="env", cred_var="AWS_SECRET_ACCESS_KEY"), AuthError, 1, ["incomplete"]),
        (
            EndpointConnectionError(endpoint_url="https://api.ecr.ca-west-1.amazonaws.com/"),
            EcrToolError,
            1,
            ["cannot reach the AWS endpoint", "AWS_ENDPOINT_URL"],
        ),
        (ReadTimeoutError(endpoint_url="https://x"), EcrToolError, 1, ["ecr:CreateRepository failed"]),
    ],
)
def test_translate(error: Exception, kind: type[EcrToolError], exit_code: int, needles: list[str]) -> None:
    with pytest.raises(kind) as caught:
        with translate("ecr:CreateRepository", repository="trees"):
            raise error
    assert type(caught.value) is kind
    assert caught.value.exit_code == exit_code
    for needle in needles:
        assert needle in str(caught.value)
    assert caught.value.__cause__ is error


def test_translate_without_a_repository_still_says_what_to_run() -> None:
    with pytest.raises(NotFound, match="`ecrtool create REPO`"):
        with translate("ecr:DescribeImages"):
            raise client_error("RepositoryNotFoundException")


def test_translate_lets_project_errors_through() -> None:
    original = InvalidInput("already explained")
    with pytest.raises(InvalidInput) as caught:
        with translate("ecr:CreateRepository"):
            raise original
    assert caught.value is original


def test_translate_leaves_other_exceptions_alone() -> None:
    with pytest.raises(KeyError):
        with translate("ecr:CreateRepository"):
            raise KeyError("x")
