"""The SQLite state database: created, migrated, shared by processes, idempotent."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from newsletter.errors import StoreError
from newsletter.models import AnnounceType, Paper
from newsletter.store import SCHEMA_VERSION, Store


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
    with pytest.raises(StoreError, match="newer than this release"):
        Store(path)


def test_saving_the_same_day_twice_changes_nothing(tmp_path: Path) -> None:
    day = date(2026, 7, 27)
    with Store(tmp_path / "db.sqlite") as store:
        papers = [paper("2607.00001"), paper("2607.00002")]
        store.save_day(day, "arxiv", papers)
        store.save_day(day, "arxiv", papers)
        store.save_day(day, "huggingface", papers[:1])
        assert [p.id for p in store.papers_for_day(day)] == ["2607.00001", "2607.00002"]
        assert store.papers_for_day(date(2026, 7, 28)) == []


def test_a_newer_version_replaces_the_stored_paper(tmp_path: Path) -> None:
    with Store(tmp_path / "db.sqlite") as store:
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


def test_two_processes_write_at_once(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite"
    procs = [
        subprocess.Popen([sys.executable, "-c", WRITER, str(path), str(w)], stderr=subprocess.PIPE)
        for w in (1, 2)
    ]
    for proc in procs:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err.decode()
    with Store(path) as store:
        assert len(store.papers_for_day(date(2026, 7, 27))) == 100
