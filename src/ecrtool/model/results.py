"""Plain results the service returns; the renderer turns them into tables, lines or JSON."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class RepositoryInfo:
    name: str
    uri: str
    registry_id: str
    arn: str | None = None
    created_at: datetime | None = None
    tag_mutability: str | None = None
    scan_on_push: bool | None = None

    @property
    def immutable(self) -> bool:
        """Tags cannot move (IMMUTABLE, or IMMUTABLE_WITH_EXCLUSION for all but the excluded ones)."""
        return (self.tag_mutability or "").startswith("IMMUTABLE")


@dataclass(frozen=True, slots=True)  # slots: a listing holds thousands
class ImageInfo:
    repository: str
    digest: str
    tags: list[str]
    size_bytes: int | None
    pushed_at: datetime | None
    media_type: str | None = None
    # an image index's platforms (os/architecture[/variant]), as its manifest lists them; () for an image
    platforms: tuple[str, ...] = ()
    # DescribeImages' lastRecordedPullTime: None when never pulled (or the answer has no such field)
    last_pulled_at: datetime | None = None
    # DescribeImages' imageStatus (ACTIVE, ARCHIVED, ACTIVATING): None when the answer has no such field
    status: str | None = None
    # the storage class that status means: ARCHIVE while ARCHIVED or ACTIVATING, else STANDARD
    storage_class: str | None = None
    archived_at: datetime | None = None  # lastArchivedAt
    activated_at: datetime | None = None  # lastActivatedAt
    subject: str | None = None  # subjectManifestDigest: the image a referrer (signature, SBOM...) is about


@dataclass(frozen=True)
class CreateResult:
    repository: RepositoryInfo
    created: bool


@dataclass(frozen=True)
class LoginResult:
    registry: str
    username: str
    expires_at: datetime | None
    stored_in: str


@dataclass(frozen=True)
class TagResult:
    source: str
    references: list[str]


@dataclass(frozen=True)
class PushResult:
    registry: str
    repository: str
    references: list[str]
    digest: str | None
    size_bytes: int | None = None
    created_repository: bool = False
    # the references of REFERENCES whose tag (of an immutable repository) already named this image
    already_there: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class RetagResult:
    """An image in ECR given more tags: the new references, and those that already named it."""

    repository: str
    source: str  # the image retagged, as a full reference
    digest: str  # every reference's digest: the source's
    media_type: str | None
    references: list[str]  # every reference asked for, in the order asked
    already_there: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class PullResult:
    reference: str
    digest: str | None
    image_id: str | None


@dataclass(frozen=True)
class ImageId:
    digest: str | None = None
    tag: str | None = None

    def label(self) -> str:
        if self.tag and self.digest:
            return f"{self.tag} ({self.digest})"
        return self.tag or self.digest or "?"


@dataclass(frozen=True)
class DeleteFailure:
    image: ImageId
    code: str
    reason: str


@dataclass(frozen=True)
class DeleteImagesResult:
    repository: str
    deleted: list[ImageId] = field(default_factory=list)
    failures: list[DeleteFailure] = field(default_factory=list)
    calls: int = 0


@dataclass(frozen=True)
class DeleteRepositoryResult:
    repository: str
    uri: str
    images_deleted: int


@dataclass(frozen=True)
class ProgressEvent:
    """One step of a push or pull: a layer's status and bytes so far, as the engine reports it."""

    action: str
    reference: str
    layer: str | None
    status: str
    current: int | None = None
    total: int | None = None


# how the service reports push and pull progress, and asks before it destroys data
Progress = Callable[[ProgressEvent], None]
Confirm = Callable[[str, int], bool]


@dataclass(frozen=True)
class ConfigureDockerResult:
    """What `configure-docker` did to a Docker config: which registries now use docker-credential-ecrtool."""

    config_path: str
    registries: list[str]
    added: list[str]
    replaced: dict[str, str]  # registry -> the helper it used before
    unchanged: list[str]
    backup: str | None
    helper: str | None  # docker-credential-ecrtool as found on the PATH docker runs with; None: not found
    installed_helper: str | None  # where this installation has it, for the fix when it is not on PATH
    for_root: bool = False


@dataclass(frozen=True)
class DoctorCheck:
    """One line of `ecrtool doctor`: status is ok, fail, or skip (could not run: an earlier check failed)."""

    name: str
    status: str
    detail: str
    fix: str | None = None

    @property
    def ok(self) -> bool:
        return self.status != "fail"


@dataclass(frozen=True)
class DoctorReport:
    checks: list[DoctorCheck]

    @property
    def ok(self) -> bool:
        return all(check.ok for check in self.checks)


@dataclass(frozen=True)
class RunResult:
    """`ecrtool run`: the image it ran, whether it pulled it, the container, and its exit code when attached."""

    reference: str
    container_id: str
    exit_code: int | None
    pulled: bool
    digest: str | None = None


@dataclass(frozen=True)
class SettingValue:
    name: str
    value: str | bool | None
    source: str


@dataclass(frozen=True)
class SettingsReport:
    """`ecrtool config show`: each setting's effective value and where it came from."""

    config_file: str
    config_file_exists: bool
    settings: list[SettingValue]
    # the config file's [registries."HOST"] and [accounts."ID"] entries: the profile each registry is spoken to as
    profiles: list[RegistryProfile] = field(default_factory=list)


@dataclass(frozen=True)
class RegistryProfile:
    """One entry of the config file naming a profile: the AWS profile used for it, why, and what it covers."""

    entry: str
    profile: str
    source: str
    covers: str


@dataclass(frozen=True)
class UserData:
    """`ecrtool ec2 user-data`: the cloud-init script, and the matching `aws ec2 run-instances` line."""

    script: str
    launch_command: str
    os: str
    user: str
    unit: str | None = None


@dataclass(frozen=True)
class CopiedImage:
    """One destination of `ecrtool copy`: the reference written, its digest (the source's), and what moved."""

    reference: str
    repository: str
    digest: str
    already_there: bool = False
    created_repository: bool = False
    blobs_copied: int = 0
    blobs_mounted: int = 0
    blobs_skipped: int = 0
    bytes_copied: int = 0
    manifests_written: int = 0
    referrers: int = 0


@dataclass(frozen=True)
class CopyResult:
    """`ecrtool copy`: the source image, its digest, and every destination it now has."""

    source: str
    digest: str
    media_type: str
    copies: list[CopiedImage]
