"""`ecrtool push` against moto's ECR and a fake engine: what it prints, what it tags, how it fails."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

HOST = "123456789012.dkr.ecr.ca-west-1.amazonaws.com"
DIGEST = "sha256:" + "d" * 64


def test_push_prints_each_reference_and_the_digest(invoke: Any, fake_docker: Any, trees: Any) -> None:
    fake_docker.add_image("viruses")
    result = invoke("push", "viruses", "--repo", "trees", "--tag", "v1", "--tag", "latest")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [f"{HOST}/trees:v1", f"{HOST}/trees:latest", f"digest: {DIGEST}"]
    assert [c[1] for c in fake_docker.calls if c[0] == "push"] == [f"{HOST}/trees:v1", f"{HOST}/trees:latest"]


def test_push_passes_the_ecr_token_to_the_engine(invoke: Any, fake_docker: Any, trees: Any) -> None:
    fake_docker.add_image("viruses")
    assert invoke("push", "viruses", "--repo", "trees").exit_code == 0
    auth = fake_docker.auths[0]
    assert (auth.registry, auth.username, auth.password) == (HOST, "AWS", "123456789012-auth-token")


@pytest.mark.parametrize(
    ("argv", "reference"),
    [
        (["viruses", "--repo", "trees"], "trees:viruses"),
        (["viruses:1.0", "--repo", "trees"], "trees:1.0"),
        (["trees"], "trees:latest"),
        (["trees:2.0"], "trees:2.0"),
        (["viruses:1.0", "--repo", "trees", "--tag", "stable"], "trees:stable"),
        (["localhost:5000/team/viruses:3", "--repo", "trees"], "trees:3"),
    ],
)
def test_push_picks_repository_and_tag(
    argv: list[str], reference: str, invoke: Any, fake_docker: Any, trees: Any
) -> None:
    fake_docker.add_image(argv[0])
    result = invoke("push", *argv)
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[0] == f"{HOST}/{reference}"


def test_push_by_image_id(invoke: Any, fake_docker: Any, trees: Any) -> None:
    fake_docker.add_image("viruses", image_id="sha256:" + "abcdef123456" * 5 + "abcd")
    result = invoke("push", "abcdef123456", "--repo", "trees", "--tag", "v1")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[0] == f"{HOST}/trees:v1"
    assert ("tag", "sha256:" + "abcdef123456" * 5 + "abcd", f"{HOST}/trees:v1") in fake_docker.calls


def test_push_shows_progress_on_stderr_not_stdout(invoke: Any, fake_docker: Any, trees: Any) -> None:
    fake_docker.add_image("viruses")
    result = invoke("push", "viruses", "--repo", "trees")
    assert "Pushed" in result.stderr
    assert "Pushed" not in result.stdout


def test_push_json_output_parses(invoke: Any, fake_docker: Any, trees: Any) -> None:
    fake_docker.add_image("viruses")
    result = invoke("push", "viruses", "--repo", "trees", "-o", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data == {
        "registry": HOST,
        "repository": "trees",
        "references": [f"{HOST}/trees:viruses"],
        "digest": DIGEST,
        "size_bytes": 528,
        "created_repository": False,
        "already_there": [],
    }


def test_push_of_a_missing_local_image_names_it(invoke: Any, fake_docker: Any, trees: Any) -> None:
    result = invoke("push", "viruses", "--repo", "trees")
    assert result.exit_code == 1
    assert result.stderr.startswith("ecrtool: error: local image 'viruses' not found")
    assert "docker images" in result.stderr
    assert not any(c[0] in ("tag", "push") for c in fake_docker.calls)


def test_push_to_a_missing_repository_says_how_to_create_it(invoke: Any, fake_docker: Any, aws: Any) -> None:
    fake_docker.add_image("viruses")
    result = invoke("push", "viruses", "--repo", "trees")
    assert result.exit_code == 1
    assert "'trees' does not exist" in result.stderr
    assert "`ecrtool create trees`" in result.stderr
    assert "--create" in result.stderr
    assert not any(c[0] in ("tag", "push") for c in fake_docker.calls)
    assert aws.describe_repositories()["repositories"] == []


def test_push_create_makes_the_repository(invoke: Any, fake_docker: Any, aws: Any) -> None:
    fake_docker.add_image("viruses")
    result = invoke("push", "viruses", "--repo", "trees", "--create")
    assert result.exit_code == 0, result.output
    assert "Created repository trees" in result.stderr
    assert [r["repositoryName"] for r in aws.describe_repositories()["repositories"]] == ["trees"]
    assert result.stdout.splitlines()[0] == f"{HOST}/trees:viruses"


def _failing(message: str) -> Any:
    def events(reference: str) -> Iterator[dict[str, Any]]:
        yield {"status": "Preparing", "progressDetail": {}, "id": "0123456789ab"}
        yield {"errorDetail": {"message": message}, "error": message}

    return events


def test_an_unauthorized_push_is_an_auth_error(invoke: Any, fake_docker: Any, trees: Any) -> None:
    fake_docker.add_image("viruses")
    fake_docker.push_script = _failing("unauthorized: authentication required")
    result = invoke("push", "viruses", "--repo", "trees")
    assert result.exit_code == 1
    [line] = result.stderr.splitlines()[-1:]
    assert line.startswith(f"ecrtool: error: registry {HOST} refused authentication for push")
    assert "unauthorized" in line


def test_a_failed_push_removes_the_tags_it_added(invoke: Any, fake_docker: Any, trees: Any) -> None:
    fake_docker.add_image("viruses")
    fake_docker.push_script = _failing("blob upload unknown")
    result = invoke("push", "viruses", "--repo", "trees", "--tag", "v1")
    assert result.exit_code == 1
    assert "blob upload unknown" in result.stderr
    assert fake_docker.untag_calls() == [f"{HOST}/trees:v1"]
    assert f"{HOST}/trees:v1" not in fake_docker.images
    assert "viruses:latest" in fake_docker.images


def test_a_failed_push_keeps_tags_that_were_there_before(invoke: Any, fake_docker: Any, trees: Any) -> None:
    fake_docker.add_image("viruses")
    fake_docker.add_image(f"{HOST}/trees:v1")
    fake_docker.push_script = _failing("blob upload unknown")
    assert invoke("push", "viruses", "--repo", "trees", "--tag", "v1", "--tag", "v2").exit_code == 1
    # v1 was there before the push, so it stays; v2 was never reached.
    assert fake_docker.untag_calls() == []
    assert f"{HOST}/trees:v1" in fake_docker.images


def test_a_failure_on_the_second_tag_removes_both_new_tags(invoke: Any, fake_docker: Any, trees: Any) -> None:
    fake_docker.add_image("viruses")
    seen: list[str] = []

    def second_fails(reference: str) -> Iterator[dict[str, Any]]:
        seen.append(reference)
        if len(seen) == 2:
            yield {"error": "received unexpected HTTP status: 500 Internal Server Error"}
        yield {"aux": {"Tag": "x", "Digest": DIGEST, "Size": 1}}

    fake_docker.push_script = second_fails
    result = invoke("push", "viruses", "--repo", "trees", "--tag", "v1", "--tag", "v2")
    assert result.exit_code == 1
    assert "500 Internal Server Error" in result.stderr
    assert sorted(fake_docker.untag_calls()) == [f"{HOST}/trees:v1", f"{HOST}/trees:v2"]


def test_ctrl_c_during_push_exits_130_and_cleans_up(invoke: Any, fake_docker: Any, trees: Any) -> None:
    fake_docker.add_image("viruses")

    def interrupted(reference: str) -> Iterator[dict[str, Any]]:
        yield {"status": "Preparing", "progressDetail": {}, "id": "0123456789ab"}
        raise KeyboardInterrupt

    fake_docker.push_script = interrupted
    result = invoke("push", "viruses", "--repo", "trees")
    assert result.exit_code == 130
    assert result.stderr.splitlines()[-1] == "ecrtool: error: interrupted"
    assert fake_docker.untag_calls() == [f"{HOST}/trees:viruses"]


def test_push_respects_ecrtool_registry(
    invoke: Any, fake_docker: Any, trees: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ECRTOOL_REGISTRY", "127.0.0.1:5000")
    fake_docker.add_image("viruses")
    result = invoke("push", "viruses", "--repo", "trees")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[0] == "127.0.0.1:5000/trees:viruses"
