"""The order a cleanup deletes in, what a stored manifest names, and the bytes a deletion frees."""

from __future__ import annotations

import json
from datetime import datetime, timezone

from ecrtool.model.cleanup import delete_order, freed_bytes
from ecrtool.model.manifests import manifest_links
from ecrtool.model.retention import StoredImage

WHEN = datetime(2026, 1, 1, tzinfo=timezone.utc)
OCI_INDEX = "application/vnd.oci.image.index.v1+json"


def image(name: str, children: tuple[str, ...] = (), subject: str | None = None, size: int = 10) -> StoredImage:
    media_type = OCI_INDEX if children else None
    return StoredImage(name, (), WHEN, size, media_type, children=children, subject=subject)


def test_plain_images_go_in_one_round() -> None:
    assert delete_order([image("c"), image("a"), image("b")]) == [["a", "b", "c"]]


def test_an_index_goes_before_its_children_and_an_image_before_its_referrers() -> None:
    images = [
        image("child1"),
        image("child2"),
        image("index", children=("child1", "child2")),
        image("sig", subject="index"),
        image("listing", children=("sig",)),  # the referrers tag's index, naming the signature
        image("other"),
    ]
    # a signature goes after its image: a failed delete of the image never leaves it unsigned
    assert delete_order(images) == [["index", "listing", "other"], ["child1", "child2", "sig"]]


def test_a_child_shared_by_two_indexes_waits_for_both() -> None:
    images = [image("shared"), image("i1", children=("shared",)), image("i2", children=("shared", "own"))]
    images.append(image("own"))
    assert delete_order(images) == [["i1", "i2"], ["own", "shared"]]


def test_a_name_outside_the_selection_and_a_cycle_do_not_stall_it() -> None:
    images = [image("index", children=("kept-elsewhere",)), image("a", subject="b"), image("b", subject="a")]
    assert delete_order(images) == [["index"], ["a", "b"]]


def test_manifest_links_reads_children_and_subject_and_forgives_anything_else() -> None:
    entries = [{"digest": "sha256:1"}, {"digest": "sha256:1"}, {"x": 1}]
    text = json.dumps({"manifests": entries, "subject": {"digest": "s"}})
    assert manifest_links(text) == (("sha256:1",), "s")
    assert manifest_links("not json") == ((), None)
    assert manifest_links("[1, 2]") == ((), None)
    assert manifest_links(json.dumps({"manifests": "no", "subject": {"digest": 5}})) == ((), None)


def test_an_index_is_counted_through_its_children() -> None:
    assert freed_bytes([image("index", children=("a",), size=30), image("a", size=30), image("b", size=5)]) == 35
