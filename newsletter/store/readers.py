"""What readers said: who left (and why), how they rated papers, and what each issue picked.

The subscriber list in the YAML says who subscribed; a row in `suppressions` overrides it, so
an unsubscribed reader stays unsubscribed whatever the YAML says until resubscribed. Ratings are
one per reader and paper (the latest wins; undo removes it). `issue_picks` keeps every sent
issue's papers with their scores and reasons, so the issue on the web shows what was chosen
that day, not what would be chosen now.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from newsletter.models import SelectedPaper
from newsletter.status import ReaderStatus
from newsletter.store.database import Database

VOTES = (-1, 1)  # less like this, more like this
BOUNCE_WINDOW_DAYS = 60  # hard bounces older than this (before the latest) no longer count


@dataclass(frozen=True)
class Suppression:
    """Why a reader is not mailed."""

    subscriber: str
    status: ReaderStatus
    reason: str
    source: str  # web | header | operator | mail | smtp
    since: str  # UTC, ISO 8601


@dataclass(frozen=True)
class Rating:
    """A reader's "more like this" (+1) or "less like this" (-1) for one paper."""

    paper_id: str
    vote: int
    day: date | None  # the issue it was rated from
    rated_at: str


@dataclass(frozen=True)
class KeptPick:
    """A paper of a sent issue, as it was picked."""

    paper_id: str
    score: float
    reasons: tuple[str, ...]


