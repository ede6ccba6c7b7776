"""`newsletter inbox` against a real Dovecot over TLS: bounces, a complaint, an unsubscribe and
junk in the mailbox, the command run twice as a real process; then the failure modes (wrong
password, untrusted certificate, STARTTLS without MOVE, a crash before the move, a server that
stalls or echoes the password)."""

from __future__ import annotations

import imaplib
import logging
import os
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from newsletter.config import load_config
from newsletter.config_blocks import InboxConfig
from newsletter.inbound.imap import KEYWORD, InboxError, Mailbox
from newsletter.inbound.process import inbox_job, process_inbox
from newsletter.store import Store
from newsletter.tokens import SECRET_ENV, Purpose
from tests.imapserver import PASSWORD, USER, ImapServer, dovecot, free_port
from tests.sending import add_reader, demo_config
from tests.test_inbox_reports import (
    BOUNCES,
    SIGNER,
    arf,
    original,
    postfix_dsn,
    unsubscribe_mail,
    vacation,
    verp,
)

ADA, GRACE = "ada@example.org", "grace.hopper@example.org"
GROUP, DORA = "lab-reading-group@example.org", "dora@example.org"
DAYS = [date(2026, 7, 20), date(2026, 7, 21), date(2026, 7, 22)]
TODAY = date(2026, 7, 30)
SECRET = SIGNER.secret
# the command as `newsletter inbox`, registered here until cli.py registers it
LAUNCH = (
    "from newsletter.cli import cli\nfrom newsletter.cli_inbox import inbox\n"
    "'inbox' in cli.commands or cli.add_command(inbox)\ncli(prog_name='newsletter')\n"
)
SPAM = (
    b"From: Prize Desk <win@lottery.example>\r\nTo: bounces@digest.example.org\r\n"
    b"Subject: You won!\r\nDate: Tue, 28 Jul 2026 03:00:00 +0000\r\n\r\nClaim now.\r\n"
)


@pytest.fixture
def imap(tmp_path: Path) -> Iterator[ImapServer]:
    with dovecot(tmp_path) as server:
        yield server


def config_for(tmp_path: Path, port: int, security: str = "tls", after: int = 3) -> Path:
    extra = (
        f"  bounce_address: {BOUNCES}\n  bounces:\n    after: {after}\n"
        f"  inbox:\n    host: 127.0.0.1\n    port: {port}\n    security: {security}\n"
        f"    username: {USER}\n    done_folder: Processed\n    timeout: 10\n"
    )
    path = demo_config(tmp_path, None, extra)
    add_reader(path, DORA)
    return path


def environment(server: ImapServer | None, **changes: str | None) -> dict[str, str]:
    env = {**os.environ, "NEWSLETTER_IMAP_PASSWORD": PASSWORD, SECRET_ENV: SECRET,
           "COLUMNS": "200"}  # fmt: skip
    env.pop("SSL_CERT_FILE", None)
    if server is not None:
        env["SSL_CERT_FILE"] = str(server.cafile)  # OpenSSL's own: what the test CA rides on
    for name, value in changes.items():
        env.pop(name, None) if value is None else env.__setitem__(name, value)
    return env


def run_inbox(path: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-c", LAUNCH, "inbox", "-c", str(path), *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, env=env)


def seed(server: ImapServer) -> None:
    """A week of mail: Ada's address refused on three issue dates, Grace's delayed, a
    complaint about the group's issue, Dora's mailto unsubscribe, and three to leave alone."""
    for day in DAYS:
        server.append(postfix_dsn(ADA, to=verp(ADA, day)))
    server.append(postfix_dsn(GRACE, status="4.2.2", action="delayed"))
    server.append(arf(original(GROUP)))
    token = SIGNER.token(DORA, Purpose.UNSUBSCRIBE, DAYS[0])
    server.append(unsubscribe_mail(f"Re: unsubscribe {token}", sender=DORA))
    server.append(SPAM)
    server.append(postfix_dsn(ADA, recipient=GRACE))  # a forged bounce: Ada's token, Grace's name
    server.append(vacation(GRACE))


def state_of(path: Path) -> tuple[list[tuple[object, ...]], list[tuple[object, ...]]]:
    """The suppressions and the bounce counts, as rows (timestamps left out)."""
    database = load_config(path).state_path
    with closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True)) as db:
        stopped = db.execute("SELECT subscriber, status, source FROM suppressions ORDER BY 1")
        bounces = db.execute("SELECT subscriber, issue_date, hard FROM bounces ORDER BY 1, 2")
        return stopped.fetchall(), bounces.fetchall()


