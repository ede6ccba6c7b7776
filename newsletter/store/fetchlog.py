"""What each source's fetch of each day came to, and the HTTP cache for conditional requests."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from newsletter.store.database import Database


@dataclass(frozen=True)
class FetchRecord:
    source: str
    day: date
    status: str
    detail: str
    papers: int
    fetched_at: str


@dataclass(frozen=True)
class CachedResponse:
    """A body kept from an earlier fetch, with the validators to ask whether it changed."""

    etag: str | None
    last_modified: str | None
    body: bytes


class FetchLog(Database):
    """The `fetches` and `http_cache` tables."""

    def record_fetch(self, source: str, day: date, status: str, detail: str, papers: int) -> None:
        with self.transaction() as db:
            db.execute(
                "INSERT INTO fetches (source, day, status, detail, papers, fetched_at) "
                "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (source, day) DO UPDATE SET "
                "status = excluded.status, detail = excluded.detail, papers = excluded.papers, "
                "fetched_at = excluded.fetched_at",
                (source, day.isoformat(), status, detail, papers, self.now()),
            )

    def fetch_statuses(self, day: date) -> dict[str, str]:
        """The latest outcome of each source fetched for `day`."""
        rows = self._read("SELECT source, status FROM fetches WHERE day = ?", (day.isoformat(),))
        return {source: status for source, status in rows}

    def last_fetches(self) -> list[FetchRecord]:
        """The most recent fetch outcome of every source."""
        rows = self._read(
            "SELECT source, day, status, detail, papers, fetched_at FROM fetches f WHERE "
            "fetched_at = (SELECT MAX(fetched_at) FROM fetches g WHERE g.source = f.source) "
            "ORDER BY source"
        )
        return [
            FetchRecord(s, date.fromisoformat(d), st, de, n, at) for s, d, st, de, n, at in rows
        ]

    def cached_response(self, url: str) -> CachedResponse | None:
        """The body last kept for `url`, or None when there is none."""
        row = self._read_one(
            "SELECT etag, last_modified, body FROM http_cache WHERE url = ?", (url,)
        )
        if row is None or row[2] is None:
            return None
        etag, last_modified, body = row
        return CachedResponse(etag, last_modified, bytes(body))

    def cache_response(
        self, url: str, etag: str | None, last_modified: str | None, body: bytes
    ) -> None:
        with self.transaction() as db:
            db.execute(
                "INSERT INTO http_cache (url, etag, last_modified, body, fetched_at) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT (url) DO UPDATE SET etag = excluded.etag, "
                "last_modified = excluded.last_modified, body = excluded.body, "
                "fetched_at = excluded.fetched_at",
                (url, etag, last_modified, body, self.now()),
            )
