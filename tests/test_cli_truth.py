"""What the command line says is what happened, in full: flags wherever they are written, `-q`
quiet, tables never cut when piped, `--json` for scripts, help that states the real defaults,
counts in words that agree with them; and the preview and HTTP details behind them."""

from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import sys
from collections.abc import Callable
from datetime import date
from pathlib import Path

import click
import httpx
import pytest
from click.testing import CliRunner

from newsletter.checks import plural
from newsletter.cli_options import Group, is_quiet
from newsletter.errors import FetchError
from newsletter.status import DeliveryStatus
from newsletter.store import Store
from tests.conftest import MINIMAL
from tests.sending import demo_config, send_command

LONG = "reader0@laboratory-for-very-long-department-names.example.org"


def newsletter(*args: str, columns: int = 80) -> subprocess.CompletedProcess[str]:
    """A real process whose stdout is a pipe, as in `newsletter history | grep ...`."""
    return subprocess.run(
        [sys.executable, "-m", "newsletter", *args],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": str(columns)},
        timeout=120,
    )


# --- -v, -q and --debug before or after the command -----------------------------------------


def probe_group() -> click.Group:
    @click.group(cls=Group)
    @click.option("--debug", is_flag=True)
    @click.option("-v", "--verbose", count=True)
    @click.option("-q", "--quiet", is_flag=True)
    @click.pass_context
    def group(ctx: click.Context, debug: bool, verbose: int, quiet: bool) -> None:
        from newsletter.cli_options import set_verbosity

        set_verbosity(ctx, debug=debug, verbose=verbose, quiet=quiet)

    @group.command()
    @click.pass_context
    def probe(ctx: click.Context) -> None:
        level = logging.getLevelName(logging.getLogger().level)
        click.echo(f"quiet={is_quiet()} debug={ctx.meta['debug']} level={level}")

    return group


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["probe"], "quiet=False debug=False level=WARNING"),
        (["-q", "probe"], "quiet=True debug=False level=ERROR"),
        (["probe", "-q"], "quiet=True debug=False level=ERROR"),
        (["probe", "--quiet"], "quiet=True debug=False level=ERROR"),
        (["probe", "-v"], "quiet=False debug=False level=INFO"),
        (["-v", "probe", "-v"], "quiet=False debug=False level=DEBUG"),
        (["probe", "--debug"], "quiet=False debug=True level=DEBUG"),
    ],
)
def test_verbosity_flags_count_before_and_after_the_command(args: list[str], expected: str) -> None:
    root = logging.getLogger()
    level, handlers = root.level, root.handlers[:]
    try:
        root.handlers = []  # as in a fresh process: the first flags configure logging
        result = CliRunner().invoke(probe_group(), args)
    finally:
        root.handlers, root.level = handlers, level
    assert result.exit_code == 0, result.output
    assert result.output.strip() == expected


def test_every_command_takes_the_flags_after_its_name() -> None:
    from newsletter.cli import cli

    for name, command in cli.commands.items():
        options = {opt for param in command.params for opt in getattr(param, "opts", ())}
        assert {"-q", "--quiet", "-v", "--verbose", "--debug"} <= options, name


def test_debug_after_the_command_shows_the_traceback(tmp_path: Path) -> None:
    result = newsletter("fetch", "-c", str(tmp_path / "missing.yaml"), "--debug")
    assert result.returncode == 1
    assert "Traceback" in result.stderr


def test_a_quiet_send_prints_nothing(tmp_path: Path) -> None:
    path = demo_config(tmp_path, None)
    command = [*send_command(path, "--backend", "file"), "-q"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert (result.stdout, result.stderr) == ("", "")
    assert len(list((tmp_path / "outbox" / "new").iterdir())) == 3  # and it did send


# --- history and status: whole when piped, JSON for scripts, the dates actually sent ---------


@pytest.fixture
def sent_state(write_config: Callable[[str], Path]) -> Path:
    """A config whose state has deliveries on two old issue dates, one to a long address."""
    path = write_config(MINIMAL)
    with Store(path.parent / "newsletter.db") as store:
        rows = [
            (LONG, date(2026, 1, 5), DeliveryStatus.SENT, "250 2.0.0 [queued as 4Xyz] :mail:"),
            ("ada@example.org", date(2026, 1, 5), DeliveryStatus.FAILED, "550 5.1.1 no such user"),
            ("ada@example.org", date(2026, 1, 6), DeliveryStatus.SENT, "250 ok"),
        ]
        for address, day, status, detail in rows:
            assert store.claim(address, day, "test", resend_in_doubt=False)
            store.finish(address, day, status, message_id=f"<{day}@x>", detail=detail,
                         paper_ids=["2601.00001"])  # fmt: skip
        store.record_fetch("arxiv cs.LG", date(2026, 1, 6), "ok", "15 papers", 15)
    return path


def test_history_is_never_cut_when_piped(sent_state: Path) -> None:
    result = newsletter("history", "-c", str(sent_state), columns=80)
    assert result.returncode == 0, result.stderr
    assert LONG in result.stdout
    assert "250 2.0.0 [queued as 4Xyz] :mail:" in result.stdout  # not markup, not an emoji
    assert "…" not in result.stdout
    assert max(len(line) for line in result.stdout.splitlines()) > 80


def test_history_json_has_every_delivery_with_every_field(sent_state: Path) -> None:
    result = newsletter("history", "-c", str(sent_state), "--json")
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout)
    assert [(d["date"], d["subscriber"], d["status"]) for d in found] == [
        ("2026-01-06", "ada@example.org", "sent"),
        ("2026-01-05", "ada@example.org", "failed"),
        ("2026-01-05", LONG, "sent"),
    ]
    assert {"message_id", "attempts", "detail", "updated_at"} <= set(found[0])
    assert found[1]["detail"] == "550 5.1.1 no such user"
    one_day = newsletter("history", "-c", str(sent_state), "--json", "--date", "2026-01-06")
    assert [d["date"] for d in json.loads(one_day.stdout)] == ["2026-01-06"]


