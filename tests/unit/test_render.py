"""The renderer: JSON for scripts with stable keys, plain lines for people, sizes people can read."""

from __future__ import annotations

import dataclasses
import io
import json
import re
import sys
import threading
import time
from datetime import datetime, timezone
from typing import Any

import pytest

from ecrtool.cli.render import Renderer, human_size, plain_table
from ecrtool.model.results import (
    CreateResult,
    DeleteFailure,
    DeleteImagesResult,
    DeleteRepositoryResult,
    ImageId,
    ImageInfo,
    LoginResult,
    ProgressEvent,
    PullResult,
    PushResult,
    RepositoryInfo,
    RetagResult,
    TagResult,
)

HOST = "123456789012.dkr.ecr.ca-west-1.amazonaws.com"
DIGEST = "sha256:" + "d" * 64
WHEN = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
REPO = RepositoryInfo(
    name="trees",
    uri=f"{HOST}/trees",
    registry_id="123456789012",
    arn="arn:aws:ecr:ca-west-1:123456789012:repository/trees",
    created_at=WHEN,
    tag_mutability="MUTABLE",
    scan_on_push=True,
)
IMAGE = ImageInfo("trees", DIGEST, ["v1", "latest"], 1_500_000, WHEN, "application/vnd.oci.image.manifest.v1+json")

DELETED = DeleteImagesResult(
    "trees",
    [ImageId(DIGEST, "v1")],
    [DeleteFailure(ImageId(tag="v9"), "ImageNotFound", "Requested image not found")],
    1,
)
REPO_KEYS = {"name", "uri", "registry_id", "arn", "created_at", "tag_mutability", "scan_on_push"}

CASES: list[tuple[str, tuple[Any, ...], set[str]]] = [
    ("created", (CreateResult(REPO, created=True),), {"repository", "created"}),
    (
        "logged_in",
        (LoginResult(HOST, "AWS", WHEN, "/home/me/.docker/config.json"),),
        {"registry", "username", "expires_at", "stored_in"},
    ),
    ("tagged", (TagResult("viruses", [f"{HOST}/trees:v1"]),), {"source", "references"}),
    (
        "pushed",
        (PushResult(HOST, "trees", [f"{HOST}/trees:v1"], DIGEST, 528, True),),
        {"registry", "repository", "references", "digest", "size_bytes", "created_repository", "already_there"},
    ),
    (
        "retagged",
        (RetagResult("trees", f"{HOST}/trees:v1", DIGEST, None, [f"{HOST}/trees:v2"]),),
        {"repository", "source", "digest", "media_type", "references", "already_there"},
    ),
    ("pulled", (PullResult(f"{HOST}/trees:v1", DIGEST, "sha256:" + "1" * 64),), {"reference", "digest", "image_id"}),
    ("deleted_images", (DELETED,), {"repository", "deleted", "failures", "calls"}),
    (
        "deleted_repository",
        (DeleteRepositoryResult("trees", f"{HOST}/trees", 3),),
        {"repository", "uri", "images_deleted"},
    ),
]


def rendered(method: str, *args: Any, output: str = "json", quiet: bool = False) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    getattr(Renderer(output=output, quiet=quiet, out=out, err=err), method)(*args)
    return out.getvalue(), err.getvalue()


@pytest.mark.parametrize(("method", "args", "keys"), CASES, ids=[c[0] for c in CASES])
def test_json_of_each_result_has_the_expected_keys(method: str, args: tuple[Any, ...], keys: set[str]) -> None:
    out, err = rendered(method, *args)
    data = json.loads(out)
    assert set(data) == keys
    assert err == ""


def test_json_of_nested_results() -> None:
    data = json.loads(rendered("created", CreateResult(REPO, created=True))[0])
    assert data["created"] is True
    assert set(data["repository"]) == REPO_KEYS
    assert data["repository"]["created_at"] == "2026-01-02T03:04:05+00:00"

    data = json.loads(rendered("deleted_images", DELETED)[0])
    assert data["deleted"] == [{"digest": DIGEST, "tag": "v1"}]
    assert data["failures"] == [
        {"image": {"digest": None, "tag": "v9"}, "code": "ImageNotFound", "reason": "Requested image not found"}
    ]


