"""`images` on a stubbed ECR client: an image index is one image with its platforms, its children folded in;
`--untagged` leaves out a referrer of an image still there, reading only the manifests that could be one."""

from __future__ import annotations

import io
import json
from datetime import datetime, timezone
from typing import Any

import pytest
from botocore.stub import Stubber

from ecrtool.cli.render import Renderer
from ecrtool.model.listing import ImageFilter, ImageListing
from ecrtool.model.results import ImageInfo
from ecrtool.model.settings import Settings
from ecrtool.service.repos import Repositories

# every service the tests build gets its ECR client from the Stubber
pytestmark = pytest.mark.usefixtures("stubbed_ecr")

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
OCI_IMAGE = "application/vnd.oci.image.manifest.v1+json"
DOCKER_IMAGE = "application/vnd.docker.distribution.manifest.v2+json"
ACCEPTED = [OCI_INDEX, DOCKER_LIST, OCI_IMAGE, DOCKER_IMAGE]


# the listing asks for images in every status: an archived image keeps its tags and is shown
LISTING = {"repositoryName": "trees", "filter": {"imageStatus": "ANY"}}


def digest(name: str) -> str:
    return "sha256:" + name.encode().hex().ljust(64, "0")[:64]


def detail(name: str, media_type: str, size: int | None, *tags: str, minute: int = 0) -> dict[str, Any]:
    item: dict[str, Any] = {
        "repositoryName": "trees",
        "imageDigest": digest(name),
        "imageManifestMediaType": media_type,
        "imagePushedAt": datetime(2026, 1, 2, 3, minute, tzinfo=timezone.utc),
    }
    if size is not None:
        item["imageSizeInBytes"] = size
    if tags:
        item["imageTags"] = list(tags)
    return item


def index(media_type: str, *children: tuple[str, dict[str, Any] | None, dict[str, str] | None]) -> str:
    entries = []
    for name, platform, notes in children:
        entry: dict[str, Any] = {"mediaType": OCI_IMAGE, "digest": digest(name), "size": 500}
        if platform is not None:
            entry["platform"] = platform
        if notes is not None:
            entry["annotations"] = notes
        entries.append(entry)
    return json.dumps({"schemaVersion": 2, "mediaType": media_type, "manifests": entries})


AMD64 = {"os": "linux", "architecture": "amd64"}
ARM64 = {"os": "linux", "architecture": "arm64", "variant": "v8"}


def listing(client: Any) -> list[ImageInfo]:
    service = Repositories(Settings(region="ca-west-1"))
    return service.images("trees").images


def rows(images: list[ImageInfo]) -> list[tuple[str, list[str], int | None, tuple[str, ...]]]:
    names = {digest(name): name for name in ("multi", "amd", "arm", "att", "plain", "loose", "list", "tagged")}
    return [(names.get(i.digest, i.digest), i.tags, i.size_bytes, i.platforms) for i in images]


def test_plain_images_cost_one_describe_images_and_nothing_more(client: Any, stub: Stubber) -> None:
    stub.add_response(
        "describe_images",
        {"imageDetails": [detail("plain", DOCKER_IMAGE, 900, "v1"), detail("loose", OCI_IMAGE, 10, minute=1)]},
        LISTING,
    )
    assert rows(listing(client)) == [("loose", [], 10, ()), ("plain", ["v1"], 900, ())]


def test_an_index_is_one_row_with_its_platforms_and_its_childrens_size(client: Any, stub: Stubber) -> None:
    stub.add_response(
        "describe_images",
        {
            "imageDetails": [
                detail("amd", OCI_IMAGE, 1000, minute=5),
                detail("arm", OCI_IMAGE, 200, minute=5),
                detail("att", OCI_IMAGE, 30, minute=5),
                detail("multi", OCI_INDEX, 7, "v2", "latest", minute=5),
                detail("plain", DOCKER_IMAGE, 900, "v1", minute=1),
                detail("loose", OCI_IMAGE, 10, minute=2),  # untagged, but nobody's child: listed
            ]
        },
        LISTING,
    )
    manifest = index(
        OCI_INDEX,
        ("amd", AMD64, None),
        ("arm", ARM64, None),
        # buildx's provenance: no platform's image, though a child all the same
        ("att", {"os": "unknown", "architecture": "unknown"}, {"vnd.docker.reference.type": "attestation-manifest"}),
    )
    stub.add_response(
        "batch_get_image",
        {
            "images": [
                {
                    "imageId": {"imageDigest": digest("multi")},
                    "imageManifest": manifest,
                    "imageManifestMediaType": OCI_INDEX,
                }
            ]
        },
        {"repositoryName": "trees", "imageIds": [{"imageDigest": digest("multi")}], "acceptedMediaTypes": ACCEPTED},
    )
    assert rows(listing(client)) == [
        ("multi", ["latest", "v2"], 1230, ("linux/amd64", "linux/arm64/v8")),
        ("loose", [], 10, ()),
        ("plain", ["v1"], 900, ()),
    ]


