"""The relay's limits, kept by every connection of a sending process together.

    Relay                 one per process: its share of `smtp.max_connections`, and
    ├── Pacer             `smtp.max_rate`: transactions started at least 1/rate s apart,
    │                     on a clock shared by all worker processes (so the sum holds)
    └── Window            how many connections may send now (AIMD): one at first, one more
                          after each accepted message until the first refusal, then one more
                          per window of accepted messages; halved when the relay answers 421
                          or 4xx at the connection, MAIL FROM or DATA (once per window)

Several worker processes divide `max_connections` among them (`Share`): the sum of their
connections never exceeds it. They share one pacing clock (a `multiprocessing.Value`), so
their messages together never start more often than `max_rate` a second.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

log = logging.getLogger(__name__)


class SharedClock(Protocol):
    """A `multiprocessing.Value("d")`: the next free start time, shared by processes."""

    value: float

    def get_lock(self) -> Any: ...


@dataclass(frozen=True)
class Share:
    """This process's part of the relay's limits when `of` processes send at once."""

    number: int = 0  # 0-based
    of: int = 1
    clock: SharedClock | None = None  # None: this process paces alone

    def part(self, total: int) -> int:
        """This process's part of `total` (the parts of all processes add up to `total`)."""
        return total // self.of + (1 if self.number < total % self.of else 0)


class _LocalClock:
    """The pacing clock of one process: the same interface as `multiprocessing.Value`."""

    def __init__(self) -> None:
        self.value = 0.0
        self._lock = threading.Lock()

    def get_lock(self) -> threading.Lock:
        return self._lock


class Pacer:
    """Transactions started at least `1/rate` seconds apart (`rate` 0: no limit): at most
    `rate` in any second, plus the one at its edge."""

    def __init__(
        self,
        rate: float,
        clock: SharedClock | None = None,
        *,
        now: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.interval = 1.0 / rate if rate > 0 else 0.0
        self.clock: SharedClock = clock if clock is not None else _LocalClock()
        self.now, self.sleep = now, sleep

    def wait(self) -> None:
        """Take the next start time and wait for it."""
        if not self.interval:
            return
        with self.clock.get_lock():
            now = self.now()
            start = max(now, self.clock.value)
            self.clock.value = start + self.interval
        if start > now:
            self.sleep(start - now)


class Window:
    """How many connections may send at once: between 1 and `most`, AIMD."""

    def __init__(self, most: int) -> None:
        self.most = max(1, most)
        self.size = 1  # slow start: a relay's connection limit is found before it is hit hard
        self.epoch = 0  # counts decreases: a refusal from an older epoch is not counted again
        self._accepted = 0
        self._refused_once = False  # until then: one more connection per message accepted
        self._lock = threading.Lock()

    def accepted(self) -> None:
        with self._lock:
            self._accepted += 1
            if self.size >= self.most:
                return
            if not self._refused_once or self._accepted >= self.size:
                self.size += 1
                self._accepted = 0
                log.debug("relay: sending over up to %d connection(s)", self.size)

    def refused(self, epoch: int, why: str) -> None:
        """The relay asked us to slow down (`why`) in a transaction started in `epoch`."""
        with self._lock:
            self._refused_once = True
            if epoch != self.epoch:
                return  # started before the last decrease, which already counted it
            self.epoch += 1
            self._accepted = 0
            self.size = max(1, self.size // 2)
            log.warning("relay busy (%s): sending over up to %d connection(s)", why, self.size)


class Relay:
    """What the connections of one process share: its share of the relay's connections, the
    pacer, the window, and the count of temporary failures in a row (the breaker)."""

    def __init__(self, max_connections: int, max_rate: float, share: Share | None = None) -> None:
        share = share or Share()
        self.connections = max(1, share.part(max_connections))
        self.pacer = Pacer(max_rate / share.of if share.clock is None else max_rate, share.clock)
        self.window = Window(self.connections)
        self.temporary_in_a_row = 0
        self._lock = threading.Lock()

    def outcome(self, temporary: bool) -> int:
        """Count a message's outcome; the temporary failures in a row so far."""
        with self._lock:
            self.temporary_in_a_row = self.temporary_in_a_row + 1 if temporary else 0
            return self.temporary_in_a_row
