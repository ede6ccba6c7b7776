"""Readers who leave and readers who rate: signed tokens, the links of an issue, suppression in
the state, and what `send`, `preview`, `status`, `validate` and `subscribers` make of them.
The web app itself is tested in tests/test_web.py; the whole round trip in
tests/test_readers_e2e.py."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from newsletter.config import load_config
from newsletter.demo import DEMO_DAY
from newsletter.errors import ConfigError
from newsletter.links import ReaderLinks, legacy_token
from newsletter.models import Paper, SelectedPaper
from newsletter.status import ReaderStatus
from newsletter.store import Store
from newsletter.tokens import MIN_SECRET, SECRET_ENV, Purpose, Signer
from tests.sending import READERS, SEND_ENV, demo_config, parse
from tests.smtpserver import smtp_server

SECRET = "a-secret-that-is-long-enough-for-tests"
DAY = date(2026, 7, 27)
WEB = "  web_url: https://digest.example.org/news\n"


def cli(
    path: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "newsletter", *args, "-c", str(path)]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, env=env or SEND_ENV)


# --- tokens -----------------------------------------------------------------------------------


def test_a_token_names_no_address_and_checks_out_only_for_its_purpose_and_subject() -> None:
    signer = Signer(SECRET)
    token = signer.token("ada@example.org", Purpose.FEEDBACK, DAY, "2501.00001")
    assert "ada" not in token and "example" not in token and len(token) == 42
    found = signer.verify(token, Purpose.FEEDBACK, DAY, "2501.00001")
    assert found is not None and found.day == DAY and found.generation == 0
    assert signer.refs(["ada@example.org", "bob@example.org"])[0][found.ref] == "ada@example.org"
    assert signer.verify(token, Purpose.FEEDBACK, DAY, "2501.00002") is None  # another paper
    assert signer.verify(token, Purpose.UNSUBSCRIBE, DAY, "2501.00001") is None  # other purpose
    assert Signer("another-secret-of-enough-length").verify(token, Purpose.FEEDBACK, DAY) is None


def test_every_changed_character_of_a_token_is_refused() -> None:
    signer = Signer(SECRET)
    token = signer.token("ada@example.org", Purpose.UNSUBSCRIBE, DAY)
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    for position in range(len(token)):
        for replacement in alphabet:
            if replacement == token[position]:
                continue
            forged = token[:position] + replacement + token[position + 1 :]
            assert signer.verify(forged, Purpose.UNSUBSCRIBE, DAY) is None, forged
    for broken in ("", token[:-1], token + "A", token.upper(), "é" * 42, "=" * 42):
        assert signer.verify(broken, Purpose.UNSUBSCRIBE, DAY) is None


def test_a_previous_secret_verifies_recent_links_only() -> None:
    old = Signer("the-secret-before-the-rotation")
    token = old.token("ada@example.org", Purpose.UNSUBSCRIBE, DAY)
    rotated = Signer(SECRET, ("the-secret-before-the-rotation",))
    found = rotated.verify(token, Purpose.UNSUBSCRIBE, DAY + timedelta(days=30))
    assert found is not None and found.generation == 1
    assert rotated.refs(["ada@example.org"])[1][found.ref] == "ada@example.org"
    late = DAY + timedelta(days=rotated.grace_days + 1)
    assert rotated.verify(token, Purpose.UNSUBSCRIBE, late) is None
    current = rotated.token("ada@example.org", Purpose.UNSUBSCRIBE, DAY)
    assert rotated.verify(current, Purpose.UNSUBSCRIBE, late) is not None  # no expiry of its own


def test_the_secret_comes_from_the_new_variable_or_the_old_one() -> None:
    assert Signer.from_env({}) is None
    assert Signer.from_env({"NEWSLETTER_UNSUBSCRIBE_SECRET": "old-name"}) == Signer("old-name")
    both = {"NEWSLETTER_SECRET": "new", "NEWSLETTER_UNSUBSCRIBE_SECRET": "old"}
    assert Signer.from_env(both) == Signer("new")
    rotated = Signer.from_env({"NEWSLETTER_SECRET": "new", "NEWSLETTER_SECRET_PREVIOUS": "a b"})
    assert rotated is not None and rotated.previous == ("a", "b")


# --- links ------------------------------------------------------------------------------------


def test_links_lead_to_the_web_app_and_carry_no_address() -> None:
    links = ReaderLinks("Digest <digest@example.org>", "https://d.example.org/x", None,
                        Signer(SECRET))  # fmt: skip
    urls = [
        links.unsubscribe("Ada@Example.org", DAY),
        links.resubscribe("ada@example.org", DAY),
        links.feedback("ada@example.org", DAY, "url:https://x.org/a?b=c&d", "more"),
        links.issue("ada@example.org", DAY),
    ]
    for url in urls:
        assert url is not None and url.startswith("https://d.example.org/x/")
        assert "ada" not in url.lower() and "%40" not in url and "@" not in url
    feedback = urlsplit(urls[2] or "")
    assert parse_qs(feedback.query) == {"paper": ["url:https://x.org/a?b=c&d"], "vote": ["more"]}
    assert links.unsubscribe("ada@example.org", DAY) == urls[0]  # any case: the same reader
    mailto = links.mailto("ada@example.org", DAY)
    assert mailto.startswith("mailto:digest@example.org?subject=unsubscribe%20")


def test_without_web_url_the_old_unsubscribe_url_and_then_mailto_are_used() -> None:
    signer = Signer(SECRET)
    legacy = ReaderLinks("digest@example.org", None, "https://x.org/u?list=1", signer)
    token = legacy_token("ada@example.org", SECRET)
    assert legacy.unsubscribe("ada@example.org", DAY) == f"https://x.org/u?list=1&t={token}"
    assert legacy.feedback("ada@example.org", DAY, "p", "less") is None
    bare = ReaderLinks("digest@example.org")
    assert bare.unsubscribe_link("ada@example.org", DAY) == (
        "mailto:digest@example.org?subject=unsubscribe"
    )


# --- config -----------------------------------------------------------------------------------


def test_web_url_without_a_secret_stops_validate_and_send(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = demo_config(tmp_path, None, WEB)
    env = {k: v for k, v in SEND_ENV.items()
           if k not in (SECRET_ENV, "NEWSLETTER_UNSUBSCRIBE_SECRET")}  # fmt: skip
    line = path.read_text().splitlines().index(WEB.rstrip("\n")) + 1
    for command in (["validate"], ["send", "--date", str(DEMO_DAY)]):
        result = cli(path, *command, env=env)
        assert result.returncode == 1, result
        assert f"{path}:{line}: newsletter.web_url: " in result.stderr
        assert SECRET_ENV in result.stderr and "Traceback" not in result.stderr
    short = cli(path, "validate", env={**env, SECRET_ENV: "x" * (MIN_SECRET - 1)})
    assert short.returncode == 1 and "too short" in short.stderr
    assert cli(path, "validate", env={**env, SECRET_ENV: SECRET}).returncode == 0


@pytest.mark.parametrize(
    ("url", "fine"),
    [
        ("https://digest.example.org", True),
        ("https://digest.example.org/news/", True),
        ("http://127.0.0.1:8080", True),
        ("http://localhost:8080/x", True),
        ("http://digest.example.org", False),
        ("https://digest.example.org/?a=b", False),
        ("https://digest.example.org/#top", False),
        ("https://user:pw@digest.example.org", False),
        ("javascript:alert(1)", False),
        ("https://digest.example.org/\r\nBcc: x@y.z", False),
    ],
)
def test_web_url_is_a_clean_base_url(tmp_path: Path, url: str, fine: bool) -> None:
    web = f"  web_url: {json.dumps(url)}\n  web:\n    listen: 127.0.0.1:8080\n"
    path = demo_config(tmp_path, None, web)
    if fine:
        assert load_config(path).newsletter.web_url == url
    else:
        with pytest.raises(ConfigError, match=r"newsletter\.web_url"):
            load_config(path)


@pytest.mark.parametrize("listen", ["8080", "127.0.0.1", "127.0.0.1:99999", "a b:80", ":80"])
def test_a_listen_address_is_host_and_port(tmp_path: Path, listen: str) -> None:
    path = demo_config(tmp_path, None, f"  web:\n    listen: {json.dumps(listen)}\n")
    with pytest.raises(ConfigError, match=r"newsletter\.web\.listen"):
        load_config(path)


# --- the state --------------------------------------------------------------------------------


def test_suppression_keeps_the_first_reason_but_a_complaint_overrides(state_at: Path | str) -> None:
    with Store(state_at) as store:
        assert store.suppress("ada@example.org", ReaderStatus.UNSUBSCRIBED, "link", "web")
        assert not store.suppress("ada@example.org", ReaderStatus.BOUNCED, "550", "smtp")
        found = store.suppression("ada@example.org")
        assert found is not None and (found.status, found.reason) == ("unsubscribed", "link")
        assert not store.suppress("ada@example.org", ReaderStatus.COMPLAINED, "abuse", "mail")
        assert store.suppressions()["ada@example.org"].status is ReaderStatus.COMPLAINED
        assert store.resubscribe("ada@example.org") and not store.resubscribe("ada@example.org")
        assert store.suppressions() == {}
        with pytest.raises(ValueError):
            store.suppress("ada@example.org", ReaderStatus.ACTIVE, "", "")


def test_a_rating_is_one_per_paper_latest_wins_and_undo_removes_it(state_at: Path | str) -> None:
    with Store(state_at) as store:
        assert store.rate("ada@example.org", "2501.1", 1, DAY)
        assert not store.rate("ada@example.org", "2501.1", 1, DAY)  # idempotent
        assert store.rate("ada@example.org", "2501.1", -1, DAY)
        assert store.rate("ada@example.org", "2501.2", 1)
        assert store.rating("ada@example.org", "2501.1") == -1
        ratings = store.ratings(["ada@example.org", "bob@example.org"])
        assert [(r.paper_id, r.vote) for r in ratings["ada@example.org"]] == [
            ("2501.1", -1), ("2501.2", 1)
        ]  # fmt: skip
        assert "bob@example.org" not in ratings
        assert store.rate("ada@example.org", "2501.1", 0)
        assert store.rating("ada@example.org", "2501.1") == 0
        with pytest.raises(ValueError):
            store.rate("ada@example.org", "2501.1", 2)


def test_an_issue_keeps_its_picks_with_scores_and_reasons(state_at: Path | str) -> None:
    paper = Paper(id="2501.00001", title="T", abstract="A")
    with Store(state_at) as store:
        assert store.kept_issue("ada@example.org", DAY) is None
        store.keep_issue("ada@example.org", DAY, [SelectedPaper(paper, 0.81234, ("why «é»",))])
        (kept,) = store.kept_issue("ada@example.org", DAY) or []
        assert (kept.paper_id, kept.score, kept.reasons) == ("2501.00001", 0.8123, ("why «é»",))
        assert store.kept_issue("ada@example.org", DAY + timedelta(days=1)) is None


# --- the commands -----------------------------------------------------------------------------


def test_an_unsubscribed_reader_is_not_mailed_until_resubscribed(tmp_path: Path) -> None:
    env = {**SEND_ENV, SECRET_ENV: SECRET}
    with smtp_server() as (port, script):
        path = demo_config(tmp_path, port, WEB)
        left = cli(path, "subscribers", "--unsubscribe", "ADA@example.org", "--reason", "moved",
                   env=env)  # fmt: skip
        assert left.returncode == 0 and "ada@example.org: unsubscribed (moved)" in left.stdout
        sent = cli(path, "send", "--date", str(DEMO_DAY), env=env)
        assert sent.returncode == 0, sent.stderr
        assert "sent 2" in sent.stdout and "not mailed, unsubscribed or bounced 1" in sent.stdout
        assert sorted(script.recipients()) == sorted(set(READERS) - {"ada@example.org"})
        listed = json.loads(cli(path, "subscribers", "--json", env=env).stdout)
        ada = next(row for row in listed if row["email"] == "ada@example.org")
        assert ada["status"] == "unsubscribed"
        assert (ada["reason"], ada["source"]) == ("moved", "operator")
        assert {row["status"] for row in listed if row is not ada} == {"active"}
        status = json.loads(cli(path, "status", "--json", env=env).stdout)
        assert status["readers"] == {"active": 2, "unsubscribed": 1, "bounced": 0, "complained": 0}
        preview = cli(path, "preview", "--date", str(DEMO_DAY), "--out", str(tmp_path / "p"),
                      env=env)  # fmt: skip
        assert "ada@example.org: unsubscribed since" in preview.stderr
        index = (tmp_path / "p" / "index.html").read_text(encoding="utf-8")
        assert "<li>ada@example.org: unsubscribed since " in index
        assert not list((tmp_path / "p").glob("ada-*"))
        back = cli(path, "subscribers", "--resubscribe", "ada@example.org", env=env)
        assert "ada@example.org: resubscribed" in back.stdout
        again = cli(path, "send", "--date", str(DEMO_DAY), env=env)
        assert "sent 1" in again.stdout
        assert sorted(script.recipients()) == sorted(READERS)


def test_subscribers_refuses_an_unknown_address_and_changes_nothing(tmp_path: Path) -> None:
    path = demo_config(tmp_path, None)
    result = cli(path, "subscribers", "--unsubscribe", "nobody@example.org")
    assert result.returncode == 2
    assert "--unsubscribe: not a subscriber: nobody@example.org" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "newsletter.db").exists()


def test_a_sent_message_carries_one_click_and_feedback_links(tmp_path: Path) -> None:
    with smtp_server() as (port, script):
        path = demo_config(tmp_path, port, WEB)
        result = cli(path, "send", "--date", str(DEMO_DAY), env={**SEND_ENV, SECRET_ENV: SECRET})
        assert result.returncode == 0, result.stderr
    for _, (recipient,), data in script.received:
        message = parse(data)
        header = str(message["List-Unsubscribe"])
        https, mailto = (part.strip(" <>") for part in header.split(","))
        assert https.startswith("https://digest.example.org/news/u/")
        assert mailto.startswith("mailto:digest@example.org?subject=unsubscribe%20")
        assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert recipient.split("@")[0] not in https
        text, html = message.iter_parts()
        body = text.get_content()
        assert "More like this: https://digest.example.org/news/f/" in " ".join(body.split())
        assert "https://digest.example.org/news/i/" in html.get_content()
    with Store(tmp_path / "newsletter.db") as store:
        for reader in READERS:
            assert store.kept_issue(reader, DEMO_DAY), reader
