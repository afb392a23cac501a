"""`ecrtool sync`'s spec: what it selects (regex, semver range, newest N, a named tag), where each image
goes, and that any spec, however hostile, is either read or refused with one line naming line and key."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ecrtool.model.errors import InvalidInput
from ecrtool.model.sync_spec import Range, TagRule, Version, newest_first, parse_spec

TAGS = ["1.0.0", "1.1.0", "1.2.0", "1.2.1", "1.2.1-rc1", "1.25-alpine", "2.0.0", "latest", "v1.3", "0.10", "0.9"]


def test_regexes_match_whole_tags_and_a_plain_tag_is_one() -> None:
    assert TagRule(patterns=(r"1\.2\..*",)).select(TAGS) == ["1.2.1", "1.2.1-rc1", "1.2.0"]
    assert TagRule(patterns=("latest", "1.0.0")).select(TAGS) == ["1.0.0", "latest"]
    assert TagRule(patterns=(r"1\.2",)).select(TAGS) == []
    assert TagRule(patterns=(".*",)).select(["1", "sha256-" + "a" * 64]) == ["1"]  # a referrers tag


@pytest.mark.parametrize(
    ("text", "inside", "outside"),
    [
        (">=1.1 <2", ["1.1.0", "1.2.1", "v1.3"], ["1.0.0", "2.0.0", "1.2.1-rc1", "latest"]),
        ("^1.2", ["1.2.0", "1.2.1", "v1.3"], ["1.1.0", "2.0.0"]),
        ("~1.2", ["1.2.0", "1.2.1"], ["v1.3", "1.1.0"]),
        ("^0.9", ["0.9"], ["0.10", "1.0.0"]),
        ("1.2", ["1.2.0", "1.2.1"], ["v1.3"]),
        (">1.2", ["v1.3", "2.0.0"], ["1.2.1"]),
        ("<=1.2", ["1.2.1", "0.9"], ["v1.3"]),
        ("1.x || >=2", ["1.0.0", "2.0.0"], ["0.9"]),
        ("= 1.2.1", ["1.2.1"], ["1.2.0", "1.2.1-rc1"]),
    ],
)
def test_semver_ranges_read_as_npm_reads_them(text: str, inside: list[str], outside: list[str]) -> None:
    found = Range.parse(text)
    assert [tag for tag in inside if Version.of(tag) in found] == inside
    assert [tag for tag in outside if Version.of(tag) in found] == []


def test_newest_is_the_highest_versions_and_a_suffix_ranks_below_its_version() -> None:
    assert newest_first(["0.9", "0.10", "latest", "1.2.1-rc1", "1.2.1"]) == [
        "1.2.1",
        "1.2.1-rc1",
        "0.10",
        "0.9",
        "latest",
    ]
    assert TagRule(patterns=(r"0\..*",), newest=1).select(TAGS) == ["0.10"]
    assert TagRule(range=Range.parse(">=1"), newest=2).select(TAGS) == ["2.0.0", "v1.3"]


def test_a_spec_reads_defaults_prefix_and_a_named_tag() -> None:
    spec = parse_spec(
        b"defaults: {create: false, prefix: mirror/}\nrate: 2.5\njobs: 8\nimages:\n"
        b"  - from: docker.io/library/nginx\n    tags: ['1\\.25.*']\n    referrers: true\n"
        b"  - from: ghcr.io/o/app:1.0\n    to: 111122223333.dkr.ecr.us-east-1.amazonaws.com/app\n",
        "s.yaml",
    )
    first, second = spec.entries
    assert (spec.jobs, spec.rate) == (8, 2.5)
    assert (first.source, first.destination, first.prefix, first.create, first.referrers) == (
        "docker.io/library/nginx",
        None,
        "mirror/",
        False,
        True,
    )
    assert first.rule.patterns == (r"1\.25.*",)
    assert (second.source, second.rule.tag, second.line) == ("ghcr.io/o/app", "1.0", 8)


def test_toml_takes_the_same_keys() -> None:
    spec = parse_spec('[[images]]\nfrom = "docker.io/library/nginx"\nto = "mirror/nginx"\nnewest = 2\n', "s.toml")
    assert spec.entries[0].rule.newest == 2


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("images:\n  - from: a/b\n    tags: ['(']\n", "s.yaml:3: images[0].tags[0]: not a regex"),
        ("images:\n  - from: a/b\n    semver: '>=x.y'\n", "s.yaml:3: images[0].semver: not a semver range"),
        ("images:\n  - from: a/b\n", "s.yaml:2: images[0]: say which tags"),
        ("images:\n  - from: a/b\n    tag: ['x']\n", "s.yaml:3: images[0].tag: unknown key"),
        ("images:\n  - to: a\n    tags: [x]\n", "s.yaml:2: images[0].from: required"),
        ("imagez: []\n", "s.yaml:1: imagez: unknown key"),
        ("images: [\n", "s.yaml:2: not YAML"),
        ("images:\n  - from: a/b:1\n    newest: 3\n", "s.yaml:2: images[0].from: names the tag '1'"),
        ("images:\n  - from: a/b\n    newest: 0\n", "s.yaml:3: images[0].newest: a whole number"),
        ("defaults: {to: x}\nimages: [{from: a, tags: [x]}]\n", "s.yaml:1: defaults.to: unknown key"),
        ("images:\n  - from: a/b\n    tags: [x]\n    tags: [y]\n", "s.yaml:4: tags: given twice"),
        ("rate: 0\nimages: [{from: a, tags: [x]}]\n", "s.yaml:1: rate: manifests put a second"),
        ("- 1\n- 2\n", "s.yaml:1: a spec is a mapping"),
        ("images:\n  - from: a/b\n    platform: linux\n    tags: [x]\n", "s.yaml:3: images[0].platform"),
        ("images:\n  - !!python/object:os.system {}\n", "not YAML"),
    ],
)
def test_a_bad_spec_names_its_line_and_key(text: str, message: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        parse_spec(text, "s.yaml")
    assert message in str(raised.value)
    assert "\n" not in str(raised.value)


def test_a_spec_nested_too_deeply_or_too_large_is_refused_in_one_line() -> None:
    for text in ("[" * 100_000, "a: " + "x" * (2 * 1024 * 1024), "images: [{from: a, tags: [x]}]\x00"):
        with pytest.raises(InvalidInput):
            parse_spec(text, "s.yaml")


KEYS = ["images", "defaults", "from", "to", "tags", "semver", "newest", "platform", "referrers", "create", "prefix",
        "jobs", "rate", "x"]  # fmt: skip
values = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 10**12) | st.floats() | st.text(max_size=12)
    | st.sampled_from(["a/b", "docker.io/library/nginx", ">=1 <2", "^1", ".*", "(", "linux/amd64", "mirror/", "a:b"]),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.sampled_from(KEYS), inner, max_size=5),
    max_leaves=20,
)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(KEYS), values, max_size=4) | values)
def test_any_document_is_a_spec_or_one_line_of_invalid_input(doc: object) -> None:
    import json

    for text, name in ((json.dumps(doc), "s.yaml"), (str(doc), "s.yaml")):
        try:
            spec = parse_spec(text, name)
        except InvalidInput as err:
            assert "\n" not in str(err) and str(err).startswith("sync spec s.yaml")
        else:
            assert spec.entries and all(entry.source for entry in spec.entries)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200))
def test_any_text_is_a_spec_or_one_line_of_invalid_input(text: str) -> None:
    for name in ("s.yaml", "s.toml"):
        try:
            parse_spec(text, name)
        except InvalidInput as err:
            assert "\n" not in str(err)


REFERENCES = st.one_of(
    st.text(max_size=40),
    st.sampled_from(["docker.io/library/nginx", "ghcr.io/o/a", "public.ecr.aws/docker/library/alpine", "a/b",
                     "123456789012.dkr.ecr.us-east-1.amazonaws.com/app", "localhost:5000/x", "UPPER/case", "a//b",
                     "-x", "a b", "../..", "x:y:z", "host:99999/x"]),
)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(REFERENCES, REFERENCES | st.none(), st.text(max_size=10))
def test_any_from_and_to_are_read_or_refused_in_one_line_before_any_call(
    source: str, destination: str | None, prefix: str
) -> None:
    import json

    from ecrtool.model.settings import Settings
    from ecrtool.service.sync import Syncs

    entry: dict[str, object] = {"from": source, "tags": [".*"], "prefix": prefix}
    if destination is not None:
        entry["to"] = destination
    try:
        spec = parse_spec(json.dumps({"images": [entry]}), "s.yaml")
        found = Syncs(Settings(region="ca-west-1"))._read(spec.entries[0], spec.name)
    except InvalidInput as err:
        assert "\n" not in str(err)
    else:
        assert found.destination.repository and not found.destination.tag
