"""Several hosts on one PostgreSQL state, as real processes: senders that overlap, a day's
sources read once, a sender killed on one host and its readers taken over by another, and a
standby scheduler that takes over from a killed leader. Every reader gets each issue once.

"Hosts" are processes with their own `NEWSLETTER_HOSTNAME`: they cannot see each other's
processes, only each other's leases, exactly as on separate machines."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import NamedTuple

from newsletter.demo import DEMO_DIR
from newsletter.store import DeliveryRecord, Store
from tests.httpserver import Reply, serve
from tests.pgserver import PgServer
from tests.sending import CANARY, add_readers, demo_config, send_command
from tests.smtpserver import Script, smtp_server

DEADLINE = 120.0


def shared_config(tmp_path: Path, port: int, url: str, extra: str = "") -> Path:
    """The demo day and readers, sending to the local server, with the state at `url`."""
    return demo_config(tmp_path, port, f"  state: {url}\n{extra}")


def env_of(postgres: PgServer, host: str) -> dict[str, str]:
    return {**postgres.env, "TEST_SMTP_PASSWORD": CANARY, "NEWSLETTER_HOSTNAME": host,
            "COLUMNS": "200"}  # fmt: skip


def until(condition: Callable[[], bool], what: str, timeout: float = DEADLINE) -> None:
    """Wait until `condition()` holds (it reads what the processes under test wrote)."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def statuses(url: str) -> Counter[str]:
    with Store(url) as store:
        return Counter(record.status.value for record in store.deliveries())


def test_four_senders_on_one_state_send_each_reader_once_and_read_the_sources_once(
    tmp_path: Path, postgres: PgServer, pg_url: str
) -> None:
    stall = threading.Event()
    with serve() as feeds, smtp_server() as (port, script):
        listing = (DEMO_DIR / "listing.xml").read_bytes()
        feeds.route("/listing.xml", Reply(body=listing, stall=stall), Reply(body=listing))
        feeds.route("/daily_papers.json", Reply(body=(DEMO_DIR / "daily_papers.json").read_bytes()))
        path = shared_config(tmp_path, port, pg_url)
        text = path.read_text(encoding="utf-8")
        for name in ("listing.xml", "daily_papers.json"):
            text = text.replace(f"url: {name}", f"url: {feeds.url('/' + name)}")
        path.write_text(text, encoding="utf-8")
        readers = add_readers(path, 40)
        runs = [  # shard 1 twice, as two hosts would by mistake; shards 2 and 3
            subprocess.Popen(
                send_command(path, "--shard", shard, "--workers", "2", "-v"),
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env=env_of(postgres, f"host-{n}"),
            )
            for n, shard in enumerate(("1/3", "1/3", "2/3", "3/3"))
        ]
        logs: list[list[str]] = [[] for _ in runs]
        readers_of_logs = [
            threading.Thread(target=lambda r=run, log=log: log.extend(r.stderr or []), daemon=True)
            for run, log in zip(runs, logs, strict=True)
        ]
        for thread in readers_of_logs:
            thread.start()
        try:  # the first reading of the listing is held until the three others wait for it
            until(lambda: sum(_waits(log) for log in logs) == 3, "three senders to wait")
            until(lambda: len(feeds.hits("/listing.xml")) > 0, "the listing to be asked for")
            assert len(feeds.hits("/listing.xml")) == 1  # by the one reading for all
            stall.set()
            outputs = [run.communicate(timeout=300)[0] for run in runs]
            for thread in readers_of_logs:
                thread.join(60)
        finally:
            stall.set()
            for run in runs:
                if run.poll() is None:
                    run.kill()
        assert [run.returncode for run in runs] == [0, 0, 0, 0], (outputs, logs)
        assert sorted(script.recipients()) == readers  # each exactly once
        assert len(feeds.hits("/listing.xml")) == 1 and len(feeds.hits("/daily_papers.json")) == 1
    assert statuses(pg_url) == Counter({"sent": len(readers)})


def _waits(log: list[str]) -> bool:
    return any("another process is reading the sources" in line for line in log)


def held_at(message: int) -> tuple[Script, threading.Event, threading.Event]:
    """A server that holds the `message`-th DATA (the whole message received, the reply not
    given) until `release` is set; `held` is set once it holds it. One connection at a time,
    so nothing else moves meanwhile."""
    held, release = threading.Event(), threading.Event()

    def hold(count: int) -> None:
        if count == message:
            held.set()
            release.wait(DEADLINE)

    return Script(on_data=hold), held, release


class Held(NamedTuple):
    script: Script
    held: threading.Event  # set when the server holds the fourth message
    release: threading.Event  # set to let it answer
    path: Path  # the shared config, one SMTP connection at a time
    readers: list[str]


@contextmanager
def held_fourth(tmp_path: Path, pg_url: str) -> Iterator[Held]:
    """Ten readers on the shared state, and a server that holds the fourth message."""
    script, held, release = held_at(4)
    with smtp_server(script) as (port, _):
        path = shared_config(tmp_path, port, pg_url)
        text = path.read_text(encoding="utf-8")
        path.write_text(
            text.replace("    timeout: 10\n", "    timeout: 10\n    max_connections: 1\n")
        )
        yield Held(script, held, release, path, add_readers(path, 10))


