"""Copy a whole state into an empty one: SQLite to PostgreSQL when one machine is not enough,
and back. Every table of the schema is copied row for row in one transaction of the
destination (a copy that fails leaves it empty), then counted on both sides.

`day_papers` keeps its arrival order (`rowid`), which issue horizons refer to. Leases are not
copied: they belong to the processes of the old state. Stop the scheduler and any `send`
before copying; what they write meanwhile is not copied.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from newsletter.errors import StoreError
from newsletter.store.database import Database

log = logging.getLogger(__name__)

TABLES = (  # every table but `leases`, parents before the rows that refer to them
    "papers", "day_papers", "fetches", "http_cache", "issues", "deliveries", "delivered_papers",
    "alerts", "suppressions", "feedback", "issue_picks", "bounces", "embeddings",
)  # fmt: skip
CHUNK = 2000
ORDER = {"day_papers": "rowid"}  # copied with its own column in this order


@dataclass(frozen=True)
class Copied:
    table: str
    rows: int


def copy_state(
    source: Database, dest: Database, progress: Callable[[str, int], None] | None = None
) -> list[Copied]:
    """Copy every row of `source` into `dest`, which must hold no state yet; the rows of each
    table, counted in both after the copy (StoreError when any count differs)."""
    counts = {table: source.count_rows(table) for table in TABLES}
    held = [table for table in TABLES if dest.count_rows(table)]
    if held:
        raise StoreError(
            f"state database {dest.location} already holds state ({', '.join(held)}): copy "
            "into an empty one"
        )
    with dest.transaction() as db:
        for table in TABLES:
            for columns, rows in _chunks(source, table):
                marks = ", ".join("?" * len(columns))
                db.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", rows)
                if progress is not None:
                    progress(table, len(rows))
        if dest.is_postgres and counts["day_papers"]:
            db.execute(
                "SELECT setval(pg_get_serial_sequence('day_papers', 'rowid'), "
                "(SELECT MAX(rowid) FROM day_papers))"
            )
    copied = [Copied(table, dest.count_rows(table)) for table in TABLES]
    wrong = [
        f"{c.table} {c.rows} of {counts[c.table]}" for c in copied if c.rows != counts[c.table]
    ]
    if wrong:
        raise StoreError(f"state database {dest.location}: the copy differs: {', '.join(wrong)}")
    return copied


def _chunks(source: Database, table: str) -> Iterator[tuple[list[str], list[tuple[object, ...]]]]:
    order = ORDER.get(table)
    columns = source.columns(table)
    if order is not None and order not in columns:
        columns = [order, *columns]
    select = f"SELECT {', '.join(columns)} FROM {table}"
    for rows in source.stream(select + (f" ORDER BY {order}" if order else ""), CHUNK):
        yield columns, [_plain(row) for row in rows]


def _plain(row: tuple[object, ...]) -> tuple[object, ...]:
    """A row as either engine takes it (PostgreSQL reads bytea as memoryview)."""
    return tuple(bytes(v) if isinstance(v, memoryview) else v for v in row)
