"""A repository's tags as a registry lists them (`GET /v2/NAME/tags/list`, every page), for `ecrtool sync`.

Kept beside the client rather than in it while the client has no public way to list tags: it goes through
the client's one exchange (authentication, challenges, a busy registry's pauses) and its error mapping.
"""

from __future__ import annotations

import json
from urllib.parse import urlsplit

from ecrtool.model.errors import RegistryError
from ecrtool.model.refs import is_loopback
from ecrtool.registry.client import PAGES, RegistryClient, next_link, redirect_target

PAGE_SIZE = 1000


def list_tags(client: RegistryClient, repository: str) -> list[str]:
    """Every tag of REPOSITORY at CLIENT's registry, following each page's Link header (as Docker Hub and
    the distribution registry page them); NotFound when the registry knows no such repository."""
    path = f"/v2/{repository}/tags/list?n={PAGE_SIZE}"
    doing = f"listing the tags of {repository}"
    found: list[str] = []
    asked: set[str] = set()
    scheme = "http" if is_loopback(client.host) else "https"
    while True:
        asked.add(path)
        reply, data = client._call("GET", path, repository)  # noqa: SLF001 - the client's one exchange
        client._check(reply, data, doing, (200,))  # noqa: SLF001
        try:
            tags = json.loads(data).get("tags") or []
        except (ValueError, AttributeError):
            raise RegistryError(
                f"{client.label} answered {doing} with no tag list: report it to its operator"
            ) from None
        if not isinstance(tags, list):
            raise RegistryError(f"{client.label} answered {doing} with no tag list: report it to its operator")
        found.extend(tag for tag in tags if isinstance(tag, str))
        following = next_link(reply.getheader("Link"))
        if following is None:
            return found
        url = redirect_target(f"{scheme}://{client.host}{path}", following, client.label)
        parts = urlsplit(url)
        if parts.netloc and parts.netloc != client.host:
            raise RegistryError(f"{client.label} sent the next page of {doing} to {url}: report it to its operator")
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        if path in asked or len(asked) >= PAGES:
            raise RegistryError(f"{client.label} kept paging {doing} ({len(asked)} pages): report it to its operator")
