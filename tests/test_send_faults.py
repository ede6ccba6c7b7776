"""Delivery under faults, against a real SMTP server on 127.0.0.1: two senders at once, a
connection dropped at message k, a slow server, the sender killed at random points, and a
server whose certificate cannot be verified. Zero lost, zero sent twice, except where the
documented in-doubt policy says so."""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import random
import re
import signal
import ssl
import subprocess
from collections import Counter
from pathlib import Path

import pytest

from newsletter.config import load_config
from newsletter.delivery.smtp import SmtpBackend
from newsletter.demo import DEMO_DAY
from newsletter.send_report import SendReport
from newsletter.store import Store
from tests.sending import (
    CANARY,
    READERS,
    SEND_ENV,
    add_readers,
    backend,
    demo_config,
    run_send,
    send_command,
    send_day,
)
from tests.smtpserver import Script, smtp_server


def send_once(path: Path, **options: object) -> SendReport:
    return send_day(path, **options)  # type: ignore[arg-type]


def statuses(path: Path) -> dict[str, str]:
    with Store(load_config(path).state_path) as store:
        return {r.subscriber: r.status for r in store.deliveries(DEMO_DAY)}


def sent_count(output: str) -> int:
    found = re.search(r": sent (\d+)", output)
    assert found, output
    return int(found.group(1))


def test_two_senders_at_once_never_send_twice(tmp_path: Path) -> None:
    with smtp_server(Script(delay=0.05)) as (port, script):
        path = demo_config(tmp_path, port)
        readers = add_readers(path, 9)
        runs = [
            subprocess.Popen(
                send_command(path),
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env=SEND_ENV,
            )
            for _ in range(2)
        ]
        outputs = [run.communicate(timeout=300) for run in runs]
        assert [run.returncode for run in runs] == [0, 0], outputs
        assert sorted(script.recipients()) == readers  # each reader exactly once
        assert sum(sent_count(out) for out, _ in outputs) == len(readers)
    assert set(statuses(path).values()) == {"sent"}


@pytest.mark.parametrize("k", [1, 2, 3])
def test_a_connection_dropped_at_message_k_loses_nothing(tmp_path: Path, k: int) -> None:
    with smtp_server(Script(drop_at_rcpt={k})) as (port, script):
        path = demo_config(tmp_path, port)
        report = send_once(path)
        assert sorted(report.sent) == sorted(READERS)
        assert sorted(script.recipients()) == sorted(READERS)
        assert script.rcpts == len(READERS) + 1  # the dropped one was tried again


def test_a_drop_after_the_data_is_in_doubt_and_resent_only_when_asked(tmp_path: Path) -> None:
    with smtp_server(Script(drop_after_data={2})) as (port, script):
        path = demo_config(tmp_path, port)
        first = send_once(path)
        assert len(first.sent) == 2 and len(first.in_doubt) == 1 and not first.ok
        doubtful = first.in_doubt[0][0]
        assert "connection lost waiting for the reply" in first.in_doubt[0][1]
        again = run_send(path)  # the default policy: an issue in doubt is not sent again
        assert again.returncode == 1 and "sent 0" in again.stdout
        assert sorted(script.recipients()) == sorted(READERS)
        assert statuses(path)[doubtful] == "in_doubt"
        forced = run_send(path, "--resend-in-doubt")
        assert forced.returncode == 0 and "sent 1" in forced.stdout, forced.stderr
        assert Counter(script.recipients())[doubtful] == 2  # the one duplicate it allows
    assert set(statuses(path).values()) == {"sent"}


def test_a_slow_server_gets_every_message_once(tmp_path: Path) -> None:
    with smtp_server(Script(delay=0.3)) as (port, script):
        path = demo_config(tmp_path, port)
        report = send_once(path)
        assert sorted(report.sent) == sorted(READERS)
        assert sorted(script.recipients()) == sorted(READERS)


def test_a_reply_slower_than_the_timeout_is_in_doubt_never_a_duplicate(tmp_path: Path) -> None:
    # the client gives up waiting after the data went out: the server may still deliver it
    with smtp_server(Script(delay=1.5)) as (port, script):
        path = demo_config(tmp_path, port)
        path.write_text(path.read_text().replace("timeout: 10", "timeout: 0.5"))
        report = send_once(path)
        assert sorted(email for email, _ in report.in_doubt) == sorted(READERS)
        assert script.datas == 0  # (aiosmtpd drops a message whose client went away)
        script.delay = 0.0
        later = send_once(path)
        assert later.sent == [] and sorted(e for e, _ in later.in_doubt) == sorted(READERS)
        assert script.rcpts == len(READERS)  # nothing was tried again
    assert set(statuses(path).values()) == {"in_doubt"}


