"""The rate limit: a token bucket per client address and per link token, in memory.

Each bucket holds `per_minute` requests and refills continuously at `per_minute` a minute; a
request takes one request from its client's bucket and one from its token's. The buckets of
the least recently seen keys are dropped beyond `max_keys`, so memory stays bounded however
many addresses or invented tokens arrive (a dropped bucket starts full again).
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

MAX_KEYS = 10_000


@dataclass
class _Bucket:
    tokens: float
    at: float  # when `tokens` was counted (monotonic seconds)


class RateLimiter:
    """Token buckets by key (`("ip", "203.0.113.7")`, `("token", "AbC...")`)."""

    def __init__(
        self,
        per_minute: int,
        *,
        max_keys: int = MAX_KEYS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.capacity = float(per_minute)
        self.rate = per_minute / 60.0  # requests a second
        self.max_keys = max_keys
        self._clock = clock
        self._buckets: OrderedDict[tuple[str, str], _Bucket] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._buckets)

    def take(self, keys: Sequence[tuple[str, str]]) -> float:
        """Take one request from the bucket of every key; 0 when allowed, else the seconds
        until every bucket holds one again (and nothing is taken)."""
        with self._lock:
            now = self._clock()
            buckets = [self._refilled(key, now) for key in keys]
            short = [1.0 - bucket.tokens for bucket in buckets if bucket.tokens < 1.0]
            if short:
                return max(short) / self.rate
            for bucket in buckets:
                bucket.tokens -= 1.0
            return 0.0

    def _refilled(self, key: tuple[str, str], now: float) -> _Bucket:
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = _Bucket(self.capacity, now)
            while len(self._buckets) > self.max_keys:
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end(key)
            bucket.tokens = min(self.capacity, bucket.tokens + (now - bucket.at) * self.rate)
            bucket.at = now
        return bucket


def retry_after(seconds: float) -> str:
    """A `Retry-After` value: whole seconds, at least 1."""
    return str(max(1, math.ceil(seconds)))