def test_json_of_lists() -> None:
    images = json.loads(rendered("images", "trees", [IMAGE])[0])
    assert images == [
        {
            "repository": "trees",
            "digest": DIGEST,
            "tags": ["v1", "latest"],
            "size_bytes": 1_500_000,
            "pushed_at": "2026-01-02T03:04:05+00:00",
            "media_type": "application/vnd.oci.image.manifest.v1+json",
            "platforms": [],
            "last_pulled_at": None,
            "status": None,
            "storage_class": None,
            "archived_at": None,
            "activated_at": None,
            "subject": None,
        }
    ]
    repos = json.loads(rendered("repositories", [REPO])[0])
    assert [set(r) for r in repos] == [REPO_KEYS]
    assert json.loads(rendered("repositories", [])[0]) == []


def test_text_push_shows_references_then_digest_and_notes_on_stderr() -> None:
    out, err = rendered("pushed", PushResult(HOST, "trees", [f"{HOST}/trees:v1"], DIGEST, 528, True), output="text")
    assert out == f"{HOST}/trees:v1\ndigest: {DIGEST}\n"
    assert err == "Created repository trees\n"


def test_text_push_notes_an_immutable_tag_that_already_named_the_image() -> None:
    result = PushResult(HOST, "trees", [f"{HOST}/trees:v1"], DIGEST, 528, already_there=[f"{HOST}/trees:v1"])
    out, err = rendered("pushed", result, output="text")
    assert out == f"{HOST}/trees:v1\ndigest: {DIGEST}\n"
    assert err.startswith(f"{HOST}/trees:v1 was already there: the repository's tags are immutable")
    assert rendered("pushed", result, output="text", quiet=True)[1] == ""


def test_text_retag_shows_the_new_references_then_the_digest() -> None:
    result = RetagResult(
        "trees", f"{HOST}/trees:v1", DIGEST, None, [f"{HOST}/trees:v2", f"{HOST}/trees:v3"], [f"{HOST}/trees:v3"]
    )
    out, err = rendered("retagged", result, output="text")
    assert out == f"{HOST}/trees:v2\n{HOST}/trees:v3\ndigest: {DIGEST}\n"
    assert err == f"{HOST}/trees:v3 was already there\n"
    assert rendered("retagged", result, output="text", quiet=True) == (f"{HOST}/trees:v2\n{HOST}/trees:v3\n", "")


def test_text_deleted_images_puts_failures_on_stderr() -> None:
    out, err = rendered("deleted_images", DELETED, output="text")
    assert out == f"deleted trees v1 ({DIGEST})\n"
    assert err == "failed trees v9: ImageNotFound: Requested image not found\n"


def test_quiet_text_listings_print_one_name_a_line() -> None:
    assert rendered("images", "trees", [IMAGE], output="text", quiet=True)[0] == f"{DIGEST}\n"
    assert rendered("repositories", [REPO], output="text", quiet=True)[0] == "trees\n"


def test_a_plain_table_is_its_title_headers_and_rows_in_aligned_columns() -> None:
    lines = plain_table("trees: 2 image(s)", ["TAGS", "SIZE"], [["v1, latest", "1.5 MB"], ["<untagged>", "-"]], 80)
    assert lines is not None
    assert list(lines) == [
        "trees: 2 image(s) ",
        "TAGS        SIZE  ",
        "v1, latest  1.5 MB",
        "<untagged>  -     ",
    ]


@pytest.fixture
def without_rich(monkeypatch: pytest.MonkeyPatch) -> None:
    """rich cannot be imported: what is printed comes from the plain table, which needs no rich."""
    for name in ("rich.console", "rich.table"):
        monkeypatch.setitem(sys.modules, name, None)


def table_lines(text: str) -> list[str]:
    lines = text.splitlines()
    assert len({len(line) for line in lines}) == 1  # every line padded to the table's width, as rich pads them
    return [line.rstrip() for line in lines]


