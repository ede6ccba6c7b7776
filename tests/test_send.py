"""`newsletter send` against a real SMTP server on 127.0.0.1: well-formed messages, exactly
once, one reader's failure never blocking the others, and no secret in any output."""

from __future__ import annotations

import socket
import subprocess
import sys
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from newsletter.config import load_config
from newsletter.demo import DEMO_DAY
from newsletter.mail import Headers, build
from newsletter.render.issue import Layout, RenderedIssue
from newsletter.store import Store
from tests.sending import (
    CANARY,
    READERS,
    SEND_ENV,
    backend,
    demo_config,
    parse,
    run_send,
    send_command,
    send_day,
)
from tests.smtpserver import Script, smtp_server


def test_send_delivers_one_well_formed_message_per_reader_and_never_twice(
    tmp_path: Path,
) -> None:
    with smtp_server() as (port, script):
        path = demo_config(tmp_path, port)
        first = run_send(path)
        assert first.returncode == 0, first.stderr
        assert "sent 3" in first.stdout
        assert sorted(rcpt[0] for _, rcpt, _ in script.received) == sorted(READERS)
        second = run_send(path)
        assert second.returncode == 0, second.stderr
        assert "sent 0" in second.stdout and "already sent 3" in second.stdout
        assert len(script.received) == 3
    for sender, _, data in script.received:
        assert sender == "digest@example.org"
        assert CANARY.encode() not in data
        assert all(len(line) <= 998 for line in data.split(b"\r\n"))
        message = parse(data)
        for name in ("From", "To", "Subject", "Date", "Message-ID", "MIME-Version", "List-Id",
                     "List-Unsubscribe"):  # fmt: skip
            assert len(message.get_all(name) or []) == 1, name
        assert message.get_content_type() == "multipart/alternative"
        text, html = message.iter_parts()
        assert text.get_content_type() == "text/plain" and html.get_content_type() == "text/html"
        assert text.get_content_charset() == "utf-8"
        for part in (text, html):  # canonical form: CRLF line breaks inside the base64
            raw = part.get_payload(decode=True)
            assert b"\r\n" in raw and b"\n" not in raw.replace(b"\r\n", b"")
        assert str(message["Subject"]).endswith(" - Paper Digest, 23 Nov")
        assert "<!doctype html>" in html.get_content()
        assert "Unsubscribe" in text.get_content()
    for output in (first.stdout, first.stderr, second.stdout, second.stderr):
        assert CANARY not in output
    with Store(tmp_path / "newsletter.db") as store:
        assert {r.status for r in store.deliveries(DEMO_DAY)} == {"sent"}
        assert store.delivered_paper_ids("ada@example.org")


def test_a_refused_recipient_does_not_stop_the_others(tmp_path: Path) -> None:
    script = Script(rcpt={"grace.hopper@example.org": "550 5.1.1 no such user"})
    with smtp_server(script) as (port, script):
        path = demo_config(tmp_path, port)
        result = run_send(path)
        assert result.returncode == 1
        assert "failed: grace.hopper@example.org: RCPT TO: 550 5.1.1 no such user" in result.stderr
        assert sorted(r[0] for _, r, _ in script.received) == sorted(
            ["ada@example.org", "lab-reading-group@example.org"]
        )
        again = run_send(path)  # a permanent failure is not retried, and is still reported
        assert len(script.received) == 2
        assert "already sent 2" in again.stdout and "failed 1" in again.stdout
        assert again.returncode == 1
        assert "failed: grace.hopper@example.org: RCPT TO: 550 5.1.1 no such user" in again.stderr
        assert "not retried" in again.stderr
    with Store(tmp_path / "newsletter.db") as store:
        record = store.delivery("grace.hopper@example.org", DEMO_DAY)
        assert record is not None and record.status == "failed" and "550" in record.detail
        assert store.delivered_paper_ids("grace.hopper@example.org") == set()


def test_a_temporary_failure_is_retried_within_the_run(tmp_path: Path) -> None:
    with smtp_server(Script(data=["451 4.3.0 try again later"])) as (port, script):
        path = demo_config(tmp_path, port)
        report = send_day(path)
        assert sorted(report.sent) == sorted(READERS)
        assert len(script.received) == 3 and script.data == []


def test_a_server_that_keeps_deferring_leaves_issues_for_the_next_run(tmp_path: Path) -> None:
    replies = ["451 busy"] * 12
    with smtp_server(Script(data=list(replies))) as (port, script):
        path = demo_config(tmp_path, port)
        report = send_day(path, backend(path, attempts=2, breaker=1))
        assert len(report.deferred) == 3 and not report.sent
        assert "not tried" in report.deferred[-1][1]  # the breaker stopped hammering
        script.data.clear()
        later = send_day(path)
        assert sorted(later.sent) == sorted(READERS)
        assert len(script.received) == 3


def test_starttls_is_required_when_asked(tmp_path: Path) -> None:
    with smtp_server() as (port, script):
        path = demo_config(tmp_path, port)
        path.write_text(path.read_text().replace("security: none", "security: starttls"))
        result = run_send(path)
        assert result.returncode == 1
        assert "does not offer STARTTLS" in result.stderr
        assert script.received == []
        assert CANARY not in result.stderr + result.stdout


