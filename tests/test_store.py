"""The SQLite state database: created, migrated, shared by processes, idempotent."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from contextlib import closing
from datetime import date
from pathlib import Path

import pytest

from newsletter.errors import StoreError
from newsletter.models import AnnounceType, Paper
from newsletter.store import SCHEMA_VERSION, CachedResponse, Store


def paper(paper_id: str, title: str = "A paper", version: int = 1) -> Paper:
    return Paper(id=paper_id, version=version, title=title, announce_type=AnnounceType.NEW)


def test_created_in_wal_mode_at_the_current_schema(tmp_path: Path) -> None:
    with Store(tmp_path / "state" / "db.sqlite") as store:
        assert store.schema_version == SCHEMA_VERSION
    db = sqlite3.connect(tmp_path / "state" / "db.sqlite")
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    tables = {name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"papers", "issues", "deliveries", "day_papers", "fetches"} <= tables


def test_reopening_does_not_migrate_again(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite"
    with Store(path) as store:
        store.save_day(date(2026, 7, 27), "arxiv", [paper("2607.00001")])
    with Store(path) as store:
        assert [p.id for p in store.papers_for_day(date(2026, 7, 27))] == ["2607.00001"]


def test_a_database_from_a_newer_release_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite"
    Store(path).close()
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    db.close()
    with closing(sqlite3.connect(path)):
        assert open_files(path)  # an open connection is seen: the check below can fail
    with pytest.raises(StoreError, match="newer than this release"):
        Store(path)
    assert open_files(path) == []


def test_saving_the_same_day_twice_changes_nothing(state_at: Path | str) -> None:
    day = date(2026, 7, 27)
    with Store(state_at) as store:
        papers = [paper("2607.00001"), paper("2607.00002")]
        store.save_day(day, "arxiv", papers)
        store.save_day(day, "arxiv", papers)
        store.save_day(day, "huggingface", papers[:1])
        assert [p.id for p in store.papers_for_day(day)] == ["2607.00001", "2607.00002"]
        assert store.papers_for_day(date(2026, 7, 28)) == []


def test_a_newer_version_replaces_the_stored_paper(state_at: Path | str) -> None:
    with Store(state_at) as store:
        store.save_day(date(2026, 7, 27), "arxiv", [paper("2607.00001", "Old title")])
        store.save_day(date(2026, 7, 28), "arxiv", [paper("2607.00001", "New title", version=2)])
        stored = store.paper("2607.00001")
        assert stored is not None and stored.version == 2 and stored.title == "New title"


WRITER = """
import sys
from datetime import date
from newsletter.models import Paper
from newsletter.store import Store
path, worker = sys.argv[1], int(sys.argv[2])
with Store(path) as store:
    for n in range(50):
        paper = Paper(id=f"2607.{worker}{n:04d}", title="t")
        store.save_day(date(2026, 7, 27), f"w{worker}", [paper])
