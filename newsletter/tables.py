"""What the commands show on a terminal: rich tables built from the library's reports.

Kept apart from `cli.py` (which parses and calls) and from the stages (which print nothing).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime

from rich.console import Console
from rich.table import Table

from newsletter.config import Config
from newsletter.fetching import FetchReport
from newsletter.preview import PreviewEntry
from newsletter.status import DeliveryStatus
from newsletter.store import DeliveryRecord, FetchRecord

_COUNTED = (
    DeliveryStatus.SENT,
    DeliveryStatus.FAILED,
    DeliveryStatus.DEFERRED,
    DeliveryStatus.IN_DOUBT,
    DeliveryStatus.SENDING,
)


def fetch_tables(report: FetchReport, console: Console, summary_console: Console) -> None:
    """The papers of the day, then what each source gave."""
    table = Table("id", "category", "type", "title", title=f"Papers for {report.day}")
    for paper in report.papers:
        kind = paper.announce_type.value if paper.announce_type else ""
        table.add_row(paper.id, paper.primary_category or "", kind, paper.title)
    console.print(table)
    summary = Table("source", "status", "papers", "detail", title="Sources")
    for outcome in report.outcomes:
        summary.add_row(
            outcome.source, outcome.status.value, str(len(outcome.papers)), outcome.detail
        )
    summary_console.print(summary)


def preview_table(day: date, entries: Sequence[PreviewEntry], out: str) -> Table:
    table = Table("subscriber", "papers", "HTML", "subject", title=f"Preview of {day} in {out}/")
    for entry in entries:
        table.add_row(
            entry.email, str(entry.papers), f"{entry.html_bytes / 1000:.1f} kB", entry.subject
        )
    return table


def history_table(records: Sequence[DeliveryRecord]) -> Table:
    table = Table("date", "subscriber", "status", "attempts", "message id", "detail")
    for r in records:
        table.add_row(
            str(r.day), r.subscriber, str(r.status), str(r.attempts), r.message_id or "", r.detail
        )
    return table


def sends_table(config: Config, now: datetime) -> Table:
    from newsletter.schedule import next_sends

    table = Table("group", "subscribers", "next send (local)", "next send (UTC)",
                  title="Scheduled sends")  # fmt: skip
    for row in next_sends(config, now):
        local = f"{row.at:%a %Y-%m-%d %H:%M %Z}" if row.at else "never"
        utc = f"{row.at.astimezone(UTC):%a %Y-%m-%d %H:%M}" if row.at else ""
        table.add_row(row.group.label, str(row.members), local, utc)
    return table


def fetches_table(records: Sequence[FetchRecord]) -> Table:
    table = Table("source", "issue date", "status", "papers", "when (UTC)", "detail",
                  title="Last fetch of each source")  # fmt: skip
    for r in records:
        table.add_row(r.source, str(r.day), r.status, str(r.papers), r.fetched_at, r.detail)
    return table


def counts_table(counts: Sequence[tuple[date, dict[str, int]]]) -> Table:
    table = Table("issue date", "sent", "failed", "deferred", "in doubt", "sending",
                  title="Deliveries")  # fmt: skip
    for day, found in counts:
        table.add_row(str(day), *(str(found.get(status, 0)) for status in _COUNTED))
    return table
