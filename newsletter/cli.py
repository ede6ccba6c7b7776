"""The `newsletter` command: a thin layer that parses arguments, calls the library and maps its
errors to exit codes (0 ok, 1 a user error with one clear line, 2 a usage error).

Heavy modules (pydantic, feedparser, scikit-learn, mjml) are imported inside the commands, so
`newsletter --help` stays fast.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

if TYPE_CHECKING:
    from newsletter.config import Config, Subscriber
    from newsletter.fetching import FetchReport

F = TypeVar("F", bound=Callable[..., Any])
PARALLEL_FROM = 200  # subscribers from which `send` uses several processes by default
BACKEND_NAMES = ["smtp", "file", "console", "memory"]  # delivery.base.BACKENDS, kept light here
log = logging.getLogger("newsletter")


class _Group(click.Group):
    """Turns library errors into one line on stderr and exit status 1."""

    def invoke(self, ctx: click.Context) -> Any:
        from newsletter.errors import NewsletterError

        try:
            return super().invoke(ctx)
        except NewsletterError as exc:
            if ctx.meta.get("debug"):
                raise
            raise click.ClickException(str(exc)) from None


def config_option(func: F) -> F:
    return click.option(
        "-c",
        "--config",
        "config_path",
        type=click.Path(dir_okay=False, path_type=Path),
        default="subscribers.yaml",
        envvar="NEWSLETTER_CONFIG",
        show_default=True,
        show_envvar=True,
        help="The config file.",
    )(func)


def _load(config_path: Path) -> Config:
    from newsletter.config import load_config

    return load_config(config_path)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--debug", is_flag=True, help="Show tracebacks and debug logging.")
@click.option("-v", "--verbose", count=True, help="Log progress (-vv: debug).")
@click.option("-q", "--quiet", is_flag=True, help="Only errors.")
@click.version_option(package_name="paper-digest", prog_name="newsletter")
@click.pass_context
def cli(ctx: click.Context, debug: bool, verbose: int, quiet: bool) -> None:
    """A daily research-paper digest: the day's arXiv, Hugging Face and feed papers,
    ranked for each reader, sent as one email a day.

    \b
    Start with:
      newsletter init             write a commented subscribers.yaml
      newsletter validate         check it
      newsletter preview --demo   build a sample issue from bundled papers, offline
    """
    ctx.meta["debug"] = debug
    levels = (logging.WARNING, logging.INFO, logging.DEBUG)
    level = logging.ERROR if quiet else levels[min(max(verbose, 2 * debug), 2)]
    logging.basicConfig(
        level=level, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )


@cli.command()
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path), default="subscribers.yaml")
@click.option("--force", is_flag=True, help="Overwrite an existing file.")
def init(path: Path, force: bool) -> None:
    """Write a commented starter config to PATH (default: ./subscribers.yaml).

    \b
    Example:
      newsletter init ~/digest/subscribers.yaml && newsletter validate -c ~/digest/subscribers.yaml
    """
    from importlib.resources import files

    if path.exists() and not force:
        raise click.ClickException(f"{path} already exists; use --force to overwrite it")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(files("newsletter.data").joinpath("starter.yaml").read_text("utf-8"), "utf-8")
    click.echo(f"Wrote {path}. Edit it, then run: newsletter validate -c {path}")


@cli.command()
@config_option
def validate(config_path: Path) -> None:
    """Check the config file and report every problem as FILE:LINE: key: message.

    \b
    Example:
      newsletter validate -c subscribers.yaml
    """
    from newsletter.errors import ConfigError

    try:
        config = _load(config_path)
    except ConfigError as exc:
        for problem in exc.problems:
            click.echo(str(problem), err=True)
        count = len(exc.problems)
        raise click.ClickException(
            f"{count} problem{'s' * (count != 1)} in {config_path}"
        ) from None
    sources = len(config.newsletter.sources)
    click.echo(f"OK: {len(config.subscribers)} subscribers, {sources} sources")


def date_option(func: F) -> F:
    return click.option(
        "--date",
        "day",
        type=click.DateTime(formats=["%Y-%m-%d"]),
        default=None,
        help="The issue date (YYYY-MM-DD). Default: the date of the newest arXiv listing.",
    )(func)


def _issue_date(day: datetime | None) -> date:
    from newsletter.calendar import listing_date

    return day.date() if day else listing_date(datetime.now(UTC))


@cli.command()
@config_option
@date_option
@click.option(
    "--source", "sources", multiple=True, metavar="NAME", help="Only this source (repeatable)."
)
@click.option("--json", "as_json", is_flag=True, help="Print the papers as JSON lines.")
def fetch(config_path: Path, day: datetime | None, sources: tuple[str, ...], as_json: bool) -> None:
    """Fetch the day's papers from every source, store them and show them.

    One failing source never stops the others; the exit status is 1 when any source failed or
    served a stale listing.

    \b
    Examples:
      newsletter fetch
      newsletter fetch --date 2026-07-27 --source huggingface --json > papers.jsonl
    """
    from newsletter.fetching import fetch_day
    from newsletter.sources.http import Fetcher, make_client
    from newsletter.store import Store

    config = _load(config_path)
    known = {source.label for source in config.newsletter.sources}
    for name in sources:
        if name not in known:
            raise click.BadParameter(
                f"no source named {name!r}; sources: {', '.join(sorted(known))}"
            )
    with Store(config.state_path) as store, make_client(config.newsletter.contact) as client:
        report = fetch_day(config, _issue_date(day), store, Fetcher(client, store), only=sources)
    _show_fetch(report, as_json)
    if report.problems:
        names = ", ".join(outcome.source for outcome in report.problems)
        raise click.ClickException(f"{len(report.problems)} source(s) failed or stale: {names}")


def _show_fetch(report: FetchReport, as_json: bool) -> None:
    from rich.console import Console
    from rich.table import Table

    if as_json:
        for paper in report.papers:
            click.echo(paper.model_dump_json())
    else:
        table = Table("id", "category", "type", "title", title=f"Papers for {report.day}")
        for paper in report.papers:
            kind = paper.announce_type.value if paper.announce_type else ""
            table.add_row(paper.id, paper.primary_category or "", kind, paper.title)
        Console(soft_wrap=False).print(table)
    summary = Table("source", "status", "papers", "detail", title="Sources")
    for outcome in report.outcomes:
        summary.add_row(
            outcome.source, outcome.status.value, str(len(outcome.papers)), outcome.detail
        )
    Console(stderr=as_json).print(summary)


def _shard(text: str | None) -> tuple[int, int] | None:
    if text is None:
        return None
    number, _, count = text.partition("/")
    if not (number.isdigit() and count.isdigit() and 1 <= int(number) <= int(count)):
        raise click.BadParameter(f"{text!r} is not K/N with 1 <= K <= N", param_hint="--shard")
    return int(number), int(count)


def _subscribers(config: Config, emails: tuple[str, ...]) -> list[Subscriber]:
    if not emails:
        return list(config.subscribers)
    wanted = {email.strip().lower() for email in emails}
    chosen = [s for s in config.subscribers if s.email.lower() in wanted]
    unknown = wanted - {s.email.lower() for s in chosen}
    if unknown:
        raise click.BadParameter(
            f"not a subscriber: {', '.join(sorted(unknown))}", param_hint="--subscriber"
        )
    return chosen


@cli.command()
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
@click.option("--port", type=click.IntRange(0, 65535), default=8025, show_default=True,
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
      newsletter preview --serve --open            # http://127.0.0.1:8025, rebuilt on edits
    """
    import tempfile

    with tempfile.TemporaryDirectory(prefix="newsletter-demo-") as scratch:

        def build() -> Config:
            config = _preview_config(config_path, demo, Path(scratch) / "demo.db")
            issue_day = day.date() if day else None
            _build_preview(config, issue_day, emails, out, demo)
            return config

        config = build()
        index = (out / "index.html").resolve()
        if not serve:
            if open_browser:
                _open(index.as_uri())
            click.echo(f"Open {index}")
            return
        _serve(config, out, port, open_browser, build)