def test_a_tagged_child_stays_and_a_manifest_list_counts_as_an_index(client: Any, stub: Stubber) -> None:
    stub.add_response(
        "describe_images",
        {
            "imageDetails": [
                detail("tagged", DOCKER_IMAGE, 1000, "v1-amd64"),
                detail("arm", DOCKER_IMAGE, 200),
                detail("list", DOCKER_LIST, None, "v1", minute=1),
            ]
        },
        LISTING,
    )
    manifest = index(DOCKER_LIST, ("tagged", AMD64, None), ("arm", ARM64, None))
    stub.add_response(
        "batch_get_image",
        {"images": [{"imageId": {"imageDigest": digest("list")}, "imageManifest": manifest}]},
        {"repositoryName": "trees", "imageIds": [{"imageDigest": digest("list")}], "acceptedMediaTypes": ACCEPTED},
    )
    assert rows(listing(client)) == [
        ("list", ["v1"], 1200, ("linux/amd64", "linux/arm64/v8")),
        ("tagged", ["v1-amd64"], 1000, ()),
    ]


def test_150_indexes_are_read_in_two_calls_of_at_most_100(client: Any, stub: Stubber) -> None:
    names = [f"ix{n}" for n in range(150)]
    stub.add_response("describe_images", {"imageDetails": [detail(n, OCI_INDEX, None, n) for n in names]}, LISTING)
    for chunk in (names[:100], names[100:]):
        stub.add_response(
            "batch_get_image",
            {
                "images": [
                    {"imageId": {"imageDigest": digest(n)}, "imageManifest": index(OCI_INDEX, (n + "c", AMD64, None))}
                    for n in chunk
                ]
            },
            {
                "repositoryName": "trees",
                "imageIds": [{"imageDigest": digest(n)} for n in chunk],
                "acceptedMediaTypes": ACCEPTED,
            },
        )
    found = listing(client)
    assert len(found) == 150
    assert {image.platforms for image in found} == {("linux/amd64",)}


def test_without_leave_to_read_manifests_the_listing_is_ecrs_own(client: Any, stub: Stubber) -> None:
    stub.add_response(
        "describe_images",
        {"imageDetails": [detail("amd", OCI_IMAGE, 1000), detail("multi", OCI_INDEX, 7, "v2", minute=1)]},
        LISTING,
    )
    stub.add_client_error("batch_get_image", "AccessDeniedException", "not authorized to perform ecr:BatchGetImage")
    assert rows(listing(client)) == [("multi", ["v2"], 7, ()), ("amd", [], 1000, ())]


def untagged_listing(client: Any) -> ImageListing:
    service = Repositories(Settings(region="ca-west-1"))
    return service.images("trees", ImageFilter(untagged=True))


def test_untagged_reads_only_the_untagged_oci_manifests_left_to_find_referrers(client: Any, stub: Stubber) -> None:
    stub.add_response(
        "describe_images",
        {
            "imageDetails": [
                detail("plain", DOCKER_IMAGE, 900, "v1", minute=1),
                detail("loose", DOCKER_IMAGE, 20, minute=2),  # no subject in its format: not read
                detail("att", OCI_IMAGE, 30, minute=3),  # a signature of plain
                detail("amd", OCI_IMAGE, 1000, minute=4),  # an orphaned signature
            ]
        },
        LISTING,
    )
    signature = json.dumps({"schemaVersion": 2, "mediaType": OCI_IMAGE, "subject": {"digest": digest("plain")}})
    orphan = json.dumps({"schemaVersion": 2, "mediaType": OCI_IMAGE, "subject": {"digest": digest("gone")}})
    stub.add_response(
        "batch_get_image",
        {
            "images": [
                {"imageId": {"imageDigest": digest("amd")}, "imageManifest": orphan},
                {"imageId": {"imageDigest": digest("att")}, "imageManifest": signature},
            ]
        },
        {
            "repositoryName": "trees",
            "imageIds": [{"imageDigest": digest("att")}, {"imageDigest": digest("amd")}],
            "acceptedMediaTypes": ACCEPTED,
        },
    )
    found = untagged_listing(client)
    assert rows(found.images) == [("amd", [], 1000, ()), ("loose", [], 20, ())]
    assert (found.total_bytes, found.manifests_unread) == (1020, False)


def test_untagged_without_leave_to_read_manifests_lists_them_and_says_so(client: Any, stub: Stubber) -> None:
    stub.add_response(
        "describe_images",
        {"imageDetails": [detail("amd", OCI_IMAGE, 1000), detail("multi", OCI_INDEX, 7, "v2", minute=1)]},
        LISTING,
    )
    denied = "not authorized to perform ecr:BatchGetImage"
    stub.add_client_error("batch_get_image", "AccessDeniedException", denied)  # the index's children
    stub.add_client_error("batch_get_image", "AccessDeniedException", denied)  # amd's subject
    found = untagged_listing(client)
    assert rows(found.images) == [("amd", [], 1000, ())]
    assert found.manifests_unread

    out, err = io.StringIO(), io.StringIO()
    Renderer(out=out, err=err).image_listing("trees", found)
    assert out.getvalue().splitlines()[0].rstrip() == "trees: 1 image(s)"
    assert err.getvalue().splitlines() == [
        "1 untagged image, 1.0 kB",
        "ecr:BatchGetImage was denied, so an index's children and an image's referrers may be listed as images"
        " of their own: allow it to fold them in",
    ]
