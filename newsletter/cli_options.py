"""The parts of the command line that every command shares: the error boundary, `-v`, `-q` and
`--debug` (before or after the command's name), the `--config` and `--date` options, the
`--shard` type, the progress bar."""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

if TYPE_CHECKING:
    from newsletter.config import Config
    from newsletter.models import Reader

F = TypeVar("F", bound=Callable[..., Any])


_VERBOSITY = "newsletter.verbosity"  # ctx.meta: {"debug", "verbose", "quiet"} of the whole line
_LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class Group(click.Group):
    """Turns library errors into one line on stderr and exit status 1, and gives every command
    the group's `-v`, `-q` and `--debug`: `newsletter send -q` is `newsletter -q send`."""

    def add_command(self, cmd: click.Command, name: str | None = None) -> None:
        taken = {opt for param in cmd.params for opt in getattr(param, "opts", ())}
        cmd.params += [option for option in verbosity_options() if not taken & set(option.opts)]
        super().add_command(cmd, name)

    def invoke(self, ctx: click.Context) -> Any:
        from newsletter.errors import NewsletterError

        try:
            return super().invoke(ctx)
        except NewsletterError as exc:
            if ctx.meta.get("debug"):
                raise
            raise click.ClickException(str(exc)) from None


def verbosity_options() -> list[click.Option]:
    """`--debug`, `-v/--verbose` and `-q/--quiet` for a command, adding to the group's."""
    return [
        click.Option(["--debug"], is_flag=True, expose_value=False, callback=_flag,
                     help="Show tracebacks and debug logging."),
        click.Option(["-v", "--verbose"], count=True, expose_value=False, callback=_flag,
                     help="Log progress (-vv: debug)."),
        click.Option(["-q", "--quiet"], is_flag=True, expose_value=False, callback=_flag,
                     help="Only errors: print nothing on success."),
    ]  # fmt: skip


def _flag(ctx: click.Context, param: click.Parameter, value: Any) -> None:
    if value:  # given after the command's name
        set_verbosity(ctx, **{str(param.name): value})


def set_verbosity(
    ctx: click.Context, *, debug: bool = False, verbose: int = 0, quiet: bool = False
) -> None:
    """Add flags to what the command line asked for so far, and log at the level they make:
    errors only with -q, else warnings, -v progress, -vv or --debug everything."""
    first = _VERBOSITY not in ctx.meta
    state = ctx.meta.setdefault(_VERBOSITY, {"debug": False, "verbose": 0, "quiet": False})
    state["debug"] = state["debug"] or debug
    state["verbose"] += verbose
    state["quiet"] = state["quiet"] or quiet
    ctx.meta["debug"] = state["debug"]  # the error boundary's: show the traceback
    ctx.find_root().params.update(state)
    levels = (logging.WARNING, logging.INFO, logging.DEBUG)
    louder = min(max(state["verbose"], 2 * state["debug"]), 2)
    level = logging.ERROR if state["quiet"] else levels[louder]
    if first:
        logging.basicConfig(level=level, stream=sys.stderr, format=_LOG_FORMAT)
    else:
        logging.getLogger().setLevel(level)


def is_quiet() -> bool:
    """Whether -q was given, before or after the command's name: print nothing on success."""
    ctx = click.get_current_context(silent=True)
    return bool(ctx and ctx.meta.get(_VERBOSITY, {}).get("quiet"))


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


def date_filter_option(func: F) -> F:
    """`--date` of the commands that look back (history): a filter, every date by default."""
    return click.option(
        "--date",
        "day",
        type=click.DateTime(formats=["%Y-%m-%d"]),
        default=None,
        help="Only this issue date (YYYY-MM-DD). Default: every date.",
    )(func)


def date_option(func: F) -> F:
    return click.option(
        "--date",
        "day",
        type=click.DateTime(formats=["%Y-%m-%d"]),
        default=None,
        help="The issue date (YYYY-MM-DD). Default: the date of the newest arXiv listing.",
    )(func)


class Shard(click.ParamType):  # type: ignore[type-arg]
    name = "K/N"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, tuple):
            return value
        number, _, count = str(value).partition("/")
        if not (number.isdigit() and count.isdigit() and 1 <= int(number) <= int(count)):
            self.fail(f"{value!r} is not K/N with 1 <= K <= N", param, ctx)
        return int(number), int(count)


@contextmanager
def progress_bar(total: int) -> Iterator[Callable[[str], None]]:
    """A progress bar on a terminal (none in cron). It draws only when advanced, from no thread
    of its own: worker processes may be forked from this one."""
    from rich.progress import Progress

    with Progress(transient=True, auto_refresh=False, disable=not sys.stderr.isatty()) as bar:
        task = bar.add_task("sending", total=total)
        yield lambda email: bar.update(task, advance=1, description=email, refresh=True)


def aware(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise click.BadParameter(f"not an ISO date and time: {text!r}") from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def load(config_path: Path) -> Config:
    from newsletter.config import load_config
    from newsletter.errors import ConfigError, Problem

    try:
        return load_config(config_path)
    except ConfigError as exc:
        if config_path.exists() or config_path.is_symlink():
            raise
        problem = Problem(str(config_path), None, "", _not_found(config_path))
        raise ConfigError([problem]) from exc


def _not_found(config_path: Path) -> str:
    """Where the config was looked for, and how to make one or name another."""
    import shlex

    ctx = click.get_current_context(silent=True)
    source = ctx.get_parameter_source("config_path") if ctx else None
    if source == click.core.ParameterSource.DEFAULT:
        return (
            f"file not found in {Path.cwd()}: create one with `newsletter init`, or name it "
            "with -c/--config or $NEWSLETTER_CONFIG"
        )
    from_env = source == click.core.ParameterSource.ENVIRONMENT
    named = " (named by $NEWSLETTER_CONFIG)" if from_env else ""
    init = f"newsletter init {shlex.quote(str(config_path))}"
    return f"file not found{named}: create it with `{init}`"


def clock() -> datetime:
    """Now, in UTC. `$NEWSLETTER_NOW` (an ISO time) sets it, to try a command on another day
    (what does `send` do on a Saturday?) and for tests; it is never needed in operation."""
    import os

    fixed = os.environ.get("NEWSLETTER_NOW")
    return aware(fixed) if fixed else datetime.now(UTC)


def issue_date(config: Config, day: datetime | None) -> date:
    """`--date`, else the issue a run now sends (`agenda.issue_date`)."""
    from newsletter.agenda import issue_date as due_issue

    return day.date() if day else due_issue(config, clock())


def readers_of(
    config: Config,
    emails: tuple[str, ...],
    shard: tuple[int, int] | None = None,
    option: str = "--subscriber",
) -> list[Reader]:
    """The readers named by `option` (all without `emails`), in shard K of N."""
    from newsletter.audience import UnknownReaders, choose_readers

    try:
        return choose_readers(config, emails, shard=shard)
    except UnknownReaders as exc:
        raise click.BadParameter(str(exc), param_hint=option) from exc


@contextmanager
def stop_on_signals() -> Iterator[threading.Event]:
    """SIGINT (Ctrl-C) and SIGTERM set the event instead of interrupting: the message in flight
    is finished, the rest are left for the next run, and the summary is printed."""
    import logging
    import signal

    stop = threading.Event()

    def asked(signum: int, frame: object) -> None:
        logging.getLogger("newsletter").warning(
            "%s: finishing the message in flight, then stopping", signal.Signals(signum).name
        )
        stop.set()

    previous = {sig: signal.signal(sig, asked) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield stop
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