def _preview_config(config_path: Path, demo: bool, state: Path) -> Config:
    if not demo:
        return _load(config_path)
    from newsletter.demo import demo_config

    return demo_config(state)


def _build_preview(
    config: Config, day: date | None, emails: tuple[str, ...], out: Path, demo: bool
) -> None:
    from rich.console import Console
    from rich.table import Table

    from newsletter.compose import Composer
    from newsletter.demo import DEMO_DAY
    from newsletter.pipeline import select_day
    from newsletter.preview import eml_writer, write_preview
    from newsletter.sources.http import Fetcher, make_client
    from newsletter.store import Store

    chosen = _subscribers(config, emails)
    issue_day = day or (DEMO_DAY if demo else _issue_date(None))
    with Store(config.state_path) as store, make_client(config.newsletter.contact) as client:
        plan = select_day(config, issue_day, store, Fetcher(client, store), chosen)
    composer = Composer.of(config)
    now = datetime.now(UTC)
    entries = write_preview(
        config, plan.selections, out, composer.renderer, extra=eml_writer(composer, now)
    )
    title = f"Preview of {plan.day} in {out}/"
    table = Table("subscriber", "papers", "HTML", "subject", title=title)
    for entry in entries:
        table.add_row(
            entry.email, str(entry.papers), f"{entry.html_bytes / 1000:.1f} kB", entry.subject
        )
    Console(stderr=True).print(table)


