"""The `newsletter` command: a thin layer that parses arguments, calls the library and maps its
errors to exit codes (0 ok, 1 a user error with one clear line, 2 a usage error).

Heavy modules (pydantic, feedparser, NumPy, mjml) are imported inside the commands, so
`newsletter --help` stays fast.
"""

from __future__ import annotations

import logging
from contextlib import ExitStack
from datetime import datetime
from pathlib import Path

import click

from newsletter.checks import plural
from newsletter.cli_inbox import inbox
from newsletter.cli_log import history, status
from newsletter.cli_options import (
    Group,
    Shard,
    aware,
    clock,
    config_option,
    date_option,
    is_quiet,
    issue_date,
    load,
    progress_bar,
    readers_of,
    set_verbosity,
    stop_on_signals,
)
from newsletter.cli_preview import preview
from newsletter.cli_serve import serve
from newsletter.cli_state import state
from newsletter.cli_subscribers import subscribers
from newsletter.delivery.registry import BACKENDS

log = logging.getLogger("newsletter")


@click.group(cls=Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--debug", is_flag=True, help="Show tracebacks and debug logging.")
@click.option("-v", "--verbose", count=True, help="Log progress (-vv: debug).")
@click.option("-q", "--quiet", is_flag=True, help="Only errors: print nothing on success.")
@click.version_option(package_name="paper-digest-mail", prog_name="newsletter")
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
    set_verbosity(ctx, debug=debug, verbose=verbose, quiet=quiet)  # and again after COMMAND


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
    """Check the config file, and what sending with it needs (templates, DKIM key, the SMTP
    password's variable); report every problem as FILE:LINE: key: message.

    \b
    Example:
      newsletter validate -c subscribers.yaml
    """
    from newsletter import preflight
    from newsletter.checks import plural
    from newsletter.errors import ConfigError

    try:
        config = load(config_path)
        preflight.check(config)
    except ConfigError as exc:
        for problem in exc.problems:
            click.echo(str(problem), err=True)
        found = plural(len(exc.problems), "problem")
        raise click.ClickException(f"{found} in {config_path}") from exc
    if is_quiet():
        return  # only errors
    for notice in preflight.notices(config):
        click.echo(f"note: {notice}", err=True)
    readers, sources = len(config.subscribers), len(config.newsletter.sources)
    click.echo(f"OK: {plural(readers, 'subscriber')}, {plural(sources, 'source')}")


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
    from newsletter.session import Session
    from newsletter.tables import console, fetch_tables

    config = load(config_path)
    known = {source.label for source in config.newsletter.sources}
    for name in sources:
        if name not in known:
            raise click.BadParameter(
                f"no source named {name!r}; sources: {', '.join(sorted(known))}"
            )
    with Session.open(config) as session:
        assert session.fetcher is not None
        report = fetch_day(
            config, issue_date(config, day), session.store, session.fetcher, only=sources
        )
    if as_json:
        for paper in report.papers:
            click.echo(paper.model_dump_json())
    fetch_tables(report, console(quiet=as_json), console(stderr=as_json))
    if report.problems:
        names = ", ".join(outcome.source for outcome in report.problems)
        failed = plural(len(report.problems), "source")
        raise click.ClickException(f"{failed} failed or stale: {names}")


@cli.command()
@config_option
@date_option
@click.option(
    "--subscriber", "emails", multiple=True, metavar="EMAIL", help="Only this subscriber."
)
@click.option("--dry-run", is_flag=True, help="Build every message, send none, record nothing.")
@click.option(
    "--backend",
    type=click.Choice(BACKENDS),
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
    "--resend-new-target",
    is_flag=True,
    help="Also send issues that went to another target before (e.g. to outbox/ in a trial "
    "run, before an smtp block was added).",
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
    type=Shard(),
    default=None,
    help="Only the K-th of N fixed shares of the subscribers (split by address), e.g. to send "
    "from N machines sharing one state database.",
)
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    default=None,
    help="Processes building and sending (each with one SMTP connection). Default: one per "
    "CPU core, up to 4, from 200 subscribers on.",
)
def send(
    config_path: Path,
    day: datetime | None,
    emails: tuple[str, ...],
    dry_run: bool,
    backend: str | None,
    resend_in_doubt: bool,
    resend_new_target: bool,
    due: bool,
    shard: tuple[int, int] | None,
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
    from newsletter import preflight
    from newsletter.agenda import for_send
    from newsletter.pipeline import run_once
    from newsletter.sending import SendOptions
    from newsletter.session import Session

    config = load(config_path)
    preflight.check(config, backend=backend, connects=not dry_run)
    now = clock()
    chosen = readers_of(config, emails, shard)
    agenda = for_send(config, chosen, now, day=day.date() if day else None, due=due)
    for line in [] if is_quiet() else agenda.why:
        click.echo(line)
    if not agenda.readers:
        return  # nothing is due: nothing is read, nothing is sent
    options = SendOptions(
        dry_run=dry_run, resend_in_doubt=resend_in_doubt, resend_new_target=resend_new_target,
        workers=workers,
    )  # fmt: skip
    with (
        Session.open(config, backend=backend) as session,
        stop_on_signals() as stop,
        progress_bar(len(agenda.readers)) as advance,
    ):
        report = run_once(session, agenda.day, agenda.readers, options, now=now,
                          progress=advance, stop=stop)  # fmt: skip
    if not is_quiet():
        click.echo(report.summary(dry_run))
    for line in report.problems():
        click.echo(f"  {line}", err=True)
    if not report.ok:
        raise click.ClickException("some issues were not delivered, or a source failed; see above")


@cli.command()
@config_option
@click.option("--backend", type=click.Choice(BACKENDS), default=None,
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
    an SQLite state at a time; on a PostgreSQL state, one `run` leads and the others (on other
    hosts) stand by, taking over within a minute when it dies. With `newsletter.web.listen`,
    the readers' web app (see `serve`) runs beside the scheduler, on a standby too.

    \b
    Examples:
      newsletter run -c /etc/paper-digest/subscribers.yaml
      newsletter status      # what it will do next
    """
    import signal

    from newsletter.schedule import Operator
    from newsletter.schedule import run as run_scheduler
    from newsletter.standby import leading

    if logging.getLogger().level > logging.INFO and not ctx.find_root().params.get("quiet"):
        logging.getLogger().setLevel(logging.INFO)  # a daemon's log is its report
    if logging.getLogger().level > logging.DEBUG:
        logging.getLogger("apscheduler").setLevel(logging.WARNING)  # its own log at -vv
    at = aware(first_send_at) if first_send_at else None
    config = load(config_path)
    operator = Operator(config_path, backend=backend, config=config)

    def stop(signum: int, frame: object) -> None:
        log.info("%s received", signal.Signals(signum).name)
        operator.stop.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    readers = plural(len(operator.config.subscribers), "subscriber")
    with ExitStack() as stack:
        listen = config.newsletter.web.listen
        if listen:  # a standby serves readers too
            from newsletter.web import start_in_thread

            stack.callback(start_in_thread(config, listen).stop)
        if not stack.enter_context(leading(config.state, operator.stop)):
            log.info("stopped while standing by")
            return
        log.info("scheduler started for %s (%s)", config_path, readers)
        run_scheduler(operator, first_send_at=at)


cli.add_command(preview)
cli.add_command(history)
cli.add_command(status)
cli.add_command(subscribers)
cli.add_command(serve)
cli.add_command(inbox)
cli.add_command(state)


def main() -> None:
    cli(prog_name="newsletter")
