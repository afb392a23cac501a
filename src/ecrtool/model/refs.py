"""Image references, ECR names and the rules they follow; pure functions, checked before AWS or Docker."""

from __future__ import annotations

import re

from ecrtool.model.errors import InvalidInput
from ecrtool.model.value import Value

# ECR's own rules (CreateRepository, PutImage, BatchDeleteImage).
_REPO_RE = re.compile(r"^(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*$")
_TAG_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
_DIGEST_RE = re.compile(r"^sha256:[a-f0-9]{64}$")
_ACCOUNT_RE = re.compile(r"^\d{12}$")
_REGION_RE = re.compile(r"^[a-z]{2}(?:-[a-z]+)+-\d+$")
_ECR_HOST_RE = re.compile(
    r"^(?P<account>\d{12})\.dkr\.ecr(?P<fips>-fips)?\.(?P<region>[a-z]{2}(?:-[a-z]+)+-\d+)"
    r"\.amazonaws\.com(?P<cn>\.cn)?$"
)
# Docker's grammar for a local image name: [host[:port]/]component(/component)*
_DOCKER_COMPONENT_RE = re.compile(r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$")
_HOST_RE = re.compile(
    r"^(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)(?:\.[A-Za-z0-9-]+)*(?::\d{1,5})?$|^\[[0-9a-fA-F:]+\](?::\d{1,5})?$"
)
_IMAGE_ID_RE = re.compile(r"^(?:sha256:)?[a-f0-9]{12,64}$")
_TAG_KEY_RE = re.compile(r"^[\w.:/=+@ -]{1,128}$", re.UNICODE)
_TAG_VALUE_RE = re.compile(r"^[\w.:/=+@ -]{0,256}$", re.UNICODE)

PUBLIC_HOST = "public.ecr.aws"


def validate_repository(name: str) -> str:
    if not (2 <= len(name) <= 256) or not _REPO_RE.fullmatch(name):
        raise InvalidInput(
            f"invalid repository name {name!r}: use 2-256 lowercase letters and digits, "
            "separated by single '.', '_', '-' or '/' (for example team/app)"
        )
    return name


def validate_tag(tag: str) -> str:
    if not _TAG_RE.fullmatch(tag):
        raise InvalidInput(
            f"invalid tag {tag!r}: use 1-128 letters, digits, '_', '.' or '-', "
            "not starting with '.' or '-' (for example v1.2)"
        )
    return tag


def validate_digest(digest: str) -> str:
    if not _DIGEST_RE.fullmatch(digest):
        raise InvalidInput(f"invalid digest {digest!r}: expected sha256: followed by 64 lowercase hex digits")
    return digest


def validate_account(account: str) -> str:
    if not _ACCOUNT_RE.fullmatch(account):
        raise InvalidInput(f"invalid registry id {account!r}: an AWS account id is 12 digits")
    return account


def is_registry_host(text: str) -> bool:
    """HOST[:PORT] or [IPv6][:PORT], as a registry is named in an image reference."""
    return bool(_HOST_RE.fullmatch(text))


def validate_region(region: str) -> str:
    if not _REGION_RE.fullmatch(region):
        raise InvalidInput(f"invalid region {region!r}: expected a region code such as ca-west-1")
    return region


def parse_key_value(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise InvalidInput(f"invalid tag {text!r}: expected KEY=VALUE (for example team=data)")
    if not _TAG_KEY_RE.fullmatch(key) or not _TAG_VALUE_RE.fullmatch(value):
        raise InvalidInput(f"invalid tag {text!r}: keys are 1-128 and values 0-256 letters, digits, spaces or _.:/=+-@")
    return key, value


def registry_host(account: str, region: str) -> str:
    suffix = ".amazonaws.com.cn" if region.startswith("cn-") else ".amazonaws.com"
    return f"{account}.dkr.ecr.{region}{suffix}"


class EcrHost(Value):
    __slots__ = ("account", "region")
    account: str
    region: str

    def __init__(self, account: str, region: str) -> None:
        self.account = account
        self.region = region


def parse_ecr_host(host: str) -> EcrHost | None:
    match = _ECR_HOST_RE.fullmatch(host)
    if not match:
        return None
    return EcrHost(account=match["account"], region=match["region"])


def endpoint_host(proxy_endpoint: str | None) -> EcrHost | None:
    """The ECR registry a token's proxy endpoint (https://ACCOUNT.dkr.ecr.REGION.amazonaws.com) names."""
    return parse_ecr_host((proxy_endpoint or "").removeprefix("https://").rstrip("/"))


class RepoRef(Value):
    """A reference into an ECR repository, as a user typed it; host parts are None when not given."""

    __slots__ = ("repository", "tag", "digest", "host", "account", "region", "public")
    repository: str
    tag: str | None
    digest: str | None
    host: str | None
    account: str | None
    region: str | None
    public: bool  # in the public gallery, public.ecr.aws/ALIAS/REPOSITORY

    def __init__(
        self,
        repository: str,
        tag: str | None = None,
        digest: str | None = None,
        host: str | None = None,
        account: str | None = None,
        region: str | None = None,
        public: bool = False,
    ) -> None:
        self.repository = repository
        self.tag = tag
        self.digest = digest
        self.host = host
        self.account = account
        self.region = region
        self.public = public

    def with_tag(self, tag: str) -> RepoRef:
        return self.replace(tag=tag, digest=None)


def _split_name_tag_digest(text: str) -> tuple[str, str | None, str | None]:
    digest = None
    if "@" in text:
        text, _, digest = text.partition("@")
        validate_digest(digest)
    tag = None
    slash = text.rfind("/")
    colon = text.rfind(":")
    if colon > slash:
        text, tag = text[:colon], text[colon + 1 :]
        validate_tag(tag)
    return text, tag, digest


def _looks_like_host(component: str) -> bool:
    return "." in component or ":" in component or component == "localhost"


def parse_repo_ref(text: str, registry_override: str | None = None, *, public: bool = False) -> RepoRef:
    """Parse REPO[:TAG], REPO@sha256:..., or a full ECR reference HOST/REPO[:TAG][@DIGEST].

    With public=True (pull and run) a public gallery reference, public.ecr.aws/ALIAS/REPO[:TAG], is one too.
    """
    if not text or text.startswith("-") or any(ch.isspace() for ch in text):
        raise InvalidInput(f"invalid reference {text!r}: expected REPO[:TAG], REPO@sha256:... or a full ECR reference")
    first, sep, rest = text.partition("/")
    if sep and _looks_like_host(first):
        host = first
        name, tag, digest = _split_name_tag_digest(rest)
        validate_repository(name)
        if host == PUBLIC_HOST:
            if not public:
                raise InvalidInput(
                    f"{text!r} is in the public gallery: ecrtool pulls and runs those; this command works on "
                    "private repositories"
                )
            if "/" not in name:
                raise InvalidInput(
                    f"invalid public gallery reference {text!r}: expected public.ecr.aws/ALIAS/REPOSITORY[:TAG]"
                )
            return RepoRef(name, tag, digest, host=host, public=True)
        ecr = parse_ecr_host(host)
        if ecr is not None:
            return RepoRef(name, tag, digest, host=host, account=ecr.account, region=ecr.region)
        if registry_override and host == registry_override:
            return RepoRef(name, tag, digest, host=host)
        raise InvalidInput(
            f"{host!r} is not an ECR registry: expected ACCOUNT.dkr.ecr.REGION.amazonaws.com"
            + (f" or {registry_override}" if registry_override else "")
        )
    name, tag, digest = _split_name_tag_digest(text)
    validate_repository(name)
    return RepoRef(name, tag, digest)


class LocalImage(Value):
    """A local image as named on the command line: a name with an optional tag, or an image id."""

    __slots__ = ("text", "name", "tag", "image_id")
    text: str
    name: str | None
    tag: str | None
    image_id: str | None

    def __init__(self, text: str, name: str | None, tag: str | None, image_id: str | None = None) -> None:
        self.text = text
        self.name = name
        self.tag = tag
        self.image_id = image_id

    @property
    def last_component(self) -> str | None:
        return self.name.rsplit("/", 1)[-1] if self.name else None

    @property
    def path(self) -> str | None:
        """The name without its registry host: what a repository of the same name is called."""
        if self.name is None:
            return None
        first, sep, rest = self.name.partition("/")
        return rest if sep and _looks_like_host(first) else self.name


def parse_local_image(text: str) -> LocalImage:
    """Parse a local image reference as Docker does, refusing anything that could pass for an option."""
    bad = f"invalid image {text!r}: expected NAME[:TAG] or an image id, as `docker images` shows them"
    if not text or text.startswith("-") or any(ch.isspace() or ord(ch) < 32 for ch in text):
        raise InvalidInput(bad)
    if _IMAGE_ID_RE.fullmatch(text) and not text.isdigit():
        return LocalImage(text=text, name=None, tag=None, image_id=text)
    if "@" in text:
        raise InvalidInput(f"invalid image {text!r}: name a local image by NAME[:TAG] or image id, not by digest")
    slash = text.rfind("/")
    colon = text.rfind(":")
    name, tag = text, None
    if colon > slash:
        name, tag = text[:colon], text[colon + 1 :]
        if not _TAG_RE.fullmatch(tag):
            raise InvalidInput(bad)
    parts = name.split("/")
    if len(parts) > 1 and _looks_like_host(parts[0]):
        if not _HOST_RE.fullmatch(parts[0]):
            raise InvalidInput(bad)
        parts = parts[1:]
    if not parts or not all(_DOCKER_COMPONENT_RE.fullmatch(p) for p in parts) or len(name) > 255:
        raise InvalidInput(bad)
    return LocalImage(text=text, name=name, tag=tag)


def push_targets(image: LocalImage, repo: str | None, tags: tuple[str, ...]) -> tuple[str, list[str]]:
    """Work out the repository and tags a push goes to, as the README describes."""
    for tag in tags:
        validate_tag(tag)
    if repo is None:
        if image.path is None:
            raise InvalidInput(f"pushing image id {image.text}: name the repository with --repo and a tag with --tag")
        repository = image.path
        try:
            validate_repository(repository)
        except InvalidInput as err:
            raise InvalidInput(f"{err}; or name the repository with --repo") from None
        chosen = list(tags) or [image.tag or "latest"]
    else:
        repository = validate_repository(repo)
        if tags:
            chosen = list(tags)
        elif image.tag:
            chosen = [image.tag]
        elif image.last_component:
            chosen = [validate_tag(image.last_component)]
        else:
            raise InvalidInput(f"pushing image id {image.text}: give the tag with --tag")
    return repository, list(dict.fromkeys(chosen))


def chunks(items: list[dict[str, str]], size: int = 100) -> list[list[dict[str, str]]]:
    """BatchDeleteImage and BatchGetImage take at most 100 image ids a call."""
    return [items[i : i + size] for i in range(0, len(items), size)]


DOCKER_HUB = "registry-1.docker.io"  # where docker.io's images are served from
_DOCKER_HUB_NAMES = frozenset({"docker.io", "index.docker.io", "registry-1.docker.io"})
_LOOPBACK = frozenset({"localhost", "127.0.0.1", "[::1]"})


class ImageRef(Value):
    """An image in any OCI/Docker v2 registry: its host (as contacted), repository, and tag or digest."""

    __slots__ = ("host", "repository", "tag", "digest")
    host: str
    repository: str
    tag: str | None
    digest: str | None

    def __init__(self, host: str, repository: str, tag: str | None = None, digest: str | None = None) -> None:
        self.host = host
        self.repository = repository
        self.tag = tag
        self.digest = digest

    @property
    def reference(self) -> str:
        """What the registry's manifest endpoint is asked for: the digest when given, else the tag."""
        return self.digest or self.tag or "latest"

    def __str__(self) -> str:
        return f"{self.host}/{self.repository}" + (f"@{self.digest}" if self.digest else f":{self.tag or 'latest'}")


def is_loopback(host: str) -> bool:
    """A registry on this machine (localhost, 127.0.0.1, [::1], with any port): spoken to over plain http."""
    name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
    return name in _LOOPBACK


def is_generic_reference(text: str, registry_override: str | None = None) -> bool:
    """Whether TEXT names an image in a registry other than ECR (HOST/NAME... with a host that is not ECR's)."""
    first, sep, _ = text.partition("/")
    if not sep or not _looks_like_host(first):
        return False
    return parse_ecr_host(first) is None and first != registry_override and first != PUBLIC_HOST


def parse_image_ref(text: str) -> ImageRef:
    """HOST/NAME[:TAG][@DIGEST] in any registry, as docker reads it: docker.io is registry-1.docker.io and a
    one-component name there is library/NAME."""
    bad = f"invalid image reference {text!r}: expected HOST/NAME[:TAG] or HOST/NAME@sha256:..."
    if not text or text.startswith("-") or any(ch.isspace() or ord(ch) < 32 for ch in text):
        raise InvalidInput(bad)
    host, sep, rest = text.partition("/")
    if not sep or not _looks_like_host(host) or not _HOST_RE.fullmatch(host):
        raise InvalidInput(bad)
    name, tag, digest = _split_name_tag_digest(rest)
    parts = name.split("/")
    if not name or not all(_DOCKER_COMPONENT_RE.fullmatch(part) for part in parts) or len(name) > 255:
        raise InvalidInput(bad)
    if host.lower() in _DOCKER_HUB_NAMES:
        host = DOCKER_HUB
        if len(parts) == 1:
            name = f"library/{name}"
    return ImageRef(host, name, tag, digest)
