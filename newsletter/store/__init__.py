"""The SQLite state database: the papers of each day, what was fetched, and what was delivered.

    Store                  one connection, one file (use as a context manager)
    ├── Papers             papers.py: what each source listed on each day
    ├── FetchLog           fetchlog.py: fetch outcomes and the HTTP cache
    ├── Ledger             ledger.py: the delivery ledger (never twice) and alerts
    ├── ReaderState        readers.py: suppressions, ratings, each issue's picks
    └── Database           database.py: connection, WAL, migrations, transactions, errors

Every SQLite error surfaces as a `StoreError` naming the database file.
"""

from __future__ import annotations

from newsletter.store.database import SCHEMA_VERSION
from newsletter.store.fetchlog import CachedResponse, FetchLog, FetchRecord
from newsletter.store.ledger import DeliveryRecord, LastIssue, Ledger, claimant
from newsletter.store.papers import Papers, StoredPaper
from newsletter.store.readers import KeptPick, Rating, ReaderState, Suppression

__all__ = [
    "SCHEMA_VERSION",
    "CachedResponse",
    "DeliveryRecord",
    "FetchRecord",
    "KeptPick",
    "LastIssue",
    "Rating",
    "Store",
    "StoredPaper",
    "Suppression",
    "claimant",
]


class Store(Papers, FetchLog, Ledger, ReaderState):
    """An open state database. Use as a context manager, or call `close()`.

    `Store(path, busy_timeout=30.0)`: `busy_timeout` is how many seconds a write waits for
    another process's write before failing with "database is locked"."""
