"""The delivery ledger: the never-twice state of every reader's issue, and the operator's alerts.

One row per reader and issue day, moved through the states of `DeliveryStatus` (see
`newsletter.status` for the transitions): `claim` takes a row to `sending` before the message
goes out, `handing_over` notes that its data is reaching the server, and `finish` records the
server's answer. Papers count as delivered to a reader only once their issue is `sent`.

Subscriber keys are `Reader.key`: the address lower-cased, once, at config load. The store
takes them as given and never normalises them again.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import socket
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from newsletter.errors import StoreError
from newsletter.status import DeliveryStatus
from newsletter.store.database import Connection, Database

log = logging.getLogger(__name__)

CLAIM_LEASE_SECONDS = 3600  # a 'sending' row older than this, from any host, is abandoned
CUT_OFF = "the sending process stopped before the server's reply"  # an in-doubt row's detail

_DELIVERY_COLUMNS = (
    "subscriber, issue_date, status, message_id, attempts, last_error, updated_at, target"
)
_REACHED = tuple(status for status in DeliveryStatus if status.reached_reader)


@dataclass(frozen=True)
class DeliveryRecord:
    subscriber: str
    day: date
    status: DeliveryStatus
    message_id: str | None
    attempts: int
    detail: str
    updated_at: str
    target: str | None = None  # where it went: smtp://host:port, file:///outbox ...

    @classmethod
    def of(cls, row: tuple[Any, ...]) -> DeliveryRecord:
        subscriber, day, status, message_id, attempts, detail, updated_at, target = row
        return cls(
            subscriber, date.fromisoformat(day), DeliveryStatus(status), message_id, attempts,
            detail or "", updated_at, target,
        )  # fmt: skip


@dataclass(frozen=True)
class LastIssue:
    """A reader's latest issue that (may have) reached them: its day and the horizon (see
    `Store.horizon`) it was built with."""

    day: date
    horizon: int | None


class Ledger(Database):
    """The `deliveries`, `delivered_papers` and `alerts` tables."""

    def claim(
        self,
        subscriber: str,
        day: date,
        claimant: str,
        *,
        resend_in_doubt: bool,
        horizon: int | None = None,
        target: str | None = None,
        retarget: bool = False,
    ) -> bool:
        """Take the right to send `subscriber`'s issue of `day` to `target`; False when it is
        not ours to send: sent, failed, being sent by a live process, or in doubt (unless
        resending those). With `retarget`, an issue sent to another target is taken again.

        A row left `sending` by a dead process is taken again when its message was never handed
        to the server, and becomes `in_doubt` when it was (the server may have delivered it)."""
        key, now = (subscriber, day.isoformat()), self.now()
        with self.transaction(lock=f"issue:{subscriber}:{key[1]}") as db:
            status = _settled_status(db, key, now)
            elsewhere = retarget and status is DeliveryStatus.SENT and _target(db, key) != target
            if not (elsewhere or _takeable(status, resend_in_doubt=resend_in_doubt)):
                return False
            db.execute(
                "INSERT INTO deliveries (subscriber, issue_date, status, attempts, updated_at, "
                "claimed_by, handed_over, horizon, target) VALUES (?, ?, ?, 1, ?, ?, 0, ?, ?) "
                "ON CONFLICT (subscriber, issue_date) DO UPDATE SET status = excluded.status, "
                "attempts = deliveries.attempts + 1, updated_at = excluded.updated_at, "
                "claimed_by = excluded.claimed_by, handed_over = 0, horizon = excluded.horizon, "
                "target = excluded.target",
                (*key, DeliveryStatus.SENDING.value, now, claimant, horizon, target),
            )
            return True

    def settle(self, subscriber: str, day: date, *, delivered: bool) -> DeliveryRecord:
        """Decide an issue in doubt: `delivered` makes it sent (its papers count as delivered),
        otherwise it is deferred and the next run sends it. StoreError if it is not in doubt."""
        key = (subscriber, day.isoformat())
        with self.transaction(lock=f"issue:{subscriber}:{key[1]}") as db:
            row = db.execute(
                "SELECT status, paper_ids FROM deliveries WHERE subscriber = ? AND issue_date = ?",
                key,
            ).fetchone()
            if row is None or row[0] != DeliveryStatus.IN_DOUBT:
                found = "no issue" if row is None else f"the issue is {row[0]}"
                raise StoreError(f"{subscriber}, {day}: {found}, not in doubt: nothing to settle")
            status = DeliveryStatus.SENT if delivered else DeliveryStatus.DEFERRED
            note = "settled by the operator: " + ("delivered" if delivered else "not delivered")
            db.execute(
                "UPDATE deliveries SET status = ?, last_error = ?, updated_at = ? "
                "WHERE subscriber = ? AND issue_date = ?",
                (status.value, note, self.now(), *key),
            )
            if delivered:
                _insert_delivered(db, subscriber, day, json.loads(row[1] or "[]"))
        record = self.delivery(subscriber, day)
        assert record is not None
        return record

    def handing_over(self, subscriber: str, day: date, claimant: str | None = None) -> bool:
        """Note that the message data is about to reach the server: from here on, a cut-off
        attempt may have been delivered. Only a `sending` row changes, and with `claimant`
        only while it still holds the claim; False when the row was not ours any more (another
        host took it over: this process was stopped longer than its lease), and then the data
        must not go out."""
        sql = (
            "UPDATE deliveries SET handed_over = 1, updated_at = ? "
            "WHERE subscriber = ? AND issue_date = ? AND status = ?"
        )
        parameters: list[object] = [self.now(), subscriber, day.isoformat()]
        parameters.append(DeliveryStatus.SENDING.value)
        if claimant is not None:
            sql += " AND claimed_by = ?"
            parameters.append(claimant)
        with self.transaction() as db:
            return int(db.execute(sql, parameters).rowcount) == 1

    def finish(
        self,
        subscriber: str,
        day: date,
        status: DeliveryStatus,
        *,
        message_id: str | None,
        detail: str,
        paper_ids: Sequence[str],
        claimant: str | None = None,
    ) -> bool:
        """Record the server's answer; papers count as delivered only with `sent`. With
        `claimant`, only while it still holds the claim (False: another sender has the row;
        it is left as that sender has it)."""
        outcome, key = DeliveryStatus(status), (subscriber, day.isoformat())
        sql = (
            "UPDATE deliveries SET status = ?, message_id = ?, last_error = ?, paper_ids = ?, "
            "updated_at = ?, claimed_by = NULL WHERE subscriber = ? AND issue_date = ?"
        )
        ids = json.dumps(list(paper_ids))
        parameters: list[object] = [outcome.value, message_id, detail, ids, self.now(), *key]
        if claimant is not None:
            sql += " AND claimed_by = ?"
            parameters.append(claimant)
        with self.transaction() as db:
            if int(db.execute(sql, parameters).rowcount) != 1:
                return False
            if outcome is DeliveryStatus.SENT:
                _insert_delivered(db, subscriber, day, paper_ids)
        return True

    def mark_delivered(self, subscriber: str, day: date, paper_ids: Iterable[str]) -> None:
        """Record that these papers reached `subscriber` (call only after the server's 250)."""
        with self.transaction() as db:
            _insert_delivered(db, subscriber, day, paper_ids)

    def delivery(self, subscriber: str, day: date) -> DeliveryRecord | None:
        row = self._read_one(
            f"SELECT {_DELIVERY_COLUMNS} FROM deliveries WHERE subscriber = ? AND issue_date = ?",
            (subscriber, day.isoformat()),
        )
        return DeliveryRecord.of(row) if row else None

    def deliveries(self, day: date | None = None) -> list[DeliveryRecord]:
        query = f"SELECT {_DELIVERY_COLUMNS} FROM deliveries"
        rows = (
            self._read(query + " WHERE issue_date = ? ORDER BY subscriber", (day.isoformat(),))
            if day
            else self._read(query + " ORDER BY issue_date DESC, subscriber")
        )
        return [DeliveryRecord.of(row) for row in rows]

    def last_issue(self, subscriber: str, before: date) -> LastIssue | None:
        """`subscriber`'s latest issue before `before` that (may have) reached them."""
        marks = ",".join("?" * len(_REACHED))
        row = self._read_one(
            "SELECT issue_date, horizon FROM deliveries WHERE subscriber = ? AND issue_date < ? "
            f"AND status IN ({marks}) ORDER BY issue_date DESC LIMIT 1",
            (subscriber, before.isoformat(), *(status.value for status in _REACHED)),
        )
        return LastIssue(date.fromisoformat(row[0]), row[1]) if row else None

    def delivery_counts(self, day: date) -> dict[str, int]:
        rows = self._read(
            "SELECT status, COUNT(*) FROM deliveries WHERE issue_date = ? GROUP BY status",
            (day.isoformat(),),
        )
        return {status: count for status, count in rows}

    def latest_issue_dates(self, count: int) -> list[date]:
        """The `count` latest issue dates that have deliveries in any state, newest first."""
        rows = self._read(
            "SELECT DISTINCT issue_date FROM deliveries ORDER BY issue_date DESC LIMIT ?", (count,)
        )
        return [date.fromisoformat(day) for (day,) in rows]

    def delivered_among(
        self, subscribers: Sequence[str], paper_ids: Iterable[str], *, besides: date | None = None
    ) -> dict[str, set[str]]:
        """Which of `paper_ids` reached each of `subscribers` (their keys as given), in issues
        other than that of `besides` (an issue sent again carries its own papers again)."""
        wanted = set(subscribers)
        rows = self._read_among(
            "SELECT subscriber, paper_id, issue_date FROM delivered_papers "
            "WHERE paper_id IN ({marks})",
            sorted(set(paper_ids)),
        )
        skip = besides.isoformat() if besides else None
        found: dict[str, set[str]] = {}
        for subscriber, paper_id, issue in rows:
            if subscriber in wanted and issue != skip:
                found.setdefault(subscriber, set()).add(paper_id)
        return found

    def delivered_paper_ids(self, subscriber: str) -> set[str]:
        rows = self._read(
            "SELECT paper_id FROM delivered_papers WHERE subscriber = ?", (subscriber,)
        )
        return {paper_id for (paper_id,) in rows}

    def alerted(self, key: str) -> bool:
        """Whether the alert `key` was sent already."""
        return self._read_one("SELECT 1 FROM alerts WHERE key = ?", (key,)) is not None

    def first_alert(self, key: str) -> bool:
        """Record the alert `key`; True only the first time (so each problem is told once)."""
        with self.transaction() as db:
            sql = "INSERT INTO alerts (key, sent_at) VALUES (?, ?) ON CONFLICT DO NOTHING"
            return int(db.execute(sql, (key, self.now())).rowcount) == 1


def claimant() -> str:
    """Who is sending: host, process id and a random part."""
    return f"{hostname()}:{os.getpid()}:{secrets.token_hex(4)}"


def _settled_status(db: Connection, key: tuple[str, str], now: str) -> DeliveryStatus | None:
    """The status of the row at `key` (None: no row), once a `sending` row whose sender is gone
    is settled: `in_doubt` (stored) if its data was handed over, else as good as `deferred`."""
    row = db.execute(
        "SELECT d.status, d.claimed_by, d.updated_at, d.handed_over, l.expires_at "
        "FROM deliveries d LEFT JOIN leases l ON l.name = 'sender:' || d.claimed_by "
        "WHERE d.subscriber = ? AND d.issue_date = ?",
        key,
    ).fetchone()
    if row is None:
        return None
    status, claimed_by, updated_at, handed_over, lease = row
    if status != DeliveryStatus.SENDING or not _abandoned(claimed_by, updated_at, lease, now):
        return DeliveryStatus(status)
    if not handed_over:
        log.warning("%s, %s: cut off before the message was sent; sending", *key)
        return DeliveryStatus.DEFERRED  # nothing can have arrived
    log.warning("%s, %s: cut off after the message was sent; in doubt", *key)
    db.execute(
        "UPDATE deliveries SET status = ?, last_error = ?, updated_at = ? "
        "WHERE subscriber = ? AND issue_date = ?",
        (DeliveryStatus.IN_DOUBT.value, CUT_OFF, now, *key),
    )
    return DeliveryStatus.IN_DOUBT


def _target(db: Connection, key: tuple[str, str]) -> str | None:
    row = db.execute(
        "SELECT target FROM deliveries WHERE subscriber = ? AND issue_date = ?", key
    ).fetchone()
    return row[0] if row else None


def _takeable(status: DeliveryStatus | None, *, resend_in_doubt: bool) -> bool:
    """Whether a claim may send an issue in `status` (None: never tried)."""
    if status is None or status is DeliveryStatus.DEFERRED:
        return True
    return resend_in_doubt and status is DeliveryStatus.IN_DOUBT


def _abandoned(claimed_by: str | None, updated_at: str, lease: str | None, now: str) -> bool:
    """A 'sending' row whose sender is gone: its process no longer runs (on this host), or its
    lease (`sender:CLAIMANT`, renewed while it sends) ran out by the database's clock. A row
    of a sender without a lease (an older release) is given `CLAIM_LEASE_SECONDS`."""
    if not claimed_by or process_gone(claimed_by):
        return True
    if lease is not None:
        return lease <= now
    age = (datetime.fromisoformat(now) - datetime.fromisoformat(updated_at)).total_seconds()
    return age > CLAIM_LEASE_SECONDS


def process_gone(holder: str) -> bool:
    """Whether `holder` (host:pid:random) names a process of this host that no longer runs;
    False for another host's, which only its lease can tell."""
    host, _, rest = holder.partition(":")
    pid = rest.partition(":")[0]
    if host != hostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def hostname() -> str:
    """The name this host claims under: `$NEWSLETTER_HOSTNAME`, else the system's. Two hosts
    sharing a PostgreSQL state must have different names."""
    return os.environ.get("NEWSLETTER_HOSTNAME") or socket.gethostname()


def _insert_delivered(db: Connection, subscriber: str, day: date, paper_ids: Iterable[str]) -> None:
    db.executemany(
        "INSERT INTO delivered_papers (subscriber, paper_id, issue_date) "
        "VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
        [(subscriber, paper_id, day.isoformat()) for paper_id in paper_ids],
    )