def test_history_help_states_the_real_default() -> None:
    text = " ".join(newsletter("history", "--help", columns=200).stdout.split())
    assert "Default: every date." in text
    assert "newest arXiv listing" not in text


def test_status_counts_the_dates_actually_sent(sent_state: Path) -> None:
    result = newsletter("status", "-c", str(sent_state), "--json")
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert set(document) == {
        "now", "state", "next_sends", "last_fetches", "deliveries", "readers", "scheduler"
    }  # fmt: skip
    assert document["scheduler"] is None  # an SQLite state: no standby, nobody to name
    readers = document["readers"]
    assert (readers["unsubscribed"], readers["bounced"], readers["complained"]) == (0, 0, 0)
    assert readers["active"] == sum(row["subscribers"] for row in document["next_sends"])
    assert document["deliveries"] == [
        {"date": "2026-01-06", "sent": 1, "failed": 0, "deferred": 0, "in_doubt": 0,
         "sending": 0},
        {"date": "2026-01-05", "sent": 1, "failed": 1, "deferred": 0, "in_doubt": 0,
         "sending": 0},
    ]  # fmt: skip
    assert [f["source"] for f in document["last_fetches"]] == ["arxiv cs.LG"]
    assert document["next_sends"][0]["subscribers"] == 1
    table = newsletter("status", "-c", str(sent_state)).stdout
    assert "2026-01-05" in table and "2026-01-06" in table


def test_status_json_without_state_creates_none(write_config: Callable[[str], Path]) -> None:
    path = write_config(MINIMAL)
    document = json.loads(newsletter("status", "-c", str(path), "--json").stdout)
    assert (document["last_fetches"], document["deliveries"]) == ([], [])
    assert json.loads(newsletter("history", "-c", str(path), "--json").stdout) == []
    assert not (path.parent / "newsletter.db").exists()


# --- counts in words ---------------------------------------------------------------------------


def test_counts_agree_with_their_nouns() -> None:
    assert [plural(n, "subscriber") for n in (0, 1, 2, 1000)] == [
        "0 subscribers", "1 subscriber", "2 subscribers", "1,000 subscribers",
    ]  # fmt: skip
    assert plural(1, "paper") == "1 paper"


# --- the preview: its port and its files --------------------------------------------------------


def test_the_preview_serves_on_a_port_no_smtp_test_server_takes() -> None:
    from newsletter.cli_preview import preview
    from newsletter.preview import DEFAULT_PORT

    assert DEFAULT_PORT not in (8025, 8000, 25, 587)  # aiosmtpd's default, dev servers, SMTP
    (port,) = [param for param in preview.params if param.name == "port"]
    assert port.default == DEFAULT_PORT


@pytest.mark.parametrize(("umask", "mode"), [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_preview_files_follow_the_umask(tmp_path: Path, umask: int, mode: int) -> None:
    from newsletter.preview import write_atomic

    previous = os.umask(umask)
    try:
        write_atomic(tmp_path / "ada.html", "<p>issue</p>")
    finally:
        os.umask(previous)
    assert (tmp_path / "ada.html").stat().st_mode & 0o777 == mode


# --- a host name that does not resolve is not asked four times --------------------------------


def fetcher_raising(error: Exception) -> tuple[object, list[float], list[int]]:
    from newsletter.sources.http import Fetcher

    waits: list[float] = []
    calls: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        raise error

    client = httpx.Client(transport=httpx.MockTransport(handler))
    return Fetcher(client, sleep=waits.append, intervals={}), waits, calls


def connect_error(cause: OSError) -> httpx.ConnectError:
    error = httpx.ConnectError(str(cause))
    error.__cause__ = cause
    return error


def test_a_name_that_does_not_resolve_fails_at_once() -> None:
    unresolved = socket.gaierror(socket.EAI_NONAME, "Name or service not known")
    fetcher, waits, calls = fetcher_raising(connect_error(unresolved))
    with pytest.raises(FetchError) as info:
        fetcher.get("https://feeds.example.invalid/rss", source="feed")  # type: ignore[attr-defined]
    assert (len(calls), waits) == (1, [])
    assert info.value.reason == (
        "cannot resolve the host name: Name or service not known "
        "(https://feeds.example.invalid/rss; not retried)"
    )


def test_a_refused_connection_is_still_retried() -> None:
    refused = ConnectionRefusedError(111, "Connection refused")
    fetcher, waits, calls = fetcher_raising(connect_error(refused))
    with pytest.raises(FetchError) as info:
        fetcher.get("https://feeds.example.org/rss", source="feed")  # type: ignore[attr-defined]
    assert len(calls) == 4 and len(waits) == 3
    assert "after 4 attempts" in info.value.reason
