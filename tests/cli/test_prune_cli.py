"""`ecrtool prune` and `ecrtool lifecycle` on a stubbed ECR client: every call checked, in order, with
nothing more (the Stubber fails on a call it was not given): the pull-time exclusions, listing pages of
every storage class, one BatchGetImage per 100 indexes and untagged images only for a caller whose pulls
ECR does not record, deletes of at most 100 in an order ECR accepts, and what users read."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from botocore.stub import Stubber

from ecrtool.model.lifecycle import lifecycle_policy, policy_json

DOCKER_IMAGE = "application/vnd.docker.distribution.manifest.v2+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
ACCEPTED = [OCI_INDEX, "application/vnd.docker.distribution.manifest.list.v2+json", OCI_MANIFEST, DOCKER_IMAGE]
NOW = datetime.now(timezone.utc)


def digest(n: int) -> str:
    return f"sha256:{n:064x}"


@pytest.fixture
def ecr(stubbed_ecr: Stubber) -> Stubber:
    return stubbed_ecr


def detail(
    n: int, tags: list[str], age_days: float, size: int = 1000, media_type: str = DOCKER_IMAGE
) -> dict[str, Any]:
    return {
        "registryId": "123456789012",
        "repositoryName": "trees",
        "imageDigest": digest(n),
        "imageTags": tags,
        "imageSizeInBytes": size,
        "imagePushedAt": NOW - timedelta(days=age_days),
        "imageManifestMediaType": media_type,
    }


CALLER = "arn:aws:iam::123456789012:user/tester"  # conftest's STUBBED_CALLER


def pages(stub: Stubber, details: list[dict[str, Any]], *, excluded: bool = False) -> int:
    """ListPullTimeUpdateExclusions (naming the caller when EXCLUDED: prune may then read manifests), then
    DescribeImages of every storage class as ECR answers it: 100 images a page. Returns how many pages."""
    stub.add_response("list_pull_time_update_exclusions", {"pullTimeUpdateExclusions": [CALLER] if excluded else []},
                      {})
    count = 0
    for start in range(0, len(details), 100):
        reply: dict[str, Any] = {"imageDetails": details[start : start + 100]}
        params: dict[str, Any] = {"repositoryName": "trees", "filter": {"imageStatus": "ANY"}}
        if start:
            params["nextToken"] = f"page{start}"
        if start + 100 < len(details):
            reply["nextToken"] = f"page{start + 100}"
        stub.add_response("describe_images", reply, params)
        count += 1
    return count


def rereads(stub: Stubber, digests: list[str], changed: dict[str, dict[str, Any]] | None = None) -> None:
    """The DescribeImages by id prune makes before each delete: DIGESTS as they are now (no new tag, no
    pull), but for CHANGED (digest -> the fields that changed)."""
    changed = changed or {}
    details = [{"imageDigest": d, "imageTags": [], **changed.get(d, {})} for d in digests]
    stub.add_response(
        "describe_images",
        {"imageDetails": details},
        {"repositoryName": "trees", "imageIds": [{"imageDigest": d} for d in digests],
         "filter": {"imageStatus": "ANY"}},
    )


def deletes(stub: Stubber, digests: list[str], failed: dict[str, str] | None = None) -> None:
    """One BatchDeleteImage of DIGESTS (in that order), FAILED (digest -> code) refused, after the re-read
    of DIGESTS that finds them unchanged."""
    rereads(stub, digests)
    failed = failed or {}
    reply: dict[str, Any] = {
        "failures": [
            {"imageId": {"imageDigest": d}, "failureCode": code, "failureReason": f"{code} says ECR"}
            for d, code in failed.items()
        ]
    }
    if len(failed) < len(digests):
        reply["imageIds"] = [{"imageDigest": d} for d in digests if d not in failed]
    stub.add_response(
        "batch_delete_image",
        reply,
        {"repositoryName": "trees", "imageIds": [{"imageDigest": d} for d in digests]},
    )


def test_250_images_take_3_listing_pages_and_3_deletes_of_at_most_100(invoke: Any, ecr: Stubber) -> None:
    details = [detail(n, [f"t{n}"], age_days=n / 100) for n in range(250)]  # t0 newest
    assert pages(ecr, details) == 3
    gone = sorted(digest(n) for n in range(10, 250))  # the newest 10 stay
    for start in range(0, len(gone), 100):
        deletes(ecr, gone[start : start + 100])

    result = invoke("prune", "trees", "--keep", "10", "--yes", "-o", "json")
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert list(doc) == [
        "repository", "source", "dry_run", "examined", "selected", "selected_bytes", "deleted", "deleted_bytes",
        "delete_calls", "spared", "in_use", "links", "images", "failures", "spared_images", "in_use_images",
    ]  # fmt: skip
    assert {k: doc[k] for k in ("selected", "deleted", "delete_calls", "examined", "dry_run")} == {
        "selected": 240,
        "deleted": 240,
        "delete_calls": 3,
        "examined": 250,
        "dry_run": False,
    }
    assert doc["deleted_bytes"] == doc["selected_bytes"] == 240 * 1000
    images = doc["images"]
    assert [image["tags"] for image in images[:2]] == [["t249"], ["t248"]]  # oldest first
    assert {image["status"] for image in images} == {"deleted"}
    assert doc["failures"] == []
    assert set(images[0]) == {"digest", "tags", "size_bytes", "pushed_at", "media_type", "reason", "rule", "status",
                              "action", "image_status", "last_pulled_at"}
    assert images[0]["reason"].startswith("beyond the newest 10")


def test_a_dry_run_deletes_nothing_and_says_how_to_delete(invoke: Any, ecr: Stubber) -> None:
    # no BatchGetImage: the caller's pulls are recorded, and ECR names a referrer's subject in the listing
    pages(ecr, [detail(1, ["new"], 1), detail(2, ["old"], 40, size=2_500_000), detail(3, [], 50, size=500_000)])

    result = invoke("prune", "trees", "--keep", "1", "--untagged")
    assert result.exit_code == 0, result.stderr
    lines = [line.rstrip() for line in result.stdout.splitlines()]
    assert lines[0] == "trees: 2 of 3 image(s) selected"
    assert lines[1].split() == ["TAGS", "DIGEST", "SIZE", "PUSHED", "AT", "WHY"]
    assert lines[2].startswith(f"<untagged>  {digest(3)[:19]}  500.0 kB")
    assert lines[2].endswith("untagged")
    assert lines[3].startswith(f"old         {digest(2)[:19]}  2.5 MB")
    assert "beyond the newest 1 tagged" in lines[3]
    assert lines[-1] == "dry run: pass --yes to delete these 2 image(s) (3.0 MB); nothing was deleted"
    assert result.stderr == ""


def test_an_index_goes_before_its_children_and_its_signature_after_it(invoke: Any, ecr: Stubber) -> None:
    index, child_a, child_b, signature, kept = digest(1), digest(2), digest(3), digest(4), digest(5)
    pages(
        ecr,
        [
            detail(5, ["new"], 1),
            detail(1, ["old"], 30, size=99, media_type=OCI_INDEX),
            detail(2, [], 30, size=3000, media_type=OCI_MANIFEST),
            detail(3, [], 30, size=4000, media_type=OCI_MANIFEST),
            detail(4, [], 29, size=10, media_type=OCI_MANIFEST),
        ],
        excluded=True,
    )
    index_text = json.dumps({"mediaType": OCI_INDEX, "manifests": [{"digest": child_a}, {"digest": child_b}]})
    signature_text = json.dumps({"mediaType": OCI_MANIFEST, "subject": {"digest": index}, "layers": []})
    plain = json.dumps({"mediaType": OCI_MANIFEST, "layers": []})
    texts = {index: index_text, child_a: plain, child_b: plain, signature: signature_text}
    ecr.add_response(
        "batch_get_image",
        {"images": [{"imageId": {"imageDigest": d}, "imageManifest": t} for d, t in texts.items()]},
        {
            "repositoryName": "trees",
            "imageIds": [{"imageDigest": d} for d in (index, child_a, child_b, signature)],
            "acceptedMediaTypes": ACCEPTED,
        },
    )
    deletes(ecr, [index])  # ECR refuses to delete a child of a live index
    deletes(ecr, [child_a, child_b, signature])  # the signature after its image: never a signed image unsigned

    result = invoke("prune", "trees", "--keep", "1", "--yes", "-o", "json")
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["delete_calls"] == 2
    assert sorted(image["digest"] for image in doc["images"]) == [index, child_a, child_b, signature]
    assert kept not in result.stdout
    sizes = {image["digest"]: image["size_bytes"] for image in doc["images"]}
    assert sizes[index] == 7000  # its children's, as `ecrtool images` shows it
    assert doc["deleted_bytes"] == 7010  # every manifest once: the index through its children


def test_a_refused_index_keeps_its_children_and_exits_1_naming_them(invoke: Any, ecr: Stubber) -> None:
    index, child = digest(1), digest(2)
    pages(ecr, [detail(9, ["new"], 1), detail(1, ["old"], 30, media_type=OCI_INDEX), detail(2, [], 30)], excluded=True)
    ecr.add_response(
        "batch_get_image",
        {
            "images": [
                {"imageId": {"imageDigest": index}, "imageManifest": json.dumps({"manifests": [{"digest": child}]})},
                {"imageId": {"imageDigest": child}, "imageManifest": "{}"},
            ]
        },
        {
            "repositoryName": "trees",
            "imageIds": [{"imageDigest": index}, {"imageDigest": child}],
            "acceptedMediaTypes": ACCEPTED,
        },
    )
    deletes(ecr, [index], failed={index: "ImageReferencedByManifestList"})

    result = invoke("prune", "trees", "--keep", "1", "--yes")
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        f"ecrtool: failed to delete {index}: ImageReferencedByManifestList: ImageReferencedByManifestList says ECR",
        f"ecrtool: failed to delete {child}: Kept: {index}, which names it, was not deleted",
    ]
    assert result.stdout.splitlines()[-1] == "deleted 0 image(s), 0 B freed; 2 failed"


def test_quiet_prints_the_digests_alone(invoke: Any, ecr: Stubber) -> None:
    pages(ecr, [detail(1, ["a"], 1), detail(2, ["b"], 2), detail(3, ["c"], 3)])
    result = invoke("prune", "trees", "--older-than", "36h", "-q")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines() == [digest(3), digest(2)]


def test_nothing_selected_says_so(invoke: Any, ecr: Stubber) -> None:
    pages(ecr, [detail(1, ["a"], 1)])
    result = invoke("prune", "trees", "--keep", "5", "--yes")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "trees: nothing to delete among its 1 image(s) (flags)\n"


def test_lifecycle_show_without_a_policy_is_no_error(invoke: Any, ecr: Stubber) -> None:
    ecr.add_client_error(
        "get_lifecycle_policy", "LifecyclePolicyNotFoundException", "no policy", 400, {"repositoryName": "trees"}
    )
    ecr.add_client_error(
        "get_lifecycle_policy", "LifecyclePolicyNotFoundException", "no policy", 400, {"repositoryName": "trees"}
    )
    shown = invoke("lifecycle", "show", "trees")
    assert shown.exit_code == 0, shown.stderr
    assert shown.stdout == ""
    assert shown.stderr.startswith("trees has no lifecycle policy: set one with `ecrtool lifecycle set trees")
    as_json = invoke("lifecycle", "show", "trees", "-o", "json")
    assert json.loads(as_json.stdout) == {"repository": "trees", "policy": None, "last_evaluated_at": None}


def test_lifecycle_set_puts_the_flags_policy_and_preview_evaluates_the_repositorys(
    invoke: Any, ecr: Stubber
) -> None:
    text = policy_json(lifecycle_policy(2, (), timedelta(days=7)))
    ecr.add_response("put_lifecycle_policy", {}, {"repositoryName": "trees", "lifecyclePolicyText": text})
    ecr.add_response("get_lifecycle_policy", {"lifecyclePolicyText": text}, {"repositoryName": "trees"})
    pages(ecr, [detail(1, ["a"], 1), detail(2, ["b"], 2), detail(3, ["c"], 3)])

    put = invoke("lifecycle", "set", "trees", "--keep", "2", "--untagged-older-than", "7d")
    assert put.exit_code == 0, put.stderr
    assert json.loads(put.stdout) == json.loads(text)
    assert "ECR applies it within a day" in put.stderr

    previewed = invoke("lifecycle", "preview", "trees", "-o", "json")
    assert previewed.exit_code == 0, previewed.stderr
    doc = json.loads(previewed.stdout)
    assert (doc["source"], doc["dry_run"], doc["deleted"]) == ("the repository's lifecycle policy", True, 0)
    assert [(image["tags"], image["status"]) for image in doc["images"]] == [(["c"], "selected")]


BAD_FILES = {
    "not-json.json": "{rules: [}",
    "same-priority.json": json.dumps(
        {
            "rules": [
                {
                    "rulePriority": 1,
                    "selection": {"tagStatus": "untagged", "countType": "imageCountMoreThan", "countNumber": 1},
                    "action": {"type": "expire"},
                },
                {
                    "rulePriority": 1,
                    "selection": {
                        "tagStatus": "tagged",
                        "tagPrefixList": ["v"],
                        "countType": "imageCountMoreThan",
                        "countNumber": 1,
                    },
                    "action": {"type": "expire"},
                },
            ]
        }
    ),
}


@pytest.mark.parametrize("command", ["set", "preview"])
@pytest.mark.parametrize("name", sorted(BAD_FILES))
def test_a_bad_policy_file_is_exit_2_naming_the_file(
    invoke: Any, forbid_backends: list[str], tmp_path: Path, name: str, command: str
) -> None:
    path = tmp_path / name
    path.write_text(BAD_FILES[name])
    result = invoke("lifecycle", command, "trees", "--file", str(path))
    assert result.exit_code == 2, result.output
    assert len(result.stderr.splitlines()) == 1
    assert result.stderr.startswith(f"ecrtool: error: policy file {str(path)!r}: ")
    assert result.stdout == ""
    assert forbid_backends == []


def test_lifecycle_set_puts_a_files_text_as_written_and_preview_reads_it(
    invoke: Any, ecr: Stubber, tmp_path: Path
) -> None:
    text = json.dumps(
        {
            "rules": [
                {
                    "rulePriority": 10,
                    "description": "releases: the newest 1",
                    "selection": {
                        "tagStatus": "tagged",
                        "tagPrefixList": ["release-"],
                        "countType": "imageCountMoreThan",
                        "countNumber": 1,
                    },
                    "action": {"type": "expire"},
                }
            ]
        },
        indent=4,
    )
    path = tmp_path / "policy.json"
    path.write_text(text)
    ecr.add_response("put_lifecycle_policy", {}, {"repositoryName": "trees", "lifecyclePolicyText": text})
    pages(ecr, [detail(1, ["release-2"], 1), detail(2, ["release-1"], 2), detail(3, ["dev"], 3)])

    put = invoke("lifecycle", "set", "trees", "--file", str(path), "-q")
    assert put.exit_code == 0, put.stderr
    previewed = invoke("lifecycle", "preview", "trees", "--file", str(path))
    assert previewed.exit_code == 0, previewed.stderr
    lines = previewed.stdout.splitlines()
    assert lines[0].rstrip() == "trees: 1 of 3 image(s) would expire"
    assert lines[2].startswith("release-1 ")
    assert lines[-1] == f"preview of file {path}: 1 image(s) (1.0 kB) would expire; nothing was deleted"


def test_a_delete_call_that_fails_midway_reports_what_went_and_what_did_not(invoke: Any, ecr: Stubber) -> None:
    details = [detail(n, [f"t{n}"], age_days=n / 100) for n in range(151)]  # t0 newest, 150 to delete
    pages(ecr, details)
    gone = sorted(digest(n) for n in range(1, 151))
    deletes(ecr, gone[:100])
    rereads(ecr, gone[100:])
    ecr.add_client_error("batch_delete_image", "ServerException", "ECR is having a bad day", http_status_code=500)

    result = invoke("prune", "trees", "--keep", "1", "--yes", "-o", "json")
    assert result.exit_code == 1
    doc = json.loads(result.stdout)  # the report still comes, for what had already gone
    assert doc["deleted"] == 100 and doc["delete_calls"] == 1
    assert sorted(f["digest"] for f in doc["failures"]) == gone[100:]
    assert {f["code"] for f in doc["failures"]} == {"NotDeleted"}
    assert "ECR is having a bad day" in doc["failures"][0]["reason"]
    assert {i["digest"]: i["status"] for i in doc["images"]}[gone[0]] == "deleted"
    assert {i["digest"]: i["status"] for i in doc["images"]}[gone[-1]] == "failed"


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["--older-than", "0s"], "--older-than must be more than 0s"),
        (["--older-than", "99999999999d"], "at most 36500d"),
    ],
)
def test_an_age_that_would_select_everything_or_overflow_is_exit_2_before_any_call(
    invoke: Any, ecr: Stubber, argv: list[str], words: str
) -> None:
    result = invoke("prune", "trees", *argv, "--yes")
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith("ecrtool: error: ") and words in result.stderr
    assert len(result.stderr.splitlines()) == 1
