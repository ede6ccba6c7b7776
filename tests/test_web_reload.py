"""The web app follows the config file: a reader added while it runs is found without a
restart, and an edit that does not load keeps the previous config (as `newsletter run` does)."""

from __future__ import annotations

import logging
from pathlib import Path

import httpx
import pytest

from newsletter.config import load_config
from newsletter.links import ReaderLinks
from newsletter.tokens import SECRET_ENV, Signer
from newsletter.web.app import create_app
from newsletter.web.server import listening_socket, start_app
from tests.webapp import ADA, DAY, SECRET, wait_until_answers, write_config

NEW = "hedy@example.org"


def test_a_reader_added_while_the_app_runs_is_found(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv(SECRET_ENV, SECRET)
    sock = listening_socket("127.0.0.1", 0)
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    path = write_config(tmp_path, url)
    config = load_config(path)
    running = start_app(create_app(config, clock=lambda: DAY, reload_every=0.0), sock)
    links = ReaderLinks(config.newsletter.sender, url, None, Signer(SECRET))
    new_reader = links.unsubscribe(NEW, DAY)
    known = links.unsubscribe(ADA, DAY)
    assert new_reader and known
    try:
        with httpx.Client(timeout=10.0) as client:
            wait_until_answers(client, f"{url}/healthz")
            assert client.get(new_reader).status_code == 404
            with path.open("a", encoding="utf-8") as stream:
                stream.write(f"  - email: {NEW}\n    interests:\n      keywords: [robots]\n")
            assert client.get(new_reader).status_code == 200
            path.write_text(path.read_text() + "  - email: [broken\n", encoding="utf-8")
            with caplog.at_level(logging.ERROR, logger="newsletter.web.directory"):
                assert client.get(known).status_code == 200
                assert client.get(new_reader).status_code == 200  # the previous config
            assert any("does not load" in r.getMessage() for r in caplog.records)
    finally:
        running.stop()
