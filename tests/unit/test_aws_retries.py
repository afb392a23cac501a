"""What a user reads once botocore's retries are spent: throttling and server errors, with the attempt count."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from ecrtool.aws.errors import translate
from ecrtool.aws.session import MAX_ATTEMPTS, AwsSession
from ecrtool.model.errors import EcrToolError


def retried_error(code: str, status: int, retries: int) -> ClientError:
    return ClientError(
        {
            "Error": {"Code": code, "Message": "Rate exceeded"},
            "ResponseMetadata": {"HTTPStatusCode": status, "RetryAttempts": retries},
        },
        "DescribeRepositories",
    )


def failure(error: ClientError) -> EcrToolError:
    with pytest.raises(EcrToolError) as caught, translate("ecr:DescribeRepositories"):
        raise error
    return caught.value


@pytest.mark.parametrize("code", ["ThrottlingException", "TooManyRequestsException", "RequestLimitExceeded"])
def test_throttling_says_so_and_counts_the_attempts(code: str) -> None:
    err = failure(retried_error(code, 400, 4))
    assert str(err).startswith(f"AWS throttled ecr:DescribeRepositories ({code}: Rate exceeded) on all 5 attempts")
    assert "wait a minute and run the command again" in str(err)
    assert err.exit_code == 1


def test_http_429_is_throttling_whatever_the_code() -> None:
    assert "AWS throttled" in str(failure(retried_error("", 429, 4)))


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_server_errors_name_the_status_and_the_attempts(status: int) -> None:
    err = failure(retried_error("ServerException", status, 4))
    assert str(err) == (
        f"AWS answered ecr:DescribeRepositories with HTTP {status} (ServerException: Rate exceeded) on all 5 attempts:"
        " the service is having trouble; run the command again later"
    )


def test_a_server_error_that_was_not_retried_says_one_attempt() -> None:
    assert "on the one attempt" in str(failure(retried_error("ServerException", 500, 0)))


def test_clients_retry_in_standard_mode_with_five_attempts_in_all(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    client = AwsSession(region="ca-west-1").client("ecr")
    retries = client.meta.config.retries
    assert retries["mode"] == "standard"
    assert retries["total_max_attempts"] == MAX_ATTEMPTS == 5
