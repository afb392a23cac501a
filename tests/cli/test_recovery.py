"""Push and pull when the registry misbehaves midway: a refused token, a registry that went away."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import pytest

HOST = "123456789012.dkr.ecr.ca-west-1.amazonaws.com"
DIGEST = "sha256:" + "d" * 64
REFUSED = {"error": "unauthorized: authentication required", "errorDetail": {"message": "unauthorized"}}


@pytest.fixture
def token_fetches(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every GetAuthorizationToken ecrtool makes, counted where the ECR gateway makes it."""
    from ecrtool.aws.ecr import Ecr

    calls: list[str] = []
    original = Ecr.authorization_token

    def counted(self: Ecr) -> Any:
        calls.append("GetAuthorizationToken")
        return original(self)

    monkeypatch.setattr(Ecr, "authorization_token", counted)
    return calls


def refusing(calls: set[int]) -> Any:
    """A push or pull script whose Nth calls (1-based) the registry refuses, as with an expired token."""
    seen: list[str] = []

    def script(reference: str) -> Iterator[dict[str, Any]]:
        seen.append(reference)
        if len(seen) in calls:
            yield REFUSED
        yield {"status": f"Digest: {DIGEST}"}
        yield {"aux": {"Tag": reference.rsplit(":", 1)[-1], "Digest": DIGEST, "Size": 528}}

    return script


def pushes(fake: Any) -> list[str]:
    return [call[1].rsplit(":", 1)[-1] for call in fake.calls if call[0] == "push"]


def test_a_token_revoked_between_tags_is_replaced_once(
    invoke: Any, fake_docker: Any, trees: Any, token_fetches: list[str]
) -> None:
    fake_docker.add_image("viruses")
    fake_docker.push_script = refusing({2})
    result = invoke("push", "viruses", "--repo", "trees", "--tag", "v1", "--tag", "v2", "--tag", "v3")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [f"{HOST}/trees:{t}" for t in ("v1", "v2", "v3")] + [f"digest: {DIGEST}"]
    assert pushes(fake_docker) == ["v1", "v2", "v2", "v3"]
    assert len(token_fetches) == 2
    assert fake_docker.untag_calls() == []


def test_a_fresh_token_refused_too_fails_clearly_and_cleans_up(
    invoke: Any, fake_docker: Any, trees: Any, token_fetches: list[str]
) -> None:
    fake_docker.add_image("viruses")
    fake_docker.push_script = refusing({1, 2, 3})
    result = invoke("push", "viruses", "--repo", "trees", "--tag", "v1")
    assert result.exit_code == 1
    message = result.stderr.splitlines()[-1]
    assert message.startswith(f"ecrtool: error: registry {HOST} refused authentication for push of {HOST}/trees:v1")
    assert "a fresh token from ecr:GetAuthorizationToken was refused as well" in message
    assert pushes(fake_docker) == ["v1", "v1"]  # once more, not forever
    assert len(token_fetches) == 2
    assert fake_docker.untag_calls() == [f"{HOST}/trees:v1"]


def test_only_one_fresh_token_per_command(invoke: Any, fake_docker: Any, trees: Any, token_fetches: list[str]) -> None:
    fake_docker.add_image("viruses")
    fake_docker.push_script = refusing({1, 3})  # v1 refused then fine; v2 refused after the renewal
    result = invoke("push", "viruses", "--repo", "trees", "--tag", "v1", "--tag", "v2")
    assert result.exit_code == 1
    assert pushes(fake_docker) == ["v1", "v1", "v2"]
    assert len(token_fetches) == 2


def test_pull_replaces_a_refused_token_once(
    invoke: Any, fake_docker: Any, trees: Any, token_fetches: list[str]
) -> None:
    fake_docker.pull_script = refusing({1})
    result = invoke("pull", "trees:v1")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [f"{HOST}/trees:v1", f"digest: {DIGEST}"]
    assert len(token_fetches) == 2


def retrying_then_pushed(reference: str) -> Iterator[dict[str, Any]]:
    yield {"status": "Pushing", "progressDetail": {"current": 1, "total": 9}, "id": "0123456789ab"}
    for seconds in (5, 4):
        yield {"status": f"Retrying in {seconds} seconds", "progressDetail": {}, "id": "0123456789ab"}
    yield {"aux": {"Tag": "v1", "Digest": DIGEST, "Size": 528}}


def test_a_registry_that_went_away_fails_at_the_first_retry(
    invoke: Any, fake_docker: Any, trees: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))  # bound, not listening: connections are refused
        registry = f"127.0.0.1:{closed.getsockname()[1]}"
        monkeypatch.setenv("ECRTOOL_REGISTRY", registry)
        fake_docker.add_image("viruses")
        fake_docker.push_script = retrying_then_pushed
        result = invoke("push", "viruses", "--repo", "trees", "--tag", "v1")
    assert result.exit_code == 1
    assert result.stderr.splitlines()[-1] == (
        f"ecrtool: error: registry {registry} stopped answering during the push of {registry}/trees:v1"
        " (Connection refused): check that it is up and reachable, then run the push again"
    )
    assert "Retrying in 4 seconds" not in result.stderr  # it did not wait out the engine's retries
    assert fake_docker.untag_calls() == [f"{registry}/trees:v1"]


def test_a_registry_that_still_answers_gets_the_engines_retries(
    invoke: Any, fake_docker: Any, trees: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        registry = f"127.0.0.1:{server.getsockname()[1]}"
        monkeypatch.setenv("ECRTOOL_REGISTRY", registry)
        fake_docker.add_image("viruses")
        fake_docker.push_script = retrying_then_pushed
        result = invoke("push", "viruses", "--repo", "trees", "--tag", "v1")
    assert result.exit_code == 0, result.output
    assert "Retrying in 4 seconds" in result.stderr
    assert result.stdout.splitlines() == [f"{registry}/trees:v1", f"digest: {DIGEST}"]
