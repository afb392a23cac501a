"""References, names and the rules they follow: what ecrtool accepts and refuses before any AWS or Docker call."""

from __future__ import annotations

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from ecrtool.model.errors import EXIT_USAGE, InvalidInput
from ecrtool.model.refs import (
    LocalImage,
    RepoRef,
    chunks,
    parse_key_value,
    parse_local_image,
    parse_repo_ref,
    push_targets,
    registry_host,
    validate_account,
    validate_digest,
    validate_region,
    validate_repository,
    validate_tag,
)

DIGEST = "sha256:" + "0123456789abcdef" * 4
HOST = "123456789012.dkr.ecr.ca-west-1.amazonaws.com"

# -- repository names ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    ["ab", "trees", "team/trees", "a.b_c-d/e", "a" * 256, "x1/y2/z3", "0-0", "my.app/v2_build"],
)
def test_valid_repository_names(name: str) -> None:
    assert validate_repository(name) == name


@pytest.mark.parametrize(
    "name",
    [
        "",
        "a",
        "a" * 257,
        "Trees",
        "trees/",
        "/trees",
        "team//trees",
        "trees..app",
        "trees--app",
        "trees-_app",
        "-trees",
        "trees-",
        ".trees",
        "trees app",
        "trees:1",
        "trees@x",
        "tr\u00e9es",
        "trees\n",
        "trees\x00",
    ],
)
def test_invalid_repository_names(name: str) -> None:
    with pytest.raises(InvalidInput, match="invalid repository name"):
        validate_repository(name)


# -- tags, digests, accounts, regions ---------------------------------------------------------------


@pytest.mark.parametrize("tag", ["v1", "latest", "1.0", "_x", "A-b.C_d", "9", "a" * 128, "v1.2.3-rc.1"])
def test_valid_tags(tag: str) -> None:
    assert validate_tag(tag) == tag


@pytest.mark.parametrize("tag", ["", ".v1", "-v1", "a" * 129, "v 1", "v1/x", "v1:x", "v1@x", "v\u00e9", "v1\n", "\n"])
def test_invalid_tags(tag: str) -> None:
    with pytest.raises(InvalidInput, match="invalid tag"):
        validate_tag(tag)


def test_valid_digest() -> None:
    assert validate_digest(DIGEST) == DIGEST


@pytest.mark.parametrize(
    "digest",
    [
        "",
        "sha256:",
        "sha256:" + "a" * 63,
        "sha256:" + "a" * 65,
        "sha256:" + "A" * 64,
        "sha256:" + "g" * 64,
        "sha512:" + "a" * 64,
        "a" * 64,
        "sha256:" + "a" * 64 + "\n",
    ],
)
def test_invalid_digests(digest: str) -> None:
    with pytest.raises(InvalidInput, match="invalid digest"):
        validate_digest(digest)


@pytest.mark.parametrize("account", ["123", "12345678901a", "1234567890123", "", "123456789012\n"])
def test_invalid_accounts(account: str) -> None:
    with pytest.raises(InvalidInput, match="12 digits"):
        validate_account(account)


@pytest.mark.parametrize("region", ["ca-west-1", "us-east-1", "us-gov-west-1", "cn-north-1", "ap-southeast-2"])
def test_valid_regions(region: str) -> None:
    assert validate_region(region) == region


@pytest.mark.parametrize("region", ["", "mars", "CA-WEST-1", "ca_west_1", "ca-west", "ca-west-1\n", "ca-west-1 "])
def test_invalid_regions(region: str) -> None:
    with pytest.raises(InvalidInput, match="invalid region"):
        validate_region(region)


# -- KEY=VALUE --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "pair"),
    [
        ("team=data", ("team", "data")),
        ("empty=", ("empty", "")),
        ("url=a=b", ("url", "a=b")),
        ("aws:x/y=with space", ("aws:x/y", "with space")),
        ("k=" + "v" * 256, ("k", "v" * 256)),
    ],
)
def test_key_value(text: str, pair: tuple[str, str]) -> None:
    assert parse_key_value(text) == pair


@pytest.mark.parametrize("text", ["team", "=data", "", "k" * 129 + "=v", "k=" + "v" * 257, "k=$(id)", "k;x=v", "k=v\n"])
def test_bad_key_value(text: str) -> None:
    with pytest.raises(InvalidInput, match="KEY=VALUE|keys are"):
        parse_key_value(text)


# -- registry hosts --------------------------------------------------------------------------------


def test_registry_host() -> None:
    assert registry_host("123456789012", "ca-west-1") == HOST


@pytest.mark.parametrize("region", ["cn-north-1", "cn-northwest-1"])
def test_registry_host_in_china(region: str) -> None:
    assert registry_host("123456789012", region) == f"123456789012.dkr.ecr.{region}.amazonaws.com.cn"


