"""What copy and inspect share about the image they read: which registry a reference names, and a client
for a registry that is not ECR (the credentials Docker's config holds for it, else anonymous)."""

from __future__ import annotations

from ecrtool.docker.config import TOKEN_USERNAME, stored_credentials
from ecrtool.model.refs import (
    DOCKER_HUB,
    PUBLIC_HOST,
    ImageRef,
    RepoRef,
    is_generic_reference,
    parse_image_ref,
    parse_repo_ref,
)
from ecrtool.model.settings import Settings
from ecrtool.registry.client import RegistryClient


def parse_source(text: str, settings: Settings) -> RepoRef | ImageRef:
    """TEXT as an ECR repository's reference (RepoRef), or any other registry's (ImageRef).

    The public gallery (or ECRTOOL_PUBLIC_REGISTRY's host standing in for it) is a registry like any
    other to a reader: a Bearer challenge, met with an anonymous token from its token endpoint (or with
    what `ecrtool login --public` stored)."""
    override = settings.registry_override
    if is_generic_reference(text, override):
        return parse_image_ref(text)
    ref = parse_repo_ref(text, override, public=True)
    if ref.public:
        return ImageRef(settings.public_registry_override or PUBLIC_HOST, ref.repository, ref.tag, ref.digest)
    return ref


def registry_client(ref: ImageRef, side: str) -> RegistryClient:
    """A client for REF's registry, with what Docker's config holds for it (else none)."""
    credentials = stored_credentials("docker.io" if ref.host == DOCKER_HUB else ref.host)
    if credentials and credentials.username == TOKEN_USERNAME:
        # an identitytoken is a refresh token for the registry's token service, never a password
        return RegistryClient(ref.host, side=side, refresh_token=credentials.password)
    basic = (credentials.username, credentials.password) if credentials else None
    return RegistryClient(ref.host, side=side, basic=basic)
