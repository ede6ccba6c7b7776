"""One rule for which issue is next, shared by send, send --due, preview, run and status; on a
Saturday they agree and say why nothing is sent. And an interrupted send reports and resumes."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from collections import Counter
from datetime import UTC, date, datetime
from pathlib import Path

from newsletter.agenda import issue_date
from newsletter.config import load_config
from newsletter.schedule import Operator
from newsletter.store import Store
from tests.sending import READERS, SEND_ENV, add_readers, demo_config, parse
from tests.smtpserver import Script, smtp_server

SATURDAY = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)
FRIDAY = date(2026, 11, 27)
WHY = (
    "arXiv does not announce on Saturdays; the next listing is Monday 30 Nov, sent to 3 readers "
    "Monday 30 Nov at 07:00 Europe/Warsaw"
)


def newsletter(
    path: Path, *args: str, now: datetime = SATURDAY
) -> subprocess.CompletedProcess[str]:
    env = {**SEND_ENV, "NEWSLETTER_NOW": now.isoformat()}
    return subprocess.run(
        [sys.executable, "-m", "newsletter", *args[:1], "-c", str(path), *args[1:]],
        capture_output=True, text=True, timeout=300, env=env,
    )  # fmt: skip


def test_on_a_saturday_send_sends_nothing_reads_nothing_and_says_why(tmp_path: Path) -> None:
    path = demo_config(tmp_path, None)
    for args in (("send",), ("send", "--due")):
        result = newsletter(path, *args)
        assert result.returncode == 0, result.stderr
        assert not (tmp_path / "outbox").exists()
        assert not (tmp_path / "newsletter.db").exists()  # no source was read
    assert WHY in newsletter(path, "send").stdout
    due = newsletter(path, "send", "--due").stdout
    assert "nobody's send time came in the last 6 hours" in due
    assert "Monday 30 Nov at 07:00 Europe/Warsaw (3 readers)" in due


def test_every_command_agrees_on_the_issue_and_the_next_send(tmp_path: Path) -> None:
    path = demo_config(tmp_path, None)
    config = load_config(path)
    assert issue_date(config, SATURDAY) == FRIDAY  # the newest listing: Friday's
    operator = Operator(path, clock=lambda: SATURDAY)
    assert operator.due_sends() == []  # run waits for Monday too
    wide = {"COLUMNS": "200"}
    status = subprocess.run(
        [sys.executable, "-m", "newsletter", "status", "-c", str(path)],
        capture_output=True, text=True, timeout=120, env={**SEND_ENV, **wide},
    )  # fmt: skip
    assert "Mon 2026-11-30 07:00" in status.stdout, status.stdout
    # an explicit date is an explicit wish: sent whatever the day
    sent = newsletter(path, "send", "--date", str(FRIDAY))
    assert sent.returncode == 0, sent.stderr
    assert len(list((tmp_path / "outbox" / "new").iterdir())) == len(READERS)


def test_preview_on_a_saturday_shows_the_issue_send_would_send_and_when(tmp_path: Path) -> None:
    path = demo_config(tmp_path, None)
    out = tmp_path / "preview"
    result = newsletter(path, "preview", "--out", str(out))
    assert result.returncode == 0, result.stderr
    issues = [json.loads(p.read_text()) for p in out.glob("*.json")]
    assert {issue["date"] for issue in issues} == {str(FRIDAY)}
    assert all(issue["papers"] for issue in issues)  # Friday's real papers, not an empty issue
    assert WHY in result.stderr
    # once Friday's issue is out, preview says so instead of showing a different issue
    assert newsletter(path, "send", "--date", str(FRIDAY)).returncode == 0
    again = newsletter(path, "preview", "--out", str(tmp_path / "again"))
    assert again.returncode == 0, again.stderr
    for reader in READERS:
        assert f"{reader}: the issue of Fri 27 Nov was already sent" in again.stderr
    assert not list((tmp_path / "again").glob("*.json"))


def test_preview_says_when_every_source_failed_and_exits_non_zero(tmp_path: Path) -> None:
    path = demo_config(tmp_path, None)
    (tmp_path / "listing.xml").write_text("<html><body>Service unavailable</body></html>")
    (tmp_path / "daily_papers.json").write_text("{not json")
    out = tmp_path / "preview"
    result = newsletter(path, "preview", "--out", str(out), "--date", str(FRIDAY))
    assert result.returncode == 1
    assert "2 sources failed or stale" in result.stderr and "Traceback" not in result.stderr
    assert "source failed: huggingface" in result.stderr
    index = (out / "index.html").read_text(encoding="utf-8")
    assert "huggingface" in index and "failed" in index


def test_ctrl_c_finishes_the_message_in_flight_reports_and_the_next_run_resumes(
    tmp_path: Path,
) -> None:
    interrupted: list[subprocess.Popen[str]] = []

    def interrupt(count: int) -> None:
        if count == 3 and interrupted:  # the third message is on the wire: press Ctrl-C
            interrupted[0].send_signal(signal.SIGINT)

    with smtp_server(Script(on_data=interrupt)) as (port, script):
        path = demo_config(tmp_path, port)
        readers = add_readers(path, 12)
        env = {**SEND_ENV, "NEWSLETTER_NOW": SATURDAY.isoformat()}
        command = [sys.executable, "-m", "newsletter", "send", "-c", str(path),
                   "--date", str(FRIDAY), "--workers", "1"]  # fmt: skip
        interrupted.append(
            subprocess.Popen(
                command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
            )
        )
        stdout, stderr = interrupted[0].communicate(timeout=300)
        assert interrupted[0].returncode == 1
        assert "Traceback" not in stderr and "Aborted" not in stderr
        # the messages in flight (one per open connection) were finished, then it stopped
        found = re.search(r"sent (\d+),", stdout)
        assert found is not None, stdout
        sent = int(found.group(1))
        assert 3 <= sent < len(readers)
        assert f"not tried: {len(readers) - sent} readers (the run was interrupted" in stderr
        with Store(tmp_path / "newsletter.db") as store:
            statuses = Counter(str(r.status) for r in store.deliveries(FRIDAY))
        assert statuses == {"sent": sent}  # nothing left `sending`, nothing in doubt
        later = subprocess.run(command, capture_output=True, text=True, timeout=300, env=env)
        assert later.returncode == 0, later.stderr
        assert sorted(script.recipients()) == readers  # everyone exactly once
    assert os.environ.get("NEWSLETTER_NOW") is None


def test_a_trial_send_to_the_outbox_never_swallows_the_day_for_smtp(tmp_path: Path) -> None:
    path = demo_config(tmp_path, None)
    trial = newsletter(path, "send", "--date", str(FRIDAY))
    assert trial.returncode == 0, trial.stderr
    outbox = (tmp_path / "outbox").resolve().as_uri()
    assert f"{FRIDAY} to {outbox}: sent 3" in trial.stdout  # it says where the mail went
    with smtp_server() as (port, script):
        path = demo_config(tmp_path, port)  # the operator adds an smtp block
        first = newsletter(path, "send", "--date", str(FRIDAY))
        assert first.returncode == 1 and script.received == []
        for reader in READERS:
            assert f"sent earlier to {outbox}, not to smtp://127.0.0.1:{port}: {reader}" in (
                first.stderr
            )
        again = newsletter(path, "send", "--date", str(FRIDAY), "--resend-new-target")
        assert again.returncode == 0, again.stderr
        assert sorted(script.recipients()) == sorted(READERS)
        for _, _, data in script.received:  # the same issue, with its papers
            text = parse(data).get_body(("plain",))
            assert text is not None and "arxiv.org/abs/" in text.get_content()
        last = newsletter(path, "send", "--date", str(FRIDAY))
        assert last.returncode == 0 and "already sent 3" in last.stdout
        assert len(script.received) == len(READERS)


def test_history_shows_an_issue_in_doubt_and_the_operator_settles_it(tmp_path: Path) -> None:
    with smtp_server(Script(drop_after_data={1})) as (port, script):
        path = demo_config(tmp_path, port)
        first = newsletter(path, "send", "--date", str(FRIDAY))
        assert first.returncode == 1 and "in doubt" in first.stdout
        history = json.loads(newsletter(path, "history", "--json").stdout)
        (doubt,) = [row for row in history if row["status"] == "in_doubt"]
        reader = doubt["subscriber"]
        settle = ("history", "--settle", reader, "--date", str(FRIDAY), "--as", "not-delivered")
        settled = newsletter(path, *settle)
        assert settled.returncode == 0, settled.stderr
        assert "deferred (settled by the operator: not delivered)" in settled.stdout
        again = newsletter(path, "send", "--date", str(FRIDAY))
        assert again.returncode == 0, again.stderr
        assert Counter(script.recipients())[reader] == 2  # the operator said it never arrived
        assert newsletter(path, *settle).returncode == 1  # nothing in doubt any more
