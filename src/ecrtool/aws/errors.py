"""AWS's failures as the project's errors: botocore's exceptions and the signed client's, translated once.

Also the throttling codes both clients retry with the longer backoff, so the retry and the message agree.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from ecrtool.model.errors import (
    AlreadyExists,
    AuthError,
    EcrToolError,
    InvalidInput,
    NoScan,
    NotFound,
    ScanQuota,
    TagTaken,
)

# The error codes botocore's standard retry mode takes for throttling: retried with the longer backoff
# (ecr_json does the same), and named as throttling once the attempts are spent.
THROTTLING_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottledException",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
        "TransactionInProgressException",
        "RequestLimitExceeded",
        "BandwidthLimitExceeded",
        "LimitExceededException",
        "RequestThrottled",
        "SlowDown",
        "PriorRequestNotComplete",
        "EC2ThrottledException",
    }
)

CREDENTIALS_HINT = (
    "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, pass --profile, run `aws configure`, or use an instance role"
)


class ServiceError(Exception):
    """An error answer from the API, shaped like botocore's ClientError for the same translation."""

    def __init__(self, operation: str, response: dict[str, Any]) -> None:
        error = response.get("Error", {})
        super().__init__(f"An error occurred ({error.get('Code')}) when calling the {operation} operation")
        self.operation = operation
        self.response = response


class Unreachable(Exception):
    """No answer at all from the endpoint (refused, reset, timed out), after every attempt."""


_NOT_FOUND = {
    "RepositoryNotFoundException": "repository not found",
    "ImageNotFoundException": "image not found",
}


@contextmanager
def translate(action: str, *, repository: str | None = None) -> Iterator[None]:
    """Turn botocore's (and ecr_json's) exceptions raised inside the block into the project's errors.

    botocore's exception classes are loaded only when one was raised: a call that went out without
    botocore must not load it to find out that it succeeded.
    """
    try:
        yield
    except EcrToolError:
        raise
    except Exception as err:
        translated = _translated(err, action, repository)
        if translated is err:
            raise
        raise translated from err


def _translated(err: Exception, action: str, repository: str | None) -> BaseException:
    if isinstance(err, ServiceError):
        return from_client_error(err, action, repository)
    if isinstance(err, Unreachable):
        return cannot_reach(action, err)
    if not type(err).__module__.startswith("botocore"):
        return err
    import botocore.exceptions as bx

    if isinstance(err, bx.NoCredentialsError):
        return AuthError(f"no AWS credentials found: {CREDENTIALS_HINT}")
    if isinstance(err, bx.PartialCredentialsError):
        return AuthError(f"incomplete AWS credentials ({err}): {CREDENTIALS_HINT}")
    if isinstance(err, (bx.EndpointConnectionError, bx.ConnectTimeoutError)):
        return cannot_reach(action, err)
    if isinstance(err, bx.ClientError):
        return from_client_error(err, action, repository)
    if isinstance(err, bx.BotoCoreError):
        return EcrToolError(f"{action} failed: {err}")
    return err


def cannot_reach(action: str, err: Exception) -> EcrToolError:
    return EcrToolError(
        f"cannot reach the AWS endpoint for {action} ({err}): check the network, --region and AWS_ENDPOINT_URL"
    )


def from_client_error(err: Any, action: str, repository: str | None) -> EcrToolError:
    error = err.response.get("Error", {})
    code = str(error.get("Code", ""))
    message = str(error.get("Message", "")).strip()
    where = f" {repository!r}" if repository else ""
    if code == "RepositoryNotFoundException":
        return NotFound(
            f"repository{where} does not exist: create it with `ecrtool create {repository or 'REPO'}`"
            " (or pass --create to push)"
        )
    if code == "RepositoryAlreadyExistsException":
        return AlreadyExists(f"repository{where} already exists: pass --exist-ok to accept it")
    if code == "ImageAlreadyExistsException":
        return AlreadyExists(f"image already exists{where}: {message or code}")
    if code == "ImageTagAlreadyExistsException":
        return TagTaken(f"tag already in use{where}, which is immutable: {message or code}")
    if code == "RepositoryNotEmptyException":
        return EcrToolError(f"repository{where} still holds images: pass --force to delete them with it")
    if code in _NOT_FOUND:
        return NotFound(f"{_NOT_FOUND[code]}{where}: {message}")
    if code in ("AccessDeniedException", "AccessDenied", "UnauthorizedOperation") and "resource-based" in message:
        from ecrtool.model.policy import missing_grant

        not_granted = missing_grant(message)  # another account's repository, whose policy lacks a grant
        if not_granted is not None:
            return not_granted
    if code in ("AccessDeniedException", "AccessDenied", "UnauthorizedOperation"):
        return AuthError(f"access denied for {action}: the caller's IAM policy must allow {action} ({message or code})")
    if code in (
        "UnrecognizedClientException",
        "InvalidClientTokenId",
        "InvalidSignatureException",
        "SignatureDoesNotMatch",
        "ExpiredToken",
        "ExpiredTokenException",
        "InvalidAccessKeyId",
    ):
        return AuthError(f"AWS rejected the credentials for {action} ({code}): {CREDENTIALS_HINT}")
    if code in ("InvalidParameterException", "ValidationException"):
        return InvalidInput(f"{action} rejected the request: {message or code}")
    if code == "ScanNotFoundException":
        return NoScan(f"no scan of this image{where} yet: `ecrtool scan REF` starts one ({message or code})")
    if code == "LimitExceededException" and action == "ecr:StartImageScan":
        return ScanQuota(
            f"ECR scans an image at most once in 24 hours{where}: the last scan's results stand"
            f" (`ecrtool scan REF` shows them): {message or code}"
        )
    if code == "UnsupportedImageTypeException":
        return EcrToolError(
            f"ECR cannot scan this image{where} ({message or code}): its basic scan reads an image's layers,"
            " not an index, signature or other artifact; scan a platform's image (`ecrtool scan REPO@DIGEST`)"
        )
    if code == "LimitExceededException":
        return EcrToolError(f"{action} hit an ECR limit: {message}")
    meta = err.response.get("ResponseMetadata") or {}
    status = int(meta.get("HTTPStatusCode") or 0)
    brief = " ".join(message.split())[:300]  # one line, whatever the service sent
    said = f"{code or status}{': ' + brief if brief else ''}"
    tries = int(meta.get("RetryAttempts") or 0) + 1
    attempts = f"all {tries} attempts" if tries > 1 else "the one attempt"
    if code in THROTTLING_CODES or status == 429:
        return EcrToolError(
            f"AWS throttled {action} ({said}) on {attempts},"
            " backing off between them:"
            " too many calls at once; wait a minute and run the command again"
        )
    if status >= 500:
        return EcrToolError(
            f"AWS answered {action} with HTTP {status} ({said}) on {attempts}:"
            " the service is having trouble; run the command again later"
        )
    return EcrToolError(f"{action} failed ({code or 'error'}): {message or err}")
