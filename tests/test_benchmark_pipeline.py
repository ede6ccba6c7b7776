"""The end-to-end benchmark (benchmarks/pipeline.py): it runs, measures every stage of both
designs, delivers exactly one message per reader with papers, and compares like with like."""

from __future__ import annotations

import email
import email.policy
import json
import math
import subprocess
import sys
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
BENCHMARKS = REPO / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))

import pipeline  # noqa: E402
import pipeline_data  # noqa: E402
import straightforward  # noqa: E402

from newsletter.config import load_config  # noqa: E402

DESIGNS = ("real", "straightforward")


def parse(data: bytes) -> EmailMessage:
    message = email.message_from_bytes(data, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


def parts(message: EmailMessage) -> tuple[str, str]:
    """The text and HTML parts, decoded. Line breaks are compared as text: the `email`
    package encodes the canonical CRLF form and ends every body with a line break,
    `mail.build` encodes what the renderer wrote (LF, no line break after `</html>`)."""
    text, html = message.iter_parts()
    assert text.get_content_type() == "text/plain" and html.get_content_type() == "text/html"
    return _lines(text.get_content()), _lines(html.get_content())


def _lines(content: str) -> str:
    return content.replace("\r\n", "\n").removesuffix("\n")


@pytest.mark.slow
def test_quick_run_times_every_stage_and_delivers_one_message_per_reader(
    tmp_path: Path,
) -> None:
    out, folder = tmp_path / "results.json", tmp_path / "day"
    done = subprocess.run(
        [sys.executable, str(BENCHMARKS / "pipeline.py"), "--quick", "--out", str(out),
         "--data", str(folder), "--quiet"],
        capture_output=True, text=True, timeout=280, cwd=REPO, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "end to end" in done.stdout
    results = json.loads(out.read_text(encoding="utf-8"))

    for design in DESIGNS:
        for stage in pipeline.STAGES:
            seconds = results["seconds"][design][stage]
            assert math.isfinite(seconds) and seconds > 0, (design, stage)
        for rate in ("generation", "end to end"):
            assert results["messages_per_second"][design][rate] > 0
    assert results["startup_seconds"] > 0 and results["cpu_count"] >= 1
    assert results["peak_rss_mb"]["largest child"] > 0

    messages = results["sizes"]["messages"]
    assert messages == readers_with_papers(folder)
    assert 0 < messages < results["sizes"]["subscribers"]  # some readers get no issue
    sink = results["sink"]
    assert [run["messages"] for run in sink["real"]] == [messages]
    assert [run["messages"] for run in sink["straightforward"]] == [messages]
    assert [run["messages"] for run in sink["end to end (CLI)"]] == [messages]
    assert [run["connections"] for run in sink["real"]] == [1]
    assert [run["connections"] for run in sink["straightforward"]] == [messages]


def readers_with_papers(folder: Path) -> int:
    """Counted again from the benchmark's own data, apart from the benchmark's count."""
    data = pipeline_data.DataSet(folder, 0, 0, port=0)
    day = pipeline.shared_stages(data, pipeline.Stopwatch())
    return len(day.selections)


def test_both_designs_send_the_same_issue(tmp_path: Path) -> None:
    data = pipeline_data.write(tmp_path, subscribers=40, papers=80, port=2525)
    config = load_config(data.config)
    day = pipeline.shared_stages(data, pipeline.Stopwatch())
    letterhead = straightforward.Letterhead.of(config, data.day, datetime.now(UTC))
    real = pipeline.RealDesign(config, letterhead)
    other = pipeline.StraightforwardDesign(config, letterhead, data.port)
    chosen = day.selections[:6]
    assert any(s.profile.name is None for s in chosen)
    assert any(s.profile.name and not s.profile.name.isascii() for s in chosen)
    for selection in chosen:
        ours = real.build(selection, real.render(selection))
        theirs = other.build(selection, other.render(selection))
        assert ours.envelope == theirs.envelope
        mine, peer = parse(ours.data), parse(theirs.data)
        for name in ("Subject", "From", "To", "Date", "Message-ID", "List-Id", "List-Unsubscribe"):
            assert str(mine[name]) == str(peer[name]), name
        assert parts(mine) == parts(peer)
        assert "<!doctype html>" in parts(mine)[1]
