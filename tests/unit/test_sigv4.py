"""ecrtool's own SigV4 signature is the one botocore computes for the same request."""

from __future__ import annotations

from datetime import datetime, timezone
from unittest import mock

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from ecrtool.aws.sigv4 import sign_post

MOMENT = datetime(2026, 11, 27, 6, 48, 33, tzinfo=timezone.utc)


def botocore_signature(url: str, headers: dict[str, str], body: bytes, region: str, creds: Credentials) -> str:
    request = AWSRequest(method="POST", url=url, data=body, headers=dict(headers))
    with mock.patch("botocore.auth.get_current_datetime", return_value=MOMENT.replace(tzinfo=None)):
        SigV4Auth(creds, "ecr", region).add_auth(request)
    return str(request.headers["Authorization"])


@pytest.mark.parametrize(
    ("url", "host", "token"),
    [
        ("https://api.ecr.ca-west-1.amazonaws.com/", "api.ecr.ca-west-1.amazonaws.com", None),
        ("https://api.ecr.ca-west-1.amazonaws.com/", "api.ecr.ca-west-1.amazonaws.com", "FwoGZXIvYXdzEJr//session"),
        ("http://127.0.0.1:51797/", "127.0.0.1:51797", None),
    ],
)
@pytest.mark.parametrize("body", [b"{}", b'{"repositoryNames":["trees"],"registryId":"123456789012"}'])
def test_the_signature_is_botocores(url: str, host: str, token: str | None, body: bytes) -> None:
    headers = {
        "X-Amz-Target": "AmazonEC2ContainerRegistry_V20150921.DescribeRepositories",
        "Content-Type": "application/x-amz-json-1.1",
    }
    creds = Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", token)
    signed = sign_post(
        host=host,
        headers=headers,
        body=body,
        region="ca-west-1",
        service="ecr",
        access_key=creds.access_key,
        secret_key=creds.secret_key,
        session_token=token,
        now=MOMENT,
    )
    assert signed["Authorization"] == botocore_signature(url, headers, body, "ca-west-1", creds)
    assert signed["X-Amz-Date"] == "20261127T064833Z"
    assert signed["Host"] == host
    assert signed.get("X-Amz-Security-Token") == token


def test_a_different_secret_gives_a_different_signature() -> None:
    def signature(secret: str) -> str:
        return sign_post(
            host="h",
            headers={},
            body=b"{}",
            region="us-east-1",
            service="ecr",
            access_key="A",
            secret_key=secret,
            now=MOMENT,
        )["Authorization"]

    assert signature("one") != signature("two")