def _serve(
    config: Config, out: Path, port: int, open_browser: bool, build: Callable[[], Config]
) -> None:
    import threading

    from newsletter.preview import start_server, watch

    try:
        server = start_server(out, port)
    except OSError as exc:
        raise click.ClickException(f"cannot serve on 127.0.0.1:{port}: {exc.strerror}") from None
    url = f"http://127.0.0.1:{server.server_address[1]}/"
    click.echo(f"Serving {out}/ at {url}; rebuilt when the config or a template changes.")
    click.echo("Press Ctrl-C to stop.")
    if open_browser:
        _open(url)

    def watched() -> list[Path]:
        folder = config.templates_dir
        templates = sorted(folder.glob("*.j2")) if folder.is_dir() else []
        return [config.path, *templates]

    def rebuild() -> None:
        build()
        log.warning("preview rebuilt")

    stop = threading.Event()
    try:
        watch(watched, rebuild, stop)
    except KeyboardInterrupt:
        pass
    finally:
        stop.set()
        server.shutdown()


def _open(url: str) -> None:
    import webbrowser

    if not webbrowser.open(url):
        log.warning("could not start a browser; open %s", url)


@cli.command()
@config_option
@date_option
@click.option(
    "--subscriber", "emails", multiple=True, metavar="EMAIL", help="Only this subscriber."
)
@click.option("--dry-run", is_flag=True, help="Build every message, send none, record nothing.")
@click.option(
    "--backend",
    type=click.Choice(BACKEND_NAMES),
    default=None,
    help="Where messages go. Default: smtp with an smtp block in the config, else file "
    "(.eml files in outbox/ next to the config).",
)
@click.option(
    "--resend-in-doubt",
    is_flag=True,
    help="Also send issues whose last attempt broke off before the server's reply "
    "(the reader may get that issue twice).",
)
@click.option(
    "--due",
    is_flag=True,
    help="Only subscribers whose send time (their timezone, send_time and days) came in the "
    "last 6 hours: run it every 15 minutes from cron and each reader gets the issue at their "
    "own morning.",
)
@click.option(
    "--shard",
    metavar="K/N",
    default=None,
    help="Only the K-th of N fixed shares of the subscribers (split by address), e.g. to send "
    "from N machines sharing one state database.",
)
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    default=None,
    help="Processes building and sending (each with one SMTP connection). Default: one per "
    f"CPU core, up to 4, from {PARALLEL_FROM} subscribers on.",
)
def send(
    config_path: Path,
    day: datetime | None,
    emails: tuple[str, ...],
    dry_run: bool,
    backend: str | None,
    resend_in_doubt: bool,
    due: bool,
    shard: str | None,
    workers: int | None,
) -> None:
    """Send the day's issue to every subscriber who has not received it.

    Never twice: an issue already sent, or being sent by another run, is skipped; one whose
    sending broke off after the message went out is left in doubt (see --resend-in-doubt).
    Temporary failures are retried with backoff, then deferred to the next run; the exit status
    is 1 when any issue failed, was deferred or is in doubt.

    \b
    Examples:
      newsletter send --dry-run
      newsletter send --date 2026-07-27 --subscriber ada@example.org
      newsletter send --due              # from cron, every 15 minutes
    """
    import os

    from rich.progress import Progress

    from newsletter.delivery import backend_for
    from newsletter.pipeline import alert_operator, in_shard, send_day, send_parallel
    from newsletter.sources.http import Fetcher, make_client
    from newsletter.store import Store

    config = _load(config_path)
    part = _shard(shard)
    chosen = [s for s in _subscribers(config, emails) if in_shard(s, part)]
    if due:
        from newsletter.schedule import due_groups, group_of

        keys = set(due_groups(config, datetime.now(UTC)))
        chosen = [s for s in chosen if group_of(s).key in keys]
    delivery = backend_for(config, backend)
    if workers is None:
        many = len(chosen) >= PARALLEL_FROM and delivery.name not in ("memory", "console")
        workers = min(os.cpu_count() or 1, 4) if many else 1
    # no refresh thread: the workers are forked from this process
    progress = Progress(transient=True, auto_refresh=False, disable=not sys.stderr.isatty())
    with (
        Store(config.state_path) as store,
        make_client(config.newsletter.contact) as client,
        progress as bar,
    ):
        task = bar.add_task("sending", total=len(chosen))

        def advance(email: str) -> None:
            bar.update(task, advance=1, description=email, refresh=True)

        fetcher = Fetcher(client, store)
        issue_day = _issue_date(day)
        if workers > 1:
            report = send_parallel(
                config, issue_day, store, fetcher, backend, workers, subscribers=chosen,
                dry_run=dry_run, resend_in_doubt=resend_in_doubt, progress=advance,
            )  # fmt: skip
        else:
            report = send_day(
                config, issue_day, store, fetcher, delivery, subscribers=chosen,
                dry_run=dry_run, resend_in_doubt=resend_in_doubt, progress=advance,
            )  # fmt: skip
        if not dry_run and report.sources:
            alert_operator(config, report, store, backend_for(config, backend), datetime.now(UTC))
    lines = [
        ("would send" if dry_run else "sent", len(report.would_send if dry_run else report.sent)),
        ("skipped, already sent", len(report.already)),
        ("no matching papers", len(report.no_papers)),
        ("deferred", len(report.deferred)),
        ("failed", len(report.failed)),
        ("in doubt", len(report.in_doubt)),
    ]
    click.echo(f"{report.day}: " + ", ".join(f"{label} {count}" for label, count in lines))
    for label, rows in (("deferred", report.deferred), ("failed", report.failed),
                        ("in doubt", report.in_doubt)):  # fmt: skip
        for email, detail in rows:
            click.echo(f"  {label}: {email}: {detail}", err=True)
    for outcome in report.sources:
        click.echo(
            f"  source {outcome.status}: {outcome.source}, {outcome.day}: {outcome.detail}",
            err=True,
        )
    if not report.ok:
        raise click.ClickException("some issues were not delivered, or a source failed; see above")


