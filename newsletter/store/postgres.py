"""The PostgreSQL engine: a psycopg 3 connection that runs the store's SQL as SQLite reads it.

The store's statements are written once, in the SQL both engines share (`?` parameters,
`INSERT ... ON CONFLICT`); here `?` becomes psycopg's `%s`. The migrations are the same list,
with two differences of dialect: `BLOB` is `BYTEA`, and `day_papers` gets the `rowid` column
SQLite gives every table by itself (the papers' arrival order, see `Store.horizon`).

Connections are in autocommit mode; a write is one `transaction()`, READ COMMITTED, and a
write that reads before it decides (a claim, a suppression) first takes a transaction-level
advisory lock on its key, so two hosts deciding about the same reader and day take turns,
as two processes on one SQLite file do. Waits for a lock end after the busy timeout
(`lock_timeout`) and every statement after `STATEMENT_TIMEOUT`, so a stuck server is an error,
never a hang.

The schema version lives in `paper_digest_schema`; migrating holds an advisory lock, so two
hosts starting on an empty database migrate it once.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from functools import lru_cache, partial
from typing import TYPE_CHECKING, Any

from newsletter.errors import StoreError
from newsletter.store.location import EXTRA, StateLocation

if TYPE_CHECKING:
    import psycopg

log = logging.getLogger(__name__)

CONNECT_TIMEOUT = 15  # seconds to reach the server and log in
STATEMENT_TIMEOUT = 300  # seconds any one statement may take
MIGRATION_LOCK = 0x70645F6D6967  # advisory lock key held while migrating
VERSION_TABLE = "paper_digest_schema"
OUR_TABLES = ("papers", "day_papers", "fetches", "issues", "deliveries", "alerts")
EXTRA_STATEMENTS = {  # after migration N (1-based): what SQLite has without asking
    1: ("ALTER TABLE day_papers ADD COLUMN rowid BIGSERIAL",
        "CREATE UNIQUE INDEX day_papers_rowid ON day_papers(rowid)"),
}  # fmt: skip


def psycopg_module() -> Any:
    """psycopg, or a StoreError telling how to install the extra."""
    try:
        import psycopg
    except ImportError as exc:
        raise StoreError(f"a postgresql:// state needs its extra: {EXTRA}") from exc
    return psycopg


@lru_cache(maxsize=256)
def pg_sql(sql: str) -> str:
    """The store's SQL with psycopg's placeholders (no statement holds a `?` or `%` literal)."""
    return sql.replace("%", "%%").replace("?", "%s")


class PgConnection:
    """A psycopg connection with the part of sqlite3's interface the store uses; `release`
    gives a pooled one back instead of closing it."""

    def __init__(
        self, raw: psycopg.Connection[Any], release: Callable[[], None] | None = None
    ) -> None:
        self.raw = raw
        self._release = release

    def execute(self, sql: str, parameters: Sequence[object] = ()) -> psycopg.Cursor[Any]:
        return self.raw.execute(pg_sql(sql), parameters)

    def executemany(self, sql: str, rows: Sequence[Sequence[object]]) -> None:
        with self.raw.cursor() as cursor:
            cursor.executemany(pg_sql(sql), rows)

    def close(self) -> None:
        if self._release is not None:
            self._release()
        else:
            self.raw.close()

    @contextmanager
    def transaction(self, lock: str | None = None) -> Iterator[PgConnection]:
        with self.raw.transaction():
            if lock is not None:
                self.execute("SELECT pg_advisory_xact_lock(hashtextextended(?, 0))", (lock,))
            yield self


CONNECT_OPTIONS: dict[str, Any] = {
    "autocommit": True, "connect_timeout": CONNECT_TIMEOUT, "application_name": "paper-digest",
    "keepalives": 1, "keepalives_idle": 30, "keepalives_interval": 10, "keepalives_count": 3,
}  # fmt: skip
POOL_SIZE = 8  # connections a process keeps per database (the web app's requests share them)
_pools: dict[tuple[int, str], tuple[Any, float]] = {}  # (pid, url) -> (pool, clock offset)
_pools_lock = threading.Lock()


def connect(location: StateLocation, busy_timeout: float) -> PgConnection:
    """A connection to `location`'s database (not migrated: see `migrate`)."""
    psycopg = psycopg_module()
    assert location.url is not None
    raw = psycopg.connect(location.url, **CONNECT_OPTIONS)
    try:
        _configure(busy_timeout, raw)
    except BaseException:
        raw.close()
        raise
    return PgConnection(raw)


def _configure(busy_timeout: float, raw: psycopg.Connection[Any]) -> None:
    raw.execute(f"SET lock_timeout = {max(1, round(busy_timeout * 1000))}")
    raw.execute(f"SET statement_timeout = {STATEMENT_TIMEOUT * 1000}")
    raw.execute("SET TIME ZONE 'UTC'")


