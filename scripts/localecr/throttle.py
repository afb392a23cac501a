"""ECR's rate limit on putting images: PutImage through the API and manifest PUTs on the registry's face
share one token bucket per account and region (a push is a PutImage to ECR).

ECR's default is 10 a second ("Amazon ECR service quotas": rate of PutImage requests); over it, the API
answers ThrottlingException "Rate exceeded" and the registry 429 TOOMANYREQUESTS (containerd/containerd#10447),
here both with a Retry-After. ECR does not publish its bucket's size (how large a burst it lets through):
at ``up`` it is LOCAL_ECR_PUT_BURST puts (default ten seconds' worth), and the rate LOCAL_ECR_PUT_RATE.
Tests tighten them with ``POST /_bridge/throttle {"rate": N}`` (a bucket of one second's worth unless
``"burst"`` says) and put ``up``'s back with ``{"reset": true}``.
"""

from __future__ import annotations

import math
import threading
import time
from typing import Any

DEFAULT_RATE = 10.0
DEFAULT_BURST_SECONDS = 10
MESSAGE = "Rate exceeded"


def rate_of(value: Any, default: float = DEFAULT_RATE) -> float:
    """A rate in puts a second or a bucket's size in puts (LOCAL_ECR_PUT_RATE, LOCAL_ECR_PUT_BURST, or the
    control's); None or '' for DEFAULT."""
    if value in (None, ""):
        return default
    rate = float(value)
    if not 0 < rate <= 100_000:
        raise ValueError(f"a rate or burst must be above 0 and at most 100000, not {rate}")
    return rate


class Throttle:
    """A token bucket per (account, region): RATE tokens a second, holding at most BURST (at least one)."""

    def __init__(self, rate: float = DEFAULT_RATE, burst: float | None = None) -> None:
        self.initial = (rate, burst if burst is not None else rate * DEFAULT_BURST_SECONDS)
        self.rate, self.burst = self.initial
        self.refused = 0  # puts refused since the rate was last set
        self._buckets: dict[tuple[str, str], tuple[float, float]] = {}  # key -> (tokens, when)
        self._lock = threading.Lock()

    def take(self, account: str, region: str) -> int | None:
        """None when a put may go ahead (one token taken); else the seconds to wait (Retry-After)."""
        now = time.monotonic()
        capacity = max(1.0, self.burst)
        with self._lock:
            tokens, when = self._buckets.get((account, region), (capacity, now))
            tokens = min(capacity, tokens + (now - when) * self.rate)
            if tokens >= 1.0:
                self._buckets[(account, region)] = (tokens - 1.0, now)
                return None
            self._buckets[(account, region)] = (tokens, now)
            self.refused += 1
            return max(1, math.ceil((1.0 - tokens) / self.rate))

    def control(self, doc: dict[str, Any]) -> dict[str, Any]:
        """``{"rate": N[, "burst": M]}`` or ``{"reset": true}``, either starting every bucket full and the
        count of refusals at 0; ``{}`` only reads them."""
        with self._lock:
            if doc.get("reset"):
                self.rate, self.burst = self.initial
            elif "rate" in doc:
                self.rate = rate_of(doc["rate"])
                self.burst = rate_of(doc.get("burst"), self.rate)
            if doc.get("reset") or "rate" in doc:
                self._buckets.clear()
                self.refused = 0
            return {"rate": self.rate, "burst": self.burst, "refused": self.refused}