def test_text_images_are_a_plain_table_of_every_image(without_rich: None) -> None:
    untagged = ImageInfo("trees", "sha256:" + "e" * 64, [], None, WHEN, "application/vnd.oci.image.manifest.v1+json")
    out, err = rendered("images", "trees", [IMAGE, untagged], output="text")
    assert table_lines(out) == [
        "trees: 2 image(s)",
        "TAGS        DIGEST" + " " * 67 + "SIZE    PUSHED AT",
        f"v1, latest  {DIGEST}  1.5 MB  2026-01-02 03:04:05 UTC",
        f"<untagged>  sha256:{'e' * 64}  -       2026-01-02 03:04:05 UTC",
    ]
    assert err == ""


def test_text_repositories_are_a_plain_table_of_every_repository(without_rich: None) -> None:
    out, _ = rendered("repositories", [REPO, dataclasses.replace(REPO, name="bushes")], output="text")
    assert table_lines(out) == [
        "2 repositories",
        "NAME    URI" + " " * 49 + "TAGS     SCAN ON PUSH  CREATED AT",
        f"trees   {HOST}/trees  MUTABLE  yes           2026-01-02 03:04:05 UTC",
        f"bushes  {HOST}/trees  MUTABLE  yes           2026-01-02 03:04:05 UTC",
    ]


def test_plain_progress_prints_each_status_change_once() -> None:
    err = io.StringIO()
    renderer = Renderer(out=io.StringIO(), err=err)
    with renderer.progress() as progress:
        assert progress is not None
        for status in ("Preparing", "Pushing", "Pushing", "Pushed"):
            progress(ProgressEvent("push", "ref", "0123456789ab", status, 1, 2))
    assert err.getvalue().splitlines() == ["0123456789ab: Preparing", "0123456789ab: Pushing", "0123456789ab: Pushed"]


def test_quiet_has_no_progress() -> None:
    with Renderer(quiet=True, out=io.StringIO(), err=io.StringIO()).progress() as progress:
        assert progress is None


@pytest.mark.parametrize(
    ("size", "text"),
    [
        (None, "-"),
        (0, "0 B"),
        (999, "999 B"),
        (1000, "1.0 kB"),
        (1536, "1.5 kB"),
        (1_500_000, "1.5 MB"),
        (2_000_000_000, "2.0 GB"),
        (999_000_000_000, "999.0 GB"),
        (5_000_000_000_000, "5.0 TB"),
    ],
)
def test_human_size(size: int | None, text: str) -> None:
    assert human_size(size) == text


class _SlowText(io.StringIO):
    """A stream that writes a character at a time, giving other threads every chance to cut in."""

    def __init__(self, tty: bool = False) -> None:
        super().__init__()
        self.tty = tty

    def isatty(self) -> bool:
        return self.tty

    def write(self, text: str) -> int:
        for char in text:
            super().write(char)
            time.sleep(0)
        return len(text)


def test_several_destinations_progress_is_drawn_a_whole_line_at_a_time() -> None:
    err = _SlowText()
    layers = [f"{n:012x}" for n in range(20)]
    destinations = [f"r{n}.example/app:v1" for n in range(8)]

    def report(progress: Any, reference: str) -> None:
        for layer in layers:
            for status in ("Copying", "Copied"):
                progress(ProgressEvent("copy", reference, layer, status, 1, 1))

    with Renderer(out=io.StringIO(), err=err).progress() as progress:
        threads = [threading.Thread(target=report, args=(progress, ref)) for ref in destinations]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    lines = err.getvalue().splitlines()
    pattern = re.compile(r"^(?:r\d\.example/app:v1 )?[0-9a-f]{12}: (?:Copying|Copied)$")
    assert [line for line in lines if not pattern.match(line)] == []
    # each destination's layers are followed on their own: no status is taken for another destination's
    assert len(lines) == len(destinations) * len(layers) * 2
    assert any(line.startswith(destinations[-1]) for line in lines)  # once several report, lines name theirs


def test_bars_of_several_destinations_each_name_their_own() -> None:
    err = _SlowText(tty=True)
    with Renderer(out=io.StringIO(), err=err).progress() as progress:
        assert progress is not None
        for reference in ("a.example/app:v1", "b.example/app:v1"):
            progress(ProgressEvent("copy", reference, "0123456789abcdef", "Copied", 10, 10))
    drawn = err.getvalue()
    assert "b.example/app:v1 0123456789ab Copied" in drawn
