"""A PostgreSQL state: how `state:` is read, the leases that tell live processes from dead ones
on any host, claims made at once by many connections, and `newsletter state copy` both ways.
The server is a real one (tests/pgserver.py); the store's own tests run on both engines."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from newsletter.config import load_config
from newsletter.errors import ConfigError, StoreError
from newsletter.models import Paper
from newsletter.status import DeliveryStatus, ReaderStatus
from newsletter.store import HeldLease, StateLocation, Store, claimant
from newsletter.store.copy import TABLES
from newsletter.store.schema import MIGRATIONS
from tests.pgserver import PASSWORD, PgServer
from tests.sending import demo_config, send_day
from tests.smtpserver import smtp_server

DAY = date(2026, 7, 27)

STATE_CONFIG = """\
newsletter:
  title: T
  sender: "T <t@example.org>"
  state: {state}
  sources:
    - type: arxiv
      categories: [cs.LG]
subscribers:
  - email: ada@example.org
    interests:
      keywords: [graphs]
"""


def newsletter(*args: str) -> list[str]:
    return [sys.executable, "-m", "newsletter", *args]


# --- `state:` in the config ------------------------------------------------------------------


def test_a_postgresql_url_is_a_state_of_its_own(write_config) -> None:  # type: ignore[no-untyped-def]
    config = load_config(write_config(STATE_CONFIG.format(state="postgresql://digest@db/digest")))
    assert config.state.is_postgres and config.state.url == "postgresql://digest@db/digest"
    assert config.state.path is None
    socket = "postgresql:///digest?host=/var/run/postgresql&sslmode=disable"
    assert load_config(write_config(STATE_CONFIG.format(state=socket))).state.url == socket
    plain = load_config(write_config(STATE_CONFIG.format(state="state/digest.db")))
    assert plain.state.path == plain.base_dir / "state" / "digest.db"


@pytest.mark.parametrize(
    ("state", "says"),
    [
        ("mysql://digest@db/digest", "unknown database scheme mysql://"),
        ("postgress://digest@db/digest", "unknown database scheme postgress://"),
        ("sqlite:///digest.db", "unknown database scheme sqlite://"),
        ("postgresql://digest:hunter2-secret@db/digest", "holds a password"),
        ("postgresql://digest@db/digest?sslmode=require&password=hunter2-secret", "password"),
        ("postgresql://digest@db", "name the database"),
        ("postgresql://digest@db:port/digest", "not a valid postgresql:// URL"),
    ],
)
def test_a_state_that_is_neither_a_file_nor_postgresql_is_refused(
    write_config,  # type: ignore[no-untyped-def]
    state: str,
    says: str,
) -> None:
    path = write_config(STATE_CONFIG.format(state=state))
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    message = str(caught.value)
    assert f"{path}:4: newsletter.state" in message and says in message
    assert "hunter2-secret" not in message
    result = subprocess.run(newsletter("validate", "-c", str(path)), capture_output=True,
                            text=True, timeout=60)  # fmt: skip
    assert result.returncode == 1 and says in result.stderr
    assert "hunter2-secret" not in result.stderr + result.stdout
    assert not list(path.parent.glob("*digest*")), "no file may be made for a refused URL"


def test_without_the_extra_a_postgresql_state_says_how_to_install_it(tmp_path: Path) -> None:
    path = tmp_path / "subscribers.yaml"
    path.write_text(STATE_CONFIG.format(state="postgresql://digest@127.0.0.1/digest"))
    hide = "import sys; sys.modules['psycopg'] = None; from newsletter.cli import main; main()"
    for command in (["validate"], ["status"]):
        result = subprocess.run([sys.executable, "-c", hide, *command, "-c", str(path)],
                                capture_output=True, text=True, timeout=60)  # fmt: skip
        assert result.returncode == 1, result.stdout
        assert 'pip install "paper-digest-mail[postgres]"' in result.stderr, result.stderr
        assert "Traceback" not in result.stderr


def test_an_unreachable_server_is_one_line_without_the_password(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PGPASSWORD", "canary-never-printed")
    with pytest.raises(StoreError) as caught:
        Store("postgresql://digest@127.0.0.1:9/digest")
    message = str(caught.value)
    assert message.startswith("state database postgresql://digest@127.0.0.1:9/digest: ")
    assert "\n" not in message and "canary-never-printed" not in message


# --- leases -------------------------------------------------------------------------------------


def test_a_lease_is_held_by_one_live_holder_at_a_time(state_at: Path | str) -> None:
    with Store(state_at) as store:
        me, other = claimant(), "another-host:4242:xx"
        assert store.take_lease("scheduler", me, 30)
        assert store.take_lease("scheduler", me, 30)  # renewing
        assert not store.take_lease("scheduler", other, 30)
        store.release_lease("scheduler", other)  # not theirs to release
        assert store.live_lease("scheduler") is not None
        store.release_lease("scheduler", me)
        assert store.live_lease("scheduler") is None
        assert store.take_lease("scheduler", other, 30)
        assert not store.take_lease("scheduler", me, 30)
        with store.transaction() as db:  # the other host stopped renewing long ago
            db.execute("UPDATE leases SET expires_at = '2026-01-01T00:00:00+00:00'")
        assert store.take_lease("scheduler", me, 30)


def test_a_lease_of_a_dead_process_here_is_taken_at_once(state_at: Path | str) -> None:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    dead = f"{claimant().split(':')[0]}:{process.pid}:xx"
    with Store(state_at) as store:
        assert store.take_lease("fetch:2026-07-27", dead, 3600)
        assert store.live_lease("fetch:2026-07-27") is None
        assert store.take_lease("fetch:2026-07-27", claimant(), 30)


def test_a_held_lease_is_renewed_while_held_and_lost_when_taken(state_at: Path | str) -> None:
    where = StateLocation.of(state_at)
    lost = threading.Event()
    held = HeldLease(where, "scheduler", claimant(), seconds=1.5, on_lost=lost.set)
    assert held.take()
    with Store(where) as store:
        first = store.lease("scheduler")
        assert first is not None
        deadline = time.monotonic() + 20
        while (now := store.lease("scheduler")) is not None and now.expires_at == first.expires_at:
            assert time.monotonic() < deadline, "the lease was never renewed"
            time.sleep(0.1)  # polling the table the renewing thread writes
        assert not held.lost.is_set()
        with store.transaction() as db:  # another host took it while this one was cut off
            until = (datetime.now(UTC) + timedelta(seconds=60)).isoformat(timespec="seconds")
            db.execute("UPDATE leases SET holder = 'another-host:1:xx', expires_at = ?", (until,))
    assert lost.wait(20) and held.lost.is_set()
    held.release()
    with Store(where) as store:
        after = store.lease("scheduler")
        assert after is not None and after.holder == "another-host:1:xx"


def test_a_waiting_holder_takes_the_lease_when_it_is_released(pg_url: str) -> None:
    where = StateLocation.of(pg_url)
    first = HeldLease(where, "scheduler", claimant(), seconds=30)
    second = HeldLease(where, "scheduler", claimant(), seconds=30)
    assert first.take() and not second.take()
    taken = threading.Event()

    def wait() -> None:
        if second.wait(poll=0.05, timeout=60):
            taken.set()

    waiter = threading.Thread(target=wait)
    waiter.start()
    assert not taken.wait(0.5)  # held: the second waits
    first.release()
    waiter.join(60)
    assert taken.is_set()
    second.release()


# --- many connections claiming at once -----------------------------------------------------------


def test_concurrent_claims_give_each_issue_to_exactly_one_sender(pg_url: str) -> None:
    readers = [f"reader{n:03d}@example.org" for n in range(60)]
    senders = [f"host{n}:{n}:xx" for n in range(8)]
    claims: dict[str, list[str]] = {reader: [] for reader in readers}
    lock = threading.Lock()

    def sender(me: str) -> None:
        with Store(pg_url) as store:
            for reader in readers:
                if store.claim(reader, DAY, me, resend_in_doubt=False):
                    with lock:
                        claims[reader].append(me)
                    store.finish(reader, DAY, DeliveryStatus.SENT, message_id=None, detail="",
                                 paper_ids=["2607.00001"])  # fmt: skip

    with ThreadPoolExecutor(len(senders)) as pool:
        list(pool.map(sender, senders))
    assert {reader: len(who) for reader, who in claims.items()} == dict.fromkeys(readers, 1)
    with Store(pg_url) as store:
        assert store.delivery_counts(DAY) == {"sent": len(readers)}


def test_concurrent_suppressions_keep_one_row(pg_url: str) -> None:
    def leave(n: int) -> bool:
        with Store(pg_url) as store:
            status = ReaderStatus.COMPLAINED if n == 5 else ReaderStatus.UNSUBSCRIBED
            return store.suppress("ada@example.org", status, f"try {n}", "web")

    with ThreadPoolExecutor(8) as pool:
        firsts = list(pool.map(leave, range(10)))
    assert firsts.count(True) == 1  # only one of them stopped the mailing
    with Store(pg_url) as store:
        assert store.suppressions()["ada@example.org"].status is ReaderStatus.COMPLAINED


def test_two_hosts_migrating_an_empty_database_at_once_migrate_it_once(pg_url: str) -> None:
    code = "import sys; from newsletter.store import Store; Store(sys.argv[1]).close()"
    runs = [subprocess.Popen([sys.executable, "-c", code, pg_url], stderr=subprocess.PIPE,
                             text=True) for _ in range(4)]  # fmt: skip
    assert [run.communicate(timeout=120)[1] for run in runs] == [""] * 4
    with Store(pg_url) as store:
        assert store.schema_version == len(MIGRATIONS)


def test_a_database_with_tables_of_another_program_is_refused(
    postgres: PgServer, pg_url: str
) -> None:
    postgres.sql(pg_url, "CREATE TABLE papers (title TEXT)")
    with pytest.raises(StoreError, match="already has tables named papers"):
        Store(pg_url)


# --- newsletter state copy -----------------------------------------------------------------------


def dump(where: Path | str) -> dict[str, list[tuple[object, ...]]]:
    """Every row of every copied table, in a stable order."""
    with Store(where) as store:
        found = {}
        for table in TABLES:
            columns = store.columns(table)
            if table == "day_papers":  # with its arrival order, SQLite's rowid
                columns = ["rowid", *(c for c in columns if c != "rowid")]
            rows = [row for chunk in store.stream(f"SELECT {', '.join(columns)} FROM {table}",
                                                  500) for row in chunk]  # fmt: skip
            found[table] = sorted(
                (tuple(bytes(v) if isinstance(v, memoryview) else v for v in r) for r in rows),
                key=repr,
            )
        return found


def test_state_copy_moves_a_real_state_to_postgresql_and_back(
    tmp_path: Path, postgres: PgServer, pg_url: str
) -> None:
    with smtp_server() as (port, _):
        path = demo_config(tmp_path, port)
        report = send_day(path)  # the demo day, sent to a real server: a real state
    assert report.sent
    with Store(tmp_path / "newsletter.db") as store:
        store.rate("ada@example.org", report_paper(store), 1, DAY)
        store.suppress("grace.hopper@example.org", ReaderStatus.UNSUBSCRIBED, "link", "web")
        store.cache_response("https://example.org/x", '"e"', None, bytes(range(256)))
    original = dump(tmp_path / "newsletter.db")
    assert all(original[table] for table in ("papers", "day_papers", "deliveries", "feedback"))
    there = subprocess.run(newsletter("state", "copy", str(tmp_path / "newsletter.db"), pg_url,
                                      "--json"), capture_output=True, text=True, timeout=300,
                           env=postgres.env)  # fmt: skip
    assert there.returncode == 0, there.stderr
    import json

    counts = json.loads(there.stdout)["tables"]
    assert counts == {table: len(rows) for table, rows in original.items()}
    assert dump(pg_url) == original
    back = tmp_path / "back.db"
    again = subprocess.run(newsletter("state", "copy", pg_url, str(back)), capture_output=True,
                           text=True, timeout=300, env=postgres.env)  # fmt: skip
    assert again.returncode == 0, again.stderr
    assert "the counts match" in again.stdout
    assert dump(back) == original
    with Store(back) as a, Store(pg_url) as b:  # the arrival order the horizons refer to
        assert a.horizon() == b.horizon() > 0
        b.save_day(date(2026, 12, 1), "arxiv", [Paper(id="2612.00001", title="Later")])
        assert b.horizon() == a.horizon() + 1  # the order goes on past the copied rows
    refused = subprocess.run(newsletter("state", "copy", str(tmp_path / "newsletter.db"),
                                        pg_url), capture_output=True, text=True, timeout=300,
                             env=postgres.env)  # fmt: skip
    assert refused.returncode == 1 and "already holds state" in refused.stderr
    assert PASSWORD not in refused.stderr + there.stdout + again.stdout


def report_paper(store: Store) -> str:
    paper_ids = sorted(store.delivered_paper_ids("ada@example.org"))
    assert paper_ids
    return paper_ids[0]


def test_the_copy_covers_every_table_of_the_schema(tmp_path: Path) -> None:
    with Store(tmp_path / "s.db") as store:
        rows = store._read("SELECT name FROM sqlite_master WHERE type = 'table'")
    assert {name for (name,) in rows} == {*TABLES, "leases"}


# --- the web app on a shared state ---------------------------------------------------------------


def test_the_web_app_serves_readers_from_postgresql_over_a_pool(
    tmp_path: Path, postgres: PgServer, pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from newsletter.store.postgres import POOL_SIZE
    from newsletter.tokens import SECRET_ENV
    from tests.webapp import ADA, DAY, GRACE, ONE_CLICK, SECRET, paper, running_site

    monkeypatch.setenv(SECRET_ENV, SECRET)
    with running_site(tmp_path, state=pg_url) as site:
        with site.store() as store:
            store.save_day(DAY, "arxiv", [paper(n) for n in range(3)])
        unsubscribe = site.links.unsubscribe(ADA, DAY)
        for _ in range(30):  # each request borrows a connection and gives it back
            assert site.client.get(unsubscribe).status_code == 200
        assert site.client.post(unsubscribe, data=ONE_CLICK).status_code == 200
        database = pg_url.rsplit("/", 1)[1]
        query = (
            "SELECT COUNT(*) FROM pg_stat_activity WHERE "
            f"datname = '{database}' AND application_name = 'paper-digest'"
        )
        ((count,),) = postgres.sql(pg_url, query)
        assert int(str(count)) <= POOL_SIZE + 1  # the site's own Store besides the pool
    with Store(pg_url) as store:
        found = store.suppression(ADA)
        assert found is not None and found.status is ReaderStatus.UNSUBSCRIBED
        assert store.suppression(GRACE) is None