"""


def test_two_processes_write_at_once(state_at: Path | str) -> None:
    path = state_at
    procs = [
        subprocess.Popen([sys.executable, "-c", WRITER, str(path), str(w)], stderr=subprocess.PIPE)
        for w in (1, 2)
    ]
    for proc in procs:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err.decode()
    with Store(path) as store:
        assert len(store.papers_for_day(date(2026, 7, 27))) == 100


def test_the_http_cache_keeps_a_body_with_its_validators(state_at: Path | str) -> None:
    url = "https://export.arxiv.org/rss/cs.LG"
    with Store(state_at) as store:
        assert store.cached_response(url) is None
        store.cache_response(url, '"v1"', None, b"<rss/>")
        assert store.cached_response(url) == CachedResponse('"v1"', None, b"<rss/>")
        store.cache_response(url, None, "Mon, 27 Jul 2026 00:00:00 GMT", b"<rss>2</rss>")
        assert store.cached_response(url) == CachedResponse(
            None, "Mon, 27 Jul 2026 00:00:00 GMT", b"<rss>2</rss>"
        )
        assert store.cached_response(url + "/other") is None


# --- every SQLite error is a StoreError naming the file ---------------------------------------


def open_files(path: Path) -> list[Path]:
    """The descriptors this process holds open on `path` (Linux only)."""
    fds = Path("/proc/self/fd")
    if not fds.is_dir():
        pytest.skip("no /proc/self/fd here")
    found = []
    for fd in fds.iterdir():
        try:
            if fd.readlink() == path.resolve():
                found.append(fd)
        except OSError:  # the descriptor of the listing itself is gone by now
            continue
    return found


def test_a_file_that_is_no_database_is_refused_and_left_closed(tmp_path: Path) -> None:
    path = tmp_path / "newsletter.db"
    path.write_bytes(b"this is not an SQLite database, just text\n" * 100)
    with pytest.raises(StoreError) as caught:
        Store(path)
    assert str(caught.value) == f"state database {path}: file is not a database"
    assert isinstance(caught.value.__cause__, sqlite3.DatabaseError)
    assert open_files(path) == []


def test_a_locked_database_is_a_store_error_after_the_busy_timeout(tmp_path: Path) -> None:
    path = tmp_path / "newsletter.db"
    with (
        Store(path, busy_timeout=0.1) as store,
        closing(sqlite3.connect(path, isolation_level=None)) as other,
    ):
        other.execute("BEGIN IMMEDIATE")  # another process holds the write lock
        started = time.monotonic()
        with pytest.raises(StoreError) as caught:
            store.save_day(date(2026, 7, 27), "arxiv", [paper("2607.00001")])
        assert time.monotonic() - started < 5
        message = str(caught.value)
        assert message == f"state database {path}: database is locked"
        assert "\n" not in message
        assert isinstance(caught.value.__cause__, sqlite3.OperationalError)
        other.execute("ROLLBACK")
        # the failed write left no transaction open: the store works once the lock is gone
        store.save_day(date(2026, 7, 27), "arxiv", [paper("2607.00001")])
        assert [p.id for p in store.papers_for_day(date(2026, 7, 27))] == ["2607.00001"]


def test_opening_a_locked_database_fails_with_a_store_error(tmp_path: Path) -> None:
    path = tmp_path / "newsletter.db"
    Store(path).close()
    with closing(sqlite3.connect(path, isolation_level=None)) as other:
        other.execute("BEGIN IMMEDIATE")  # opening migrates in a write transaction: it waits
        with pytest.raises(StoreError, match="database is locked"):
            Store(path, busy_timeout=0.1)
        other.execute("ROLLBACK")
    assert open_files(path) == []


def test_a_truncated_state_file_is_refused_never_started_afresh(tmp_path: Path) -> None:
    path = tmp_path / "newsletter.db"
    with Store(path) as store:
        store.mark_delivered("ada@example.org", date(2026, 7, 27), ["2607.00001"])
    path.write_bytes(b"")  # a disk or a careless `> newsletter.db` emptied it
    with pytest.raises(StoreError, match="is empty \\(0 bytes\\)") as caught:
        Store(path)
    assert "\n" not in str(caught.value)
    assert path.stat().st_size == 0  # left as found, for the operator to look at
    assert open_files(path) == []


def test_a_foreign_database_is_refused_and_left_untouched(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    with closing(sqlite3.connect(path)) as other:
        other.execute("CREATE TABLE photos (id INTEGER PRIMARY KEY, name TEXT)")
        other.commit()
    with pytest.raises(StoreError, match="of something else"):
        Store(path)
    with closing(sqlite3.connect(path)) as other:
        tables = [row[0] for row in other.execute("SELECT name FROM sqlite_master")]
        assert tables == ["photos"]
        assert other.execute("PRAGMA user_version").fetchone()[0] == 0


def test_a_new_database_appears_whole_and_leaves_no_scratch_file(tmp_path: Path) -> None:
    path = tmp_path / "state" / "newsletter.db"
    with Store(path) as store:
        assert store.schema_version == SCHEMA_VERSION
    assert path.stat().st_size > 0
    assert sorted(p.name for p in path.parent.iterdir() if p.name.startswith(".")) == []


def test_a_state_path_that_cannot_be_created_is_a_store_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(StoreError, match="state database"):
        Store(blocker / "newsletter.db")


@pytest.mark.parametrize(
    ("table", "read"),
    [
        ("day_papers", lambda store: store.papers_for_day(date(2026, 7, 27))),
        ("papers", lambda store: store.paper("2607.00001")),
        ("fetches", lambda store: store.last_fetches()),
        ("deliveries", lambda store: store.deliveries()),
        ("delivered_papers", lambda store: store.delivered_paper_ids("ada@example.org")),
    ],
)
def test_a_failing_read_is_a_store_error(
    tmp_path: Path, table: str, read: Callable[[Store], object]
) -> None:
    path = tmp_path / "newsletter.db"
    with Store(path) as store:
        read(store)  # works while the table is there
        with closing(sqlite3.connect(path, isolation_level=None)) as other:
            other.execute(f"DROP TABLE {table}")
        with pytest.raises(
            StoreError, match=f"^state database .*: no such table: {table}$"
        ) as caught:
            read(store)
        assert isinstance(caught.value.__cause__, sqlite3.OperationalError)


@pytest.mark.parametrize("content", [b"x", b"\x00" * 99, b"not a database at all"])
def test_a_state_file_cut_to_a_few_bytes_is_refused(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "newsletter.db"
    with Store(path) as store:
        store.mark_delivered("ada@example.org", date(2026, 7, 27), ["2607.00001"])
    path.write_bytes(content)
    with pytest.raises(StoreError):
        Store(path)
    assert path.read_bytes() == content


def test_an_empty_sqlite_file_is_not_taken_for_a_new_state(tmp_path: Path) -> None:
    path = tmp_path / "newsletter.db"
    with closing(sqlite3.connect(path)) as db:
        db.execute("CREATE TABLE t (x)")
        db.execute("DROP TABLE t")  # a valid SQLite file without a single table
        db.commit()
    with pytest.raises(StoreError, match="holds no state"):
        Store(path)
