"""The SQLite state database: the papers of each day, what was fetched, and what was delivered.

One file, created and migrated on open. WAL mode lets readers work while one writer writes; every
write runs in a `BEGIN IMMEDIATE` transaction with a generous busy timeout, so two processes on the
same file (a cron `send` and a `preview`, say) wait for each other instead of failing.

The schema version is SQLite's `user_version`. A database written by a newer release is refused
rather than modified.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

from newsletter.errors import StoreError
from newsletter.models import Paper

log = logging.getLogger(__name__)

BUSY_TIMEOUT_MS = 30_000

MIGRATIONS: tuple[str, ...] = (
    # 1: papers of each day, fetch outcomes, the HTTP cache, issues and the delivery log
    """
    CREATE TABLE papers (
        id TEXT PRIMARY KEY,            -- arXiv id without version, doi:..., or url:...
        version INTEGER,
        data TEXT NOT NULL,             -- the Paper as JSON
        first_seen TEXT NOT NULL,
        updated_at TEXT NOT NULL
    );
    CREATE TABLE day_papers (
        day TEXT NOT NULL,              -- the announcement day, YYYY-MM-DD
        source TEXT NOT NULL,
        paper_id TEXT NOT NULL REFERENCES papers(id),
        PRIMARY KEY (day, source, paper_id)
    );
    CREATE INDEX day_papers_paper ON day_papers(paper_id);
    CREATE TABLE fetches (
        source TEXT NOT NULL,
        day TEXT NOT NULL,
        status TEXT NOT NULL,           -- ok | no_announcement | stale | failed
        detail TEXT NOT NULL DEFAULT '',
        papers INTEGER NOT NULL DEFAULT 0,
        fetched_at TEXT NOT NULL,
        PRIMARY KEY (source, day)
    );
    CREATE TABLE http_cache (
        url TEXT PRIMARY KEY,
        etag TEXT,
        last_modified TEXT,
        body BLOB,
        fetched_at TEXT NOT NULL
    );
    CREATE TABLE issues (
        subscriber TEXT NOT NULL,       -- normalised email
        issue_date TEXT NOT NULL,
        subject TEXT NOT NULL,
        paper_ids TEXT NOT NULL,        -- JSON list, best first
        created_at TEXT NOT NULL,
        PRIMARY KEY (subscriber, issue_date)
    );
    CREATE TABLE deliveries (
        subscriber TEXT NOT NULL,
        issue_date TEXT NOT NULL,
        status TEXT NOT NULL,           -- pending | sending | sent | failed | deferred | in_doubt
        message_id TEXT,
        attempts INTEGER NOT NULL DEFAULT 0,
        last_error TEXT,
        updated_at TEXT NOT NULL,
        PRIMARY KEY (subscriber, issue_date)
    );
    CREATE TABLE delivered_papers (
        subscriber TEXT NOT NULL,
        paper_id TEXT NOT NULL,
        issue_date TEXT NOT NULL,
        PRIMARY KEY (subscriber, paper_id)
    );
    """,
    # 2: who is sending a delivery (so a crashed sender is told from a live one) and its papers
    """
    ALTER TABLE deliveries ADD COLUMN claimed_by TEXT;
    ALTER TABLE deliveries ADD COLUMN paper_ids TEXT
    """,
    # 3: whether the message was handed to the server (a cut-off attempt before that is resent);
    # alerts already sent to the operator (one per problem)
    """
    ALTER TABLE deliveries ADD COLUMN handed_over INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE deliveries ADD COLUMN horizon INTEGER;  -- the papers stored when it was built
    CREATE TABLE alerts (
        key TEXT PRIMARY KEY,
        sent_at TEXT NOT NULL
    );
    CREATE INDEX deliveries_sent ON deliveries(subscriber, status, issue_date);
    CREATE INDEX delivered_papers_paper ON delivered_papers(paper_id)
    """,
)
SCHEMA_VERSION = len(MIGRATIONS)
CLAIM_LEASE_SECONDS = 3600  # a 'sending' row older than this, from any host, is abandoned


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass(frozen=True)
class StoredPaper:
    paper: Paper
    first_row: int  # compare with a delivery's horizon: stored after that issue was built?
    first_day: date  # the first day it was listed on


@dataclass(frozen=True)
class FetchRecord:
    source: str
    day: date
    status: str
    detail: str
    papers: int
    fetched_at: str


class Store:
    """An open state database. Use as a context manager, or call `close()`."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(
                self.path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None
            )
            self._db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            self._enable_wal()
            self._db.execute("PRAGMA foreign_keys = ON")
            self._db.execute("PRAGMA synchronous = NORMAL")
            self._migrate()
        except sqlite3.Error as exc:
            raise StoreError(f"state database {self.path}: {exc}") from exc

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self._db.close()

    def _enable_wal(self) -> None:
        """Switch to WAL. On a brand-new file two processes race for this switch, and SQLite
        answers the loser "database is locked" at once instead of calling the busy handler, so
        retry until the busy timeout."""
        deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
        delay = 0.005
        while True:
            try:
                self._db.execute("PRAGMA journal_mode = WAL")
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(delay)
                delay = min(delay * 2, 0.25)

    @property
    def schema_version(self) -> int:
        return int(self._db.execute("PRAGMA user_version").fetchone()[0])

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction that takes the write lock at once (no upgrade deadlocks)."""
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield self._db
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def _migrate(self) -> None:
        with self.transaction() as db:
            version = int(db.execute("PRAGMA user_version").fetchone()[0])
            if version > SCHEMA_VERSION:
                raise StoreError(
                    f"state database {self.path} has schema version {version}, newer than this "
                    f"release understands ({SCHEMA_VERSION}); upgrade paper-digest"
                )
            for number in range(version, SCHEMA_VERSION):
                log.info("migrating %s to schema version %d", self.path, number + 1)
                for statement in _statements(MIGRATIONS[number]):
                    db.execute(statement)
            db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    # --- papers of the day ---------------------------------------------------------------

    def save_day(self, day: date, source: str, papers: Iterable[Paper]) -> int:
        """Store what `source` listed for `day`; storing the same listing again changes nothing."""
        count = 0
        with self.transaction() as db:
            for paper in papers:
                self._upsert(db, paper)
                db.execute(
                    "INSERT OR IGNORE INTO day_papers (day, source, paper_id) VALUES (?, ?, ?)",
                    (day.isoformat(), source, paper.id),
                )
                count += 1
        return count

    def save_papers(self, papers: Iterable[Paper]) -> None:
        """Keep papers that belong to no day (a reader's liked papers)."""
        with self.transaction() as db:
            for paper in papers:
                self._upsert(db, paper)

    @staticmethod
    def _upsert(db: sqlite3.Connection, paper: Paper) -> None:
        now = _now()
        db.execute(
            "INSERT INTO papers (id, version, data, first_seen, updated_at) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET "
            "version = excluded.version, data = excluded.data, "
            "updated_at = excluded.updated_at "
            "WHERE papers.data != excluded.data",
            (paper.id, paper.version, paper.model_dump_json(), now, now),
        )

    def fetch_statuses(self, day: date) -> dict[str, str]:
        """The latest outcome of each source fetched for `day`."""
        rows = self._db.execute(
            "SELECT source, status FROM fetches WHERE day = ?", (day.isoformat(),)
        )
        return dict(rows.fetchall())

    def horizon(self) -> int:
        """A mark that grows with every paper stored for a day: an issue built now has seen
        every listing row up to it."""
        row = self._db.execute("SELECT COALESCE(MAX(rowid), 0) FROM day_papers").fetchone()
        return int(row[0])

    def papers_between(self, after: date, through: date) -> list[StoredPaper]:
        """The papers listed on the days after `after` up to `through`, each with where it was
        first stored (its first listing row, on any day)."""
        rows = self._db.execute(
            "SELECT p.data, f.first_row, f.first_day FROM papers p JOIN "
            "(SELECT paper_id, MIN(rowid) AS first_row, MIN(day) AS first_day FROM day_papers "
            "GROUP BY paper_id) f ON f.paper_id = p.id WHERE p.id IN "
            "(SELECT paper_id FROM day_papers WHERE day > ? AND day <= ?) ORDER BY p.id",
            (after.isoformat(), through.isoformat()),
        )
        return [
            StoredPaper(Paper.model_validate_json(data), row, date.fromisoformat(day))
            for data, row, day in rows
        ]

    def papers_for_day(self, day: date) -> list[Paper]:
        rows = self._db.execute(
            "SELECT p.data FROM papers p WHERE p.id IN "
            "(SELECT paper_id FROM day_papers WHERE day = ?) ORDER BY p.id",
            (day.isoformat(),),
        )
        return [Paper.model_validate_json(data) for (data,) in rows]

    def papers_by_ids(self, ids: Sequence[str]) -> list[Paper]:
        found: list[Paper] = []
        for start in range(0, len(ids), 500):  # stay below SQLite's bound-parameter limit
            chunk = ids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            rows = self._db.execute(f"SELECT data FROM papers WHERE id IN ({marks})", chunk)
            found.extend(Paper.model_validate_json(data) for (data,) in rows)
        return found

    def paper(self, paper_id: str) -> Paper | None:
        row = self._db.execute("SELECT data FROM papers WHERE id = ?", (paper_id,)).fetchone()
        return Paper.model_validate_json(row[0]) if row else None

    # --- fetch outcomes and the HTTP cache ---------------------------------------------------

    def record_fetch(self, source: str, day: date, status: str, detail: str, papers: int) -> None:
        with self.transaction() as db:
            db.execute(
                "INSERT OR REPLACE INTO fetches (source, day, status, detail, papers, fetched_at) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (source, day.isoformat(), status, detail, papers, _now()),
            )

    def last_fetches(self) -> list[FetchRecord]:
        """The most recent fetch outcome of every source."""
        rows = self._db.execute(
            "SELECT source, day, status, detail, papers, fetched_at FROM fetches f WHERE "
            "fetched_at = (SELECT MAX(fetched_at) FROM fetches g WHERE g.source = f.source) "
            "ORDER BY source"
        )
        return [
            FetchRecord(s, date.fromisoformat(d), st, de, n, at) for s, d, st, de, n, at in rows
        ]

    def cached_response(self, url: str) -> tuple[str | None, str | None, bytes | None]:
        row = self._db.execute(
            "SELECT etag, last_modified, body FROM http_cache WHERE url = ?", (url,)
        ).fetchone()
        return (row[0], row[1], row[2]) if row else (None, None, None)

    def cache_response(
        self, url: str, etag: str | None, last_modified: str | None, body: bytes
    ) -> None:
        with self.transaction() as db:
            db.execute(
                "INSERT OR REPLACE INTO http_cache (url, etag, last_modified, body, fetched_at) "
                "VALUES (?, ?, ?, ?, ?)",
                (url, etag, last_modified, body, _now()),
            )

    # --- delivery log (read side; the delivery stage writes it) ------------------------------

    def mark_delivered(self, subscriber: str, day: date, paper_ids: Iterable[str]) -> None:
        """Record that these papers reached `subscriber` (call only after the server's 250)."""
        with self.transaction() as db:
            _insert_delivered(db, subscriber, day, paper_ids)

    def delivery(self, subscriber: str, day: date) -> DeliveryRecord | None:
        row = self._db.execute(
            f"SELECT {_DELIVERY_COLUMNS} FROM deliveries WHERE subscriber = ? AND issue_date = ?",
            (subscriber.lower(), day.isoformat()),
        ).fetchone()
        return DeliveryRecord.of(row) if row else None

    def deliveries(self, day: date | None = None) -> list[DeliveryRecord]:
        query = f"SELECT {_DELIVERY_COLUMNS} FROM deliveries"
        rows = (
            self._db.execute(
                query + " WHERE issue_date = ? ORDER BY subscriber", (day.isoformat(),)
            )
            if day
            else self._db.execute(query + " ORDER BY issue_date DESC, subscriber")
        )
        return [DeliveryRecord.of(row) for row in rows]

    def claim(
        self,
        subscriber: str,
        day: date,
        claimant: str,
        *,
        resend_in_doubt: bool,
        horizon: int | None = None,
    ) -> bool:
        """Take the right to send `subscriber`'s issue of `day`; False when it is not ours to
        send: sent, failed, being sent by a live process, or in doubt (unless resending those).

        A row left `sending` by a dead process is taken again when its message was never handed
        to the server, and becomes `in_doubt` when it was (the server may have delivered it)."""
        key = (subscriber.lower(), day.isoformat())
        with self.transaction() as db:
            row = db.execute(
                "SELECT status, claimed_by, updated_at, handed_over FROM deliveries "
                "WHERE subscriber = ? AND issue_date = ?",
                key,
            ).fetchone()
            status = row[0] if row else None
            if status == "sending" and _abandoned(row[1], row[2]):
                if row[3]:
                    log.warning("%s, %s: cut off after the message was sent; in doubt", *key)
                    db.execute(
                        "UPDATE deliveries SET status = 'in_doubt', last_error = ?, "
                        "updated_at = ? WHERE subscriber = ? AND issue_date = ?",
                        ("the sending process stopped before the server's reply", _now(), *key),
                    )
                    status = "in_doubt"
                else:
                    log.warning("%s, %s: cut off before the message was sent; sending", *key)
                    status = "deferred"
            takeable = {None, "pending", "deferred"} | ({"in_doubt"} if resend_in_doubt else set())
            if status not in takeable:
                return False
            db.execute(
                "INSERT INTO deliveries (subscriber, issue_date, status, attempts, updated_at, "
                "claimed_by, handed_over, horizon) VALUES (?, ?, 'sending', 1, ?, ?, 0, ?) "
                "ON CONFLICT (subscriber, issue_date) DO UPDATE SET status = 'sending', "
                "attempts = attempts + 1, updated_at = excluded.updated_at, "
                "claimed_by = excluded.claimed_by, handed_over = 0, horizon = excluded.horizon",
                (*key, _now(), claimant, horizon),
            )
            return True

    def handing_over(self, subscriber: str, day: date) -> None:
        """Note that the message data is about to reach the server: from here on, a cut-off
        attempt may have been delivered."""
        with self.transaction() as db:
            db.execute(
                "UPDATE deliveries SET handed_over = 1, updated_at = ? "
                "WHERE subscriber = ? AND issue_date = ? AND status = 'sending'",
                (_now(), subscriber.lower(), day.isoformat()),
            )

    def finish(
        self,
        subscriber: str,
        day: date,
        status: str,
        *,
        message_id: str | None,
        detail: str,
        paper_ids: Sequence[str],
    ) -> None:
        """Record the server's answer; papers count as delivered only with `sent`."""
        key = (subscriber.lower(), day.isoformat())
        with self.transaction() as db:
            db.execute(
                "UPDATE deliveries SET status = ?, message_id = ?, last_error = ?, paper_ids = ?, "
                "updated_at = ?, claimed_by = NULL WHERE subscriber = ? AND issue_date = ?",
                (status, message_id, detail, json.dumps(list(paper_ids)), _now(), *key),
            )
            if status == "sent":
                _insert_delivered(db, subscriber, day, paper_ids)

    def last_issue(self, subscriber: str, before: date) -> tuple[date, int | None] | None:
        """`subscriber`'s latest issue before `before` that (may have) reached them: its date
        and the horizon it was built with."""
        row = self._db.execute(
            "SELECT issue_date, horizon FROM deliveries WHERE subscriber = ? AND issue_date < ? "
            "AND status IN ('sent', 'in_doubt') ORDER BY issue_date DESC LIMIT 1",
            (subscriber.lower(), before.isoformat()),
        ).fetchone()
        return (date.fromisoformat(row[0]), row[1]) if row else None

    def first_alert(self, key: str) -> bool:
        """Record the alert `key`; True only the first time (so each problem is told once)."""
        with self.transaction() as db:
            cursor = db.execute(
                "INSERT OR IGNORE INTO alerts (key, sent_at) VALUES (?, ?)", (key, _now())
            )
            return cursor.rowcount == 1

    def delivery_counts(self, day: date) -> dict[str, int]:
        rows = self._db.execute(
            "SELECT status, COUNT(*) FROM deliveries WHERE issue_date = ? GROUP BY status",
            (day.isoformat(),),
        )
        return dict(rows.fetchall())

    def delivered_among(
        self, subscribers: Sequence[str], paper_ids: Iterable[str]
    ) -> dict[str, set[str]]:
        """Which of `paper_ids` reached each of `subscribers` (normalised addresses as keys)."""
        wanted = {s.lower() for s in subscribers}
        found: dict[str, set[str]] = {}
        ids = sorted(set(paper_ids))
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            rows = self._db.execute(
                f"SELECT subscriber, paper_id FROM delivered_papers WHERE paper_id IN ({marks})",
                chunk,
            )
            for subscriber, paper_id in rows:
                if subscriber in wanted:
                    found.setdefault(subscriber, set()).add(paper_id)
        return found

    def delivered_paper_ids(self, subscriber: str) -> set[str]:
        rows = self._db.execute(
            "SELECT paper_id FROM delivered_papers WHERE subscriber = ?", (subscriber.lower(),)
        )
        return {paper_id for (paper_id,) in rows}


def _insert_delivered(
    db: sqlite3.Connection, subscriber: str, day: date, paper_ids: Iterable[str]
) -> None:
    db.executemany(
        "INSERT OR IGNORE INTO delivered_papers (subscriber, paper_id, issue_date) "
        "VALUES (?, ?, ?)",
        [(subscriber.lower(), paper_id, day.isoformat()) for paper_id in paper_ids],
    )


_DELIVERY_COLUMNS = "subscriber, issue_date, status, message_id, attempts, last_error, updated_at"


@dataclass(frozen=True)
class DeliveryRecord:
    subscriber: str
    day: date
    status: str  # pending | sending | sent | failed | deferred | in_doubt
    message_id: str | None
    attempts: int
    detail: str
    updated_at: str

    @classmethod
    def of(cls, row: tuple[str, str, str, str | None, int, str | None, str]) -> DeliveryRecord:
        subscriber, day, status, message_id, attempts, detail, updated_at = row
        return cls(
            subscriber, date.fromisoformat(day), status, message_id, attempts, detail or "",
            updated_at,
        )  # fmt: skip


def claimant() -> str:
    """Who is sending: host, process id and a random part."""
    import secrets
    import socket

    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"


def _abandoned(claimed_by: str | None, updated_at: str) -> bool:
    """A 'sending' row whose process is gone (same host) or whose lease ran out."""
    import socket

    age = (datetime.now(UTC) - datetime.fromisoformat(updated_at)).total_seconds()
    if age > CLAIM_LEASE_SECONDS or not claimed_by:
        return True
    host, _, rest = claimed_by.partition(":")
    pid = rest.partition(":")[0]
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def _statements(script: str) -> list[str]:
    """Split a migration script into statements (no statement in it contains a `;` literal)."""
    lines = [line.split("--", 1)[0] for line in script.splitlines()]
    return [statement.strip() for statement in "\n".join(lines).split(";") if statement.strip()]
