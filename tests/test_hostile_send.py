"""End to end: one hostile HTTP source beside the demo day's good local listings. `newsletter
send` (a real process) still delivers the good papers to every reader, exactly as without the
hostile source, exits 1, names the failed source in one line and prints no traceback."""

from __future__ import annotations

import email
import email.policy
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from email.message import EmailMessage
from pathlib import Path

import pytest

from newsletter.demo import DEMO_DAY
from tests.feeds import feed_source
from tests.httpserver import FeedServer, Reply, gzip_bomb, not_gzip, redirect, serve
from tests.sending import READERS, demo_config, run_send

ARXIV_LINK = re.compile(r"https://arxiv\.org/abs/[\w./-]+")


def issues(folder: Path) -> dict[str, tuple[str, list[str]]]:
    """Each reader's subject and the arXiv links of the text part, from a file outbox."""
    found = {}
    for path in sorted((folder / "outbox" / "new").glob("*.eml")):
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        text = message.get_body(("plain",))
        assert text is not None
        found[message["To"].addresses[0].addr_spec] = (
            str(message["Subject"]),
            ARXIV_LINK.findall(text.get_content()),
        )
    return found


@pytest.fixture(scope="module")
def without_hostile(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[str, list[str]]]:
    folder = tmp_path_factory.mktemp("baseline")
    result = run_send(demo_config(folder, None), "--backend", "file")
    assert result.returncode == 0, result.stderr
    return issues(folder)


@pytest.fixture
def server() -> Iterator[FeedServer]:
    with serve() as running:
        yield running


HOSTILE: dict[str, tuple[Callable[[], Reply], str]] = {
    "gzip bomb": (gzip_bomb, "larger than 64 MiB"),
    "not gzip": (not_gzip, "not valid gzip"),
    "redirect loop": (lambda: redirect("/hostile"), "too many redirects"),
}


@pytest.mark.slow
@pytest.mark.parametrize("kind", list(HOSTILE))
def test_one_hostile_source_does_not_stop_the_send(
    tmp_path: Path,
    server: FeedServer,
    without_hostile: dict[str, tuple[str, list[str]]],
    kind: str,
) -> None:
    reply, reason = HOSTILE[kind]
    url = server.route("/hostile", reply())
    path = demo_config(tmp_path, None)
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("  sources:\n", "  sources:\n" + feed_source(url, "hostile"), 1))
    result = run_send(path, "--backend", "file")
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    lines = [line for line in result.stderr.splitlines() if "hostile" in line]
    assert any("failed" in line and reason in line for line in lines), result.stderr
    delivered = issues(tmp_path)
    assert sorted(delivered) == sorted(READERS) == sorted(without_hostile)
    assert delivered == without_hostile
    assert all(links for _, links in delivered.values())


def test_the_fetch_command_reports_a_hostile_source_in_one_line(
    tmp_path: Path, server: FeedServer
) -> None:
    url = server.route("/hostile", gzip_bomb())
    path = demo_config(tmp_path, None)
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("  sources:\n", "  sources:\n" + feed_source(url, "hostile"), 1))
    result = subprocess.run([*run_fetch_command(path)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "hostile" in result.stderr and "larger than 64 MiB" in result.stderr
    assert result.stdout.count("\n") > 10  # the good sources' papers, one JSON line each


def run_fetch_command(path: Path) -> list[str]:
    return [sys.executable, "-m", "newsletter", "fetch", "-c", str(path), "--date", str(DEMO_DAY),
            "--json"]  # fmt: skip
