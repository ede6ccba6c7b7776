"""`newsletter run` as a real process: it sends at the time it is given to a real SMTP server on
127.0.0.1, refuses a second instance, and exits cleanly on SIGTERM. And `newsletter status`."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from newsletter.calendar import listing_date
from newsletter.config import load_config
from newsletter.fetching import fetch_pending
from newsletter.sources.http import Fetcher, make_client
from newsletter.store import Store
from tests.feeds import arxiv_rss, hf_daily
from tests.smtpserver import smtp_server

CONFIG = """newsletter:
  title: Graph Digest
  sender: "Graph Digest <digest@example.org>"
  smtp:
    host: 127.0.0.1
    port: {port}
    security: none
    timeout: 10
  sources:
    - type: huggingface
      url: {folder}/hf-{{date}}.json
subscribers:
  - email: ada@example.org
    timezone: Pacific/Kiritimati
    send_time: "03:00"
    interests:
      keywords: [graph]
"""


def newsletter(*args: str) -> list[str]:
    return [sys.executable, "-m", "newsletter", *args]


def write_feeds(folder: Path) -> None:
    """Hugging Face papers for whatever the issue date is while the test runs."""
    today = listing_date(datetime.now(UTC))
    for day in (today - timedelta(days=2), today - timedelta(days=1), today):
        entries = [(f"2611.{n:05d}", f"Graph learning, part {n}", 5) for n in range(1, 4)]
        (folder / f"hf-{day}.json").write_bytes(hf_daily(entries))


def start_run(path: Path) -> subprocess.Popen[str]:
    """`newsletter run` as a process that sends every group once, in three seconds."""
    at = (datetime.now(UTC) + timedelta(seconds=3)).isoformat(timespec="seconds")
    return subprocess.Popen(
        newsletter("run", "-c", str(path), "--first-send-at", at),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def test_run_sends_at_its_time_refuses_a_twin_and_stops_on_sigterm(tmp_path: Path) -> None:
    write_feeds(tmp_path)
    with smtp_server() as (port, script):
        path = tmp_path / "subscribers.yaml"
        path.write_text(CONFIG.format(port=port, folder=tmp_path), encoding="utf-8")
        daemon = start_run(path)
        try:
            assert script.wait_for(1, timeout=120), "no message arrived"
            twin = subprocess.run(newsletter("run", "-c", str(path)), capture_output=True,
                                  text=True, timeout=60)  # fmt: skip
            assert twin.returncode == 1
            assert "already using" in twin.stderr and str(daemon.pid) in twin.stderr
            daemon.send_signal(signal.SIGTERM)
            _, stderr = daemon.communicate(timeout=120)
        finally:
            if daemon.poll() is None:
                daemon.kill()
        assert daemon.returncode == 0, stderr
        assert "SIGTERM received" in stderr and "stopped" in stderr
        assert "sent 1" in stderr
        assert script.recipients() == ["ada@example.org"]
    with Store(tmp_path / "newsletter.db") as store:
        assert [r.status for r in store.deliveries()] == ["sent"]
    wide = {**os.environ, "COLUMNS": "200"}
    status = subprocess.run(newsletter("status", "-c", str(path)), capture_output=True,
                            text=True, env=wide, timeout=60)  # fmt: skip
    today = listing_date(datetime.now(UTC))
    assert re.search(r"huggingface\s.*\sok\s", status.stdout), status.stdout
    assert re.search(rf"{today}\s+│\s+1\s+│", status.stdout), status.stdout  # sent: 1


def test_status_shows_next_sends_fetches_and_deliveries(tmp_path: Path) -> None:
    write_feeds(tmp_path)
    path = tmp_path / "subscribers.yaml"
    path.write_text(CONFIG.format(port=25, folder=tmp_path), encoding="utf-8")
    result = subprocess.run(newsletter("status", "-c", str(path)), capture_output=True, text=True,
                            env={**os.environ, "COLUMNS": "200"}, timeout=60)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "Pacific/Kiritimati 03:00 mon,tue,wed,thu,fri" in result.stdout
    assert "03:00 +14" in result.stdout  # local time, and the same moment in UTC (13:00)
    assert " 13:00 " in result.stdout
    assert "No state yet" in result.stdout and not (tmp_path / "newsletter.db").exists()


def test_a_listing_that_cannot_be_read_any_more_is_reported_missed(tmp_path: Path) -> None:
    monday, tuesday = date(2026, 11, 16), date(2026, 11, 17)
    listing = tmp_path / "listing.xml"  # a fixed address: like rss.arxiv.org, newest only
    listing.write_bytes(arxiv_rss(tuesday, []))
    path = tmp_path / "subscribers.yaml"
    text = CONFIG.format(port=25, folder=tmp_path).replace(
        f"    - type: huggingface\n      url: {tmp_path}/hf-{{date}}.json\n",
        f"    - type: arxiv\n      categories: [cs.LG]\n      url: {listing}\n",
    )
    path.write_text(text, encoding="utf-8")
    config = load_config(path)
    with Store(config.state_path) as store, make_client(None) as client:
        reports = fetch_pending(config, [monday, tuesday], tuesday, store, Fetcher(client, store))
        assert [(r.day, [o.status.value for o in r.outcomes]) for r in reports] == [
            (monday, ["failed"]),
            (tuesday, ["ok"]),
        ]
        assert "missed" in reports[0].outcomes[0].detail
        saturday = date(2026, 11, 21)
        quiet = fetch_pending(config, [saturday], saturday, store, Fetcher(client, store))
        assert [o.status.value for o in quiet[0].outcomes] == ["no announcement"]


def test_send_due_sends_only_readers_whose_morning_has_come(tmp_path: Path) -> None:
    write_feeds(tmp_path)
    now = datetime.now(UTC)
    past, future = now - timedelta(minutes=10), now + timedelta(hours=3)
    text = CONFIG.format(port=25, folder=tmp_path).replace(
        "  smtp:\n    host: 127.0.0.1\n    port: 25\n    security: none\n    timeout: 10\n", ""
    )
    text = text.replace("Pacific/Kiritimati", "UTC").replace("03:00", f"{past:%H:%M}")
    text = text.replace(
        "    interests:", "    days: [mon, tue, wed, thu, fri, sat, sun]\n    interests:"
    )
    text += (
        f'  - email: bob@example.org\n    timezone: UTC\n    send_time: "{future:%H:%M}"\n'
        "    days: [mon, tue, wed, thu, fri, sat, sun]\n    interests:\n      keywords: [graph]\n"
    )
    path = tmp_path / "subscribers.yaml"
    path.write_text(text, encoding="utf-8")
    result = subprocess.run(newsletter("send", "-c", str(path), "--due"), capture_output=True,
                            text=True, timeout=120)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "sent 1" in result.stdout
    with Store(tmp_path / "newsletter.db") as store:
        assert [r.subscriber for r in store.deliveries()] == ["ada@example.org"]


def test_run_sends_from_worker_processes_above_the_threshold_like_send(tmp_path: Path) -> None:
    from newsletter.pipeline import MAX_WORKERS, PARALLEL_FROM

    write_feeds(tmp_path)
    many = PARALLEL_FROM + 10
    with smtp_server() as (port, script):
        path = tmp_path / "subscribers.yaml"
        readers = "".join(
            f"  - email: reader{n:03d}@example.org\n    timezone: Pacific/Kiritimati\n"
            f'    send_time: "03:00"\n    interests:\n      keywords: [graph]\n'
            for n in range(many - 1)
        )
        path.write_text(CONFIG.format(port=port, folder=tmp_path) + readers, encoding="utf-8")
        daemon = start_run(path)
        try:
            assert script.wait_for(many, timeout=300), "not every message arrived"
            daemon.send_signal(signal.SIGTERM)
            _, stderr = daemon.communicate(timeout=120)
        finally:
            if daemon.poll() is None:
                daemon.kill()
        assert daemon.returncode == 0, stderr
        workers = min(os.cpu_count() or 1, MAX_WORKERS)
        if workers > 1:  # the scheduler runs threads: workers come from a fork server
            assert f"sending with {workers} worker processes (forkserver)" in stderr, stderr
        assert f"sent {many}," in stderr
        recipients = script.recipients()
        assert len(recipients) == many and len(set(recipients)) == many
