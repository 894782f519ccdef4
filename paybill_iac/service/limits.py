"""Per-token (and, for failed authentication, per-address) rate limits: token buckets kept in the server's
memory, one event loop touching them (no lock needed). A bucket holds `burst` requests and refills at
`rate` per second; an empty one answers 429 with Retry-After."""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable


class RateLimiter:
    """Token buckets by key; the least recently used keys are forgotten beyond `max_keys` (they start full)."""

    def __init__(self, rate: float, burst: int, *, max_keys: int = 10_000, clock: Callable[[], float] = time.monotonic):
        self.rate = float(rate)
        self.burst = float(max(burst, 1))
        self.max_keys = max_keys
        self.clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def take(self, key: str) -> float:
        """Spend one request of `key`'s bucket: 0.0 when allowed, else the seconds until one is available."""
        now = self.clock()
        level, then = self._buckets.pop(key, (self.burst, now))
        level = min(self.burst, level + (now - then) * self.rate)
        if level >= 1.0:
            self._buckets[key] = (level - 1.0, now)
            allowed = 0.0
        else:
            self._buckets[key] = (level, now)
            allowed = (1.0 - level) / self.rate if self.rate > 0 else math.inf
        while len(self._buckets) > self.max_keys:
            self._buckets.popitem(last=False)
        return allowed
