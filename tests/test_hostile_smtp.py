"""The smtp backend against hostile servers (tests/smtpserver.py `hostile_server`, raw sockets on
127.0.0.1): replies dripped a byte at a time, garbage and binary replies, credentials echoed in
errors, servers with and without SMTPUTF8, connections closed, reset or refused. Each class of
fault is answered by one mechanism: a deadline per reply, strict reply parsing, one redactor,
SMTPUTF8 decided per message; nothing special-cased per command."""

from __future__ import annotations

import base64
import logging
import subprocess
import time
import traceback
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from newsletter.delivery.base import Outcome, Result
from newsletter.delivery.smtp import SmtpBackend
from newsletter.errors import DeliveryError
from newsletter.mail import Headers, Message, build
from newsletter.render.issue import Layout, RenderedIssue
from tests.sending import (
    CANARY,
    READERS,
    SEND_ENV,
    add_reader,
    backend,
    demo_config,
    parse,
    send_command,
    with_timeout,
)
from tests.smtpserver import Hostile, free_port, hostile_server, smtp_server, unanswered_port

TIMEOUT = 1.0  # smtp.timeout in these configs
SLACK = 1.5  # seconds a test allows beyond the deadline (two shared cores)
USER = "digest"  # the demo config's smtp.username
ISSUE = RenderedIssue("Digest - 2026-11-23: a paper", "P", "<p>x</p>", "x\n", Layout(1, 0, 0))


def message(to: str = "ada@example.org", name: str | None = None) -> Message:
    return build(ISSUE, to_name=name, to_email=to, day=date(2026, 11, 23),
                 headers=Headers.of("Digest", "Digest <digest@example.org>"),
                 now=datetime(2026, 11, 23, 7, tzinfo=UTC))  # fmt: skip


def smtp_at(tmp_path: Path, port: int, *, security: str = "none", **options: object) -> SmtpBackend:
    path = with_timeout(demo_config(tmp_path, port), TIMEOUT)
    path.write_text(path.read_text().replace("security: none", f"security: {security}"))
    return backend(path, **options)


def timed_send(smtp: SmtpBackend, mail: Message) -> tuple[Result, float, list[str]]:
    handed: list[str] = []
    started = time.monotonic()
    result = smtp.send(mail, lambda: handed.append("handed over"))
    return result, time.monotonic() - started, handed


def open_fails(smtp: SmtpBackend) -> tuple[DeliveryError, float]:
    started = time.monotonic()
    with pytest.raises(DeliveryError) as raised, smtp:
        pytest.fail("opened a connection to a hostile server")
    return raised.value, time.monotonic() - started


def run_send_within(
    path: Path, seconds: float, *, debug: bool = False
) -> subprocess.CompletedProcess[str]:
    """`newsletter send` as a real process, failed by the test if it takes over `seconds`;
    with `debug`, tracebacks and debug logging on."""
    command = send_command(path)
    if debug:
        command.insert(command.index("send"), "--debug")
    return subprocess.run(command, capture_output=True, text=True, timeout=seconds, env=SEND_ENV)


# --- 3: a deadline on every reply, however slowly it drips ------------------------------------

BEFORE_THE_DATA = {"MAIL": "to MAIL FROM", "RCPT": "to RCPT TO", "DATA": "to DATA"}


@pytest.mark.parametrize("stage", sorted(BEFORE_THE_DATA))
def test_a_reply_dripped_before_the_data_is_deferred_within_the_timeout(
    tmp_path: Path, stage: str
) -> None:
    with hostile_server(Hostile(drip={stage})) as (port, script):
        with smtp_at(tmp_path, port) as smtp:
            result, took, handed = timed_send(smtp, message())
        assert result.outcome is Outcome.DEFERRED, result
        assert result.detail == f"no reply within 1 s {BEFORE_THE_DATA[stage]}"
        assert took < TIMEOUT + SLACK and handed == []
        assert script.counts[stage] == 1  # a server that stopped answering is not hammered