@cli.command()
@config_option
@date_option
def history(config_path: Path, day: datetime | None) -> None:
    """Show the delivery log: who got which issue, and what the server answered."""
    from rich.console import Console
    from rich.table import Table

    from newsletter.store import Store

    config = _load(config_path)
    with Store(config.state_path) as store:
        records = store.deliveries(day.date() if day else None)
    table = Table("date", "subscriber", "status", "attempts", "message id", "detail")
    for r in records:
        table.add_row(
            str(r.day), r.subscriber, r.status, str(r.attempts), r.message_id or "", r.detail
        )
    Console().print(table)


@cli.command()
@config_option
@click.option("--backend", type=click.Choice(BACKEND_NAMES), default=None,
              help="Deliver with this backend instead of the config's.")  # fmt: skip
@click.option("--first-send-at", hidden=True, default=None,
              help="Also send every group once at this ISO time (for tests).")  # fmt: skip
@click.pass_context
def run(
    ctx: click.Context, config_path: Path, backend: str | None, first_send_at: str | None
) -> None:
    """Run the scheduler in the foreground: fetch after each arXiv announcement and send every
    group of subscribers at their local send time, every day, until stopped.

    Logs to stderr. SIGTERM or Ctrl-C finishes the message in flight and exits 0. The config
    file is reloaded when it changes (an invalid edit is logged and ignored). A send that fell
    due in the last 6 hours (a restart, a crash) is caught up on start. Only one `run` may use
    a state database at a time.

    \b
    Examples:
      newsletter run -c /etc/paper-digest/subscribers.yaml
      newsletter status      # what it will do next
    """
    import signal

    from newsletter.schedule import Operator, single_instance
    from newsletter.schedule import run as run_scheduler

    if logging.getLogger().level > logging.INFO and not ctx.find_root().params.get("quiet"):
        logging.getLogger().setLevel(logging.INFO)  # a daemon's log is its report
    if logging.getLogger().level > logging.DEBUG:
        logging.getLogger("apscheduler").setLevel(logging.WARNING)  # its own log at -vv
    at = _aware(first_send_at) if first_send_at else None
    config = _load(config_path)
    with single_instance(config.state_path):
        operator = Operator(config_path, backend=backend, config=config)

        def stop(signum: int, frame: object) -> None:
            log.info("%s received", signal.Signals(signum).name)
            operator.stop.set()

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        log.info("scheduler started for %s (%d subscribers)", config_path,
                 len(operator.config.subscribers))  # fmt: skip
        run_scheduler(operator, first_send_at=at)


