"""A damaged, foreign, emptied or full state database: one clear line, never a traceback,
never a reader mailed twice, never a delivery lost without a word. And a relay that cannot be
reached leaves the day in the history, to be sent on the next run."""

from __future__ import annotations

import os
import resource
import sqlite3
import subprocess
import sys
from collections import Counter
from contextlib import closing
from pathlib import Path

from newsletter.demo import DEMO_DAY
from newsletter.store import Store
from tests.sending import READERS, SEND_ENV, add_readers, demo_config, run_send, send_command
from tests.smtpserver import smtp_server


def command(path: Path, name: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "newsletter", name, "-c", str(path), *args],
        capture_output=True, text=True, timeout=120, env=SEND_ENV,
    )  # fmt: skip


def one_clear_line(result: subprocess.CompletedProcess[str], *words: str) -> None:
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error: ")]
    assert len(errors) == 1, result.stderr
    for word in words:
        assert word in errors[0], errors[0]


def test_a_malformed_state_file_is_one_line_for_every_command(tmp_path: Path) -> None:
    path = demo_config(tmp_path, None)
    assert command(path, "send", "--date", str(DEMO_DAY)).returncode == 0
    state = tmp_path / "newsletter.db"
    size = state.stat().st_size
    with state.open("r+b") as stream:  # keep the header page, scramble every other page
        stream.seek(4096)
        stream.write((bytes(range(256)) * (size // 256 + 1))[: size - 4096])
    for name, args in [
        ("send", ("--date", str(DEMO_DAY))),
        ("history", ()),
        ("status", ()),
        ("fetch", ("--date", str(DEMO_DAY))),
        ("preview", ("--date", str(DEMO_DAY), "--out", str(tmp_path / "p"))),
    ]:
        one_clear_line(command(path, name, *args), "state database", str(state))


def test_a_dropped_table_is_one_line(tmp_path: Path) -> None:
    path = demo_config(tmp_path, None)
    assert command(path, "send", "--date", str(DEMO_DAY)).returncode == 0
    with closing(sqlite3.connect(tmp_path / "newsletter.db")) as db:
        db.execute("DROP TABLE deliveries")
        db.commit()
    for name in ("history", "status", "send"):
        extra = ("--date", str(DEMO_DAY)) if name == "send" else ()
        one_clear_line(command(path, name, *extra), "no such table")


def test_an_emptied_state_file_is_refused_and_nobody_gets_the_issue_twice(tmp_path: Path) -> None:
    path = demo_config(tmp_path, None)
    assert command(path, "send", "--date", str(DEMO_DAY)).returncode == 0
    outbox = sorted((tmp_path / "outbox" / "new").iterdir())
    assert len(outbox) == len(READERS)
    (tmp_path / "newsletter.db").write_bytes(b"")
    for suffix in ("-wal", "-shm"):
        (tmp_path / f"newsletter.db{suffix}").unlink(missing_ok=True)
    one_clear_line(command(path, "send", "--date", str(DEMO_DAY)), "is empty (0 bytes)")
    assert sorted((tmp_path / "outbox" / "new").iterdir()) == outbox
    assert (tmp_path / "newsletter.db").stat().st_size == 0


def test_a_foreign_database_as_state_is_refused(tmp_path: Path) -> None:
    path = demo_config(tmp_path, None)
    with closing(sqlite3.connect(tmp_path / "newsletter.db")) as db:
        db.execute("CREATE TABLE notes (body TEXT)")
        db.commit()
    one_clear_line(command(path, "send", "--date", str(DEMO_DAY)), "something else")
    assert not (tmp_path / "outbox").exists()


def _full_disk(limit: int) -> None:
    """In the child: files may not grow past `limit` bytes, as on a full disk (Python ignores
    SIGXFSZ, so a write past it fails with EFBIG)."""
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))


def test_a_full_disk_while_sending_stops_at_once_and_loses_nobody(tmp_path: Path) -> None:
    with smtp_server() as (port, script):
        path = demo_config(tmp_path, port)
        readers = add_readers(path, 40)
        fetched = command(path, "fetch", "--date", str(DEMO_DAY))
        assert fetched.returncode == 0, fetched.stderr
        full = subprocess.run(
            send_command(path, "--workers", "1"), capture_output=True, text=True, timeout=300,
            env=SEND_ENV, preexec_fn=lambda: _full_disk(160_000),
        )  # fmt: skip
        assert full.returncode == 1
        assert "Traceback" not in full.stderr
        assert "cannot record deliveries" in full.stderr or "state database" in full.stderr
        first = Counter(script.recipients())
        assert 0 < sum(first.values()) < len(readers)  # it stopped part way
        again = run_send(path)
        received = Counter(script.recipients())
        assert max(received.values()) == 1, "a reader got the issue twice"
        doubted = {email for email in readers if f"in doubt: {email}:" in again.stderr}
        assert set(received) | doubted == set(readers), "a reader was lost without a word"
    with Store(tmp_path / "newsletter.db") as store:
        statuses = Counter(str(r.status) for r in store.deliveries(DEMO_DAY))
        assert statuses["sent"] + statuses["in_doubt"] == len(readers)


def test_an_unreachable_relay_leaves_the_day_in_the_history(tmp_path: Path) -> None:
    with smtp_server() as (port, script):
        pass  # the server has stopped: its port now refuses connections
    path = demo_config(tmp_path, port)
    result = run_send(path)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "deferred: ada@example.org: not sent: SMTP server 127.0.0.1" in result.stderr
    history = command(path, "history", "--date", str(DEMO_DAY))
    assert history.stdout.count("deferred") == len(READERS), history.stdout
    with smtp_server() as (again, script):
        path = demo_config(tmp_path, again)
        later = run_send(path)
        assert later.returncode == 0, later.stderr
        assert sorted(script.recipients()) == sorted(READERS)


def test_papers_the_size_budget_left_out_are_not_recorded_as_delivered(tmp_path: Path) -> None:
    from datetime import date
    from email import message_from_bytes, policy

    from newsletter.config import load_config
    from newsletter.delivery.memory import MemoryBackend
    from newsletter.pipeline import run_once
    from newsletter.session import Session
    from tests.feeds import Item, arxiv_rss

    day = date(2026, 7, 27)
    items = [
        Item(f"2607.{n:05d}", title=f"Graph networks, part {n} " + "long title words " * 8,
             abstract="Graph networks. " * 60)
        for n in range(1, 501)
    ]  # fmt: skip
    (tmp_path / "listing.xml").write_bytes(arxiv_rss(day, items))
    path = tmp_path / "subscribers.yaml"
    path.write_text(
        "newsletter:\n  max_papers: 500\n  sources:\n"
        "    - {type: arxiv, name: arxiv, categories: [cs.LG], url: listing.xml}\n"
        "subscribers:\n  - email: ada@example.org\n    interests: {keywords: [graph networks]}\n",
        encoding="utf-8",
    )
    config = load_config(path)
    backend = MemoryBackend()
    with Session.open(config, make_backend=lambda: backend) as session:
        report = run_once(session, day, config.readers)
        assert report.sent == ["ada@example.org"]
        delivered = session.store.delivered_paper_ids("ada@example.org")
    (message,) = backend.sent
    html = next(
        part.get_payload(decode=True)
        for part in message_from_bytes(message.data, policy=policy.default).walk()
        if part.get_content_type() == "text/html"
    )
    shown = {item.id for item in items if f"/abs/{item.id}".encode() in html}
    assert 0 < len(shown) < len(items)  # the budget left some out ...
    assert delivered == shown  # ... and only what the reader can reach counts as delivered


def test_an_alert_the_relay_refuses_keeps_the_report_and_is_tried_again(tmp_path: Path) -> None:
    from newsletter.config import load_config
    from newsletter.pipeline import run_once
    from newsletter.session import Session

    with smtp_server() as (port, _):
        pass  # stopped: the port refuses connections
    path = demo_config(tmp_path, port, extra="  alerts_to: ops@example.org\n")
    (tmp_path / "daily_papers.json").write_text("{not json")  # one source fails
    os.environ["TEST_SMTP_PASSWORD"] = "x"
    config = load_config(path)
    with Session.open(config) as session:
        report = run_once(session, DEMO_DAY, config.readers)
        assert sorted(email for email, _ in report.deferred) == sorted(READERS)
        assert any("the alert to ops@example.org was not sent" in w for w in report.warnings)
        (problem,) = report.sources
        key = f"source|{problem.source}|{problem.day}|{problem.status}"
        assert not session.store.alerted(key)  # told only once it is accepted: next run
