"""The web app under test: a config whose `web_url` is a free port on 127.0.0.1, the app on
that port under real uvicorn in a background thread, a client for it, and papers to show."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import httpx
import pytest

from newsletter.config import Config, load_config
from newsletter.links import ReaderLinks
from newsletter.models import Links, Paper, SelectedPaper
from newsletter.status import ReaderStatus
from newsletter.store import Store
from newsletter.tokens import Signer
from newsletter.web.app import create_app
from newsletter.web.guard import SECURITY_HEADERS
from newsletter.web.server import Running, listening_socket, start_app

SECRET = "a-test-secret-for-the-web-app"
DAY = date(2026, 11, 23)
ADA, GRACE = "ada@example.org", "grace@example.org"
START = 20.0  # seconds for the app to answer
POLL = 0.02  # seconds between two looks at something awaited
GUARD = "newsletter.web.guard"  # the logger of the request lines

CONFIG = """\
newsletter:
  title: Web <Digest>
  sender: "Web Digest <digest@example.org>"
  web_url: {web_url}
  web:
    rate_limit: {rate_limit}
  sources:
    - type: arxiv
      categories: [cs.LG]
subscribers:
  - email: {ada}
    name: Ada
    interests:
      keywords: ["mixture of experts"]
  - email: {grace}
    name: Grace
    interests:
      keywords: ["diffusion model"]
"""


def paper(n: int, title: str | None = None) -> Paper:
    paper_id = f"2611.{n:05d}"
    return Paper(
        id=paper_id,
        title=title or f"Mixture of experts study number {n}",
        authors=(f"Author {n}", "Second Author"),
        abstract=f"We study mixture of experts routing, case {n}. It works well.",
        categories=("cs.LG",),
        links=Links(abstract=f"https://arxiv.org/abs/{paper_id}"),
    )


MATCHED = 'keyword "mixture of experts"'
ONE_CLICK = {"List-Unsubscribe": "One-Click"}  # the body of an RFC 8058 POST


def picked(papers: Sequence[Paper], reason: str = MATCHED) -> list[SelectedPaper]:
    return [SelectedPaper(p, round(1 - n / 1000, 4), (reason,)) for n, p in enumerate(papers)]


def write_config(
    folder: Path, web_url: str, rate_limit: int = 1000, state: str | None = None
) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "subscribers.yaml"
    text = CONFIG.format(web_url=web_url, rate_limit=rate_limit, ada=ADA, grace=GRACE)
    if state is not None:
        text = text.replace("  sources:\n", f"  state: {state}\n  sources:\n", 1)
    path.write_text(text, encoding="utf-8")
    return path


@dataclass
class Site:
    """The running app and what a test needs around it."""

    config: Config
    url: str  # where the app answers (the web_url, unless published elsewhere)
    running: Running
    links: ReaderLinks  # made with the secret the test's emails were "sent" with
    today: list[date]  # the app's clock: set today[0] to move it
    client: httpx.Client

    def store(self) -> Store:
        return Store(self.config.state)


@contextmanager
def running_site(
    folder: Path,
    *,
    signer: Signer | None = None,
    links_signer: Signer | None = None,
    rate_limit: int = 1000,
    prefix: str = "",
    today: date = DAY,
    public: str | None = None,
    proxies: str = "127.0.0.1",
    state: str | None = None,
) -> Iterator[Site]:
    """The app of a fresh config in `folder`, answering on a free port of 127.0.0.1 (under
    `prefix`), published there unless at `public`.

    `signer`: the app's (default: from the environment, as `newsletter serve` reads it);
    `links_signer`: what the site's `links` sign with (default: the app's); `proxies`: whose
    X-Forwarded-For is believed; `state`: the config's `state:` (default: a file beside it)."""
    sock = listening_socket("127.0.0.1", 0)
    url = f"http://127.0.0.1:{sock.getsockname()[1]}{prefix}"
    clock = [today]
    try:
        config = load_config(write_config(folder, public or url, rate_limit, state))
        app = create_app(config, signer=signer, clock=lambda: clock[0])
    except BaseException:
        sock.close()
        raise
    running = start_app(app, sock, forwarded_allow_ips=proxies)
    try:
        made_with = links_signer or signer or Signer.from_env()
        links = ReaderLinks(config.newsletter.sender, url, None, made_with)
        with httpx.Client(timeout=10.0, follow_redirects=False) as client:
            wait_until_answers(client, f"{url}/healthz")
            yield Site(config, url, running, links, clock, client)
    finally:
        running.stop()


def wait_until_answers(client: httpx.Client, url: str, timeout: float = START) -> None:
    """Poll `url` until it answers 200, or fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if client.get(url).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"{url} did not answer within {timeout} s")
        time.sleep(POLL)


def unsubscribe_url(site: Site, email: str = ADA) -> str:
    """The reader's unsubscribe link in the issue of DAY."""
    url = site.links.unsubscribe(email, DAY)
    assert url is not None
    return url


def status_of(site: Site, email: str = ADA) -> ReaderStatus:
    """Whether the store says the reader is mailed."""
    with site.store() as store:
        found = store.suppression(email)
    return found.status if found else ReaderStatus.ACTIVE


def assert_secured(response: httpx.Response) -> None:
    """The security headers are there; no redirect, cookie or server name."""
    for name, value in SECURITY_HEADERS.items():
        assert response.headers.get(name) == value, (response.status_code, name)
    assert "location" not in response.headers and "set-cookie" not in response.headers
    assert "server" not in response.headers


def await_log_lines(caplog: pytest.LogCaptureFixture, count: int) -> list[logging.LogRecord]:
    """The guard's request lines, once `count` have arrived (logged after each answer)."""
    deadline = time.monotonic() + 10
    while True:
        lines = [r for r in caplog.records if r.name == GUARD and r.levelno >= logging.INFO]
        if len(lines) >= count or time.monotonic() > deadline:
            return lines
        time.sleep(POLL)
