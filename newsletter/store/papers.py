"""The papers of each day: what every source listed, and each paper's latest stored version."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date

from newsletter.models import Paper
from newsletter.store.database import Connection, Database


@dataclass(frozen=True)
class StoredPaper:
    paper: Paper
    first_row: int  # compare with a delivery's horizon: stored after that issue was built?
    first_day: date  # the first day it was listed on


class Papers(Database):
    """The `papers` and `day_papers` tables."""

    def save_day(self, day: date, source: str, papers: Iterable[Paper]) -> int:
        """Store what `source` listed for `day`; storing the same listing again changes nothing."""
        count, now = 0, self.now()
        with self.transaction() as db:
            for paper in papers:
                self._upsert(db, paper, now)
                db.execute(
                    "INSERT INTO day_papers (day, source, paper_id) VALUES (?, ?, ?) "
                    "ON CONFLICT DO NOTHING",
                    (day.isoformat(), source, paper.id),
                )
                count += 1
        return count

    def save_papers(self, papers: Iterable[Paper]) -> None:
        """Keep papers that belong to no day (a reader's liked papers)."""
        now = self.now()
        with self.transaction() as db:
            for paper in papers:
                self._upsert(db, paper, now)

    @staticmethod
    def _upsert(db: Connection, paper: Paper, now: str) -> None:
        db.execute(
            "INSERT INTO papers (id, version, data, first_seen, updated_at) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET "
            "version = excluded.version, data = excluded.data, "
            "updated_at = excluded.updated_at "
            "WHERE papers.data != excluded.data",
            (paper.id, paper.version, paper.model_dump_json(), now, now),
        )

    def horizon(self) -> int:
        """A mark that grows with every paper stored for a day: an issue built now has seen
        every listing row up to it."""
        row = self._read_one("SELECT COALESCE(MAX(rowid), 0) FROM day_papers")
        return int(row[0]) if row else 0

    def papers_between(self, after: date, through: date) -> list[StoredPaper]:
        """The papers listed on the days after `after` up to `through`, each with where it was
        first stored (its first listing row, on any day)."""
        rows = self._read(
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
        rows = self._read(
            "SELECT p.data FROM papers p WHERE p.id IN "
            "(SELECT paper_id FROM day_papers WHERE day = ?) ORDER BY p.id",
            (day.isoformat(),),
        )
        return [Paper.model_validate_json(data) for (data,) in rows]

    def papers_by_ids(self, ids: Sequence[str]) -> list[Paper]:
        rows = self._read_among("SELECT data FROM papers WHERE id IN ({marks})", ids)
        return [Paper.model_validate_json(data) for (data,) in rows]

    def paper(self, paper_id: str) -> Paper | None:
        row = self._read_one("SELECT data FROM papers WHERE id = ?", (paper_id,))
        return Paper.model_validate_json(row[0]) if row else None