# -- remote references -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "ref"),
    [
        ("trees", RepoRef("trees")),
        ("trees:v1", RepoRef("trees", tag="v1")),
        ("team/trees:v1", RepoRef("team/trees", tag="v1")),
        (f"trees@{DIGEST}", RepoRef("trees", digest=DIGEST)),
        (f"trees:v1@{DIGEST}", RepoRef("trees", tag="v1", digest=DIGEST)),
        (
            f"{HOST}/team/trees:v1",
            RepoRef("team/trees", tag="v1", host=HOST, account="123456789012", region="ca-west-1"),
        ),
        (
            "210987654321.dkr.ecr.cn-north-1.amazonaws.com.cn/trees",
            RepoRef(
                "trees",
                host="210987654321.dkr.ecr.cn-north-1.amazonaws.com.cn",
                account="210987654321",
                region="cn-north-1",
            ),
        ),
        (
            "123456789012.dkr.ecr-fips.us-east-1.amazonaws.com/trees",
            RepoRef(
                "trees",
                host="123456789012.dkr.ecr-fips.us-east-1.amazonaws.com",
                account="123456789012",
                region="us-east-1",
            ),
        ),
    ],
)
def test_parse_repo_ref(text: str, ref: RepoRef) -> None:
    assert parse_repo_ref(text) == ref


def test_the_ecrtool_registry_host_is_accepted() -> None:
    assert parse_repo_ref("127.0.0.1:5000/trees:v1", "127.0.0.1:5000") == RepoRef(
        "trees", tag="v1", host="127.0.0.1:5000"
    )


@pytest.mark.parametrize(
    ("text", "override", "message"),
    [
        ("127.0.0.1:5000/trees", None, "not an ECR registry"),
        ("127.0.0.1:5001/trees", "127.0.0.1:5000", "or 127.0.0.1:5000"),
        ("docker.io/library/nginx", None, "not an ECR registry"),
        ("localhost/trees", None, "not an ECR registry"),
        ("public.ecr.aws/trees", None, "public gallery"),
        ("public.ecr.aws/team/trees:v1", "public.ecr.aws", "public gallery"),
        (f"{HOST}.evil.example/trees", None, "not an ECR registry"),
        ("123.dkr.ecr.ca-west-1.amazonaws.com/trees", None, "not an ECR registry"),
        (f"{HOST}/Trees", None, "invalid repository name"),
        ("trees:", None, "invalid tag"),
        ("trees@sha256:abc", None, "invalid digest"),
        ("-trees", None, "invalid reference"),
        ("", None, "invalid reference"),
        ("trees v1", None, "invalid reference"),
    ],
)
def test_refused_repo_refs(text: str, override: str | None, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        parse_repo_ref(text, override)


# -- local images ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "name", "tag", "path"),
    [
        ("viruses", "viruses", None, "viruses"),
        ("viruses:1.0", "viruses", "1.0", "viruses"),
        ("team/viruses:1.0", "team/viruses", "1.0", "team/viruses"),
        ("localhost:5000/team/viruses", "localhost:5000/team/viruses", None, "team/viruses"),
        ("localhost/viruses:x", "localhost/viruses", "x", "viruses"),
        (f"{HOST}/trees:v1", f"{HOST}/trees", "v1", "trees"),
        ("my__image", "my__image", None, "my__image"),
        ("a---b", "a---b", None, "a---b"),
    ],
)
def test_parse_local_image(text: str, name: str, tag: str | None, path: str) -> None:
    image = parse_local_image(text)
    assert (image.name, image.tag, image.path, image.image_id) == (name, tag, path, None)


@pytest.mark.parametrize("text", ["abcdef123456", "sha256:" + "a" * 64, "0123456789ab"])
def test_parse_local_image_id(text: str) -> None:
    image = parse_local_image(text)
    assert image == LocalImage(text=text, name=None, tag=None, image_id=text)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "-viruses",
        "--help",
        "Viruses",
        "viruses:",
        "viruses:.x",
        f"viruses@{DIGEST}",
        "vi ruses",
        "vi\truses",
        "viruses\x1b",
        "$(id)",
        "`id`",
        "viruses;id",
        "a/",
        "/a",
        "a//b",
        "bad_host!/x",
        "x" * 256,
    ],
)
def test_refused_local_images(text: str) -> None:
    with pytest.raises(InvalidInput, match="invalid image"):
        parse_local_image(text)


