"""The one manifest model: strict parsing for what a copy moves, forgiving reading for what ECR stores, and
the same children, platforms and subject either way."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ecrtool.model.errors import RegistryError
from ecrtool.model.manifests import (
    OCI_INDEX,
    OCI_MANIFEST,
    digest_of,
    manifest_links,
    parse_index,
    parse_manifest,
    read_manifest,
)

D1, D2, D3 = ("sha256:" + c * 64 for c in "123")
INDEX = json.dumps(
    {
        "schemaVersion": 2,
        "mediaType": OCI_INDEX,
        "manifests": [
            {"mediaType": OCI_MANIFEST, "digest": D1, "size": 10, "platform": {"os": "linux", "architecture": "amd64"}},
            {
                "mediaType": OCI_MANIFEST,
                "digest": D2,
                "size": 11,
                "platform": {"os": "linux", "architecture": "arm64", "variant": "v8"},
            },
            {
                "mediaType": OCI_MANIFEST,
                "digest": D3,
                "size": 12,
                "platform": {"os": "unknown", "architecture": "unknown"},
                "annotations": {"vnd.docker.reference.type": "attestation-manifest"},
            },
        ],
        "subject": {"mediaType": OCI_MANIFEST, "digest": D3, "size": 12},
    }
).encode()


def test_strict_and_forgiving_readers_agree_on_children_platforms_and_subject() -> None:
    strict = parse_manifest(INDEX, None, "an index")
    forgiving = read_manifest(INDEX.decode())
    for manifest in (strict, forgiving):
        assert manifest.is_index and manifest.digest == digest_of(INDEX) and manifest.data == INDEX
        assert [(c.digest, c.size, c.platform) for c in manifest.children] == [
            (D1, 10, "linux/amd64"),
            (D2, 11, "linux/arm64/v8"),
            (D3, 12, None),
        ]
        assert manifest.platforms == ("linux/amd64", "linux/arm64/v8")
        assert manifest.subject is not None and manifest.subject.digest == D3
    assert [child.platform for child in parse_index(INDEX.decode())] == ["linux/amd64", "linux/arm64/v8", None]
    assert manifest_links(INDEX.decode()) == ((D1, D2, D3), D3)


def test_a_platform_is_no_part_of_a_descriptors_identity() -> None:
    with_platform = parse_manifest(INDEX, None, "an index").children[0]
    listed = read_manifest(json.dumps({"manifests": [{"mediaType": OCI_MANIFEST, "digest": D1, "size": 10}]}))
    assert listed.children[0] == with_platform and listed.children[0].platform is None


def test_the_forgiving_reader_skips_what_the_strict_one_refuses() -> None:
    text = json.dumps({"manifests": [{"digest": D1, "size": "big"}, {"size": 3}, 7], "subject": {"digest": 5}})
    assert manifest_links(text) == ((D1,), None)
    with pytest.raises(RegistryError, match="an index is not a manifest ecrtool can read"):
        parse_manifest(text.encode(), OCI_INDEX, "an index")
    assert manifest_links("not json") == ((), None)
    assert parse_index("[1, 2]") == ()


@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(),
        lambda inner: (
            st.lists(inner)
            | st.dictionaries(
                st.sampled_from(
                    [
                        "manifests",
                        "layers",
                        "config",
                        "subject",
                        "digest",
                        "size",
                        "platform",
                        "mediaType",
                        "os",
                        "architecture",
                    ]
                ),
                inner,
            )
        ),
    )
)
def test_any_json_is_read_forgivingly_and_parsed_strictly_or_refused(doc: object) -> None:
    text = json.dumps(doc)
    manifest = read_manifest(text)
    assert all(isinstance(child.digest, str) for child in manifest.children)
    try:
        parse_manifest(text.encode(), None, "it")
    except RegistryError:
        pass


def test_an_image_manifest_names_its_config_and_a_referrer_its_artifact_type() -> None:
    config = {"mediaType": "application/vnd.dev.cosign.artifact.sig.v1+json", "digest": D1, "size": 2}
    doc = {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": config, "layers": [], "subject": {"digest": D2}}
    data = json.dumps(doc).encode()
    for manifest in (parse_manifest(data, OCI_MANIFEST, "a signature"), read_manifest(data.decode())):
        assert manifest.config is not None and manifest.config.digest == D1
        assert manifest.artifact_type == "application/vnd.dev.cosign.artifact.sig.v1+json"
    assert parse_manifest(INDEX, None, "an index").config is None
