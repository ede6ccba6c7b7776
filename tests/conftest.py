from __future__ import annotations

import textwrap
import tomllib
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.pgserver import PASSWORD, PgServer

REPO = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
DISTRIBUTION = PYPROJECT["project"]["name"]  # what pip installs; the import package is `newsletter`
REAL_FIXTURES = REPO.parent / "shared" / "fixtures" / "real"

MINIMAL = """\
newsletter:
  title: Test Digest
  sender: "Test Digest <digest@example.org>"
  sources:
    - type: arxiv
      categories: [cs.LG]
subscribers:
  - email: ada@example.org
    name: Ada
    interests:
      keywords: ["mixture of experts"]
"""


@pytest.fixture
def write_config(tmp_path: Path) -> Callable[[str], Path]:
    """Write a config file (dedented) into a fresh folder and return its path."""

    def write(text: str, name: str = "subscribers.yaml") -> Path:
        path = tmp_path / name
        path.write_text(textwrap.dedent(text), encoding="utf-8")
        return path

    return write


@pytest.fixture
def real_fixtures() -> Path:
    if not REAL_FIXTURES.is_dir():
        pytest.skip("../shared/fixtures/real is not present")
    return REAL_FIXTURES


@pytest.fixture(scope="session")
def postgres() -> Iterator[PgServer]:
    """One throwaway PostgreSQL server for the session (see tests/pgserver.py)."""
    from tests.pgserver import Unavailable, postgres_server

    try:
        with postgres_server() as server:
            yield server
    except Unavailable as exc:
        pytest.skip(f"PostgreSQL cannot run here: {exc}")


@pytest.fixture
def pg_url(postgres: PgServer, monkeypatch: pytest.MonkeyPatch) -> str:
    """A URL of an empty PostgreSQL database of this test's own; the password is in
    `$PGPASSWORD`, as a deployment gives it."""
    monkeypatch.setenv("PGPASSWORD", PASSWORD)
    return postgres.new_database()


@pytest.fixture(params=["sqlite", "postgresql"])
def state_at(request: pytest.FixtureRequest, tmp_path: Path) -> str | Path:
    """Where a test's state lives, once per engine: an SQLite file, then a PostgreSQL URL."""
    if request.param == "sqlite":
        return tmp_path / "newsletter.db"
    return str(request.getfixturevalue("pg_url"))
