"""The registry passwords GetAuthorizationToken hands out, and the registry's check of them.

A password names the account and region it was issued for, when it expires, and the stack's
revocation generation, signed with the stack's secret: ECR's registry takes it for that account's
registry in that region until it expires (12 hours) or is revoked, and refuses it everywhere else.
Unlike ECR, the stack hands out the same password for an account and region until it is revoked or
has less than an hour left, so that a test can tell whether that password leaked anywhere.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from dataclasses import dataclass

LIFETIME = 12 * 3600  # what ECR gives an authorization token
# ECR's words for a token it no longer takes, whatever the reason
EXPIRED = "Your authorization token has expired. Reauthenticate and try again."


@dataclass(frozen=True)
class Verdict:
    ok: bool
    reason: str = ""


class Tokens:
    """Issues and checks registry passwords; `revoke` makes every password issued so far invalid."""

    def __init__(self, secret: bytes) -> None:
        self._secret = secret
        self._generation = 0
        self._issued: dict[tuple[str, str, str], tuple[str, int]] = {}
        self._lock = threading.Lock()

    def issue(self, account: str, region: str, *, principal: str = "", now: float | None = None) -> tuple[str, int]:
        """A password for ACCOUNT's registry in REGION, and when it expires (epoch seconds); it names the
        PRINCIPAL (the caller's STS ARN) it was issued to, as ECR knows who pulls (pulls.py)."""
        moment = now or time.time()
        with self._lock:
            found = self._issued.get((account, region, principal))
            if found is not None and found[1] - moment > 3600:
                return found
            expires = int(moment + LIFETIME)
            claims = {"a": account, "r": region, "e": expires, "g": self._generation}
            if principal:
                claims["p"] = principal
            payload = _b64(json.dumps(claims, separators=(",", ":")).encode())
            self._issued[(account, region, principal)] = (f"{payload}.{self._sign(payload)}", expires)
            return self._issued[(account, region, principal)]

    def check(self, password: str, account: str, region: str, *, now: float | None = None) -> Verdict:
        payload, _, signature = password.partition(".")
        if not signature or not hmac.compare_digest(signature, self._sign(payload)):
            return Verdict(False, "not a password this registry issued")
        try:
            claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        except ValueError:
            return Verdict(False, "not a password this registry issued")
        if claims.get("a") != account or claims.get("r") != region:
            return Verdict(False, f"issued for {claims.get('a')} in {claims.get('r')}")
        with self._lock:
            if claims.get("g") != self._generation:
                return Verdict(False, "revoked")
        if float(claims.get("e", 0)) <= (now or time.time()):
            return Verdict(False, "expired")
        return Verdict(True)

    def principal(self, password: str) -> str:
        """The principal (STS ARN) a password of ours was issued to ("" when none was named)."""
        payload, _, signature = password.partition(".")
        if not signature or not hmac.compare_digest(signature, self._sign(payload)):
            return ""
        try:
            claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        except ValueError:
            return ""
        return str(claims.get("p") or "")

    def revoke(self) -> None:
        """Every password handed out so far is refused from now on (a rotation, a revocation)."""
        with self._lock:
            self._generation += 1
            self._issued.clear()

    def _sign(self, payload: str) -> str:
        return _b64(hmac.new(self._secret, payload.encode(), hashlib.sha256).digest())


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")
