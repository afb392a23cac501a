"""Images in use matched to one repository's digests: references by tag and by digest, on this registry's
host, on another's, without a host, from a file of kubectl output."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ecrtool.model.errors import InvalidInput
from ecrtool.model.inuse import InUse, Place, file_references, in_use_digests

HOST = "123456789012.dkr.ecr.ca-west-1.amazonaws.com"
A, B, C = ("sha256:" + c * 64 for c in "abc")
PLACE = Place("web", "ca-west-1", "123456789012")
TAGS = {"v1": A, "latest": B}


def found(*references: str, digest: str | None = None) -> dict[str, str]:
    return in_use_digests([InUse(ref, f"use {n}", digest) for n, ref in enumerate(references)], PLACE, TAGS)


def test_tags_and_digests_of_this_repository_resolve_through_its_listing() -> None:
    assert found(f"{HOST}/web:v1", f"{HOST}/web", f"{HOST}/web@{C}", "web:v1") == {A: "use 0", B: "use 1", C: "use 2"}


@pytest.mark.parametrize(
    "reference",
    [f"{HOST}/web-old:v1", f"{HOST}/team/web:v1", "210987654321.dkr.ecr.ca-west-1.amazonaws.com/web:v1",
     "123456789012.dkr.ecr.us-east-1.amazonaws.com/web:v1", "docker.io/library/web:v1", f"{HOST}/web:v9"],
)
def test_another_repository_registry_region_or_an_unknown_tag_protects_nothing(reference: str) -> None:
    assert found(reference) == {}


def test_a_running_digest_is_kept_beside_what_its_tag_names_now() -> None:
    assert found(f"{HOST}/web:v1", digest=C) == {C: "use 0", A: "use 0"}


def test_a_kubectl_jsonpath_file_is_read_word_by_word_with_comments() -> None:
    text = f"# pods\n{HOST}/web:v1 {HOST}/web:latest\n\n  'nginx:1.25'  # not ours\n"
    uses = file_references(text, "pods.txt")
    assert [(use.reference, use.where) for use in uses] == [
        (f"{HOST}/web:v1", "file pods.txt line 2"), (f"{HOST}/web:latest", "file pods.txt line 2"),
        ("nginx:1.25", "file pods.txt line 4")]
    assert in_use_digests(uses, PLACE, TAGS) == {A: "file pods.txt line 2", B: "file pods.txt line 2"}


def test_a_control_character_in_the_file_is_refused_in_one_line() -> None:
    with pytest.raises(InvalidInput) as caught:
        file_references("web:v1\nweb:\x1b[31mv2\n", "pods.txt")
    assert str(caught.value).startswith("--protect-file 'pods.txt' line 2 holds a control character")


@given(st.text())
def test_any_text_protects_only_digests_this_repository_holds_or_names(text: str) -> None:
    try:
        uses = file_references(text, "f")
    except InvalidInput:
        return
    for digest in in_use_digests(uses, PLACE, TAGS):
        assert digest in TAGS.values() or any(digest in use.reference for use in uses)
