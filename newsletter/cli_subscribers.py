"""`newsletter subscribers`: every reader with whether they are mailed and why not, and the
operator's `--unsubscribe` / `--resubscribe`. Registered on the `newsletter` group by `cli.py`.

The YAML lists who subscribed; the state records who left (a one-click link, a reply, a bounce,
a complaint or the operator) and overrides the YAML until the reader is resubscribed."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from newsletter.cli_options import config_option, load, readers_of

if TYPE_CHECKING:
    from newsletter.config import Config
    from newsletter.models import Reader
    from newsletter.store import Suppression


@click.command()
@config_option
@click.option("--json", "as_json", is_flag=True, help="Print one JSON list of readers.")
@click.option("--unsubscribe", "leave", metavar="EMAIL", multiple=True,
              help="Stop mailing this reader (repeatable); the YAML is left as it is.")  # fmt: skip
@click.option("--resubscribe", "rejoin", metavar="EMAIL", multiple=True,
              help="Mail this reader again (repeatable).")  # fmt: skip
@click.option("--reason", default="asked the operator", show_default=True,
              help="With --unsubscribe: why, as `subscribers` will show it.")  # fmt: skip
def subscribers(
    config_path: Path, as_json: bool, leave: tuple[str, ...], rejoin: tuple[str, ...], reason: str
) -> None:
    """List every reader with their status (active, unsubscribed, bounced, complained), since
    when and why; or change it with --unsubscribe / --resubscribe.

    \b
    Examples:
      newsletter subscribers
      newsletter subscribers --json | jq '.[] | select(.status != "active") | .email'
      newsletter subscribers --unsubscribe ada@example.org --reason "asked by mail"
      newsletter subscribers --resubscribe ada@example.org
    """
    import json

    from newsletter.tables import console, subscribers_table

    config = load(config_path)
    if leave or rejoin:
        leaving = readers_of(config, leave, option="--unsubscribe") if leave else []
        rejoining = readers_of(config, rejoin, option="--resubscribe") if rejoin else []
        _change(config, leaving, rejoining, reason)
        return
    rows = statuses(config)
    if as_json:
        click.echo(json.dumps(subscribers_document(rows), ensure_ascii=False, indent=2))
    else:
        console().print(subscribers_table(rows))


def statuses(config: Config) -> list[tuple[Reader, Suppression | None]]:
    """Every reader of the config in file order, with their suppression if any."""
    from newsletter.session import Session
    from newsletter.store import state_exists

    stopped: dict[str, Suppression] = {}
    if state_exists(config.state):  # a look must not create the state
        with Session.open(config, online=False) as session:
            stopped = session.store.suppressions()
    return [(reader, stopped.get(reader.key)) for reader in config.readers]


def subscribers_document(rows: list[tuple[Reader, Suppression | None]]) -> list[dict[str, object]]:
    """`newsletter subscribers --json`: one object per reader."""
    return [
        {
            "email": reader.email,
            "name": reader.name,
            "status": why.status.value if why else "active",
            "since": why.since if why else None,
            "reason": why.reason if why else None,
            "source": why.source if why else None,
        }
        for reader, why in rows
    ]


def _change(config: Config, leave: list[Reader], rejoin: list[Reader], reason: str) -> None:
    from newsletter.session import Session
    from newsletter.status import ReaderStatus

    if {r.key for r in leave} & {r.key for r in rejoin}:
        raise click.UsageError("the same reader is in --unsubscribe and --resubscribe")
    reason = " ".join(reason.split()) or "asked the operator"
    with Session.open(config, online=False) as session:
        store = session.store
        for reader in leave:
            changed = store.suppress(reader.key, ReaderStatus.UNSUBSCRIBED, reason, "operator")
            if changed:
                click.echo(f"{reader.email}: unsubscribed ({reason})")
            else:
                found = store.suppression(reader.key)
                click.echo(f"{reader.email}: already {found.status if found else 'unsubscribed'}")
        for reader in rejoin:
            changed = store.resubscribe(reader.key)
            click.echo(f"{reader.email}: {'resubscribed' if changed else 'already active'}")
