"""`newsletter preview`: every reader's issue written to a folder, optionally served and
rebuilt on edits. Registered on the `newsletter` group by `cli.py`."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click

from newsletter.checks import plural
from newsletter.cli_options import (
    clock,
    config_option,
    date_option,
    is_quiet,
    issue_date,
    load,
    readers_of,
)

if TYPE_CHECKING:
    from newsletter.config import Config
    from newsletter.models import Reader

log = logging.getLogger("newsletter")


@click.command()
@config_option
@date_option
@click.option(
    "--subscriber",
    "emails",
    multiple=True,
    metavar="EMAIL",
    help="Only this subscriber (repeatable).",
)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default="preview",
    show_default=True,
    help="Folder to write the preview into.",
)
@click.option("--demo", is_flag=True, help="Use the bundled demo day and readers (offline).")
@click.option("--serve", is_flag=True, help="Serve the preview on 127.0.0.1; rebuild on changes.")
@click.option("--port", type=click.IntRange(0, 65535), default=8765, show_default=True,
              help="Port for --serve (0: any free port).")  # fmt: skip
@click.option("--open", "open_browser", is_flag=True, help="Open the preview in a browser.")
def preview(
    config_path: Path,
    day: datetime | None,
    emails: tuple[str, ...],
    out: Path,
    demo: bool,
    serve: bool,
    port: int,
    open_browser: bool,
) -> None:
    """Build each subscriber's issue without sending anything.

    Fetches the day first if it was never fetched, selects every subscriber's papers and writes
    OUT/index.html and, per subscriber, SLUG.html, SLUG.txt, SLUG.json ({"subscriber",
    "date", "subject", "papers": [{"id", "title", "score", "reasons"}]}, best first) and
    SLUG.eml, the message `send` would hand over. Delivery state is not touched: a previewed
    paper is still sent later.

    \b
    Examples:
      newsletter preview --demo --out preview      # offline, bundled sample papers
      newsletter preview --date 2026-07-27 --subscriber ada@example.org --out /tmp/issue
      newsletter preview --serve --open            # http://127.0.0.1:8765, rebuilt on edits
    """
    import tempfile

    with tempfile.TemporaryDirectory(prefix="newsletter-demo-") as scratch:

        def build() -> Config:
            config = _preview_config(config_path, demo, Path(scratch) / "demo.db")
            _build_preview(config, day.date() if day else None, emails, out, demo)
            return config

        config = build()
        index = (out / "index.html").resolve()
        if not serve:
            if open_browser:
                _open(index.as_uri())
            if not is_quiet():
                click.echo(f"Open {index}")
            return
        _serve(config, out, port, open_browser, build)


def _preview_config(config_path: Path, demo: bool, state: Path) -> Config:
    if not demo:
        return load(config_path)
    from newsletter.demo import demo_config

    return demo_config(state)


def _build_preview(
    config: Config, day: date | None, emails: tuple[str, ...], out: Path, demo: bool
) -> None:
    from rich.console import Console

    from newsletter import preflight
    from newsletter.demo import DEMO_DAY
    from newsletter.pipeline import preview_day
    from newsletter.session import Session
    from newsletter.tables import preview_table

    preflight.check(config, connects=False)
    readers = readers_of(config, emails)
    now = clock()
    issue_day = day or (DEMO_DAY if demo else issue_date(config, None))
    with Session.open(config) as session:
        preview = preview_day(session, issue_day, readers, out, now=now)
    Console(stderr=True).print(preview_table(preview.plan.day, preview.entries, str(out)))
    for reader, why in preview.suppressed:
        click.echo(f"{reader.email}: {why.status} since {why.since[:10]}; not previewed", err=True)
    for reader, record in preview.already:
        click.echo(
            f"{reader.email}: the issue of {issue_day:%a %d %b} was already {record.status} "
            f"({record.updated_at}); not previewed again",
            err=True,
        )
    if not demo and day is None:
        _next_sends(config, readers, now)
    problems = preview.prepared.problems
    if problems:
        for outcome in problems:
            click.echo(f"source {outcome.status}: {outcome.source}: {outcome.detail}", err=True)
        names = ", ".join(outcome.source for outcome in problems)
        raise click.ClickException(
            f"{plural(len(problems), 'source')} failed or stale ({names}): the preview lacks "
            "their papers"
        )


def _next_sends(config: Config, readers: list[Reader], now: datetime) -> None:
    """When the previewed issues go out: each group's next send, and why not now."""
    from newsletter.agenda import today_and_later, why_not_today

    today, later = today_and_later(readers, now)
    if today:
        verb = "is" if len(today) == 1 else "are"
        click.echo(f"{plural(len(today), 'reader')} {verb} sent an issue today", err=True)
    for line in why_not_today(config, now, later):
        click.echo(line, err=True)


def _serve(
    config: Config, out: Path, port: int, open_browser: bool, build: Callable[[], Config]
) -> None:
    from newsletter.preview import serve_and_watch, start_server

    try:
        server = start_server(out, port)
    except OSError as exc:
        raise click.ClickException(f"cannot serve on 127.0.0.1:{port}: {exc.strerror}") from exc
    url = f"http://127.0.0.1:{server.server_address[1]}/"
    click.echo(f"Serving {out}/ at {url}; rebuilt when the config or a template changes.")
    click.echo("Press Ctrl-C to stop.")
    if open_browser:
        _open(url)
    serve_and_watch(server, config, build)


def _open(url: str) -> None:
    import webbrowser

    if not webbrowser.open(url):
        log.warning("could not start a browser; open %s", url)
