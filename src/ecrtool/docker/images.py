"""Local images as every runner reports them, and the engine's names for what to pull.

A module below the runners and the runner protocol alike, so that each runner can build what the
protocol returns.
"""

from __future__ import annotations

from ecrtool.docker.config import INDEX_NAME
from ecrtool.model.value import Value

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (see ecrtool.model.value)
if TYPE_CHECKING:
    from typing import Any


class LocalImageDetails(Value):
    """An image the engine holds: its id and the names it knows it by."""

    __slots__ = ("image_id", "repo_tags", "repo_digests")
    image_id: str
    repo_tags: list[str]
    repo_digests: list[str]

    def __init__(self, image_id: str, repo_tags: list[str], repo_digests: list[str]) -> None:
        self.image_id = image_id
        self.repo_tags = repo_tags
        self.repo_digests = repo_digests


def image_details(data: dict[str, Any]) -> LocalImageDetails:
    """What the engine reports of an image (GET /images/…/json, `docker image inspect`)."""
    return LocalImageDetails(
        image_id=data["Id"], repo_tags=data.get("RepoTags") or [], repo_digests=data.get("RepoDigests") or []
    )


def pull_target(repository: str, ref: str) -> tuple[str, str | None]:
    """The image and tag the engine's pull takes for REF, a tag or a digest (which goes with the repository)."""
    if ref.startswith("sha256:"):
        return f"{repository}@{ref}", None
    return repository, ref


def registry_of(repository: str) -> str:
    """The registry host a repository name starts with; Docker Hub's without one (docker-py's split_repo_name)."""
    first, slash, _ = repository.partition("/")
    if not slash or ("." not in first and ":" not in first and first != "localhost"):
        return INDEX_NAME
    return first
