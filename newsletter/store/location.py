"""Where the state lives: an SQLite file (the embedded default) or a PostgreSQL database.

    state: newsletter.db                               # a file, relative to the config file
    state: postgresql://digest@db.example.org/digest   # `pip install "paper-digest-mail[postgres]"`

A URL never carries a password: libpq reads it from `$PGPASSWORD` or `~/.pgpass` (and any
other `PG*` variable it knows), so the YAML holds nothing secret. Anything else with a scheme
(`mysql://`, a misspelt `postgress://`) is refused rather than taken for a file name.
"""

from __future__ import annotations

import importlib.util
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

SCHEMES = ("postgresql", "postgres")
EXTRA = 'pip install "paper-digest-mail[postgres]"'
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")


def state_text_problem(text: str) -> str | None:
    """Why `text` cannot name the state (None: it can): an unknown scheme, a URL with a
    password or without a database name."""
    match = _SCHEME.match(text)
    if match is None:
        return None  # a path
    scheme = match.group(1)
    if scheme.lower() not in SCHEMES:
        return (
            f"unknown database scheme {scheme}://: use an SQLite file path "
            "(e.g. newsletter.db) or a postgresql:// URL"
        )
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 - raises on a port that is not a number
    except ValueError as exc:
        return f"not a valid postgresql:// URL: {exc}"
    if parts.password is not None or "password" in {k.lower() for k in parse_qs(parts.query)}:
        return (
            "the URL holds a password: remove it, and give it in $PGPASSWORD or ~/.pgpass "
            "(secrets stay out of the YAML)"
        )
    if not parts.hostname and "host=" not in parts.query:
        return "name the database server: postgresql://USER@HOST/DATABASE"
    if not parts.path.strip("/"):
        return "name the database: postgresql://USER@HOST/DATABASE"
    if parts.fragment:
        return "a postgresql:// URL has no #fragment"
    if importlib.util.find_spec("psycopg") is None:
        return f"a postgresql:// state needs its extra: {EXTRA}"
    return None


@dataclass(frozen=True)
class StateLocation:
    """An SQLite file (`path`) or a PostgreSQL URL (`url`)."""

    path: Path | None = None
    url: str | None = None

    @classmethod
    def of(cls, where: StateLocation | Path | str, base_dir: Path | None = None) -> StateLocation:
        """`where` as a location; a relative path is taken from `base_dir` when given."""
        if isinstance(where, StateLocation):
            return where
        if isinstance(where, str) and _SCHEME.match(where):
            problem = state_text_problem(where)
            if problem is not None:
                from newsletter.errors import StoreError

                raise StoreError(f"state {redacted(where)}: {problem}")
            return cls(url=where)
        path = Path(where)
        return cls(path=base_dir / path if base_dir is not None else path)

    @property
    def is_postgres(self) -> bool:
        return self.url is not None

    def __str__(self) -> str:
        """For messages and logs: the path, or the URL without any password or query."""
        return str(self.path) if self.url is None else redacted(self.url)

    def sqlite_path(self) -> Path:
        assert self.path is not None, "not an SQLite state"
        return self.path


def redacted(url: str) -> str:
    """`url` without a password, query or fragment: safe to print."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return url.split("://", 1)[0] + "://..."
    user = f"{parts.username}@" if parts.username else ""
    host = f"[{host}]" if ":" in host else host
    return f"{parts.scheme}://{user}{host}{port}{parts.path}"