def test_a_sender_killed_on_one_host_is_taken_over_by_another_once_its_lease_runs_out(
    tmp_path: Path, postgres: PgServer, pg_url: str
) -> None:
    with held_fourth(tmp_path, pg_url) as (script, held, release, path, readers):
        env = env_of(postgres, "host-a")
        first = subprocess.Popen(send_command(path), stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, env=env)  # fmt: skip
        try:
            assert held.wait(DEADLINE), "host-a never reached its fourth message"
        finally:
            first.send_signal(signal.SIGKILL)
            first.communicate(timeout=60)
            release.set()  # the server keeps the message: it reached its reader
        (cut_off,) = [r.subscriber for r in _records(pg_url) if r.status.value == "sending"]
        second = subprocess.run(send_command(path), capture_output=True, text=True,
                                timeout=300, env=env_of(postgres, "host-b"))  # fmt: skip
        assert second.returncode == 0, second.stderr
        assert "of them being sent by another process 1" in second.stdout, second.stdout
        until(lambda: _senders_alive(postgres, pg_url) == 0, "host-a's lease to run out", 60)
        third = subprocess.run(send_command(path), capture_output=True, text=True,
                               timeout=300, env=env_of(postgres, "host-b"))  # fmt: skip
        assert "in doubt 1" in third.stdout, third.stdout + third.stderr
        counts = Counter(script.recipients())
    final = {r.subscriber: r.status.value for r in _records(pg_url)}
    assert final == {r: "in_doubt" if r == cut_off else "sent" for r in readers}
    assert counts == Counter(dict.fromkeys(readers, 1))  # the cut-off one arrived, once


def _records(url: str) -> list[DeliveryRecord]:
    """Every issue's delivery (`send --date` sends the demo day, `run` today's issue)."""
    with Store(url) as store:
        return store.deliveries()


def _senders_alive(postgres: PgServer, url: str) -> int:
    """Sender leases that have not run out (the database's clock is this host's here)."""
    now = datetime.now(UTC).isoformat(timespec="seconds")
    rows = postgres.sql(url, "SELECT expires_at FROM leases WHERE name LIKE 'sender:%'")
    return sum(1 for (expires,) in rows if str(expires) > now)


def test_a_standby_scheduler_on_another_host_takes_over_when_the_leader_is_killed(
    tmp_path: Path, postgres: PgServer, pg_url: str
) -> None:
    with held_fourth(tmp_path, pg_url) as (script, held, release, path, readers):
        at = (datetime.now(UTC) + timedelta(seconds=3)).isoformat(timespec="seconds")
        command = [sys.executable, "-m", "newsletter", "run", "-c", str(path),
                   "--first-send-at", at]  # fmt: skip
        leader = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  text=True, env=env_of(postgres, "host-a"))  # fmt: skip
        until(lambda: _leader(postgres, pg_url) is not None, "a leader")
        standby = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                   text=True, env=env_of(postgres, "host-b"))  # fmt: skip
        logs: list[str] = []
        reader = threading.Thread(target=lambda: logs.extend(standby.stderr or []), daemon=True)
        reader.start()
        try:
            until(lambda: any("standing by" in line for line in logs), "the standby to wait")
            assert held.wait(DEADLINE), "the leader never reached its fourth message"
            leader.send_signal(signal.SIGKILL)
            leader.communicate(timeout=60)
            killed = time.monotonic()
            release.set()
            until(lambda: any("taking over" in line for line in logs), "the standby to lead")
            took = time.monotonic() - killed
            until(lambda: _settled(pg_url, len(readers)), "every issue to be settled", 240)
            status = subprocess.run([sys.executable, "-m", "newsletter", "status", "-c", str(path),
                                     "--json"], capture_output=True, text=True, timeout=120,
                                    env=postgres.env)  # fmt: skip
            leading = json.loads(status.stdout)["scheduler"]["leader"]
            assert leading.startswith(f"host-b:{standby.pid}:"), status.stdout
            standby.send_signal(signal.SIGTERM)
            standby.wait(timeout=120)
            reader.join(30)
        finally:
            release.set()
            for process in (leader, standby):
                if process.poll() is None:
                    process.kill()
        counts = Counter(script.recipients())
    assert standby.returncode == 0, "".join(logs)
    assert took < 60, f"the standby took {took:.0f} s to lead"
    final = {r.subscriber: r.status.value for r in _records(pg_url)}
    assert sorted(final) == readers
    assert list(final.values()).count("in_doubt") == 1  # the message held at the kill
    assert counts == Counter(dict.fromkeys(readers, 1)), counts
    assert any(re.search(r"sent [1-9]", line) for line in logs), "".join(logs)


def _leader(postgres: PgServer, url: str) -> str | None:
    try:
        rows = postgres.sql(url, "SELECT holder FROM leases WHERE name = 'scheduler'")
    except Exception:  # the schema is not there yet
        return None
    return str(rows[0][0]) if rows else None


def _settled(url: str, count: int) -> bool:
    found = statuses(url)
    return found["sent"] + found["in_doubt"] == count


def test_the_url_never_holds_the_password_and_logs_never_show_it(
    tmp_path: Path, postgres: PgServer, pg_url: str
) -> None:
    path = shared_config(tmp_path, 25, pg_url)
    status = subprocess.run([sys.executable, "-m", "newsletter", "status", "-c", str(path)],
                            capture_output=True, text=True, timeout=120,
                            env={**postgres.env, "COLUMNS": "200"})  # fmt: skip
    assert status.returncode == 0, status.stderr
    assert "No state yet" in status.stdout  # a look creates nothing
    assert postgres.sql(pg_url, "SELECT to_regclass('deliveries')") == [(None,)]
    wrong = {**postgres.env, "PGPASSWORD": "canary-wrong-password"}
    refused = subprocess.run([sys.executable, "-m", "newsletter", "status", "-c", str(path)],
                             capture_output=True, text=True, timeout=120, env=wrong)  # fmt: skip
    assert refused.returncode == 1
    assert "password authentication failed" in refused.stderr
    assert "canary-wrong-password" not in refused.stderr + refused.stdout
    assert os.environ.get("PGPASSWORD", "") not in ("canary-wrong-password",)
