"""The parts of the command line that every command shares: the error boundary, the
`--config` and `--date` options, the `--shard` type, the progress bar."""

from __future__ import annotations

import sys
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


class Group(click.Group):
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

    return load_config(config_path)


def issue_date(day: datetime | None) -> date:
    from newsletter.calendar import listing_date

    return day.date() if day else listing_date(datetime.now(UTC))


def readers_of(
    config: Config,
    emails: tuple[str, ...],
    shard: tuple[int, int] | None = None,
    due: bool = False,
) -> list[Reader]:
    from newsletter.audience import UnknownReaders, choose_readers

    try:
        due_at = datetime.now(UTC) if due else None
        return choose_readers(config, emails, shard=shard, due_at=due_at)
    except UnknownReaders as exc:
        raise click.BadParameter(str(exc), param_hint="--subscriber") from exc
