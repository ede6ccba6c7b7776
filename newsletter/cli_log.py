"""`newsletter history` and `newsletter status`: the delivery log (and settling an issue in
doubt) and the schedule. Registered on the `newsletter` group by `cli.py`."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click

from newsletter.cli_options import clock, config_option, date_filter_option, load, readers_of

if TYPE_CHECKING:
    from newsletter.config import Config

LATEST_ISSUES = 3  # issue dates whose delivery counts `status` shows


@click.command()
@config_option
@date_filter_option
@click.option("--json", "as_json", is_flag=True, help="Print one JSON list of deliveries.")
@click.option("--settle", metavar="EMAIL", default=None,
              help="Decide an issue in doubt for this reader (with --date and --as).")  # fmt: skip
@click.option("--as", "settled_as", type=click.Choice(["delivered", "not-delivered"]),
              default=None, help="With --settle: delivered (never resent) or not-delivered "
              "(sent on the next run).")  # fmt: skip
def history(
    config_path: Path,
    day: datetime | None,
    as_json: bool,
    settle: str | None,
    settled_as: str | None,
) -> None:
    """Show the delivery log: who got which issue, and what the server answered (every date,
    newest first, unless --date). An issue in doubt (the connection broke after the message
    went out) is settled with --settle EMAIL --date D --as delivered|not-delivered, once you
    know whether it arrived.

    \b
    Examples:
      newsletter history --date 2026-07-27
      newsletter history --json | jq '.[] | select(.status != "sent")'
      newsletter history --settle ada@example.org --date 2026-07-27 --as not-delivered
    """
    import json

    from newsletter.session import Session
    from newsletter.store import state_exists
    from newsletter.tables import console, history_document, history_table

    config = load(config_path)
    if settle is not None:
        return _settle(config, settle, day, settled_as)
    records = []
    if state_exists(config.state):  # a look must not create the state
        with Session.open(config, online=False) as session:
            records = session.store.deliveries(day.date() if day else None)
    if as_json:
        click.echo(json.dumps(history_document(records), ensure_ascii=False, indent=2))
    else:
        console().print(history_table(records))


def _settle(config: Config, email: str, day: datetime | None, settled_as: str | None) -> None:
    from newsletter.session import Session
    from newsletter.store import state_exists

    if day is None or settled_as is None:
        raise click.UsageError("--settle needs --date D and --as delivered|not-delivered")
    (reader,) = readers_of(config, (email,))
    if not state_exists(config.state):  # a look must not create the state
        raise click.ClickException(f"no state at {config.state}: nothing was sent yet")
    with Session.open(config, online=False) as session:
        record = session.store.settle(reader.key, day.date(), delivered=settled_as == "delivered")
    click.echo(f"{reader.email}, issue of {record.day}: {record.status} ({record.detail})")


@click.command()
@config_option
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
def status(config_path: Path, as_json: bool) -> None:
    """Show the next scheduled sends (local and UTC time), the last fetch of every source and
    the delivery counts of the latest issue dates that have deliveries.

    \b
    Examples:
      newsletter status
      newsletter status --json | jq .deliveries
    """
    import json

    from newsletter.cli_subscribers import statuses
    from newsletter.session import Session
    from newsletter.store import state_exists
    from newsletter.tables import (
        console,
        counts_table,
        fetches_table,
        reader_counts,
        sends_table,
        status_document,
    )

    config = load(config_path)
    now = clock()
    fetches, counts, leader = [], [], None
    exists = state_exists(config.state)  # a look must not create the state
    if exists:
        with Session.open(config, online=False) as session:
            fetches = session.store.last_fetches()
            days = session.store.latest_issue_dates(LATEST_ISSUES)
            counts = [(day, session.store.delivery_counts(day)) for day in days]
            leader = session.store.live_lease("scheduler")
    readers = reader_counts(statuses(config))
    scheduler = None if leader is None else {"leader": leader.holder, "since": leader.taken_at}
    if as_json:
        document = status_document(config, now, fetches, counts, readers, scheduler)
        click.echo(json.dumps(document, ensure_ascii=False, indent=2))
        return
    out = console()
    out.print(sends_table(config, now))
    if not exists:
        out.print(f"No state yet at {config.state}: nothing fetched or sent.")
        return
    out.print(fetches_table(fetches))
    out.print(counts_table(counts))
    out.print("Readers: " + ", ".join(f"{status} {count}" for status, count in readers.items()))
    if config.state.is_postgres:
        led = f"led by {leader.holder} since {leader.taken_at}" if leader else "no `run` leads"
        out.print(f"Scheduler: {led}")