# ------------------------------------------------------------------------ the whole day


@pytest.mark.slow
def test_reports_are_applied_once_and_moved(tmp_path: Path, imap: ImapServer) -> None:
    path = config_for(tmp_path, imap.tls_port)
    seed(imap)
    first = run_inbox(path, environment(imap))
    assert first.returncode == 0, first.stderr
    assert first.stdout.splitlines()[0] == (
        "inbox: 6 handled (3 hard bounces, 1 soft bounce, 1 complaint, 1 unsubscribe), "
        "3 readers suppressed, 3 left alone"
    )
    stopped, bounces = state_of(path)
    assert stopped == [(ADA, "bounced", "mail"), (DORA, "unsubscribed", "mail"),
                       (GROUP, "complained", "mail")]  # fmt: skip
    assert bounces == [(ADA, str(day), 1) for day in DAYS] + [(GRACE, "2026-07-27", 0)]
    assert "complaint report from example.com" in first.stdout

    inbox, done = imap.folder("INBOX"), imap.folder("Processed")
    assert len(done) == 6 and len(inbox) == 3
    assert inbox[0][1].endswith(b"Claim now.\r\n")
    for flags, _ in inbox + done:
        assert b"\\Seen" not in flags  # read with BODY.PEEK
    assert all(KEYWORD.encode() in flags for flags, _ in inbox)

    second = run_inbox(path, environment(imap))
    assert second.returncode == 0, second.stderr
    assert second.stdout.strip() == (
        "inbox: 0 handled, 0 readers suppressed, 0 left alone (and 3 from earlier runs)"
    )
    assert state_of(path) == (stopped, bounces)
    assert len(imap.folder("Processed")) == 6 and len(imap.folder("INBOX")) == 3