def _aware(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise click.BadParameter(f"not an ISO date and time: {text!r}") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@cli.command()
@config_option
def status(config_path: Path) -> None:
    """Show the next scheduled sends (local and UTC time), the last fetch of every source and
    the delivery counts of the latest issue dates."""
    from datetime import timedelta

    from rich.console import Console
    from rich.table import Table

    from newsletter.calendar import listing_date
    from newsletter.schedule import next_sends
    from newsletter.store import Store

    config = _load(config_path)
    now = datetime.now(UTC)
    console = Console()
    sends = Table("group", "subscribers", "next send (local)", "next send (UTC)",
                  title="Scheduled sends")  # fmt: skip
    for group, members, fire in sorted(next_sends(config, now), key=lambda row: str(row[2])):
        local = f"{fire:%a %Y-%m-%d %H:%M %Z}" if fire else "never"
        utc = f"{fire.astimezone(UTC):%a %Y-%m-%d %H:%M}" if fire else ""
        sends.add_row(group.label, str(members), local, utc)
    console.print(sends)
    today = listing_date(now)
    if not config.state_path.exists():  # a look must not create the state
        console.print(f"No state yet at {config.state_path}: nothing fetched or sent.")
        return
    with Store(config.state_path) as store:
        fetches = Table("source", "issue date", "status", "papers", "when (UTC)", "detail",
                        title="Last fetch of each source")  # fmt: skip
        for record in store.last_fetches():
            fetches.add_row(record.source, str(record.day), record.status, str(record.papers),
                            record.fetched_at, record.detail)  # fmt: skip
        console.print(fetches)
        counts = Table("issue date", "sent", "failed", "deferred", "in doubt", "sending",
                       title="Deliveries")  # fmt: skip
        for day in (today - timedelta(days=1), today):
            found = store.delivery_counts(day)
            counts.add_row(str(day), *(str(found.get(status, 0)) for status in
                           ("sent", "failed", "deferred", "in_doubt", "sending")))  # fmt: skip
        console.print(counts)


def main() -> None:
    cli(prog_name="newsletter")
