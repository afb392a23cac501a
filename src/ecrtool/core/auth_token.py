"""A registry password from GetAuthorizationToken, as the ECR gateway, the token cache and a cached login share it.

A module of its own: a login whose token is cached reads it without loading the ECR gateway's results.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class AuthToken:
    """The registry's user name and password, until when they hold, and the registry they are for.

    repr hides the password.
    """

    username: str
    password: str
    expires_at: datetime | None
    proxy_endpoint: str | None

    def __repr__(self) -> str:
        return f"AuthToken(username={self.username!r}, password='***', expires_at={self.expires_at!r})"