def pooled(
    location: StateLocation, busy_timeout: float, prepare: Callable[[PgConnection], float]
) -> tuple[PgConnection, float]:
    """A connection from this process's pool for `location` (`close()` gives it back), and the
    server's clock offset. The first use of a pool runs `prepare` (migrate, read the clock)
    once; a forked process makes pools of its own."""
    psycopg_module()
    try:
        from psycopg_pool import ConnectionPool
    except ImportError as exc:
        raise StoreError(f"a postgresql:// state needs its extra: {EXTRA}") from exc
    assert location.url is not None
    key = (os.getpid(), location.url)
    with _pools_lock:
        if key not in _pools:
            pool = ConnectionPool(
                location.url, kwargs=CONNECT_OPTIONS, min_size=1, max_size=POOL_SIZE,
                configure=partial(_configure, busy_timeout), check=ConnectionPool.check_connection,
                timeout=CONNECT_TIMEOUT, name="paper-digest", open=True,
            )  # fmt: skip
            raw = pool.getconn()
            try:
                offset = prepare(PgConnection(raw))
            finally:
                pool.putconn(raw)
            if not _pools:
                atexit.register(_close_pools)
            _pools[key] = (pool, offset)
        pool, offset = _pools[key]
    raw = pool.getconn()
    return PgConnection(raw, release=partial(pool.putconn, raw)), offset


def _close_pools() -> None:
    """Close this process's pools (never those a forked process inherited)."""
    for (pid, _), (pool, _) in list(_pools.items()):
        if pid == os.getpid():
            pool.close()


def errors() -> tuple[type[BaseException], ...]:
    """What psycopg raises (nothing, when it is not installed)."""
    try:
        import psycopg
    except ImportError:
        return ()
    return (psycopg.Error,)


def clock_offset(connection: PgConnection) -> float:
    """Seconds the server's clock is ahead of this host's (timestamps come from the server)."""
    before = time.time()
    row = connection.execute("SELECT EXTRACT(EPOCH FROM clock_timestamp())").fetchone()
    after = time.time()
    assert row is not None
    return float(row[0]) - (before + after) / 2


def schema_version(connection: PgConnection) -> int:
    found = connection.execute("SELECT to_regclass(?)", (VERSION_TABLE,)).fetchone()
    if found is None or found[0] is None:
        return 0
    row = connection.execute(f"SELECT version FROM {VERSION_TABLE}").fetchone()
    return int(row[0]) if row else 0


def migrate(
    connection: PgConnection,
    where: str,
    migrations: Sequence[str],
    statements: Callable[[str], list[str]],
) -> None:
    """Bring the schema up to date, once however many hosts start at once."""
    target = len(migrations)
    with connection.transaction():
        connection.execute("SELECT pg_advisory_xact_lock(?)", (MIGRATION_LOCK,))
        version = schema_version(connection)
        if version == 0:
            taken = [name for name in OUR_TABLES if _table_exists(connection, name)]
            if taken:
                raise StoreError(
                    f"state database {where} already has tables named {', '.join(taken)} but "
                    "no paper-digest schema: give the digest a database of its own"
                )
            connection.execute(f"CREATE TABLE {VERSION_TABLE} (version INTEGER NOT NULL)")
            connection.execute(f"INSERT INTO {VERSION_TABLE} (version) VALUES (0)")
        if version > target:
            raise StoreError(
                f"state database {where} has schema version {version}, newer than this "
                f"release understands ({target}); upgrade paper-digest"
            )
        for number in range(version, target):
            log.info("migrating %s to schema version %d", where, number + 1)
            for statement in statements(migrations[number]):
                connection.execute(statement.replace(" BLOB", " BYTEA"))
            for statement in EXTRA_STATEMENTS.get(number + 1, ()):
                connection.execute(statement)
        if version != target:
            connection.execute(f"UPDATE {VERSION_TABLE} SET version = ?", (target,))


def _table_exists(connection: PgConnection, name: str) -> bool:
    row = connection.execute("SELECT to_regclass(?)", (name,)).fetchone()
    return row is not None and row[0] is not None


def has_schema(location: StateLocation) -> bool:
    """Whether the database at `location` holds a paper-digest state (nothing is created)."""
    try:
        connection = connect(location, busy_timeout=5)
    except errors() as exc:
        raise StoreError(f"state database {location}: {one_line(exc)}") from exc
    try:
        return schema_version(connection) > 0
    finally:
        connection.close()


def one_line(exc: BaseException) -> str:
    """A database error on one line, without the connection string (it may name the user)."""
    return " ".join(str(exc).split()) or type(exc).__name__
