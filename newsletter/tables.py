"""What the commands show: rich tables built from the library's reports, and the same as JSON
documents for scripts (`--json`).

Kept apart from `cli.py` (which parses and calls) and from the stages (which print nothing).
A table printed anywhere but a terminal (a pipe, a file) is never cut to a width: see `console`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import fields
from datetime import UTC, date, datetime
from enum import Enum
from typing import TYPE_CHECKING

from rich.console import Console
from rich.table import Table

from newsletter.status import DeliveryStatus

if TYPE_CHECKING:  # only named: `history` and `status` need no fetching or rendering code
    from newsletter.config import Config
    from newsletter.fetching import FetchReport
    from newsletter.models import Reader
    from newsletter.preview import PreviewEntry
    from newsletter.store import DeliveryRecord, FetchRecord, Suppression

UNCUT = 1_000_000  # columns of a console that is not a terminal: no cell is cut or wrapped
_COUNTED = (
    DeliveryStatus.SENT,
    DeliveryStatus.FAILED,
    DeliveryStatus.DEFERRED,
    DeliveryStatus.IN_DOUBT,
    DeliveryStatus.SENDING,
)


def console(*, stderr: bool = False, quiet: bool = False) -> Console:
    """Where a command prints its tables: a terminal's width on a terminal, else (a pipe, a
    file) wide enough that no address or detail is cut. Text is printed as it is: `[x]` in a
    server's reply is not markup, `:mail:` not an emoji."""
    width = None if Console(stderr=stderr).is_terminal else UNCUT
    return Console(stderr=stderr, quiet=quiet, width=width, markup=False, emoji=False)


def fetch_tables(report: FetchReport, console: Console, summary_console: Console) -> None:
    """The papers of the day, then what each source gave."""
    console.out(papers_listing(report, console), highlight=False)
    summary = Table("source", "status", "papers", "detail", title="Sources")
    for outcome in report.outcomes:
        summary.add_row(
            outcome.source, outcome.status.value, str(len(outcome.papers)), outcome.detail
        )
    summary_console.print(summary)


def papers_listing(report: FetchReport, console: Console) -> str:
    """The papers of the day, one aligned line each: a day of thousands of papers is listed in
    milliseconds (a table, each cell measured and wrapped, took seconds). On a terminal a
    title is cut to its width; elsewhere it is whole."""
    from rich.cells import cell_len, set_cell_size

    from newsletter.render.text import one_line

    rows = [
        (p.id, p.primary_category or "", p.announce_type.value if p.announce_type else "",
         one_line(p.title))
        for p in report.papers
    ]  # fmt: skip
    head = ("id", "category", "type", "title")
    widths = [max([len(head[i]), *(len(row[i]) for row in rows)]) for i in range(3)]
    room = console.width - sum(widths) - 6 if console.is_terminal else 0

    def line(row: tuple[str, str, str, str]) -> str:
        *cells, title = row
        if room > 1 and cell_len(title) > room:
            title = set_cell_size(title, room - 1) + "…"
        return "  ".join([*(c.ljust(w) for c, w in zip(cells, widths, strict=True)), title])

    ruler = line(("-" * widths[0], "-" * widths[1], "-" * widths[2], "-----"))
    listed = [line(row) for row in rows]
    return "\n".join([f"Papers for {report.day}: {len(rows)}", line(head), ruler, *listed])


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


def subscribers_table(rows: Sequence[tuple[Reader, Suppression | None]]) -> Table:
    """Every reader: mailed (active) or not, since when, why and who said so."""
    table = Table("subscriber", "name", "status", "since (UTC)", "reason", "by")
    for reader, why in rows:
        if why is None:
            table.add_row(reader.email, reader.name or "", "active", "", "", "")
        else:
            since = why.since.replace("T", " ")[:16]
            table.add_row(reader.email, reader.name or "", str(why.status), since, why.reason,
                          why.source)  # fmt: skip
    return table


def reader_counts(rows: Sequence[tuple[Reader, Suppression | None]]) -> dict[str, int]:
    """Readers by status, every status named (for `status`)."""
    from newsletter.status import ReaderStatus

    counts = {status.value: 0 for status in ReaderStatus}
    for _, why in rows:
        counts[why.status.value if why else ReaderStatus.ACTIVE.value] += 1
    return counts


def sends_table(config: Config, now: datetime) -> Table:
    from newsletter.agenda import next_sends

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
                  title="Deliveries of the latest issues")  # fmt: skip
    for day, found in counts:
        table.add_row(str(day), *(str(found.get(status, 0)) for status in _COUNTED))
    if not counts:
        table.caption = "no issue sent yet"
    return table


# --- the same as JSON (`--json`) --------------------------------------------------------------


def history_document(records: Sequence[DeliveryRecord]) -> list[dict[str, object]]:
    """Every delivery with every field of `DeliveryRecord` (`day` as `date`, ISO dates):
    `newsletter history --json`."""
    return [
        {
            "date" if field.name == "day" else field.name: _plain(getattr(record, field.name))
            for field in fields(record)
        }
        for record in records
    ]


def _plain(value: object) -> object:
    if isinstance(value, date):
        return value.isoformat()
    return value.value if isinstance(value, Enum) else value


def status_document(
    config: Config,
    now: datetime,
    fetches: Sequence[FetchRecord],
    counts: Sequence[tuple[date, dict[str, int]]],
    readers: dict[str, int] | None = None,
    scheduler: dict[str, str] | None = None,
) -> dict[str, object]:
    """`newsletter status --json`: the next sends, the last fetches, the delivery counts of the
    latest issue dates, the readers by status, which `run` leads (None: none, or SQLite)."""
    from newsletter.agenda import next_sends

    sends = [
        {
            "group": row.group.label,
            "subscribers": row.members,
            "at": row.at.isoformat() if row.at else None,
            "at_utc": row.at.astimezone(UTC).isoformat() if row.at else None,
        }
        for row in next_sends(config, now)
    ]
    last_fetches = [
        {"source": r.source, "date": r.day.isoformat(), "status": r.status, "papers": r.papers,
         "fetched_at": r.fetched_at, "detail": r.detail}
        for r in fetches
    ]  # fmt: skip
    deliveries = [
        {"date": day.isoformat(), **{status.value: found.get(status, 0) for status in _COUNTED}}
        for day, found in counts
    ]
    return {
        "now": now.isoformat(),
        "state": str(config.state),
        "next_sends": sends,
        "last_fetches": last_fetches,
        "deliveries": deliveries,
        "readers": readers or {},
        "scheduler": scheduler,
    }
