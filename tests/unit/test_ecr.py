"""The ECR gateway on a real boto3 client, stubbed: chunked deletes, tokens and translated errors."""

from __future__ import annotations

import base64
from datetime import datetime, timezone
from typing import Any

import pytest
from botocore.stub import Stubber

from ecrtool.aws.ecr import Ecr
from ecrtool.model.errors import AuthError, NotFound
from ecrtool.model.results import DeleteFailure, ImageId


def test_deleting_1000_tags_takes_10_calls_of_at_most_100(client: Any, stub: Stubber) -> None:
    ids = [{"imageTag": f"t{i}"} for i in range(1000)]
    for start in range(0, 1000, 100):
        chunk = ids[start : start + 100]
        stub.add_response(
            "batch_delete_image",
            {"imageIds": [{**item, "imageDigest": "sha256:" + "a" * 64} for item in chunk], "failures": []},
            {"repositoryName": "trees", "imageIds": chunk},
        )
    deleted, failures, calls = Ecr(client).batch_delete("trees", ids)
    assert calls == 10
    assert len(deleted) == 1000
    assert deleted[0] == ImageId(digest="sha256:" + "a" * 64, tag="t0")
    assert failures == []


def test_delete_collects_failures_from_every_call(client: Any, stub: Stubber) -> None:
    ids = [{"imageTag": f"t{i}"} for i in range(150)]
    for chunk, missing in ((ids[:100], "t5"), (ids[100:], "t120")):
        stub.add_response(
            "batch_delete_image",
            {
                "failures": [
                    {
                        "imageId": {"imageTag": missing},
                        "failureCode": "ImageNotFound",
                        "failureReason": "Requested image not found",
                    }
                ],
            },
            {"repositoryName": "trees", "imageIds": chunk},
        )
    deleted, failures, calls = Ecr(client).batch_delete("trees", ids)
    assert calls == 2
    assert deleted == []
    assert failures == [
        DeleteFailure(ImageId(tag="t5"), "ImageNotFound", "Requested image not found"),
        DeleteFailure(ImageId(tag="t120"), "ImageNotFound", "Requested image not found"),
    ]


def test_delete_passes_the_registry_id(client: Any, stub: Stubber) -> None:
    stub.add_response(
        "batch_delete_image",
        {"imageIds": [{"imageTag": "v1", "imageDigest": "sha256:" + "b" * 64}], "failures": []},
        {"repositoryName": "trees", "imageIds": [{"imageTag": "v1"}], "registryId": "210987654321"},
    )
    assert Ecr(client, registry_id="210987654321").batch_delete("trees", [{"imageTag": "v1"}])[2] == 1


def test_delete_in_a_missing_repository_is_not_found(client: Any, stub: Stubber) -> None:
    stub.add_client_error("batch_delete_image", "RepositoryNotFoundException", "no such repository")
    with pytest.raises(NotFound, match="repository 'trees' does not exist"):
        Ecr(client).batch_delete("trees", [{"imageTag": "v1"}])


def test_authorization_token_is_decoded_and_hidden_in_repr(client: Any, stub: Stubber) -> None:
    expires = datetime(2030, 1, 1, tzinfo=timezone.utc)
    stub.add_response(
        "get_authorization_token",
        {
            "authorizationData": [
                {
                    "authorizationToken": base64.b64encode(b"AWS:s3cret:with:colons").decode(),
                    "expiresAt": expires,
                    "proxyEndpoint": "https://123456789012.dkr.ecr.ca-west-1.amazonaws.com",
                }
            ]
        },
        {},
    )
    token = Ecr(client).authorization_token()
    assert (token.username, token.password, token.expires_at) == ("AWS", "s3cret:with:colons", expires)
    assert "s3cret" not in repr(token)


def test_access_denied_names_the_action(client: Any, stub: Stubber) -> None:
    stub.add_client_error("get_authorization_token", "AccessDeniedException", "User: x is not authorized")
    with pytest.raises(AuthError, match="ecr:GetAuthorizationToken"):
        Ecr(client).authorization_token()


def test_repositories_follows_every_page(client: Any, stub: Stubber) -> None:
    def repo(name: str) -> dict[str, Any]:
        return {"repositoryName": name, "repositoryUri": f"host/{name}", "registryId": "123456789012"}

    stub.add_response("describe_repositories", {"repositories": [repo("aa"), repo("bb")], "nextToken": "n1"}, {})
    stub.add_response("describe_repositories", {"repositories": [repo("cc")]}, {"nextToken": "n1"})
    assert [r.name for r in Ecr(client).repositories()] == ["aa", "bb", "cc"]
