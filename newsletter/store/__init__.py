"""The SQLite state database: the papers of each day, what was fetched, and what was delivered.

    Store                  one connection, one file (use as a context manager)
    ├── Papers             papers.py: what each source listed on each day
    ├── FetchLog           fetchlog.py: fetch outcomes and the HTTP cache
    ├── Ledger             ledger.py: the delivery ledger (never twice) and alerts
    ├── ReaderState        readers.py: suppressions, ratings, each issue's picks
    ├── Leases             leases.py: who leads, fetches, sends (renewed while alive)
    ├── Embeddings         embeddings.py: sentence embeddings for the semantic ranking
    └── Database           database.py: connection, WAL, migrations, transactions, errors
                           postgres.py: the same on PostgreSQL; location.py: which one

Every database error surfaces as a `StoreError` naming the state (a file or a URL without
its password).
"""

from __future__ import annotations

from newsletter.store.database import state_exists
from newsletter.store.embeddings import Embeddings, StoredVector
from newsletter.store.fetchlog import CachedResponse, FetchLog, FetchRecord
from newsletter.store.leases import HeldLease, Lease, Leases
from newsletter.store.ledger import DeliveryRecord, LastIssue, Ledger, claimant
from newsletter.store.location import StateLocation
from newsletter.store.papers import Papers, StoredPaper
from newsletter.store.readers import KeptPick, Rating, ReaderState, Suppression
from newsletter.store.schema import SCHEMA_VERSION

__all__ = [
    "SCHEMA_VERSION",
    "CachedResponse",
    "DeliveryRecord",
    "FetchRecord",
    "HeldLease",
    "KeptPick",
    "LastIssue",
    "Lease",
    "Rating",
    "StateLocation",
    "Store",
    "StoredPaper",
    "StoredVector",
    "Suppression",
    "claimant",
    "state_exists",
]


class Store(Papers, FetchLog, Ledger, ReaderState, Leases, Embeddings):
    """An open state database. Use as a context manager, or call `close()`.

    `Store(where, busy_timeout=30.0, pooled=False)`: `where` is an SQLite file or a
    postgresql:// URL; `busy_timeout` is how many seconds a write waits for another process's
    write (or a lock) before failing; `pooled` borrows a PostgreSQL connection from this
    process's pool (many short uses: web requests, lease checks)."""
