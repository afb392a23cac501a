"""`retag` on a stubbed ECR client: BatchGetImage once, PutImage of the manifest's exact text per new tag,
and what a tag that is already there, an immutable one, or a missing image does."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.stub import Stubber

from ecrtool.model.errors import EcrToolError, InvalidInput, NotFound, TagTaken
from ecrtool.model.results import RetagResult
from ecrtool.model.settings import Settings
from ecrtool.service.retag import Retagging

# every service the tests build gets its ECR client from the Stubber
pytestmark = pytest.mark.usefixtures("stubbed_ecr")

HOST = "123456789012.dkr.ecr.ca-west-1.amazonaws.com"
DIGEST = "sha256:" + "a" * 64
OTHER = "sha256:" + "b" * 64
DOCKER_IMAGE = "application/vnd.docker.distribution.manifest.v2+json"
ACCEPTED = [
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
    DOCKER_IMAGE,
]
# as a registry may store it: its own spacing and key order, which any JSON round trip would change
MANIFEST = '{\n   "schemaVersion": 2,\n\t"config": {"size": 7, "digest": "sha256:' + "c" * 64 + '"},  "layers": []\n}'


def retag(client: Any, ref: str, *tags: str) -> RetagResult:
    service = Retagging(Settings(region="ca-west-1"))
    return service.retag(ref, tags)


def found(image_id: dict[str, str], digest: str = DIGEST, text: str = MANIFEST) -> dict[str, Any]:
    return {
        "images": [
            {
                "registryId": "123456789012",
                "repositoryName": "trees",
                "imageId": {**image_id, "imageDigest": digest},
                "imageManifest": text,
                "imageManifestMediaType": DOCKER_IMAGE,
            }
        ],
        "failures": [],
    }


def get(stub: Stubber, image_id: dict[str, str], reply: dict[str, Any], **ids: str) -> None:
    expected = {"repositoryName": "trees", "imageIds": [image_id], "acceptedMediaTypes": ACCEPTED, **ids}
    stub.add_response("batch_get_image", reply, expected)


def put(stub: Stubber, tag: str, **ids: str) -> None:
    expected = {
        **ids,
        "repositoryName": "trees",
        "imageManifest": MANIFEST,  # the text as BatchGetImage gave it, not re-encoded
        "imageManifestMediaType": DOCKER_IMAGE,
        "imageTag": tag,
        "imageDigest": DIGEST,
    }
    reply = {"image": {"repositoryName": "trees", "imageId": {"imageDigest": DIGEST, "imageTag": tag}}}
    stub.add_response("put_image", reply, expected)


def test_retag_by_tag_puts_the_exact_manifest_under_each_new_tag(client: Any, stub: Stubber) -> None:
    get(stub, {"imageTag": "v1"}, found({"imageTag": "v1"}))
    put(stub, "stable")
    put(stub, "v1.0")
    result = retag(client, "trees:v1", "stable", "v1.0", "stable")
    assert result == RetagResult(
        repository="trees",
        source=f"{HOST}/trees:v1",
        digest=DIGEST,
        media_type=DOCKER_IMAGE,
        references=[f"{HOST}/trees:stable", f"{HOST}/trees:v1.0"],
    )


def test_retag_by_digest_and_by_full_reference(client: Any, stub: Stubber) -> None:
    get(stub, {"imageDigest": DIGEST}, found({}))
    put(stub, "release")
    assert retag(client, f"trees@{DIGEST}", "release").source == f"{HOST}/trees@{DIGEST}"
    # a full reference names the registry: its account goes with every call
    get(stub, {"imageTag": "v1"}, found({"imageTag": "v1"}), registryId="123456789012")
    put(stub, "release", registryId="123456789012")
    assert retag(client, f"{HOST}/trees:v1", "release").references == [f"{HOST}/trees:release"]


def test_a_tag_that_already_names_the_image_is_already_there(client: Any, stub: Stubber) -> None:
    get(stub, {"imageTag": "v1"}, found({"imageTag": "v1"}))
    stub.add_client_error("put_image", "ImageAlreadyExistsException", "Image with digest ... already exists")
    get(stub, {"imageTag": "stable"}, found({"imageTag": "stable"}))
    put(stub, "new")
    result = retag(client, "trees:v1", "stable", "new")
    assert result.references == [f"{HOST}/trees:stable", f"{HOST}/trees:new"]
    assert result.already_there == [f"{HOST}/trees:stable"]


def test_an_immutable_tag_on_the_same_image_is_already_there(client: Any, stub: Stubber) -> None:
    get(stub, {"imageTag": "v1"}, found({"imageTag": "v1"}))
    stub.add_client_error("put_image", "ImageTagAlreadyExistsException", "The image tag 'stable' already exists")
    get(stub, {"imageTag": "stable"}, found({"imageTag": "stable"}))
    assert retag(client, "trees:v1", "stable").already_there == [f"{HOST}/trees:stable"]


@pytest.mark.parametrize("code", ["ImageTagAlreadyExistsException", "ImageAlreadyExistsException"])
def test_an_immutable_tag_on_another_image_names_the_tag_and_the_immutability(
    client: Any, stub: Stubber, code: str
) -> None:
    # ECR answers the first; moto, and so the local ECR, the second
    get(stub, {"imageTag": "v1"}, found({"imageTag": "v1"}))
    stub.add_client_error("put_image", code, "The image tag 'stable' already exists")
    get(stub, {"imageTag": "stable"}, found({"imageTag": "stable"}, digest=OTHER, text="{}"))
    with pytest.raises(TagTaken) as raised:
        retag(client, "trees:v1", "stable")
    assert raised.value.exit_code == 1
    assert str(raised.value).startswith(f"tag 'stable' already names another image ({OTHER}) in repository 'trees'")
    assert "immutable" in str(raised.value)


@pytest.mark.parametrize(
    ("ref", "image_id", "said"),
    [
        ("trees:v9", {"imageTag": "v9"}, "tag 'v9' not found in repository 'trees'"),
        (f"trees@{DIGEST}", {"imageDigest": DIGEST}, f"digest '{DIGEST}' not found in repository 'trees'"),
    ],
)
def test_a_missing_image_says_which_reference_was_not_found(
    client: Any, stub: Stubber, ref: str, image_id: dict[str, str], said: str
) -> None:
    failure = {"imageId": image_id, "failureCode": "ImageNotFound", "failureReason": "Requested image not found"}
    get(stub, image_id, {"images": [], "failures": [failure]})
    with pytest.raises(NotFound) as raised:
        retag(client, ref, "stable")
    assert str(raised.value).startswith(said)


def test_a_missing_repository_is_named(client: Any, stub: Stubber) -> None:
    stub.add_client_error("batch_get_image", "RepositoryNotFoundException", "The repository does not exist")
    with pytest.raises(NotFound, match="repository 'trees' does not exist in ca-west-1"):
        retag(client, "trees:v1", "stable")


def test_another_failure_of_batch_get_image_is_an_error(client: Any, stub: Stubber) -> None:
    failure = {"imageId": {"imageTag": "v1"}, "failureCode": "KmsError", "failureReason": "key disabled"}
    get(stub, {"imageTag": "v1"}, {"images": [], "failures": [failure]})
    with pytest.raises(EcrToolError, match="ecr:BatchGetImage failed for trees v1: KmsError: key disabled"):
        retag(client, "trees:v1", "stable")


@pytest.mark.parametrize("tags", [("-bad",), ("ok", "no/slash"), ("x" * 129,), ()])
def test_a_bad_new_tag_is_refused_before_any_call(client: Any, stub: Stubber, tags: tuple[str, ...]) -> None:
    with pytest.raises(InvalidInput):
        retag(client, "trees:v1", *tags)


def test_a_local_image_is_the_stored_one_by_its_config_or_by_its_manifest_digest() -> None:
    from ecrtool.model.manifests import StoredManifest, holds_image

    stored = StoredManifest(DIGEST, MANIFEST, DOCKER_IMAGE)
    assert holds_image(stored, "sha256:" + "c" * 64)  # the engine's classic store: the config's digest
    assert holds_image(stored, DIGEST)  # the containerd store: the manifest's
    assert not holds_image(stored, OTHER)
    assert not holds_image(StoredManifest(OTHER, '{"manifests": []}', None), DIGEST)
    assert not holds_image(StoredManifest(OTHER, "not json", None), DIGEST)


def test_tags_already_on_an_image_take_one_call_when_ecr_names_each_entry_by_its_tag(
    client: Any, stub: Stubber
) -> None:
    from ecrtool.aws.ecr import Ecr
    from ecrtool.service.retag import tags_holding

    reply = found({"imageTag": "v1"})
    reply["images"] += found({"imageTag": "v2"}, digest=OTHER, text="{}")["images"]
    stub.add_response(
        "batch_get_image",
        {**reply, "failures": [{"imageId": {"imageTag": "v3"}, "failureCode": "ImageNotFound"}]},
        {
            "repositoryName": "trees",
            "imageIds": [{"imageTag": t} for t in ("v1", "v2", "v3")],
            "acceptedMediaTypes": ACCEPTED,
        },
    )
    held = tags_holding(Ecr(client), "trees", ["v1", "v2", "v3"], "sha256:" + "c" * 64)
    assert list(held) == ["v1"]