class ReaderState(Database):
    """The `suppressions`, `feedback` and `issue_picks` tables."""

    def suppress(self, subscriber: str, status: ReaderStatus, reason: str, source: str) -> bool:
        """Stop mailing `subscriber`; True when they were mailed until now. A reader already
        suppressed keeps the first status and reason, except that a complaint overrides."""
        if status is ReaderStatus.ACTIVE:
            raise ValueError("suppress() takes a suppressed status; use resubscribe()")
        with self.transaction(lock=f"reader:{subscriber}") as db:
            row = db.execute(
                "SELECT status FROM suppressions WHERE subscriber = ?", (subscriber,)
            ).fetchone()
            if row is not None and not (
                status is ReaderStatus.COMPLAINED and row[0] != status.value
            ):
                return False
            db.execute(
                "INSERT INTO suppressions (subscriber, status, reason, source, since) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT (subscriber) DO UPDATE SET "
                "status = excluded.status, reason = excluded.reason, source = excluded.source, "
                "since = excluded.since",
                (subscriber, status.value, reason, source, self.now()),
            )
            return row is None

    def resubscribe(self, subscriber: str) -> bool:
        """Mail `subscriber` again; True when they were suppressed."""
        with self.transaction() as db:
            sql = "DELETE FROM suppressions WHERE subscriber = ?"
            return int(db.execute(sql, (subscriber,)).rowcount) > 0

    def suppression(self, subscriber: str) -> Suppression | None:
        row = self._read_one(
            "SELECT subscriber, status, reason, source, since FROM suppressions "
            "WHERE subscriber = ?",
            (subscriber,),
        )
        return None if row is None else _suppression(row)

    def suppressions(self) -> dict[str, Suppression]:
        """Every suppressed reader, by key."""
        rows = self._read("SELECT subscriber, status, reason, source, since FROM suppressions")
        return {row[0]: _suppression(row) for row in rows}

    def record_bounce(self, subscriber: str, day: date, detail: str, *, hard: bool) -> int:
        """Note that the reader's issue of `day` bounced; the number of distinct issue dates
        with a hard bounce within `BOUNCE_WINDOW_DAYS` of this one. The same issue reported
        twice (a resend, a report read again) counts once; a soft bounce counts nothing."""
        with self.transaction() as db:
            db.execute(
                "INSERT INTO bounces (subscriber, issue_date, hard, detail, bounced_at) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT (subscriber, issue_date, hard) DO UPDATE SET "
                "detail = excluded.detail, bounced_at = excluded.bounced_at",
                (subscriber, day.isoformat(), int(hard), detail, self.now()),
            )
            since = (day - timedelta(days=BOUNCE_WINDOW_DAYS)).isoformat()
            row = db.execute(
                "SELECT COUNT(*) FROM bounces WHERE subscriber = ? AND hard = 1 "
                "AND issue_date > ? AND issue_date <= ?",
                (subscriber, since, day.isoformat()),
            ).fetchone()
            return int(row[0]) if hard else 0

    def rate(self, subscriber: str, paper_id: str, vote: int, day: date | None = None) -> bool:
        """Record a rating (+1 or -1), or remove it (0); True when that changed anything."""
        if vote not in (*VOTES, 0):
            raise ValueError(f"a vote is -1, 0 or +1, not {vote!r}")
        with self.transaction(lock=f"rating:{subscriber}:{paper_id}") as db:
            if vote == 0:
                sql = "DELETE FROM feedback WHERE subscriber = ? AND paper_id = ?"
                return int(db.execute(sql, (subscriber, paper_id)).rowcount) > 0
            row = db.execute(
                "SELECT vote FROM feedback WHERE subscriber = ? AND paper_id = ?",
                (subscriber, paper_id),
            ).fetchone()
            if row is not None and row[0] == vote:
                return False
            db.execute(
                "INSERT INTO feedback (subscriber, paper_id, vote, issue_date, rated_at) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT (subscriber, paper_id) DO UPDATE SET "
                "vote = excluded.vote, issue_date = excluded.issue_date, "
                "rated_at = excluded.rated_at",
                (subscriber, paper_id, vote, day.isoformat() if day else None, self.now()),
            )
            return True

    def rating(self, subscriber: str, paper_id: str) -> int:
        """The reader's vote on the paper: +1, -1, or 0 when not rated."""
        row = self._read_one(
            "SELECT vote FROM feedback WHERE subscriber = ? AND paper_id = ?",
            (subscriber, paper_id),
        )
        return 0 if row is None else int(row[0])

    def ratings(self, subscribers: Sequence[str]) -> dict[str, list[Rating]]:
        """Every rating of each of `subscribers` (keys as given), oldest first."""
        rows = self._read_among(
            "SELECT subscriber, paper_id, vote, issue_date, rated_at FROM feedback "
            "WHERE subscriber IN ({marks})",
            sorted(set(subscribers)),
        )
        found: dict[str, list[Rating]] = {}
        for subscriber, paper_id, vote, day, rated_at in sorted(rows, key=lambda r: (r[4], r[1])):
            rating = Rating(paper_id, int(vote), date.fromisoformat(day) if day else None, rated_at)
            found.setdefault(subscriber, []).append(rating)
        return found

    def keep_issue(self, subscriber: str, day: date, papers: Sequence[SelectedPaper]) -> None:
        """Keep the papers of the reader's issue of `day` (replacing any earlier attempt's)."""
        picks = [
            {"id": p.paper.id, "score": round(p.score, 4), "reasons": list(p.reasons)}
            for p in papers
        ]
        with self.transaction() as db:
            db.execute(
                "INSERT INTO issue_picks (subscriber, issue_date, picks) VALUES (?, ?, ?) "
                "ON CONFLICT (subscriber, issue_date) DO UPDATE SET picks = excluded.picks",
                (subscriber, day.isoformat(), json.dumps(picks, ensure_ascii=False)),
            )

    def kept_issue(self, subscriber: str, day: date) -> list[KeptPick] | None:
        """The papers of the reader's issue of `day` as sent; None when none was kept."""
        row = self._read_one(
            "SELECT picks FROM issue_picks WHERE subscriber = ? AND issue_date = ?",
            (subscriber, day.isoformat()),
        )
        if row is None:
            return None
        return [
            KeptPick(str(p["id"]), float(p["score"]), tuple(str(r) for r in p["reasons"]))
            for p in json.loads(row[0])
        ]


def _suppression(row: tuple[object, ...]) -> Suppression:
    subscriber, status, reason, source, since = row
    return Suppression(
        str(subscriber), ReaderStatus(str(status)), str(reason), str(source), str(since)
    )