# -- push targets ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("image", "repo", "tags", "expected"),
    [
        ("viruses", "trees", (), ("trees", ["viruses"])),
        ("viruses:1.0", "trees", (), ("trees", ["1.0"])),
        ("viruses", None, (), ("viruses", ["latest"])),
        ("viruses:1.0", None, (), ("viruses", ["1.0"])),
        ("team/viruses", None, (), ("team/viruses", ["latest"])),
        ("localhost:5000/team/viruses:2", None, (), ("team/viruses", ["2"])),
        ("localhost:5000/team/viruses", "trees", (), ("trees", ["viruses"])),
        ("viruses:1.0", "trees", ("v2",), ("trees", ["v2"])),
        ("viruses", None, ("v2", "latest"), ("viruses", ["v2", "latest"])),
        ("viruses", "trees", ("v1", "v2", "v1", "v2"), ("trees", ["v1", "v2"])),
        ("abcdef123456", "trees", ("v1",), ("trees", ["v1"])),
    ],
)
def test_push_targets(image: str, repo: str | None, tags: tuple[str, ...], expected: tuple[str, list[str]]) -> None:
    assert push_targets(parse_local_image(image), repo, tags) == expected


@pytest.mark.parametrize(
    ("image", "repo", "tags", "message"),
    [
        ("abcdef123456", None, (), "--repo"),
        ("abcdef123456", None, ("v1",), "--repo"),
        ("abcdef123456", "trees", (), "--tag"),
        ("viruses", "trees", ("-v1",), "invalid tag"),
        ("viruses", "Trees", (), "invalid repository name"),
        ("a", None, (), "--repo"),
        ("my__image", None, (), "--repo"),
    ],
)
def test_push_targets_refused(image: str, repo: str | None, tags: tuple[str, ...], message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        push_targets(parse_local_image(image), repo, tags)


# -- chunks ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("count", "sizes"), [(0, []), (1, [1]), (100, [100]), (101, [100, 1]), (1000, [100] * 10)])
def test_chunks(count: int, sizes: list[int]) -> None:
    items = [{"imageTag": f"t{i}"} for i in range(count)]
    parts = chunks(items)
    assert [len(part) for part in parts] == sizes
    assert [item for part in parts for item in part] == items


# -- properties ------------------------------------------------------------------------------------

_component = st.from_regex(r"\A[a-z0-9]{1,8}(?:[._-][a-z0-9]{1,8}){0,2}\Z")
# A dotted first component of several reads as a registry host, as Docker reads it; keep namespaces dot-free.
_namespace = st.from_regex(r"\A[a-z0-9]{1,8}(?:[_-][a-z0-9]{1,8}){0,2}\Z")
repositories = st.one_of(
    _component,
    st.tuples(st.lists(_namespace, min_size=1, max_size=2), _component).map(lambda p: "/".join([*p[0], p[1]])),
).filter(lambda name: 2 <= len(name) <= 256)
tags = st.from_regex(r"\A[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}\Z")
digests = st.from_regex(r"\A[a-f0-9]{64}\Z").map(lambda hexes: f"sha256:{hexes}")

FEW = settings(max_examples=60, deadline=None)


@FEW
@given(repositories, st.none() | tags, st.none() | digests)
def test_valid_references_round_trip(repository: str, tag: str | None, digest: str | None) -> None:
    text = repository + (f":{tag}" if tag else "") + (f"@{digest}" if digest else "")
    assert parse_repo_ref(text) == RepoRef(repository, tag, digest)
    host = f"{HOST}/{text}"
    assert parse_repo_ref(host) == RepoRef(repository, tag, digest, HOST, "123456789012", "ca-west-1")


@FEW
@given(repositories, st.none() | tags)
def test_valid_local_images_round_trip(repository: str, tag: str | None) -> None:
    text = repository + (f":{tag}" if tag else "")
    image = parse_local_image(text)
    if image.image_id is not None:  # twelve or more hex digits name an image id, as in Docker
        assert image.image_id == text
    else:
        assert (image.name, image.tag, image.path) == (repository, tag, repository)


@FEW
@given(tags)
def test_valid_tags_are_accepted(tag: str) -> None:
    assert validate_tag(tag) == tag


PARSERS = [parse_repo_ref, parse_local_image, validate_repository, validate_tag, validate_digest, parse_key_value]


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=80))
@example("-rf")
@example("a" * 300)
@example("\x00")
@example("trees:@")
@example("::/@")
def test_arbitrary_text_only_ever_raises_invalid_input(text: str) -> None:
    for parse in PARSERS:
        try:
            parse(text)
        except InvalidInput as err:
            assert err.exit_code == EXIT_USAGE
            assert str(err)


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=40), st.text(max_size=40))
def test_option_like_or_shell_like_text_is_always_refused(before: str, after: str) -> None:
    for text in (f"-{before}", f"{before}$(id){after}"):
        for parse in (parse_repo_ref, parse_local_image, validate_repository, validate_tag):
            with pytest.raises(InvalidInput):
                parse(text)