def test_a_reply_dripped_after_the_data_is_in_doubt_within_the_timeout(tmp_path: Path) -> None:
    with hostile_server(Hostile(drip={"DOT"})) as (port, script):
        with smtp_at(tmp_path, port) as smtp:
            result, took, handed = timed_send(smtp, message())
        assert result.outcome is Outcome.IN_DOUBT
        assert result.detail == (
            "no reply within 1 s after the message data; it may have been delivered"
        )
        assert took < TIMEOUT + SLACK and handed == ["handed over"]
        assert script.recipients() == ["ada@example.org"] and script.counts["DOT"] == 1


OPENING: dict[str, tuple[dict[str, Any], str]] = {
    "GREETING": ({}, "no SMTP greeting within 1 s: is this the SMTP port?"),
    "EHLO": ({}, "no reply within 1 s to EHLO"),
    "AUTH": ({}, "no reply within 1 s to AUTH"),
    "STARTTLS": ({"starttls": True}, "no reply within 1 s to STARTTLS"),
    "TLS": ({"starttls": True, "garbage": {"TLS": b"\x16\x03\x01\x00"}},
            "TLS handshake not finished within 1 s"),
}  # fmt: skip


@pytest.mark.parametrize("stage", list(OPENING))
def test_a_reply_dripped_while_connecting_fails_the_open_within_the_timeout(
    tmp_path: Path, stage: str
) -> None:
    options, expected = OPENING[stage]
    security = "starttls" if options.get("starttls") else "none"
    with hostile_server(Hostile(drip={stage}, **options)) as (port, _script):
        error, took = open_fails(smtp_at(tmp_path, port, security=security))
        assert str(error) == f"SMTP server 127.0.0.1:{port}: {expected}"
        assert took < TIMEOUT + SLACK


def test_a_connect_never_answered_fails_the_open_within_the_timeout(tmp_path: Path) -> None:
    with unanswered_port() as port:
        error, took = open_fails(smtp_at(tmp_path, port))
    assert str(error) == f"SMTP server 127.0.0.1:{port}: could not connect within 1 s"
    assert took < TIMEOUT + SLACK


def test_a_reply_dripped_to_quit_does_not_hold_the_close(tmp_path: Path) -> None:
    with hostile_server(Hostile(drip={"QUIT"})) as (port, _script):
        smtp = smtp_at(tmp_path, port)
        with smtp:
            assert smtp.send(message()).outcome is Outcome.SENT
            started = time.monotonic()
        assert time.monotonic() - started < TIMEOUT + SLACK


def test_send_against_a_dripping_server_ends_in_time_with_every_reader_deferred(
    tmp_path: Path,
) -> None:
    with hostile_server(Hostile(drip={"MAIL"})) as (port, script):  # a byte every 0.25 s
        path = with_timeout(demo_config(tmp_path, port), TIMEOUT)
        started = time.monotonic()
        result = run_send_within(path, 90)
        took = time.monotonic() - started
    assert result.returncode == 1, result.stderr
    assert "deferred 3" in result.stdout and "Traceback" not in result.stderr
    assert "no reply within 1 s to MAIL FROM" in result.stderr
    assert script.counts["MAIL"] == len(READERS)  # one try each, then the next run
    assert took < 60  # (the process start and the demo's rendering take most of it)


# --- 4: internationalised addresses -----------------------------------------------------------


def test_an_international_domain_is_written_in_a_labels_and_needs_nothing_special() -> None:
    built = message("ada@bücher.de", "Ädä")
    assert built.data.isascii() and not built.needs_smtputf8
    assert built.envelope.recipient == "ada@xn--bcher-kva.de"
    assert b"\r\nTo: =?utf-8?b?w4Rkw6Q=?= <ada@xn--bcher-kva.de>\r\n" in built.data
    assert parse(built.data)["To"].addresses[0].display_name == "Ädä"