def test_a_sender_cut_off_before_the_data_is_resent_and_after_it_is_in_doubt(
    tmp_path: Path,
) -> None:
    path = demo_config(tmp_path, None)
    config = load_config(path)
    gone = f"{socket.gethostname()}:999999999:x"  # no process 999999999 on this host
    with Store(config.state_path) as store:
        assert store.claim("ada@example.org", DEMO_DAY, gone, resend_in_doubt=False)
        # cut off before the message left: nothing can have been delivered, so send it
        assert store.claim("ada@example.org", DEMO_DAY, "me", resend_in_doubt=False)
        store.finish("ada@example.org", DEMO_DAY, "deferred", message_id=None, detail="",
                     paper_ids=[])  # fmt: skip
        assert store.claim("ada@example.org", DEMO_DAY, gone, resend_in_doubt=False)
        store.handing_over("ada@example.org", DEMO_DAY)
        # cut off after the data left: the server may have delivered it, so it is in doubt
        assert not store.claim("ada@example.org", DEMO_DAY, "me", resend_in_doubt=False)
        record = store.delivery("ada@example.org", DEMO_DAY)
        assert record is not None and record.status == "in_doubt"
        assert store.claim("ada@example.org", DEMO_DAY, "me", resend_in_doubt=True)


def test_preview_and_dry_run_send_nothing(tmp_path: Path) -> None:
    with smtp_server() as (port, script):
        path = demo_config(tmp_path, port)
        result = run_send(path, "--dry-run")
        assert result.returncode == 0 and "would send 3" in result.stdout
        assert script.received == []
    with Store(tmp_path / "newsletter.db") as store:
        assert store.deliveries() == []


def test_without_smtp_messages_go_to_a_maildir(tmp_path: Path) -> None:
    path = demo_config(tmp_path, None)
    result = run_send(path)
    assert result.returncode == 0, result.stderr
    files = sorted((tmp_path / "outbox" / "new").glob("*.eml"))
    assert len(files) == 3
    assert parse(files[0].read_bytes()).get_content_type() == "multipart/alternative"


ISSUE = RenderedIssue("S", "P", "<p>x</p>", "x\n", Layout(1, 0, 0))


@settings(max_examples=60, deadline=None)
@given(
    subject=st.text(max_size=60),
    name=st.text(max_size=30),
    title=st.text(min_size=1, max_size=30),
)
def test_no_text_can_add_a_header(subject: str, name: str, title: str) -> None:
    issue = RenderedIssue(subject, "P", "<p>x</p>", "x\n", Layout(1, 0, 0))
    headers = Headers.of(title, "Digest <digest@example.org>")
    message = build(issue, to_name=name, to_email="ada@example.org", day=date(2026, 7, 27),
                    headers=headers, now=datetime(2026, 7, 27, 7, tzinfo=UTC))  # fmt: skip
    head = message.data.split(b"\r\n\r\n", 1)[0]
    names = [
        line.split(b":", 1)[0] for line in head.split(b"\r\n") if line[:1] not in (b" ", b"\t")
    ]
    assert names == [b"From", b"To", b"Subject", b"Date", b"Message-ID", b"MIME-Version",
                     b"List-Id", b"List-Unsubscribe", b"Content-Type"]  # fmt: skip
    parsed = parse(message.data)
    assert parsed.defects == []


def test_dkim_signature_verifies_and_fails_after_tampering(tmp_path: Path) -> None:
    dkim = pytest.importorskip("dkim")
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    from newsletter.mail import DkimKey

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    public = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    import base64

    record = b"v=DKIM1; k=rsa; p=" + base64.b64encode(public)
    signer = DkimKey("sel", "example.org", private)
    message = build(ISSUE, to_name="Ada", to_email="ada@example.org", day=date(2026, 7, 27),
                    headers=Headers.of("Digest", "Digest <digest@example.org>"),
                    now=datetime(2026, 7, 27, 7, tzinfo=UTC), dkim=signer)  # fmt: skip
    assert message.data.startswith(b"DKIM-Signature:")
    lookup = lambda name, timeout=5: record  # noqa: E731
    assert dkim.verify(message.data, dnsfunc=lookup)
    tampered = message.data.replace(b"Subject: S", b"Subject: T")
    assert not dkim.verify(tampered, dnsfunc=lookup)


def test_preview_writes_the_message_send_would_send(tmp_path: Path) -> None:
    path = demo_config(tmp_path, None)
    out = tmp_path / "preview"
    env = {**SEND_ENV, "NEWSLETTER_UNSUBSCRIBE_SECRET": "s3cret"}
    previewed = subprocess.run(
        [sys.executable, "-m", "newsletter", "preview", "-c", str(path), "--date", str(DEMO_DAY),
         "--out", str(out)],
        capture_output=True, text=True, timeout=300, env=env,
    )  # fmt: skip
    assert previewed.returncode == 0, previewed.stderr
    sent = subprocess.run(send_command(path), capture_output=True, text=True, env=env)
    assert sent.returncode == 0, sent.stderr
    outbox = {parse(f.read_bytes())["To"].addresses[0].addr_spec: f.read_bytes()
              for f in (tmp_path / "outbox" / "new").glob("*.eml")}  # fmt: skip
    assert sorted(outbox) == sorted(READERS)
    slugs = {r.email: r.slug for r in load_config(path).readers}
    for reader, data in outbox.items():
        eml = out / f"{slugs[reader]}.eml"
        assert undated(eml.read_bytes()) == undated(data)
        assert b"unsubscribe%20" in data  # the per-reader token, as sent
        assert eml.with_suffix(".html").exists()


def undated(data: bytes) -> list[bytes]:
    return [line for line in data.split(b"\r\n") if not line.startswith(b"Date:")]
