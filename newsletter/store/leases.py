"""Leases: a named right held by one process at a time, for a while, renewed while it lives.

    scheduler       the `newsletter run` that schedules (the others stand by)
    fetch:DAY       the process reading the sources for DAY (the others wait, then read none)
    sender:WHO      a sending process is alive: its `sending` rows are not abandoned

Holders are `host:pid:random` (`claimant()`). A lease is taken when it is free, expired, or
held by a process of this host that no longer runs; times are the database's, so hosts with
skewed clocks agree on who holds what. Taking is one conditional upsert, atomic on either
engine. A held lease is renewed by a thread of its own (`HeldLease`), with its own connection.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from newsletter.errors import StoreError
from newsletter.store.database import Database
from newsletter.store.ledger import process_gone

if TYPE_CHECKING:
    from newsletter.store.location import StateLocation

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Lease:
    name: str
    holder: str
    taken_at: str
    expires_at: str


class Leases(Database):
    """The `leases` table."""

    def take_lease(self, name: str, holder: str, seconds: float) -> bool:
        """Hold `name` for `seconds` from now (renewing it if `holder` has it already); False
        when another live holder has it."""
        now = self.now()
        until = _later(now, seconds)
        current = self.lease(name)
        dead = current.holder if current is not None and process_gone(current.holder) else ""
        with self.transaction() as db:
            taken = db.execute(
                "INSERT INTO leases (name, holder, taken_at, expires_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, "
                "expires_at = excluded.expires_at, taken_at = CASE WHEN leases.holder = "
                "excluded.holder THEN leases.taken_at ELSE excluded.taken_at END "
                "WHERE leases.holder = excluded.holder OR leases.expires_at <= ? "
                "OR leases.holder = ?",
                (name, holder, now, until, now, dead),
            ).rowcount
        return int(taken) == 1

    def release_lease(self, name: str, holder: str) -> None:
        """Give `name` up at once, if `holder` still has it."""
        with self.transaction() as db:
            db.execute(
                "UPDATE leases SET expires_at = ? WHERE name = ? AND holder = ?",
                (self.now(), name, holder),
            )

    def lease(self, name: str) -> Lease | None:
        row = self._read_one(
            "SELECT name, holder, taken_at, expires_at FROM leases WHERE name = ?", (name,)
        )
        return Lease(*row) if row else None

    def live_lease(self, name: str) -> Lease | None:
        """The lease on `name` if someone alive holds it."""
        current = self.lease(name)
        if current is None or current.expires_at <= self.now() or process_gone(current.holder):
            return None
        return current


def _later(now: str, seconds: float) -> str:
    return (datetime.fromisoformat(now) + timedelta(seconds=seconds)).isoformat(timespec="seconds")


class HeldLease:
    """A lease held from `take()` until `release()`, renewed every third of its length by a
    thread with its own connection. `lost` is set when a renewal finds it taken by another (it
    ran out while this process was stopped or cut off from the database)."""

    def __init__(
        self,
        location: StateLocation,
        name: str,
        holder: str,
        seconds: float = 60.0,
        *,
        on_lost: Callable[[], None] | None = None,
    ) -> None:
        self.location, self.name, self.holder, self.seconds = location, name, holder, seconds
        self.on_lost = on_lost
        self.lost = threading.Event()
        self._done = threading.Event()
        self._thread: threading.Thread | None = None

    def take(self) -> bool:
        """Take the lease and start renewing it; False when another live holder has it."""
        with Leases(self.location, pooled=True) as store:
            if not store.take_lease(self.name, self.holder, self.seconds):
                return False
        self._thread = threading.Thread(target=self._renew, name=f"lease {self.name}",
                                        daemon=True)  # fmt: skip
        self._thread.start()
        return True

    def wait(
        self, stop: threading.Event | None = None, poll: float = 1.0, timeout: float | None = None
    ) -> bool:
        """Take the lease as soon as it is free (its holder released it, died, or let it run
        out); False when `stop` is set, or `timeout` seconds pass, first."""
        stop = stop or threading.Event()
        deadline = None if timeout is None else time.monotonic() + timeout
        told = ""
        while not stop.is_set() and (deadline is None or time.monotonic() < deadline):
            if self.take():
                return True
            with Leases(self.location, pooled=True) as store:
                current = store.live_lease(self.name)
            if current is not None and current.holder != told:
                told = current.holder
                log.info("waiting: %s is held by %s", self.name, current.holder)
            stop.wait(poll)
        return False

    def release(self) -> None:
        self._done.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        try:
            with Leases(self.location, pooled=True) as store:
                store.release_lease(self.name, self.holder)
        except StoreError as exc:  # it runs out by itself
            log.warning("lease %s not released: %s", self.name, exc)

    def __enter__(self) -> HeldLease:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.release()

    def _lose(self) -> None:
        self.lost.set()
        if self.on_lost is not None:
            self.on_lost()

    def _renew(self) -> None:
        store: Leases | None = None
        failing_since: float | None = None
        try:
            while not self._done.wait(self.seconds / 3):
                try:
                    store = store or Leases(self.location)
                    if not store.take_lease(self.name, self.holder, self.seconds):
                        log.error("lease %s was taken by another process", self.name)
                        self._lose()
                        return
                    failing_since = None
                except StoreError as exc:
                    _closed(store)
                    store = None
                    now = time.monotonic()
                    failing_since = failing_since or now
                    log.warning("lease %s not renewed: %s", self.name, exc)
                    if now - failing_since > self.seconds:
                        self._lose()
                        return
        finally:
            _closed(store)


def _closed(store: Leases | None) -> None:
    """Close `store`, if any, whatever state its connection is in."""
    if store is not None:
        with contextlib.suppress(StoreError):
            store.close()