@pytest.mark.parametrize("address", ["użytkownik@bücher.de", "用户@例子.广告"])
def test_a_non_ascii_local_part_is_written_in_utf8_and_needs_smtputf8(address: str) -> None:
    built = message(address, "Ädä, the reader")
    assert built.needs_smtputf8 and built.international_address == address
    assert built.envelope.recipient == address
    head = built.data.split(b"\r\n\r\n", 1)[0]
    assert f'To: "Ädä, the reader" <{address}>'.encode() not in head  # the name: RFC 2047
    assert f"<{address}>\r\n".encode() in head
    assert all(line.isascii() for line in head.split(b"\r\n") if not line.startswith(b"To:"))
    parsed = parse(built.data)
    assert parsed.defects == []
    assert parsed["To"].addresses[0].addr_spec == address
    assert parsed["To"].addresses[0].display_name == "Ädä, the reader"
    assert parsed["List-Unsubscribe"].isascii()


def test_smtputf8_is_used_when_the_server_offers_it(tmp_path: Path) -> None:
    with smtp_server(smtputf8=True) as (port, script):
        with smtp_at(tmp_path, port) as smtp:
            results = [smtp.send(message(to)) for to in ("用户@例子.广告", "ada@example.org")]
        assert [r.outcome for r in results] == [Outcome.SENT, Outcome.SENT]
        assert script.recipients() == ["用户@例子.广告", "ada@example.org"]
        assert script.mail_options == [["SMTPUTF8", "BODY=8BITMIME"], []]
        assert parse(script.received[0][2])["To"].addresses[0].addr_spec == "用户@例子.广告"


def test_without_smtputf8_only_that_reader_fails_and_the_connection_serves_the_others(
    tmp_path: Path,
) -> None:
    with hostile_server(Hostile(smtputf8=False)) as (port, script):
        with smtp_at(tmp_path, port) as smtp:
            addresses = ["ada@example.org", "用户@例子.广告", "ada@bücher.de"]
            results = [smtp.send(message(to)) for to in addresses]
        assert [r.outcome for r in results] == [Outcome.SENT, Outcome.FAILED, Outcome.SENT]
        assert results[1].detail == "the server does not offer SMTPUTF8, needed for 用户@例子.广告"
        assert script.recipients() == ["ada@example.org", "ada@xn--bcher-kva.de"]
        assert script.connections == 1 and script.counts["MAIL"] == 2


