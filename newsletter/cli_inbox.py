"""`newsletter inbox`: read the bounce mailbox once (bounces, complaint reports, unsubscribes
by mail) and apply it to the state (`newsletter.inbound.process.run_inbox`; `inbox_job` there
is the same for `newsletter run`). Registered on the `newsletter` group by `cli.py`."""

from __future__ import annotations

from pathlib import Path

import click

from newsletter.cli_options import clock, config_option, is_quiet, load


@click.command()
@config_option
@click.option("--json", "as_json", is_flag=True, help="Print the report as one JSON document.")
@click.option("--dry-run", is_flag=True,
              help="Only classify: no state changed, no message moved or marked.")  # fmt: skip
@click.option("--recheck", is_flag=True,
              help="Also read what earlier runs left alone (after a config change).")  # fmt: skip
def inbox(config_path: Path, as_json: bool, dry_run: bool, recheck: bool) -> None:
    """Read the IMAP mailbox of `newsletter.inbox` once: hard bounces count toward
    `bounces.after` (then the reader is no longer mailed), complaint reports and unsubscribes
    by mail stop the reader at once. Handled messages move to `done_folder`; anything else
    stays where it is. Nothing is ever sent back. The password is read from the variable
    named by `inbox.password_env`, the tokens are checked with $NEWSLETTER_SECRET.

    \b
    Examples:
      newsletter inbox
      newsletter inbox --dry-run -v
      newsletter inbox --json | jq .suppressed
      */15 * * * *  newsletter -q inbox -c /srv/digest/subscribers.yaml   (crontab)
    """
    import json

    from newsletter.inbound.process import run_inbox

    report = run_inbox(load(config_path), clock(), dry_run=dry_run, recheck=recheck)
    if as_json:
        click.echo(json.dumps(report.document(), ensure_ascii=False, indent=2))
        return
    if not is_quiet():
        click.echo(report.summary())
        for reader in report.suppressed:
            click.echo(f"  {reader.email}: {reader.status} ({reader.reason})")
