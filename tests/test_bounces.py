"""Addresses that refuse mail at send time stop being mailed: a permanent refusal of the
recipient (5xx at RCPT) on `bounces.after` issue dates suppresses the reader as `bounced` and
tells the operator once; a temporary one never does. With `bounce_address`, each issue's
Return-Path names its reader and date (VERP), so that a later bounce can be mapped back."""

from __future__ import annotations

from pathlib import Path

import pytest

from newsletter.config import load_config
from newsletter.demo import DEMO_DAY
from newsletter.status import ReaderStatus
from newsletter.store import Store
from newsletter.tokens import SECRET_ENV, Signer
from tests.sending import READERS, demo_config, parse, send_on
from tests.smtpserver import Script, smtp_server

GRACE = "grace.hopper@example.org"
OPS = "ops@example.org"
EXTRA = f"  digest: always\n  alerts_to: {OPS}\n"


def alerts(script: Script) -> list[str]:
    return [str(parse(data)["Subject"]) for _, rcpt, data in script.received if rcpt == [OPS]]


def test_a_reader_refused_on_three_issue_dates_is_no_longer_mailed_and_told_once(
    tmp_path: Path,
) -> None:
    script = Script(rcpt={GRACE: "550 5.1.1 <grace.hopper@example.org>: mailbox unavailable"})
    with smtp_server(script) as (port, script):
        path = demo_config(tmp_path, port, EXTRA)
        for offset in range(3):
            report = send_on(path, offset)
            assert [email for email, _ in report.failed] == [GRACE]
            assert sorted(report.sent) == sorted(set(READERS) - {GRACE})
        assert [email for email, _ in report.bounced] == [GRACE]
        assert "refused on 3 issue dates" in report.bounced[0][1]
        (subject,) = alerts(script)
        assert "1 bounced reader" in subject
        with Store(tmp_path / "newsletter.db") as store:
            found = store.suppression(GRACE)
            assert found is not None and found.status is ReaderStatus.BOUNCED
            assert found.source == "smtp" and "5.1.1" in found.reason
        refused_before = script.rcpts
        fourth = send_on(path, 3)
        assert fourth.suppressed == [(GRACE, "bounced")] and not fourth.failed
        assert sorted(fourth.sent) == sorted(set(READERS) - {GRACE})
        assert script.rcpts == refused_before + len(READERS) - 1  # Grace not even tried
        assert len(alerts(script)) == 1  # told once
        fifth = send_on(path, 4)
        assert fifth.ok and len(alerts(script)) == 1


def test_the_same_issue_refused_twice_counts_once(tmp_path: Path) -> None:
    script = Script(rcpt={GRACE: "550 5.1.1 no such user"})
    with smtp_server(script) as (port, script):
        path = demo_config(tmp_path, port, EXTRA)
        for _ in range(4):  # the same issue date, sent again and again (failed is final)
            send_on(path, 0)
        with Store(tmp_path / "newsletter.db") as store:
            assert store.suppression(GRACE) is None
            assert store.record_bounce(GRACE, DEMO_DAY, "again", hard=True) == 1


def test_no_such_user_can_suppress_at_once(tmp_path: Path) -> None:
    script = Script(rcpt={GRACE: "550 5.1.1 no such user"})
    with smtp_server(script) as (port, script):
        path = demo_config(tmp_path, port, EXTRA + "  bounces:\n    unknown_user_at_once: true\n")
        report = send_on(path, 0)
        assert [email for email, _ in report.bounced] == [GRACE]
        assert alerts(script)


@pytest.mark.parametrize("reply", ["450 4.2.1 mailbox busy", "552 5.2.2 mailbox full",
                                   "554 5.7.1 message refused"])  # fmt: skip
def test_temporary_or_content_refusals_never_suppress(tmp_path: Path, reply: str) -> None:
    """A full mailbox (552 at RCPT is temporary, RFC 5321) or a busy one is no dead address;
    neither is a refusal of the message's content (at the end of DATA)."""
    at_data = reply.startswith("554")  # every message refused at the end of DATA
    script = Script(data=[reply] * 12) if at_data else Script(rcpt={GRACE: reply})
    with smtp_server(script) as (port, script):
        path = demo_config(tmp_path, port, EXTRA)
        for offset in range(4):
            report = send_on(path, offset)
            assert not report.bounced
        with Store(tmp_path / "newsletter.db") as store:
            assert store.suppressions() == {}


def test_the_return_path_names_the_reader_and_the_issue(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(SECRET_ENV, "a-secret-that-is-long-enough-for-tests")
    with smtp_server() as (port, script):
        path = demo_config(tmp_path, port, "  bounce_address: Bounces@example.org\n")
        assert send_on(path, 0).ok
    signer = Signer.from_env()
    assert signer is not None
    refs = signer.refs(READERS)[0]
    for sender, (recipient,), data in script.received:
        local, _, domain = sender.rpartition("@")
        assert domain == "example.org" and local.startswith("Bounces+")
        assert len(local) <= 64
        found = signer.verify_bounce(local.partition("+")[2], DEMO_DAY)
        assert found is not None and found.day == DEMO_DAY
        assert refs[found.ref] == recipient
        assert parse(data)["From"].addresses[0].addr_spec == "digest@example.org"
        assert b"Return-Path" not in data  # the receiving server adds it from MAIL FROM


def test_a_bounce_address_too_long_for_its_token_is_refused(tmp_path: Path) -> None:
    from newsletter import preflight
    from newsletter.errors import ConfigError

    path = demo_config(tmp_path, None, f"  bounce_address: {'b' * 30}@example.org\n")
    with pytest.raises(ConfigError, match="bounce_address: the part before @"):
        preflight.check(load_config(path), connects=False)
