"""A throwaway PostgreSQL server on 127.0.0.1 for the tests that need a shared state.

`postgres_server()` runs Debian's `initdb` into a temporary folder (a superuser `digest` with
a password, scram-sha-256 over TCP), starts `postgres` on a free port of 127.0.0.1 with its
socket in that folder and durability switched off (a test cluster loses nothing it needs;
`durable=True` keeps it on, for benchmarks), waits until it answers, and stops it at the end.
As root (the CI), the server runs as the `postgres` user Debian's package creates, since
PostgreSQL refuses to run as root; as any other user, as that user.

Clients find the password in `$PGPASSWORD`, as a real deployment would (the URL never holds
it): `PgServer.env` for a command, and the `pg_url` fixture sets it for the test process.

Skipped only when PostgreSQL is not installed (Debian: `postgresql`) or does not start; the
reason is printed.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import count
from pathlib import Path

USER = "digest"
PASSWORD = "canary-Pg-Pa55w0rd-never-printed"
START_SECONDS = 30.0
_databases = count(1)


def pg_bindir() -> Path | None:
    """The newest installed server's binaries (Debian keeps them per major version)."""
    versions = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/postgres"),
        key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0,
    )
    if versions:
        return versions[-1].parent
    found = shutil.which("postgres") or shutil.which("initdb")
    return Path(found).parent if found else None


@dataclass
class PgServer:
    port: int
    folder: Path

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{USER}@127.0.0.1:{self.port}/{database}"

    @property
    def env(self) -> dict[str, str]:
        """The environment a command needs to log in (the password, as libpq reads it)."""
        return {**os.environ, "PGPASSWORD": PASSWORD}

    def new_database(self) -> str:
        """A URL of an empty database of its own."""
        import psycopg

        name = f"t{os.getpid()}_{next(_databases)}"
        with psycopg.connect(self.url(), password=PASSWORD, autocommit=True) as db:
            db.execute(f"CREATE DATABASE {name}")
        return self.url(name)

    def sql(self, url: str, statement: str) -> list[tuple[object, ...]]:
        """Run one statement on `url`'s database; its rows (none for a command)."""
        import psycopg

        with psycopg.connect(url, password=PASSWORD, autocommit=True) as db:
            cursor = db.execute(statement)  # type: ignore[arg-type]
            return list(cursor.fetchall()) if cursor.description else []


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _as_server_user(folder: Path) -> list[str]:
    """The command prefix that runs the server as a user PostgreSQL accepts."""
    if os.geteuid() != 0:
        return []
    user = pwd.getpwnam("postgres")
    for path in (folder, *folder.rglob("*")):
        os.chown(path, user.pw_uid, user.pw_gid)
    return ["runuser", "-u", "postgres", "--"]


class Unavailable(Exception):
    """PostgreSQL cannot run here; the message says why."""


@contextmanager
def postgres_server(*, durable: bool = False) -> Iterator[PgServer]:
    """A started server, stopped at the end. `durable`: commits are flushed to disk as on a
    real server (for benchmarks); by default fsync and friends are off."""
    bindir = pg_bindir()
    if bindir is None or not (bindir / "initdb").exists():
        raise Unavailable("PostgreSQL is not installed (Debian: apt-get install postgresql)")
    folder = Path(tempfile.mkdtemp(prefix="digest-pg-"))
    try:
        folder.chmod(0o700)
        (folder / "pw").write_text(PASSWORD + "\n", encoding="utf-8")
        try:
            prefix = _as_server_user(folder)
        except KeyError as exc:
            raise Unavailable("running as root, and there is no `postgres` user") from exc
        data, port = folder / "data", _free_port()
        initdb = subprocess.run(
            [*prefix, str(bindir / "initdb"), "-D", str(data), "-U", USER, "-E", "UTF8",
             "--locale=C", "--auth-local=trust", "--auth-host=scram-sha-256",
             f"--pwfile={folder / 'pw'}", "--no-sync"],
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        if initdb.returncode != 0:
            raise Unavailable(f"initdb failed: {initdb.stderr.strip()[-300:]}")
        options = f"-c listen_addresses=127.0.0.1 -p {port} -k {folder} "
        if not durable:
            options += "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
        options += "-c max_connections=200"
        log = folder / "server.log"
        start = subprocess.run(
            [*prefix, str(bindir / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(log),
             "-w", "-t", str(int(START_SECONDS)), "start"],
            capture_output=True, text=True, timeout=START_SECONDS + 30,
        )  # fmt: skip
        if start.returncode != 0:
            tail = log.read_text(errors="replace")[-300:] if log.exists() else start.stderr
            raise Unavailable(f"postgres did not start: {tail.strip()}")
        server = PgServer(port, folder)
        try:
            _wait_until_up(server)
            yield server
        finally:
            subprocess.run(
                [*prefix, str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
                capture_output=True, timeout=60,
            )  # fmt: skip
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _wait_until_up(server: PgServer) -> None:
    import psycopg

    deadline = time.monotonic() + START_SECONDS
    while True:
        try:
            with psycopg.connect(server.url(), password=PASSWORD, connect_timeout=2):
                return
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)  # pg_ctl -w returned: only the first login can still be early
