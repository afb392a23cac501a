"""`ecrtool images --untagged --older-than` and the total line, against moto's ECR.

The repository holds what a registry in use holds: tagged images, an index whose children are untagged,
an index whose tag moved on, a signature of a tagged image (an OCI 1.1 referrer, untagged), a signature
whose image is gone, and an image left untagged. Push times are set in moto's own records.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

ACCOUNT, REGION = "123456789012", "ca-west-1"  # moto's account, and the region the aws fixture sets
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_IMAGE = "application/vnd.oci.image.manifest.v1+json"
SIGNATURE = "application/vnd.dev.cosign.artifact.sig.v1+json"
DAYS = {"v1": 60, "v2": 1, "multi": 40, "old-multi": 38, "amd64": 50, "arm64": 50, "riscv": 50, "sig": 1,
        "orphan-sig": 45, "loose": 35}

IMAGE_KEYS = {"repository", "digest", "tags", "size_bytes", "pushed_at", "media_type", "platforms", "last_pulled_at",
              "status", "storage_class", "archived_at", "activated_at", "subject"}  # fmt: skip


def put(aws: Any, doc: dict[str, Any], tag: str | None = None) -> str:
    text = json.dumps(doc)
    digest = "sha256:" + hashlib.sha256(text.encode()).hexdigest()
    extra = {"imageTag": tag} if tag else {}
    aws.put_image(
        repositoryName="trees", imageManifest=text, imageManifestMediaType=doc["mediaType"], imageDigest=digest, **extra
    )
    return digest


def image(name: str, size: int, subject: str | None = None) -> dict[str, Any]:
    # moto reports a manifest's config size as the image's size
    config = {"mediaType": "application/vnd.oci.image.config.v1+json", "size": size, "digest": "sha256:" + "c" * 64}
    layer = {"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "size": size, "digest": "sha256:" + "0" * 64}
    doc: dict[str, Any] = {"schemaVersion": 2, "mediaType": OCI_IMAGE, "config": config, "layers": [layer]}
    doc["annotations"] = {"name": name}  # every manifest its own digest
    if subject:
        doc["artifactType"] = SIGNATURE
        doc["subject"] = {"mediaType": OCI_IMAGE, "digest": subject, "size": 100}
    return doc


def index(*children: tuple[str, str]) -> dict[str, Any]:
    entries = [
        {"mediaType": OCI_IMAGE, "digest": digest, "size": 400, "platform": {"os": "linux", "architecture": arch}}
        for digest, arch in children
    ]
    return {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries}


@pytest.fixture
def repo(aws: Any) -> dict[str, str]:
    """trees, as the module's docstring says; the digest of each image by name (see DAYS for their ages)."""
    aws.create_repository(repositoryName="trees")
    d: dict[str, str] = {}
    d["v1"] = put(aws, image("v1", 1_500_000), "v1")
    d["v2"] = put(aws, image("v2", 900), "v2")
    d["amd64"] = put(aws, image("amd64", 1_000_000))
    d["arm64"] = put(aws, image("arm64", 500_000), "arm64")  # a child people also know by a tag
    d["riscv"] = put(aws, image("riscv", 300_000))
    d["multi"] = put(aws, index((d["amd64"], "amd64"), (d["arm64"], "arm64")), "multi")
    d["old-multi"] = put(aws, index((d["amd64"], "amd64"), (d["riscv"], "riscv64")))
    d["sig"] = put(aws, image("sig", 700, subject=d["v2"]))
    d["orphan-sig"] = put(aws, image("orphan-sig", 600, subject="sha256:" + "9" * 64))
    d["loose"] = put(aws, image("loose", 200_000))

    from moto.ecr.models import ecr_backends

    now = datetime.now(timezone.utc)
    pushed = {digest: int((now - timedelta(days=DAYS[name])).timestamp()) for name, digest in d.items()}
    for stored in ecr_backends[ACCOUNT][REGION].repositories["trees"].images:
        stored.image_pushed_at = pushed[stored.image_digest]
    return d


def rows(stdout: str) -> dict[str, str]:
    """The table's rows by digest (after its title and headers)."""
    return {line.split()[1]: line.split()[0] for line in stdout.splitlines()[2:]}


