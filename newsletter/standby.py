"""One scheduler at a time: `newsletter run` on several hosts, one leading, the others standing by.

On an SQLite state, `run` holds `STATE.run.lock` and a second one is refused, as before (one
file cannot be shared between hosts anyway). On a PostgreSQL state, every `run` waits for the
lease `scheduler` (see `store.leases`): the holder schedules and renews it every
`LEADER_LEASE_SECONDS / 3`; the others poll every `STANDBY_POLL_SECONDS`. When the leader
dies, its lease runs out and a standby takes it within `LEADER_LEASE_SECONDS` plus one poll
(at once when the leader was a process of the same host); its catch-up then sends what fell
due. Nothing is sent twice meanwhile: every issue is still claimed in the delivery ledger.

A leader that finds its lease taken (it was stopped or cut off from the database for longer
than the lease) stops scheduling at once and exits with an error, to stand by once restarted.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from newsletter.errors import NewsletterError
from newsletter.store import HeldLease, StateLocation, claimant

log = logging.getLogger(__name__)

LEADER_LEASE_SECONDS = 30.0
STANDBY_POLL_SECONDS = 5.0
LEASE = "scheduler"


class LostLead(NewsletterError):
    """Another `newsletter run` took the lead while this one was cut off."""


@contextmanager
def leading(state: StateLocation, stop: threading.Event) -> Iterator[bool]:
    """Lead the scheduling for `state` while the block runs: True once leading, False when
    `stop` was set while standing by. A second `run` on an SQLite state is refused
    (`AlreadyRunning`); a leader that loses its lease sets `stop`, and `LostLead` is raised
    when the block ends."""
    if not state.is_postgres:
        from newsletter.schedule import single_instance

        with single_instance(state.sqlite_path()):
            yield True
        return
    me = claimant()
    lease = HeldLease(state, LEASE, me, LEADER_LEASE_SECONDS, on_lost=stop.set)
    if not lease.take():
        log.info("standing by: another `newsletter run` leads the scheduling of %s", state)
        if not lease.wait(stop, poll=STANDBY_POLL_SECONDS):
            yield False
            return
        log.info("taking over the scheduling of %s", state)
    else:
        log.info("leading the scheduling of %s as %s", state, me)
    try:
        yield True
    finally:
        lease.release()
    if lease.lost.is_set():
        raise LostLead(
            "lost the lead of the scheduling: another `newsletter run` took it while this one "
            "could not renew its lease; restart it to stand by"
        )