class Killer:
    """Kills the sending process when the server reaches a chosen point: at a recipient
    (before the data) or holding a message's data unanswered (the in-doubt window)."""

    def __init__(self) -> None:
        self.process: subprocess.Popen[str] | None = None
        self.stage = ""
        self.at = 0
        self.fired = False

    def arm(self, process: subprocess.Popen[str], stage: str, at: int) -> None:
        self.process, self.stage, self.at, self.fired = process, stage, at, False

    def __call__(self, stage: str, count: int) -> None:
        if self.process is not None and stage == self.stage and count == self.at:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()
            self.fired = True


@pytest.mark.parametrize("seed", range(4))
def test_killed_at_random_points_then_rerun_loses_nothing(tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    killer = Killer()
    script = Script(
        on_rcpt=lambda count: killer("rcpt", count), on_data=lambda count: killer("data", count)
    )
    with smtp_server(script) as (port, script):
        path = demo_config(tmp_path, port)
        readers = add_readers(path, 7)
        kills = []
        for _ in range(2):
            stage = rng.choice(["rcpt", "data"])
            done = script.rcpts if stage == "rcpt" else script.datas
            at = done + rng.randint(1, 3)
            process = subprocess.Popen(send_command(path), stdout=subprocess.PIPE,
                                       stderr=subprocess.PIPE, text=True, env=SEND_ENV)  # fmt: skip
            killer.arm(process, stage, at)
            process.communicate(timeout=300)
            assert killer.fired and process.returncode == -signal.SIGKILL
            kills.append(stage)
        killer.process = None
        final = run_send(path)
        received = Counter(script.recipients())
        doubtful = {email for email, status in statuses(path).items() if status == "in_doubt"}
        # default policy: zero lost, zero twice; a kill in the data window leaves one in doubt
        assert sorted(received) == readers and max(received.values()) == 1, final.stdout
        assert len(doubtful) == kills.count("data")
        assert final.returncode == (1 if doubtful else 0)
        forced = run_send(path, "--resend-in-doubt")
        assert forced.returncode == 0, forced.stderr
        received = Counter(script.recipients())
        assert sorted(received) == readers
        assert sum(received.values()) - len(readers) == len(doubtful)  # at most one per kill
    assert set(statuses(path).values()) == {"sent"}


def self_signed(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 signed by itself, and its key."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "server.pem", folder / "server.key"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def test_a_certificate_that_cannot_be_verified_stops_before_the_login(tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path)
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_tls.load_cert_chain(cert, key)
    with smtp_server(tls=server_tls) as (port, script):
        path = demo_config(tmp_path, port)
        path.write_text(path.read_text().replace("security: none", "security: starttls"))
        result = run_send(path)
        assert result.returncode == 1
        assert "TLS failed" in result.stderr and "CERTIFICATE_VERIFY_FAILED" in result.stderr
        assert script.logins == [] and script.received == []
        assert CANARY not in result.stdout + result.stderr
        # the control: trusting that certificate, the same server takes the login and the mail
        os.environ["TEST_SMTP_PASSWORD"] = CANARY
        config = load_config(path)
        assert config.newsletter.smtp is not None
        trusting = SmtpBackend(
            config.newsletter.smtp, context=ssl.create_default_context(cafile=str(cert))
        )
        report = send_day(path, trusting)
        assert sorted(report.sent) == sorted(READERS)
        assert script.logins == ["digest"]


def test_a_line_starting_with_a_dot_arrives_intact(tmp_path: Path) -> None:
    from newsletter.mail import Envelope, Message

    data = b"From: a@example.org\r\nTo: b@example.org\r\nSubject: dots\r\n\r\n.\r\n..two\r\nend\r\n"
    with smtp_server() as (port, script):
        path = demo_config(tmp_path, port)
        with backend(path) as smtp:
            result = smtp.send(Message(Envelope("a@example.org", "b@example.org", "<m@x>"), data))
        assert result.outcome.value == "sent"
        assert script.received[0][2].replace(b"\r\n", b"\n") == data.replace(b"\r\n", b"\n")