def test_untagged_shows_what_stands_alone_and_the_total_counts_each_manifest_once(
    invoke: Any, repo: dict[str, str]
) -> None:
    every = invoke("images", "trees")
    assert every.exit_code == 0, every.output
    assert every.stdout.splitlines()[0].rstrip() == "trees: 8 image(s)"
    assert rows(every.stdout) == {
        repo[name]: label
        for name, label in [
            ("v1", "v1"), ("v2", "v2"), ("arm64", "arm64"), ("multi", "multi"), ("old-multi", "<untagged>"),
            ("sig", "<untagged>"), ("orphan-sig", "<untagged>"), ("loose", "<untagged>"),
        ]
    }
    # amd64 (in two indexes) and arm64 (listed by its tag too) count once; the table's sizes add up to more
    distinct = 1_500_000 + 900 + 1_000_000 + 500_000 + 300_000 + 700 + 600 + 200_000
    assert distinct == 3_502_200
    assert every.stderr == "8 images, 3.5 MB\n"

    untagged = invoke("images", "trees", "--untagged")
    assert untagged.exit_code == 0, untagged.output
    lines = [line.rstrip() for line in untagged.stdout.splitlines()]
    assert lines[0] == "trees: 3 image(s)"
    assert lines[1].split() == ["TAGS", "DIGEST", "SIZE", "PUSHED", "AT", "PLATFORMS"]
    # newest first: the image left untagged, the index whose tag moved on (with its platforms and its
    # children's size), the signature whose image is gone; never a child, nor v2's signature
    assert [line.split()[:3] for line in lines[2:]] == [
        ["<untagged>", repo["loose"], "200.0"],
        ["<untagged>", repo["old-multi"], "1.3"],
        ["<untagged>", repo["orphan-sig"], "600"],
    ]
    assert lines[3].endswith("linux/amd64, linux/riscv64")
    assert untagged.stderr == "3 untagged images, 1.5 MB\n"


def test_older_than_alone_and_with_untagged(invoke: Any, repo: dict[str, str]) -> None:
    old = invoke("images", "trees", "--older-than", "6w")
    assert old.exit_code == 0, old.output
    assert old.stdout.splitlines()[0].rstrip() == "trees: 3 image(s)"
    assert set(rows(old.stdout)) == {repo["v1"], repo["arm64"], repo["orphan-sig"]}
    assert old.stderr == "3 images pushed over 6w ago, 2.0 MB\n"

    both = invoke("images", "trees", "--untagged", "--older-than", "1d12h", "-q")
    assert both.exit_code == 0, both.output
    assert both.stdout.splitlines() == [repo["loose"], repo["old-multi"], repo["orphan-sig"]]
    assert both.stderr == ""

    none = invoke("images", "trees", "--older-than", "9w", "--untagged")
    assert none.exit_code == 0, none.output
    assert none.stdout.splitlines()[0].rstrip() == "trees: 0 image(s)"
    assert none.stderr == "0 untagged images pushed over 9w ago, 0 B\n"


def test_json_stays_a_list_of_images_without_a_total(invoke: Any, repo: dict[str, str]) -> None:
    result = invoke("images", "trees", "--untagged", "--older-than", "36d", "-o", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert [item["digest"] for item in data] == [repo["old-multi"], repo["orphan-sig"]]
    assert data[0]["size_bytes"] == 1_300_000 and data[0]["platforms"] == ["linux/amd64", "linux/riscv64"]
    assert all(set(item) == IMAGE_KEYS
               for item in data)
    assert result.stderr == ""


def test_one_image_reads_in_the_singular(invoke: Any, aws: Any, put_image: Any) -> None:
    aws.create_repository(repositoryName="trees")
    put_image("trees", "v1", size=900)
    result = invoke("images", "trees")
    assert result.exit_code == 0, result.output
    assert result.stderr == "1 image, 900 B\n"


@pytest.mark.parametrize(
    ("value", "shown"),
    [("30", "'30'"), ("30x", "'30x'"), ("-1d", "'-1d'"), ("", "''"), ("1.5d", "'1.5d'")],
)
def test_an_older_than_that_is_no_duration_exits_2_before_any_call(
    invoke: Any, forbid_backends: list[str], value: str, shown: str
) -> None:
    result = invoke("images", "trees", "--untagged", "--older-than", value)
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        f"ecrtool: error: --older-than {shown} is not a duration: give a number and a unit,"
        " such as 30d, 12h, 2w, 90m or 45s"
    ]
    assert forbid_backends == []
