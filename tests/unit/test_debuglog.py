"""--debug output: what botocore and ecrtool log, with every secret replaced by ***."""

from __future__ import annotations

import io
import logging

import pytest

from ecrtool.cli.debuglog import RedactingFilter, redact

SECRET = "S3cr3tV4lue0123456789"

# Lines shaped like the ones botocore, docker-py and ecrtool write at DEBUG level.
LINES = {
    "json body token": f'Response body:\nb\'{{"authorizationData": [{{"authorizationToken": "{SECRET}", "x": 1}}]}}\'',
    "json password": f'{{"username": "AWS", "password": "{SECRET}"}}',
    "key=value password": f"login with password={SECRET} for AWS",
    "docker config auth": f'{{"auths": {{"host": {{"auth": "{SECRET}"}}}}}}',
    "helper payload": f'{{"ServerURL": "host", "Username": "AWS", "Secret": "{SECRET}"}}',
    "identity token": f'{{"identitytoken": "{SECRET}"}}',
    "authorization header": f"Authorization: AWS4-HMAC-SHA256 Credential=AKIAEXAMPLE/x, Signature={SECRET}",
    "registry auth header": f"X-Registry-Auth: {SECRET}",
    "botocore request headers": (
        "Sending http request: <AWSPreparedRequest stream_output=False, method=POST, url=https://api.ecr/, "
        "headers={'X-Amz-Date': b'20260101T000000Z', "
        f"'X-Amz-Security-Token': b'{SECRET}', "
        f"'Authorization': b'AWS4-HMAC-SHA256 Credential=AKIAEXAMPLE/x, SignedHeaders=host, Signature={SECRET}'"
        "}>"
    ),
    "python dict repr": f"params: {{'username': 'AWS', 'password': '{SECRET}'}}",
    "sts xml credentials": (
        "Response body:\nb'<AssumeRoleResponse><AssumeRoleResult><Credentials>"
        f"<AccessKeyId>ASIAEXAMPLE</AccessKeyId><SecretAccessKey>{SECRET}</SecretAccessKey>"
        f"<SessionToken>{SECRET}</SessionToken></Credentials></AssumeRoleResult></AssumeRoleResponse>'"
    ),
    "sso json credentials": (
        'Response body:\nb\'{"roleCredentials": {"accessKeyId": "ASIAEXAMPLE", '
        f'"secretAccessKey": "{SECRET}", "sessionToken": "{SECRET}", "expiration": 1}}}}\''
    ),
}


@pytest.mark.parametrize("line", LINES.values(), ids=LINES.keys())
def test_redact_hides_the_secret(line: str) -> None:
    redacted = redact(line)
    assert SECRET not in redacted
    assert "***" in redacted


@pytest.mark.parametrize(
    "line",
    [
        "Making request for OperationModel(name=DescribeRepositories) with params: {'url_path': '/'}",
        "Endpoint provider result: https://api.ecr.ca-west-1.amazonaws.com",
        "push of 123456789012.dkr.ecr.ca-west-1.amazonaws.com/trees:v1",
    ],
)
def test_redact_leaves_ordinary_lines_alone(line: str) -> None:
    assert redact(line) == line


def test_the_filter_redacts_formatted_arguments() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactingFilter())
    logger = logging.getLogger("ecrtool.test.redaction")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    try:
        logger.debug("Response body:\n%r", f'{{"authorizationToken": "{SECRET}"}}'.encode())
        logger.debug("headers %s", {"X-Registry-Auth": SECRET})
    finally:
        logger.removeHandler(handler)
    assert SECRET not in stream.getvalue()
    assert stream.getvalue().count("***") == 2
