"""The connection to the state database: opened, migrated, and every SQLite error translated.

One file, created and migrated on open. WAL mode lets readers work while one writer writes; every
write runs in a `BEGIN IMMEDIATE` transaction with a generous busy timeout, so two processes on the
same file (a cron `send` and a `preview`, say) wait for each other instead of failing.

The schema version is SQLite's `user_version`. A database written by a newer release is refused
rather than modified.

Every `sqlite3.Error` becomes a `StoreError` naming the file, in one place (`_translated`): writes
go through `transaction()`, reads through `_read()`, and both use it.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Self

from newsletter.errors import StoreError

log = logging.getLogger(__name__)

BUSY_TIMEOUT_SECONDS = 30.0
CHUNK = 500  # values per IN list: stay below SQLite's bound-parameter limit

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
    # 4: where an issue was delivered (smtp://host:port, file:///outbox ...): a change of
    # target must not count a trial run to a folder as the reader's mail
    """
    ALTER TABLE deliveries ADD COLUMN target TEXT
    """,
    # 5: what readers said: unsubscribed (bounced, complained) readers, their ratings of papers,
    # and each issue's picks with their scores and reasons, for the issue on the web
    """
    CREATE TABLE suppressions (
        subscriber TEXT PRIMARY KEY,
        status TEXT NOT NULL,           -- unsubscribed | bounced | complained
        reason TEXT NOT NULL,
        source TEXT NOT NULL,           -- web | header | operator | mail | smtp
        since TEXT NOT NULL
    );
    CREATE TABLE feedback (
        subscriber TEXT NOT NULL,
        paper_id TEXT NOT NULL,
        vote INTEGER NOT NULL,          -- +1 more like this, -1 less like this
        issue_date TEXT,                -- the issue the rating came from
        rated_at TEXT NOT NULL,
        PRIMARY KEY (subscriber, paper_id)
    );
    CREATE TABLE issue_picks (
        subscriber TEXT NOT NULL,
        issue_date TEXT NOT NULL,
        picks TEXT NOT NULL,            -- JSON [{"id", "score", "reasons"}], best first
        PRIMARY KEY (subscriber, issue_date)
    );
    CREATE TABLE bounces (
        subscriber TEXT NOT NULL,
        issue_date TEXT NOT NULL,       -- the issue that bounced: one count per date
        hard INTEGER NOT NULL,          -- 1: permanent (5xx), 0: temporary
        detail TEXT NOT NULL,
        bounced_at TEXT NOT NULL,
        PRIMARY KEY (subscriber, issue_date, hard)
    )
    """,
)
SCHEMA_VERSION = len(MIGRATIONS)

Row = tuple[Any, ...]


class Database:
    """An open state database. Use as a context manager, or call `close()`.

    `busy_timeout` is how long, in seconds, a write waits for another process's write."""

    def __init__(self, path: Path | str, busy_timeout: float = BUSY_TIMEOUT_SECONDS) -> None:
        self.path = Path(path)
        self.busy_timeout = busy_timeout
        if not self.path.exists():
            self._create()
        elif (size := _cut_short(self.path)) is not None:
            what = "is empty (0 bytes)" if size == 0 else f"is cut short ({size} bytes)"
            raise StoreError(
                f"state database {self.path} {what}, so what was sent is unknown; restore it "
                "from a backup, or remove it to start afresh (every reader may then get the "
                "latest issue again)"
            )
        self._db = self._connect(self.path, fresh=False)

    def _connect(self, path: Path, *, fresh: bool) -> sqlite3.Connection:
        """Open, configure and migrate `path`; the connection is closed if any step fails."""
        with self._translated():
            self._db = sqlite3.connect(path, timeout=self.busy_timeout, isolation_level=None)
        try:
            with self._translated():
                self._db.execute(f"PRAGMA busy_timeout = {round(self.busy_timeout * 1000)}")
                self._enable_wal()
                self._db.execute("PRAGMA foreign_keys = ON")
                self._db.execute("PRAGMA synchronous = NORMAL")
                self._migrate(fresh)
        except BaseException:
            self._db.close()
            raise
        return self._db

    def _create(self) -> None:
        """Make a new database beside `path` and link it into place whole, so that a file at
        `path` is always a complete database: an empty one there was truncated, not new."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            handle, name = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}.")
            os.close(handle)
        except OSError as exc:
            raise StoreError(f"state database {self.path}: {exc.strerror or exc}") from exc
        fresh = Path(name)
        try:
            self._connect(fresh, fresh=True).close()
            try:
                os.link(fresh, self.path)
            except FileExistsError:
                pass  # another process created it first: use theirs
            except OSError:  # a file system without hard links
                if not self.path.exists():
                    fresh.replace(self.path)
        finally:
            for leftover in (fresh, Path(f"{fresh}-wal"), Path(f"{fresh}-shm")):
                leftover.unlink(missing_ok=True)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        with self._translated():
            self._db.close()

    @property
    def schema_version(self) -> int:
        return int(self._read("PRAGMA user_version")[0][0])

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction that takes the write lock at once (no upgrade deadlocks). It is
        rolled back when its body raises; an SQLite error in it becomes a `StoreError`."""
        with self._translated():
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
                self._db.execute("COMMIT")
            except BaseException:
                if self._db.in_transaction:  # some errors roll back by themselves
                    self._db.execute("ROLLBACK")
                raise

    def _read(self, sql: str, parameters: Sequence[object] = ()) -> list[Row]:
        """Every row of a query run outside a write transaction."""
        with self._translated():
            return self._db.execute(sql, parameters).fetchall()

    def _read_one(self, sql: str, parameters: Sequence[object] = ()) -> Row | None:
        rows = self._read(sql, parameters)
        return rows[0] if rows else None

    def _read_among(self, sql: str, values: Sequence[str]) -> list[Row]:
        """Every row of `sql`, whose `{marks}` is an IN list of `values`, read in chunks."""
        rows: list[Row] = []
        for start in range(0, len(values), CHUNK):
            chunk = values[start : start + CHUNK]
            rows += self._read(sql.format(marks=",".join("?" * len(chunk))), chunk)
        return rows

    @contextmanager
    def _translated(self) -> Iterator[None]:
        """Turn an SQLite error into a one-line `StoreError` naming the file (cause kept)."""
        try:
            yield
        except sqlite3.Error as exc:
            reason = " ".join(str(exc).split()) or type(exc).__name__
            raise StoreError(f"state database {self.path}: {reason}") from exc

    def _enable_wal(self) -> None:
        """Switch to WAL. On a brand-new file two processes race for this switch, and SQLite
        answers the loser "database is locked" at once instead of calling the busy handler, so
        retry until the busy timeout."""
        deadline = time.monotonic() + self.busy_timeout
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

    def _migrate(self, fresh: bool) -> None:
        """Bring the schema up to date. Only a database made here (`fresh`) starts from
        nothing: an existing file without the schema was emptied or belongs to something
        else, and starting it afresh would mail every reader again."""
        with self.transaction() as db:
            version = int(db.execute("PRAGMA user_version").fetchone()[0])
            tables = db.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()[0]
            if version == 0 and tables:
                raise StoreError(
                    f"{self.path} is an SQLite database of something else (tables but no "
                    "paper-digest schema); point `state:` at another file"
                )
            if version == 0 and not fresh:
                raise StoreError(
                    f"state database {self.path} holds no state (emptied, truncated or not "
                    "made here), so what was sent is unknown; restore it from a backup, or "
                    "remove it to start afresh (every reader may then get the latest issue "
                    "again)"
                )
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


SQLITE_HEADER = 100  # bytes: every SQLite database file starts with a header this long


def _cut_short(path: Path) -> int | None:
    """The size of an existing database file shorter than SQLite's header, with no write-ahead
    log holding its pages (SQLite would start such a file afresh); None for any other."""
    size = path.stat().st_size
    wal = Path(f"{path}-wal")
    if size >= SQLITE_HEADER or (wal.exists() and wal.stat().st_size > 0):
        return None
    return size


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _statements(script: str) -> list[str]:
    """Split a migration script into statements (no statement in it contains a `;` literal)."""
    lines = [line.split("--", 1)[0] for line in script.splitlines()]
    return [statement.strip() for statement in "\n".join(lines).split(";") if statement.strip()]