def test_a_dry_run_changes_nothing(tmp_path: Path, imap: ImapServer) -> None:
    import json

    path = config_for(tmp_path, imap.tls_port)
    seed(imap)
    result = run_inbox(path, environment(imap), "--dry-run", "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert (report["handled"], report["left_alone"], report["dry_run"]) == (6, 3, True)
    assert {r["email"] for r in report["suppressed"]} == {DORA, GROUP}  # bounces: not counted
    assert not load_config(path).state_path.exists()
    inbox = imap.folder("INBOX")
    assert len(inbox) == 9 and imap.folder("Processed") == []
    assert all(b"\\Seen" not in flags and KEYWORD.encode() not in flags for flags, _ in inbox)


def test_too_big_is_left_alone(
    tmp_path: Path, imap: ImapServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NEWSLETTER_IMAP_PASSWORD", PASSWORD)
    monkeypatch.setenv(SECRET_ENV, SECRET)
    config = load_config(config_for(tmp_path, imap.tls_port))
    imap.append(postfix_dsn(ADA) + b"x" * (3 * 1024 * 1024))
    with Store(config.state_path) as store:
        report = process_inbox(config, store, today=TODAY, context=imap.context())
    assert (report.too_big, report.handled) == (1, 0)
    assert len(imap.folder("INBOX")) == 1


# ---------------------------------------------------------------------------- failures


def one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert PASSWORD not in result.stdout + result.stderr
    return lines[0]


def test_a_wrong_password(tmp_path: Path, imap: ImapServer) -> None:
    path = config_for(tmp_path, imap.tls_port)
    wrong = PASSWORD[::-1]
    result = run_inbox(path, environment(imap, NEWSLETTER_IMAP_PASSWORD=wrong))
    line = one_line_error(result)
    assert wrong not in result.stderr
    assert line == (
        f"Error: IMAP server 127.0.0.1:{imap.tls_port} refused the login: "
        "[AUTHENTICATIONFAILED] Authentication failed."
    )


def test_no_password_or_secret(tmp_path: Path, imap: ImapServer) -> None:
    path = config_for(tmp_path, imap.tls_port)
    line = one_line_error(run_inbox(path, environment(imap, NEWSLETTER_IMAP_PASSWORD=None)))
    assert line == "Error: IMAP password: set the environment variable NEWSLETTER_IMAP_PASSWORD"
    missing = environment(imap, **{SECRET_ENV: None, "NEWSLETTER_UNSUBSCRIBE_SECRET": None})
    assert SECRET_ENV in one_line_error(run_inbox(path, missing))


def test_an_untrusted_certificate(tmp_path: Path, imap: ImapServer) -> None:
    path = config_for(tmp_path, imap.tls_port)
    line = one_line_error(run_inbox(path, environment(None)))  # the system's CAs only
    assert line.startswith(f"Error: IMAP server 127.0.0.1:{imap.tls_port}: connecting: TLS failed")
    assert "CERTIFICATE_VERIFY_FAILED (unable to get local issuer certificate)" in line


def spy(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The IMAP commands sent from now on (`UID MOVE`, `EXPUNGE`...)."""
    sent: list[str] = []
    original = imaplib.IMAP4._command  # type: ignore[attr-defined]

    def command(self: imaplib.IMAP4, name: str, *args: object) -> object:
        sent.append(f"{name} {args[0]}" if name == "UID" else name)
        return original(self, name, *args)

    monkeypatch.setattr(imaplib.IMAP4, "_command", command)
    return sent


def test_handled_mail_is_moved_with_move(
    tmp_path: Path, imap: ImapServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NEWSLETTER_IMAP_PASSWORD", PASSWORD)
    monkeypatch.setenv(SECRET_ENV, SECRET)
    config = load_config(config_for(tmp_path, imap.tls_port))
    imap.append(postfix_dsn(ADA))
    sent = spy(monkeypatch)
    with Store(config.state_path) as store:
        process_inbox(config, store, today=TODAY, context=imap.context())
    assert "UID MOVE" in sent and "UID COPY" not in sent and "EXPUNGE" not in sent
    assert "AUTHENTICATE" in sent and "LOGIN" not in sent  # AUTH=PLAIN: UTF-8 passwords work
    assert "UID FETCH" in sent and "UID SEARCH" in sent


PLAIN_CAPABILITY = "IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ NAMESPACE"


@pytest.mark.parametrize(
    ("capability", "expunge"),
    [(PLAIN_CAPABILITY, "EXPUNGE"), (PLAIN_CAPABILITY + " UIDPLUS", "UID EXPUNGE")],
)
def test_starttls_and_a_server_without_move(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capability: str, expunge: str
) -> None:
    monkeypatch.setenv("NEWSLETTER_IMAP_PASSWORD", PASSWORD)
    monkeypatch.setenv(SECRET_ENV, SECRET)
    with dovecot(tmp_path, capability=capability) as server:
        config = load_config(config_for(tmp_path, server.plain_port, security="starttls"))
        server.append(postfix_dsn(ADA, to=verp(ADA, DAYS[0])))
        server.append(SPAM)
        server.append(postfix_dsn(ADA, to=verp(ADA, DAYS[1])))
        sent = spy(monkeypatch)
        with Store(config.state_path) as store:
            report = process_inbox(config, store, today=TODAY, context=server.context())
        assert (report.hard_bounces, report.unrecognised) == (2, 1)
        assert sent[:2] == ["CAPABILITY", "STARTTLS"] and "UID MOVE" not in sent
        assert sent.count("UID COPY") == 2 and sent.count(expunge) == 2
        assert [raw for _, raw in server.folder("INBOX")] == [SPAM]
        assert len(server.folder("Processed")) == 2


def test_a_crash_before_the_move_is_harmless(
    tmp_path: Path, imap: ImapServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NEWSLETTER_IMAP_PASSWORD", PASSWORD)
    monkeypatch.setenv(SECRET_ENV, SECRET)
    path = config_for(tmp_path, imap.tls_port, after=2)
    config = load_config(path)
    imap.append(postfix_dsn(ADA, to=verp(ADA, DAYS[0])))
    imap.append(postfix_dsn(ADA, to=verp(ADA, DAYS[1])))

    class Crashing(Mailbox):
        def done(self, uid: str) -> None:
            raise KeyboardInterrupt  # the process dies after the state, before the move

    assert config.newsletter.inbox is not None
    with Store(config.state_path) as store, pytest.raises(KeyboardInterrupt):
        crashing = Crashing(config.newsletter.inbox, context=imap.context())
        process_inbox(config, store, today=TODAY, mailbox=crashing)
    assert state_of(path)[1] == [(ADA, str(DAYS[0]), 1)]
    for _ in range(2):  # the next run reads it again: counted once, then everything moves
        with Store(config.state_path) as store:
            process_inbox(config, store, today=TODAY, context=imap.context())
    assert state_of(path) == ([(ADA, "bounced", "mail")], [(ADA, str(d), 1) for d in DAYS[:2]])
    assert imap.folder("INBOX") == [] and len(imap.folder("Processed")) == 2


# ------------------------------------------------------------------ misbehaving servers


@contextmanager
def scripted_server(answer: Callable[[str, str], bytes | None]) -> Iterator[int]:
    """A one-connection IMAP server on 127.0.0.1: `answer(tag, command line)` gives the reply
    (None: say nothing, as a stalled server does)."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(10)
    done = threading.Event()

    def serve() -> None:
        with closing(listener), closing(listener.accept()[0]) as conn:
            conn.sendall(b"* OK ready\r\n")
            stream = conn.makefile("rb")
            while not done.is_set():
                line = stream.readline(10_000).decode("utf-8", "replace").strip()
                if not line:
                    return
                tag, _, command = line.partition(" ")
                reply = answer(tag, command)
                if reply is None:
                    done.wait(20)
                    return
                conn.sendall(reply)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        done.set()
        thread.join(25)


def settings(port: int, **changes: object) -> InboxConfig:
    values = {"host": "127.0.0.1", "port": port, "security": "none", "username": USER,
              "timeout": 30.0, **changes}  # fmt: skip
    return InboxConfig.model_validate(values)


def capability_then(login: bytes | None) -> Callable[[str, str], bytes | None]:
    def answer(tag: str, command: str) -> bytes | None:
        if command.upper().startswith("CAPABILITY"):
            return f"* CAPABILITY IMAP4rev1\r\n{tag} OK done\r\n".encode()
        return None if login is None else login.replace(b"TAG", tag.encode())

    return answer


def test_a_server_that_echoes_the_password() -> None:
    echo = f"TAG NO [AUTHENTICATIONFAILED] no user {USER} with password {PASSWORD}\r\n"
    with scripted_server(capability_then(echo.encode())) as port:
        box = Mailbox(settings(port), environ={"NEWSLETTER_IMAP_PASSWORD": PASSWORD})
        with pytest.raises(InboxError) as caught:
            box.open()
    message = str(caught.value)
    assert PASSWORD not in message and "[redacted]" in message
    assert message.startswith(f"IMAP server 127.0.0.1:{port} refused the login:")
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


def test_a_stalled_server_meets_the_deadline() -> None:
    with scripted_server(capability_then(None)) as port:
        box = Mailbox(settings(port), deadline=1.0, environ={"NEWSLETTER_IMAP_PASSWORD": "x" * 8})
        started = time.monotonic()
        with pytest.raises(InboxError, match="no answer within 1 s"):
            box.open()
        assert time.monotonic() - started < 10
        box.close()


def test_plain_text_only_to_this_machine() -> None:
    box = Mailbox(settings(143, host="imap.example.org"), environ={"NEWSLETTER_IMAP_PASSWORD": "x"})
    with pytest.raises(InboxError, match="security: none is allowed only for localhost"):
        box.open()


def test_the_job_of_newsletter_run(
    tmp_path: Path,
    imap: ImapServer,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setenv("NEWSLETTER_IMAP_PASSWORD", PASSWORD)
    monkeypatch.setenv(SECRET_ENV, SECRET)
    monkeypatch.setenv("SSL_CERT_FILE", str(imap.cafile))
    now = datetime(2026, 7, 30, 8, 0, tzinfo=UTC)
    imap.append(postfix_dsn(ADA))
    report = inbox_job(load_config(config_for(tmp_path, imap.tls_port)), now)
    assert report is not None and (report.hard_bounces, report.handled) == (1, 1)
    (tmp_path / "down").mkdir()
    down = load_config(config_for(tmp_path / "down", free_port()))
    with caplog.at_level(logging.ERROR):
        assert inbox_job(down, now) is None  # logged; the scheduler goes on
    assert "connecting: connection refused" in caplog.text
    assert inbox_job(load_config(demo_config(tmp_path / "down", None)), now) is None  # no inbox
