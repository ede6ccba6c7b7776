"""`newsletter state copy SRC DEST`: move a whole state between SQLite and PostgreSQL.
Registered on the `newsletter` group by `cli.py`."""

from __future__ import annotations

import click

from newsletter.cli_options import Group


@click.group(cls=Group)
def state() -> None:
    """The state database itself (SQLite file or PostgreSQL)."""


@state.command()
@click.argument("source", metavar="SRC")
@click.argument("dest", metavar="DEST")
@click.option("--json", "as_json", is_flag=True, help="Print the rows copied per table as JSON.")
def copy(source: str, dest: str, as_json: bool) -> None:
    """Copy every row of the state SRC into DEST, which must be empty or not exist yet; each
    is an SQLite file or a postgresql:// URL (password in $PGPASSWORD or ~/.pgpass). The copy
    is one transaction, counted table by table on both sides afterwards. Stop `newsletter run`
    and any `send` first. SRC is only read (brought to this release's schema first, as every
    command does).

    \b
    Examples:
      newsletter state copy newsletter.db postgresql://digest@db.example.org/digest
      newsletter state copy postgresql://digest@db.example.org/digest backup.db --json
    """
    import json
    import sys
    from pathlib import Path

    from rich.progress import Progress

    from newsletter.errors import StoreError
    from newsletter.store import StateLocation, Store
    from newsletter.store.copy import TABLES, copy_state

    source_at, dest_at = StateLocation.of(source), StateLocation.of(dest)
    if source_at.path is not None and not source_at.path.exists():
        raise click.ClickException(f"no state at {source_at}: nothing to copy")
    if source_at == dest_at or (
        source_at.path is not None and dest_at.path is not None
        and Path(source_at.path).resolve() == Path(dest_at.path).resolve()
    ):  # fmt: skip
        raise click.ClickException("SRC and DEST are the same state")
    with Store(source_at) as src:
        total = sum(src.count_rows(table) for table in TABLES)
        try:
            with (
                Store(dest_at) as dst,
                Progress(transient=True, disable=not sys.stderr.isatty()) as bar,
            ):
                task = bar.add_task("copying", total=total)
                copied = copy_state(
                    src, dst, lambda table, rows: bar.update(task, advance=rows, description=table)
                )
        except StoreError as exc:
            raise click.ClickException(str(exc)) from None
    if as_json:
        document = {
            "source": str(source_at),
            "dest": str(dest_at),
            "tables": {c.table: c.rows for c in copied},
        }
        click.echo(json.dumps(document, indent=2))
        return
    for c in copied:
        click.echo(f"{c.table:<17} {c.rows:>9}")
    click.echo(f"copied {sum(c.rows for c in copied)} rows from {source_at} to {dest_at}; "
               "the counts match")  # fmt: skip
