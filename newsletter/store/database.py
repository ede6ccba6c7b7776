"""The connection to the state database: opened, migrated, and every database error translated.

SQLite (the default): one file, created and migrated on open. WAL mode lets readers work while
one writer writes; every write runs in a `BEGIN IMMEDIATE` transaction with a generous busy
timeout, so two processes on the same file (a cron `send` and a `preview`, say) wait for each
other instead of failing. The schema version is SQLite's `user_version`.

PostgreSQL (`state: postgresql://...`): the same statements and migrations through
`postgres.py`; several hosts share it. Timestamps come from the database's clock (`now()`).

A database written by a newer release is refused rather than modified. Every database error
becomes a `StoreError` naming the state, in one place (`_translated`): writes go through
`transaction()`, reads through `_read()`, and both use it.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, Self

from newsletter.errors import StoreError
from newsletter.store.location import StateLocation
from newsletter.store.schema import MIGRATIONS, SCHEMA_VERSION, statements

if TYPE_CHECKING:
    from newsletter.store.postgres import PgConnection

log = logging.getLogger(__name__)

BUSY_TIMEOUT_SECONDS = 30.0
CHUNK = 500  # values per IN list: stay below SQLite's bound-parameter limit


Row = tuple[Any, ...]


class Connection(Protocol):
    """What the store's statements run on: an `sqlite3.Connection` or a `PgConnection`
    (both return cursors with `fetchone`, `fetchall` and `rowcount`)."""

    def execute(self, sql: str, parameters: Any = ..., /) -> Any: ...

    def executemany(self, sql: str, rows: Any, /) -> Any: ...


class Database:
    """An open state database. Use as a context manager, or call `close()`.

    `where` is an SQLite file path or a postgresql:// URL (see `StateLocation`);
    `busy_timeout` is how long, in seconds, a write waits for another process's write."""

    path: Path  # an SQLite state's file
    _db: sqlite3.Connection
    _pg: PgConnection

    def __init__(
        self,
        where: StateLocation | Path | str,
        busy_timeout: float = BUSY_TIMEOUT_SECONDS,
        *,
        pooled: bool = False,
    ) -> None:
        self.location = StateLocation.of(where)
        self.busy_timeout = busy_timeout
        self._offset = 0.0  # seconds the database's clock is ahead of this host's
        self._errors: tuple[type[BaseException], ...] = (sqlite3.Error,)
        if self.location.is_postgres:
            self._open_postgres(pooled)
            return
        self.path = self.location.sqlite_path()
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

    @property
    def is_postgres(self) -> bool:
        return self.location.is_postgres

    def _open_postgres(self, pooled: bool) -> None:
        """Connect (or borrow a connection of this process's pool, for many short uses such
        as the web app's requests), read the server's clock, migrate."""
        from newsletter.store import postgres

        def prepare(connection: PgConnection) -> float:
            offset = postgres.clock_offset(connection)
            postgres.migrate(connection, str(self.location), MIGRATIONS, statements)
            return offset

        self._errors = (sqlite3.Error, *postgres.errors())
        if pooled:
            with self._translated():
                self._pg, self._offset = postgres.pooled(self.location, self.busy_timeout, prepare)
            return
        with self._translated():
            self._pg = postgres.connect(self.location, self.busy_timeout)
        try:
            with self._translated():
                self._offset = prepare(self._pg)
        except BaseException:
            self._pg.close()
            raise

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
            (self._pg if self.is_postgres else self._db).close()

    @property
    def schema_version(self) -> int:
        if self.is_postgres:
            from newsletter.store import postgres

            with self._translated():
                return postgres.schema_version(self._pg)
        return int(self._read("PRAGMA user_version")[0][0])

    def now(self) -> str:
        """The time by the database's clock (UTC, ISO 8601, to the second): every host that
        shares a PostgreSQL state stamps and compares leases on one clock."""
        moment = datetime.now(UTC) + timedelta(seconds=self._offset)
        return moment.isoformat(timespec="seconds")

    @contextmanager
    def transaction(self, lock: str | None = None) -> Iterator[Connection]:
        """A write transaction, rolled back when its body raises; a database error in it
        becomes a `StoreError`. SQLite takes the write lock at once (no upgrade deadlocks);
        PostgreSQL takes the advisory lock `lock`, if given, so that read-then-write
        decisions about one key (a reader's issue of a day) are made one at a time."""
        if self.is_postgres:
            with self._translated(), self._pg.transaction(lock) as pg:
                yield pg
            return
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
            if self.is_postgres:
                return list(self._pg.execute(sql, parameters).fetchall())
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

    def count_rows(self, table: str) -> int:
        """How many rows `table` holds (a table of the schema; never a reader's text)."""
        return int(self._read(f"SELECT COUNT(*) FROM {table}")[0][0])

    def columns(self, table: str) -> list[str]:
        """The columns of `table`, in order."""
        with self._translated():
            if self.is_postgres:
                cursor: Any = self._pg.execute(f"SELECT * FROM {table} LIMIT 0")
            else:
                cursor = self._db.execute(f"SELECT * FROM {table} LIMIT 0")
            return [column[0] for column in cursor.description]

    def stream(self, sql: str, size: int) -> Iterator[list[Row]]:
        """The rows of `sql` in lists of up to `size`, read as they are used (a whole table
        is never held in memory)."""
        with self._translated():
            if self.is_postgres:
                with self._pg.raw.transaction(), self._pg.raw.cursor(name="stream") as cursor:
                    cursor.execute(sql)
                    while rows := cursor.fetchmany(size):
                        yield list(rows)
                return
            lines = self._db.execute(sql)
            while rows := lines.fetchmany(size):
                yield rows

    @contextmanager
    def _translated(self) -> Iterator[None]:
        """Turn a database error into a one-line `StoreError` naming the state (cause kept)."""
        try:
            yield
        except self._errors as exc:
            reason = " ".join(str(exc).split()) or type(exc).__name__
            raise StoreError(f"state database {self.location}: {reason}") from exc

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
                for statement in statements(MIGRATIONS[number]):
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


def state_exists(where: StateLocation) -> bool:
    """Whether state was made at `where` already (a look must not create it): for PostgreSQL,
    whether the database holds the schema (StoreError when it cannot be reached)."""
    if where.path is not None:
        return where.path.exists()
    from newsletter.store.postgres import has_schema

    return has_schema(where)
