"""ECR's storage classes as `archive`, `restore` and `images` see them: what moving an image between them
did, and what a pull of an archived image is told.

An image is ACTIVE in the standard class, ARCHIVED in the archive class, and ACTIVATING while ECR restores
it (which "typically takes up to 20 minutes", ECR's user guide says); only an ACTIVE image can be pulled.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ecrtool.model.refs import RepoRef

# the storage class an image is in while in each status: a restore leaves the archive when it is done
IN_ARCHIVE = frozenset({"ARCHIVED", "ACTIVATING"})
RESTORE_TAKES = "ECR takes up to 20 minutes"


@dataclass(frozen=True)
class StorageChange:
    """One image an `archive` or `restore` named: its status before and after, and whether ECR was asked to
    move it (an image already where it was sent is left alone)."""

    reference: str
    repository: str
    digest: str
    tags: list[str]
    before: str
    after: str
    changed: bool
    waited_seconds: float | None = None  # restore --wait: how long until it was ACTIVE


@dataclass(frozen=True)
class StorageFailure:
    reference: str
    message: str


@dataclass(frozen=True)
class StorageResult:
    action: str  # "archive" or "restore"
    images: list[StorageChange] = field(default_factory=list)
    failures: list[StorageFailure] = field(default_factory=list)
    waited: bool = False


def shown_reference(ref: RepoRef, wanted: str | None = None) -> str:
    """REF as a user would type it again: its host when one was given, the tag or digest (WANTED when
    the reference had neither, such as the `latest` a pull assumed)."""
    where = f"{ref.host}/{ref.repository}" if ref.host else ref.repository
    if ref.digest:
        return f"{where}@{ref.digest}"
    return f"{where}:{ref.tag or wanted or 'latest'}"


def archived_message(reference: str, status: str | None) -> str:
    """What a pull, run, copy or inspect of an image in the archive says instead of a bare not-found."""
    if status == "ACTIVATING":
        return (
            f"image {reference} is archived and being restored: `ecrtool restore {reference} --wait` "
            "waits until it can be pulled"
        )
    return f"image {reference} is archived: `ecrtool restore {reference}` ({RESTORE_TAKES}; --wait waits for it)"
