"""A registry password from GetAuthorizationToken, as the ECR gateway, the token cache and a cached login share it.

A module of its own: a login whose token is cached reads it without loading the ECR gateway's results.
"""

from __future__ import annotations

from datetime import datetime

from ecrtool.model.value import Value


class AuthToken(Value):
    """The registry's user name and password, until when they hold, and the registry they are for.

    repr hides the password.
    """

    __slots__ = ("username", "password", "expires_at", "proxy_endpoint")
    username: str
    password: str
    expires_at: datetime | None
    proxy_endpoint: str | None

    def __init__(self, username: str, password: str, expires_at: datetime | None, proxy_endpoint: str | None) -> None:
        self.username = username
        self.password = password
        self.expires_at = expires_at
        self.proxy_endpoint = proxy_endpoint

    def __repr__(self) -> str:
        return f"AuthToken(username={self.username!r}, password='***', expires_at={self.expires_at!r})"


class RegistryAuth(Value):
    """Credentials handed to the engine for one request (X-Registry-Auth, /auth); repr hides the password."""

    __slots__ = ("registry", "username", "password")
    registry: str
    username: str
    password: str

    def __init__(self, registry: str, username: str, password: str) -> None:
        self.registry = registry
        self.username = username
        self.password = password

    def as_docker(self) -> dict[str, str]:
        return {"username": self.username, "password": self.password, "serveraddress": self.registry}

    def __repr__(self) -> str:
        return f"RegistryAuth(registry={self.registry!r}, username={self.username!r}, password='***')"