@pytest.mark.parametrize("name", ["file", "console", "memory"])
def test_the_other_backends_keep_utf8_messages(
    tmp_path: Path, name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import io
    import sys

    from newsletter.config import load_config
    from newsletter.delivery import backend_for
    from newsletter.delivery.memory import MemoryBackend

    stream = io.StringIO()
    monkeypatch.setattr(sys, "stdout", stream)
    config = load_config(demo_config(tmp_path, None))
    built = message("用户@例子.广告")
    with backend_for(config, name) as delivery:
        assert delivery.send(built).outcome is Outcome.SENT
    if name == "file":
        (written,) = (tmp_path / "outbox" / "new").iterdir()
        assert written.read_bytes() == built.data
    elif name == "console":
        assert "<用户@例子.广告>" in stream.getvalue() or "用户@例子.广告" in stream.getvalue()
    else:
        assert isinstance(delivery, MemoryBackend) and delivery.sent == [built]


def test_validate_notes_the_readers_who_need_smtputf8(tmp_path: Path) -> None:
    from newsletter import preflight
    from newsletter.config import load_config

    path = demo_config(tmp_path, None)
    add_reader(path, "ada@bücher.de")
    add_reader(path, "用户@例子.广告")
    config = load_config(path)
    notes = [str(note) for note in preflight.notices(config)]
    lines = path.read_text(encoding="utf-8").splitlines()
    line = next(n for n, text in enumerate(lines, 1) if "用户@例子.广告" in text)
    assert notes == [
        f"{path}:{line}: subscribers[4].email: 用户@例子.广告 has a non-ASCII local part: this "
        "reader's "
        "issue can only be sent through an SMTP server that offers SMTPUTF8 (RFC 6531); "
        "without it, it fails"
    ]
    assert preflight.problems(config) == []


def test_send_fails_only_the_reader_who_needs_smtputf8_when_the_server_lacks_it(
    tmp_path: Path,
) -> None:
    with hostile_server(Hostile(smtputf8=False)) as (port, script):
        path = demo_config(tmp_path, port)
        add_reader(path, "用户@例子.广告", "Yònghù")
        add_reader(path, "ada@bücher.de")
        result = run_send_within(path, 120)
        assert result.returncode == 1, result.stderr
        assert "Traceback" not in result.stderr
        assert "sent 4" in result.stdout and "failed 1" in result.stdout
        assert (
            "failed: 用户@例子.广告: the server does not offer SMTPUTF8, needed for 用户@例子.广告"
            in result.stderr
        )
        assert sorted(script.recipients()) == sorted([*READERS, "ada@xn--bcher-kva.de"])


# --- 9: replies that are not SMTP -------------------------------------------------------------

GARBAGE = {
    "words": (b"hello there\r\n", "hello there"),
    "binary": (b"\x00\xff\xfe\x1b[31mbinary\x07\r\n", "\ufffd\ufffd [31mbinary"),
    "bad code": (b"2x0 almost a reply\r\n", "2x0 almost a reply"),
    "codes that change": (b"250-fine so far\r\n550 then not\r\n", "250-fine so far 550 then not"),
}


@pytest.mark.parametrize("stage", ["MAIL", "RCPT", "DATA"])
@pytest.mark.parametrize("kind", list(GARBAGE))
def test_garbage_before_the_data_is_deferred_and_the_connection_dropped(
    tmp_path: Path, stage: str, kind: str
) -> None:
    raw, shown = GARBAGE[kind]
    with hostile_server(Hostile(garbage={f"{stage}#1": raw})) as (port, script):
        with smtp_at(tmp_path, port) as smtp:
            first, _, handed = timed_send(smtp, message())
            second = smtp.send(message("grace@example.org"))
        assert first.outcome is Outcome.DEFERRED and handed == []
        assert shown in first.detail and "-1" not in first.detail
        assert first.detail.isprintable()
        assert second.outcome is Outcome.SENT
        assert script.connections == 2  # the confused connection was not used again


@pytest.mark.parametrize("kind", list(GARBAGE))
def test_garbage_after_the_data_is_in_doubt(tmp_path: Path, kind: str) -> None:
    raw, shown = GARBAGE[kind]
    with hostile_server(Hostile(garbage={"DOT": raw})) as (port, _script):
        with smtp_at(tmp_path, port) as smtp:
            result, _, handed = timed_send(smtp, message())
        assert result.outcome is Outcome.IN_DOUBT and handed == ["handed over"]
        assert shown in result.detail and result.detail.endswith("it may have been delivered")


def test_only_a_real_5xx_is_permanent(tmp_path: Path) -> None:
    replies = {"RCPT#1": "550 5.1.1 no such user", "RCPT#2": "451 4.3.0 later", "MAIL#3": "354 ?"}
    with (
        hostile_server(Hostile(replies=replies)) as (port, _),
        smtp_at(tmp_path, port, attempts=1) as smtp,
    ):
        results = [smtp.send(message(f"r{n}@example.org")) for n in range(3)]
    assert [r.outcome for r in results] == [Outcome.FAILED, Outcome.DEFERRED, Outcome.DEFERRED]
    assert results[0].detail == "RCPT TO: 550 5.1.1 no such user"


def test_the_log_shows_the_reply_as_the_server_sent_it(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from tests.sending import send_day

    with hostile_server(Hostile(garbage={"RCPT": b"hello there\r\n"})) as (port, _script):
        path = with_timeout(demo_config(tmp_path, port), TIMEOUT)
        with caplog.at_level(logging.INFO):
            report = send_day(path)
    assert sorted(email for email, _ in report.deferred) == sorted(READERS)
    assert all(
        detail == "not an SMTP reply to RCPT TO: hello there" for _, detail in report.deferred
    )
    assert "hello there" in caplog.text and "o there" not in caplog.text.replace("hello there", "")


# --- 11: the password never leaves the backend ------------------------------------------------


def secret_forms() -> list[str]:
    """The password and the user name as a login sends them."""

    def b64(text: str) -> str:
        return base64.b64encode(text.encode()).decode()

    return [CANARY, b64(CANARY), b64(f"\0{USER}\0{CANARY}"), b64(USER), USER]


def test_credentials_echoed_in_the_auth_error_are_redacted(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with hostile_server(Hostile(echo_credentials=True)) as (port, script), caplog.at_level(0):
        error, _ = open_fails(smtp_at(tmp_path, port))
        assert script.counts["AUTH"] >= 2  # it was sent the credentials, and echoed them
    shown = "".join(traceback.format_exception(error)) + caplog.text
    assert "refused the login: 535 5.7.8 bad credentials" in shown
    for form in secret_forms():
        assert form not in shown, form


def test_credentials_echoed_in_any_reply_are_redacted(tmp_path: Path) -> None:
    b64 = base64.b64encode(f"\0{USER}\0{CANARY}".encode()).decode()
    script = Hostile(
        replies={"RCPT#1": f"550 no {CANARY} or {b64}"},
        garbage={"DOT": f"nonsense {CANARY}\r\n".encode()},
    )
    with hostile_server(script) as (port, _), smtp_at(tmp_path, port) as smtp:
        results = [smtp.send(message()), smtp.send(message())]
    assert [r.outcome for r in results] == [Outcome.FAILED, Outcome.IN_DOUBT]
    for result in results:
        assert "[redacted]" in result.detail
        assert not any(form in result.detail for form in secret_forms())


def test_send_never_prints_the_credentials_a_server_echoes(tmp_path: Path) -> None:
    with hostile_server(Hostile(echo_credentials=True)) as (port, _script):
        path = with_timeout(demo_config(tmp_path, port), TIMEOUT)
        result = run_send_within(path, 120, debug=True)
    output = result.stdout + result.stderr
    assert result.returncode == 1 and "refused the login" in output
    for form in secret_forms():
        assert form not in output, form


def test_the_redactor_finds_base64_of_a_secret_at_any_alignment() -> None:
    from newsletter.delivery.smtp_wire import Redactor

    redactor = Redactor(USER, CANARY)
    for prefix in ("", "x", "xy", "xyz", f"{USER}:", f"\0{USER}\0"):
        encoded = base64.b64encode(f"{prefix}{CANARY}-and-more".encode()).decode()
        assert CANARY not in redactor.clean(f"535 {encoded}")
        assert base64.b64encode(CANARY.encode()).decode()[:8] not in redactor.clean(encoded)
    assert redactor.clean("550 a\r\nb\x00c\x1b[2J") == "550 a b c [2J"


# --- 15: every failure says what happened -----------------------------------------------------

FAILURES: dict[str, tuple[dict[str, Any], Outcome, str]] = {
    "timeout after the data": (
        dict(drip={"DOT"}),
        Outcome.IN_DOUBT,
        "no reply within 1 s after the message data; it may have been delivered",
    ),
    "closed after the data": (
        dict(close_at={"DOT"}),
        Outcome.IN_DOUBT,
        "connection lost waiting for the reply after the message data: the server closed the "
        "connection; it may have been delivered",
    ),
    "reset after the data": (
        dict(reset_at={"DOT"}),
        Outcome.IN_DOUBT,
        "connection lost waiting for the reply after the message data: connection reset by "
        "the server; it may have been delivered",
    ),
    "closed at MAIL": (
        dict(close_at={"MAIL"}),
        Outcome.DEFERRED,
        "the server closed the connection, waiting for the reply to MAIL FROM",
    ),
    "reset at RCPT": (
        dict(reset_at={"RCPT"}),
        Outcome.DEFERRED,
        "connection reset by the server, waiting for the reply to RCPT TO",
    ),
}


@pytest.mark.parametrize("case", list(FAILURES))
def test_each_failure_says_what_happened(tmp_path: Path, case: str) -> None:
    options, outcome, detail = FAILURES[case]
    script = Hostile(**options)
    with hostile_server(script) as (port, _), smtp_at(tmp_path, port, attempts=1) as smtp:
        result = smtp.send(message())
    assert (result.outcome, result.detail) == (outcome, detail)


OPEN_FAILURES: dict[str, tuple[dict[str, Any] | None, str]] = {
    "refused": (None, "connection refused"),
    "closed at the greeting": (
        dict(close_at={"GREETING"}),
        "the server closed the connection, waiting for the greeting",
    ),
    "421 at the greeting": (
        dict(replies={"GREETING": "421 4.3.2 not now"}),
        "refused the connection: 421 4.3.2 not now",
    ),
    "TLS failure": (
        dict(starttls=True, garbage={"TLS": b"hello there\r\n"}),
        "TLS failed: WRONG_VERSION_NUMBER",
    ),
}


@pytest.mark.parametrize("case", list(OPEN_FAILURES))
def test_each_failure_to_connect_says_what_happened(tmp_path: Path, case: str) -> None:
    options, expected = OPEN_FAILURES[case]
    if options is None:  # nobody listens on that port
        error, _ = open_fails(smtp_at(tmp_path, free_port()))
    else:
        security = "starttls" if options.get("starttls") else "none"
        with hostile_server(Hostile(**options)) as (port, _):
            error, _ = open_fails(smtp_at(tmp_path, port, security=security))
    assert str(error).endswith(expected), str(error)


def test_a_wrong_port_is_named_as_such_well_before_the_reply_timeout(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An HTTP server (or anything that waits for the client to speak) on the SMTP port: the
    greeting has its own short deadline and the message says what to check."""
    import socket
    import ssl
    import time

    from newsletter.delivery import smtp_wire

    monkeypatch.setattr(smtp_wire, "GREETING_TIMEOUT", 0.5)
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)  # the kernel accepts; nothing ever speaks, like an HTTP server
        connection = smtp_wire.Connection(
            "127.0.0.1", timeout=120.0, tls=ssl.create_default_context()
        )
        started = time.monotonic()
        with pytest.raises(smtp_wire.NoReply, match="is this the SMTP port"):
            connection.open(listener.getsockname()[1])
        connection.close()
        assert time.monotonic() - started < 10  # not the 120 s reply timeout


@pytest.mark.parametrize(
    "echo",
    [
        "Canary -Pa55",  # a control character in the password, shown as a space
        "Canary\0-Pa55",
        "Canary-\r\n Pa55",  # split over two reply lines
        "Q2FuYXJ5\r\n LVBhNTU=",  # its base64, split
        "43616e6172792d50613535",  # hex
        "43616E6172792D50613535",
        "Canary%2DPa55",  # URL-encoded
    ],
)
def test_the_redactor_catches_lightly_changed_echoes(echo: str) -> None:
    from newsletter.delivery.smtp_wire import Redactor

    password = "Canary-Pa55" if "\0" not in echo and " -" not in echo else "Canary\0-Pa55"
    cleaned = Redactor("digest", password).clean(f"535 bad credentials {echo} (try again)")
    for fragment in ("Canary", "Pa55", "Q2FuYXJ5", "6172792d", "6172792D"):
        assert fragment not in cleaned, cleaned
    assert cleaned.startswith("535 bad credentials")
