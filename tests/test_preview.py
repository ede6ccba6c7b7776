"""`newsletter preview` end to end: a real local feed server, the real CLI, the JSON it writes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.feeds import Item, arxiv_rss
from tests.httpserver import FeedServer, Reply, serve

MONDAY = "2026-07-27"


@pytest.fixture
def server() -> Iterator[FeedServer]:
    with serve() as running:
        yield running


def _config(tmp_path: Path, url: str) -> Path:
    path = tmp_path / "subscribers.yaml"
    path.write_text(
        f"""
newsletter:
  sources:
    - {{type: arxiv, name: arxiv, categories: [cs.LG], url: "{url}"}}
subscribers:
  - email: ada@example.org
    interests: {{keywords: ["mixture of experts"]}}
  - email: alan@example.org
    interests: {{authors: ["Grace Hopper"]}}
  - email: zoe@example.org
    interests: {{keywords: ["protein folding"]}}
""",
        encoding="utf-8",
    )
    return path


def _preview(config: Path, out: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    command = ["preview", "-c", str(config), "--date", MONDAY, "--out", str(out), *extra]
    return subprocess.run(
        [sys.executable, "-m", "newsletter", *command],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "COLUMNS": "200"},
    )


def _issue(out: Path, local: str) -> Any:
    (path,) = out.glob(f"{local}-*.json")  # SLUG = local part + a short hash of the address
    return json.loads(path.read_text(encoding="utf-8"))


def test_preview_writes_each_readers_picks_with_reasons(tmp_path: Path, server: FeedServer) -> None:
    listing = arxiv_rss(
        None,
        [
            Item("2607.00001", title="Routing in Mixture-of-Experts models"),
            Item("2607.00002", title="Compilers", authors=["Grace Hopper", "Ada Lovelace"]),
            Item("2607.00003", title="Weather", abstract="We forecast rain."),
        ],
    )
    url = server.route("/rss/cs.LG", Reply(body=listing))
    out = tmp_path / "preview"
    result = _preview(_config(tmp_path, url), out)
    assert result.returncode == 0, result.stderr
    ada: dict[str, Any] = _issue(out, "ada")
    assert ada["subscriber"] == "ada@example.org" and ada["date"] == MONDAY
    assert [p["id"] for p in ada["papers"]] == ["2607.00001"]
    assert ada["papers"][0]["reasons"][0] == 'keyword "mixture of experts" in title'
    assert 0 < ada["papers"][0]["score"] <= 1
    assert "Routing in Mixture-of-Experts models" in ada["subject"]
    alan: dict[str, Any] = _issue(out, "alan")
    assert [(p["id"], p["reasons"]) for p in alan["papers"]] == [
        ("2607.00002", ["author Grace Hopper"])
    ]
    zoe: dict[str, Any] = _issue(out, "zoe")
    assert zoe["papers"] == []  # nothing matched: previewed, and would not be sent

    (html_file,) = out.glob("ada-*.html")
    assert "Routing in Mixture-of-Experts models" in html_file.read_text(encoding="utf-8")
    text = html_file.with_suffix(".txt").read_text(encoding="utf-8")
    assert "https://arxiv.org/abs/2607.00001" in text
    assert 'Why: keyword "mixture of experts" in title' in text
    index = (out / "index.html").read_text(encoding="utf-8")
    assert all(f'href="{p.name}"' in index for p in out.glob("*-*.*"))
    assert "no email would be sent today" in index  # zoe

    # a second preview reads the stored day, not the network, and picks the same papers
    server.route("/rss/cs.LG", Reply(status=500))
    again = _preview(_config(tmp_path, url), tmp_path / "again", "--subscriber", "ada@example.org")
    assert again.returncode == 0, again.stderr
    assert {p.suffix for p in (tmp_path / "again").glob("*-*.*")} == {
        ".html",
        ".txt",
        ".json",
        ".eml",
    }
    assert len(list((tmp_path / "again").glob("*-*.*"))) == 4  # only ada
    assert _issue(tmp_path / "again", "ada") == ada


def test_preview_of_an_unknown_subscriber_is_a_usage_error(
    tmp_path: Path, server: FeedServer
) -> None:
    url = server.route("/rss/cs.LG", Reply(body=arxiv_rss(None, [Item("2607.00001")])))
    result = _preview(_config(tmp_path, url), tmp_path / "out", "--subscriber", "nobody@x.org")
    assert result.returncode in (1, 2)
    assert "nobody@x.org" in result.stderr
    assert "Traceback" not in result.stderr


def test_preview_demo_works_offline_without_a_config(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    result = subprocess.run(
        [sys.executable, "-m", "newsletter", "preview", "--demo", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,  # no subscribers.yaml here
        env={**os.environ, "HTTPS_PROXY": "http://127.0.0.1:9", "HTTP_PROXY": "http://127.0.0.1:9"},
    )
    assert result.returncode == 0, result.stderr
    pages = sorted(p.name for p in out.glob("*.html"))
    assert "index.html" in pages and len(pages) == 4  # three readers and the index
    for page in out.glob("*-*.html"):
        document = page.read_text(encoding="utf-8")
        assert document.startswith("<!doctype html>") and len(document.encode()) <= 95_000
    (ada,) = out.glob("ada-*.json")
    picks = json.loads(ada.read_text(encoding="utf-8"))["papers"]
    assert picks and all(p["reasons"] for p in picks)
    assert not list(tmp_path.glob("*.db"))  # the demo's state lives in a temporary folder
