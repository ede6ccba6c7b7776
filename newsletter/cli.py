"""The `newsletter` command: a thin layer that parses arguments, calls the library and maps its
errors to exit codes (0 ok, 1 a user error with one clear line, 2 a usage error).

Heavy modules (pydantic, feedparser, scikit-learn, mjml) are imported inside the commands, so
`newsletter --help` stays fast.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

if TYPE_CHECKING:
    from newsletter.config import Config

F = TypeVar("F", bound=Callable[..., Any])
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
@click.option("-v", "--verbose", count=True, help="More logging (-vv for debug).")
@click.option("-q", "--quiet", is_flag=True, help="Only warnings and errors.")
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
    level = logging.WARNING if quiet else (logging.INFO, logging.DEBUG)[min(max(verbose, debug), 1)]
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


def _not_yet(name: str) -> Callable[..., None]:
    def command(config_path: Path) -> None:
        _load(config_path)
        raise click.ClickException(f"`newsletter {name}` is not available yet in this release")

    return command


for _name, _help in (
    ("fetch", "Fetch the day's papers from every source and show them."),
    ("preview", "Build each subscriber's issue without sending and write a preview site."),
    ("send", "Send the day's issue to every subscriber who has not received it."),
    ("run", "Run the scheduler in the foreground: fetch and send every day."),
):
    cli.command(name=_name, help=_help)(config_option(_not_yet(_name)))


def main() -> None:
    cli(prog_name="newsletter")
