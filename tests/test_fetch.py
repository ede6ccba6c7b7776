"""Fetching the day's papers against a real local HTTP server: retries, caching, politeness,
stale and missing listings, and one broken source never stopping the others."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path

import httpx
import pytest

from newsletter.config import Config, load_config
from newsletter.fetching import FetchStatus, fetch_day
from newsletter.sources.http import Fetcher, user_agent
from newsletter.store import Store
from tests.fakes import FakeTime
from tests.feeds import Item, arxiv_rss, hf_daily
from tests.httpserver import FeedServer, Reply, serve

MONDAY = date(2026, 7, 27)
SATURDAY = date(2026, 7, 25)
SUBSCRIBERS = """
subscribers:
  - email: ada@example.org
    interests: {keywords: [things]}
"""


@pytest.fixture
def server() -> Iterator[FeedServer]:
    with serve() as running:
        yield running


@pytest.fixture
def fake_time() -> FakeTime:
    return FakeTime()


@pytest.fixture
def make_fetcher(fake_time: FakeTime) -> Iterator[Callable[..., Fetcher]]:
    clients: list[httpx.Client] = []

    def make(store: Store | None = None, timeout: float = 5.0, **kwargs: object) -> Fetcher:
        client = httpx.Client(
            timeout=timeout,
            follow_redirects=True,
            headers={"User-Agent": user_agent("ops@example.org")},
        )
        clients.append(client)
        options: dict[str, object] = {
            "clock": fake_time.clock,
            "sleep": fake_time.sleep,
            "intervals": {},
        }
        options.update(kwargs)
        return Fetcher(client, store, **options)  # type: ignore[arg-type]

    yield make
    for client in clients:
        client.close()


def config_for(tmp_path: Path, sources: str) -> Config:
    path = tmp_path / "subscribers.yaml"
    path.write_text("newsletter:\n  sources:\n" + sources + SUBSCRIBERS, encoding="utf-8")
    return load_config(path)


def arxiv_source(url: str, name: str = "arxiv") -> str:
    return f"    - type: arxiv\n      name: {name}\n      categories: [cs.LG]\n      url: {url}\n"


def run(tmp_path: Path, config: Config, fetcher: Fetcher, day: date = MONDAY):  # type: ignore[no-untyped-def]
    with Store(tmp_path / "state.db") as store:
        report = fetch_day(config, day, store, fetcher)
        stored = store.papers_for_day(day)
    return report, stored


LISTING = arxiv_rss(
    MONDAY,
    [
        Item("2607.00001", "Mixture of experts at scale"),
        Item("2607.00002", announce="cross", categories=["stat.ML", "cs.LG"]),
    ],
)


def test_a_listing_is_fetched_and_stored(
    tmp_path: Path, server: FeedServer, make_fetcher: Callable[..., Fetcher]
) -> None:
    url = server.route(
        "/rss/cs.LG", Reply(body=LISTING, headers={"Content-Type": "application/rss+xml"})
    )
    report, stored = run(tmp_path, config_for(tmp_path, arxiv_source(url)), make_fetcher())
    (outcome,) = report.outcomes
    assert outcome.status is FetchStatus.OK
    assert [p.id for p in stored] == ["2607.00001", "2607.00002"]
    assert (
        server.hits("/rss/cs.LG")[0].headers["user-agent"]
        == "paper-digest/" + user_agent(None).split("/")[1] + " (mailto:ops@example.org)"
    )


def test_one_broken_source_does_not_stop_the_others(
    tmp_path: Path, server: FeedServer, make_fetcher: Callable[..., Fetcher]
) -> None:
    good = server.route("/good", Reply(body=LISTING))
    html = server.route(
        "/html",
        Reply(
            body=b"<!DOCTYPE html><html><body>Service unavailable</body></html>",
            headers={"Content-Type": "text/html"},
        ),
    )
    broken = server.route("/broken", Reply(body=b"<rss><channel><item><title>x</item></rss>"))
    sources = (
        arxiv_source(server.url("/missing"), "missing")
        + arxiv_source(html, "html")
        + arxiv_source(broken, "broken")
        + arxiv_source(good, "good")
    )
    report, stored = run(tmp_path, config_for(tmp_path, sources), make_fetcher())
    status = {o.source: (o.status, o.detail) for o in report.outcomes}
    assert status["missing"][0] is FetchStatus.FAILED and "HTTP 404" in status["missing"][1]
    assert status["html"][0] is FetchStatus.FAILED and "HTML" in status["html"][1]
    assert status["broken"][0] is FetchStatus.FAILED
    assert status["good"][0] is FetchStatus.OK
    assert len(stored) == 2
    assert {o.source for o in report.problems} == {"missing", "html", "broken"}


def test_429_is_retried_after_the_time_the_server_asks(
    tmp_path: Path, server: FeedServer, make_fetcher: Callable[..., Fetcher], fake_time: FakeTime
) -> None:
    url = server.route("/rss", Reply(429, headers={"Retry-After": "7"}), Reply(body=LISTING))
    report, _stored = run(tmp_path, config_for(tmp_path, arxiv_source(url)), make_fetcher())
    assert report.outcomes[0].status is FetchStatus.OK
    assert fake_time.sleeps == [7.0]
    assert len(server.hits("/rss")) == 2


def test_5xx_gives_up_after_bounded_attempts_with_growing_backoff(
    tmp_path: Path, server: FeedServer, make_fetcher: Callable[..., Fetcher], fake_time: FakeTime
) -> None:
    url = server.route("/rss", Reply(503))
    report, _ = run(
        tmp_path, config_for(tmp_path, arxiv_source(url)), make_fetcher(attempts=3, backoff=1.0)
    )
    assert report.outcomes[0].status is FetchStatus.FAILED
    assert "HTTP 503" in report.outcomes[0].detail
    assert len(server.hits("/rss")) == 3
    assert len(fake_time.sleeps) == 2 and fake_time.sleeps[1] > fake_time.sleeps[0] >= 1.0


def test_a_timeout_fails_the_source_with_a_clear_reason(
    tmp_path: Path, server: FeedServer, make_fetcher: Callable[..., Fetcher]
) -> None:
    url = server.route("/slow", Reply(body=LISTING, stall=server.release))
    report, _ = run(
        tmp_path,
        config_for(tmp_path, arxiv_source(url)),
        make_fetcher(timeout=0.3, attempts=2, backoff=0.0),
    )
    assert report.outcomes[0].status is FetchStatus.FAILED
    assert "timed out" in report.outcomes[0].detail


def test_conditional_get_reuses_the_cached_listing(
    tmp_path: Path, server: FeedServer, make_fetcher: Callable[..., Fetcher]
) -> None:
    url = server.route(
        "/rss",
        Reply(
            body=LISTING, headers={"ETag": '"v1"', "Last-Modified": "Mon, 27 Jul 2026 04:00:02 GMT"}
        ),
        Reply(304),
    )
    config = config_for(tmp_path, arxiv_source(url))
    with Store(tmp_path / "state.db") as store:
        first = fetch_day(config, MONDAY, store, make_fetcher(store))
        second = fetch_day(config, MONDAY, store, make_fetcher(store))
    assert [p.id for p in second.papers] == [p.id for p in first.papers]
    assert second.outcomes[0].not_modified
    request = server.hits("/rss")[1]
    assert request.headers["if-none-match"] == '"v1"'
    assert request.headers["if-modified-since"] == "Mon, 27 Jul 2026 04:00:02 GMT"


def test_requests_to_a_rate_limited_host_are_spaced(
    tmp_path: Path, server: FeedServer, make_fetcher: Callable[..., Fetcher], fake_time: FakeTime
) -> None:
    a = server.route("/a", Reply(body=LISTING))
    b = server.route("/b", Reply(body=LISTING))
    fetcher = make_fetcher(intervals={"127.0.0.1": 3.0})
    run(tmp_path, config_for(tmp_path, arxiv_source(a, "a") + arxiv_source(b, "b")), fetcher)
    assert fake_time.sleeps == [pytest.approx(3.0)]


def test_arxiv_hosts_are_rate_limited_by_default() -> None:
    fetcher = Fetcher(httpx.Client())
    assert fetcher.intervals["export.arxiv.org"] == 3.0
    assert fetcher.intervals["rss.arxiv.org"] == 3.0


def test_redirects_are_followed_and_permanent_ones_logged(
    tmp_path: Path,
    server: FeedServer,
    make_fetcher: Callable[..., Fetcher],
    caplog: pytest.LogCaptureFixture,
) -> None:
    server.route("/new", Reply(body=LISTING))
    old = server.route("/old", Reply(301, headers={"Location": server.url("/new")}))
    with caplog.at_level(logging.WARNING):
        report, stored = run(tmp_path, config_for(tmp_path, arxiv_source(old)), make_fetcher())
    assert report.outcomes[0].status is FetchStatus.OK and len(stored) == 2
    assert "moved permanently" in caplog.text


def test_a_stale_listing_is_reported_and_not_stored(
    tmp_path: Path, server: FeedServer, make_fetcher: Callable[..., Fetcher]
) -> None:
    url = server.route("/rss", Reply(body=arxiv_rss(date(2026, 7, 24), [Item("2607.00009")])))
    report, stored = run(tmp_path, config_for(tmp_path, arxiv_source(url)), make_fetcher())
    outcome = report.outcomes[0]
    assert outcome.status is FetchStatus.STALE
    assert "2026-07-24" in outcome.detail
    assert stored == [] and report.problems == [outcome]


def test_an_empty_weekend_listing_is_no_announcement(
    tmp_path: Path, server: FeedServer, make_fetcher: Callable[..., Fetcher]
) -> None:
    url = server.route("/rss", Reply(body=arxiv_rss(SATURDAY, [])))
    report, _ = run(tmp_path, config_for(tmp_path, arxiv_source(url)), make_fetcher(), day=SATURDAY)
    assert report.outcomes[0].status is FetchStatus.NO_ANNOUNCEMENT
    assert report.problems == []


def test_a_configured_holiday_is_no_announcement(
    tmp_path: Path, server: FeedServer, make_fetcher: Callable[..., Fetcher]
) -> None:
    url = server.route("/rss", Reply(body=arxiv_rss(date(2026, 7, 24), [Item("2607.00009")])))
    config = config_for(tmp_path, arxiv_source(url))
    config.newsletter.holidays = [MONDAY]
    report, _ = run(tmp_path, config, make_fetcher())
    assert report.outcomes[0].status is FetchStatus.NO_ANNOUNCEMENT


def test_fetching_the_same_day_twice_changes_nothing(
    tmp_path: Path, server: FeedServer, make_fetcher: Callable[..., Fetcher]
) -> None:
    url = server.route("/rss", Reply(body=LISTING))
    config = config_for(tmp_path, arxiv_source(url))
    _, first = run(tmp_path, config, make_fetcher())
    _, second = run(tmp_path, config, make_fetcher())
    assert first == second


def test_arxiv_and_hugging_face_become_one_paper(
    tmp_path: Path, server: FeedServer, make_fetcher: Callable[..., Fetcher]
) -> None:
    rss = server.route("/rss", Reply(body=LISTING))
    server.route(
        "/hf?date=2026-07-26",
        Reply(
            body=hf_daily(
                [("2607.00001", "Mixture of experts at scale", 57), ("2607.09999", "Only on HF", 3)]
            )
        ),
    )
    sources = (
        arxiv_source(rss) + f"    - type: huggingface\n      url: {server.url('/hf?date={date}')}\n"
    )
    report, stored = run(tmp_path, config_for(tmp_path, sources), make_fetcher())
    assert [o.status for o in report.outcomes] == [FetchStatus.OK, FetchStatus.OK]
    assert server.hits("/hf?date=2026-07-26")  # the day before the issue
    by_id = {p.id: p for p in stored}
    assert set(by_id) == {"2607.00001", "2607.00002", "2607.09999"}
    merged = by_id["2607.00001"]
    assert merged.categories == ("cs.LG",) and merged.extras.upvotes == 57
    assert merged.sources == ("arxiv", "huggingface")
    assert merged.links.huggingface == "https://huggingface.co/papers/2607.00001"


def test_local_paths_are_relative_to_the_config_and_file_urls_work(
    tmp_path: Path, make_fetcher: Callable[..., Fetcher]
) -> None:
    (tmp_path / "saved").mkdir()
    (tmp_path / "saved" / "2026-07-27.xml").write_bytes(LISTING)
    sources = (
        arxiv_source("saved/{date}.xml", "relative")
        + arxiv_source((tmp_path / "saved" / "2026-07-27.xml").as_uri(), "uri")
        + arxiv_source("saved/nope.xml", "missing")
    )
    report, stored = run(tmp_path, config_for(tmp_path, sources), make_fetcher())
    status = {o.source: o for o in report.outcomes}
    assert status["relative"].status is FetchStatus.OK and status["uri"].status is FetchStatus.OK
    assert (
        status["missing"].status is FetchStatus.FAILED
        and "file not found" in status["missing"].detail
    )
    assert len(stored) == 2


def test_a_saved_listing_is_read_for_the_day_asked(
    tmp_path: Path, make_fetcher: Callable[..., Fetcher]
) -> None:
    (tmp_path / "old.xml").write_bytes(LISTING)
    config = config_for(tmp_path, arxiv_source("old.xml"))
    with Store(tmp_path / "state.db") as store:
        report = fetch_day(config, date(2026, 11, 23), store, make_fetcher())
        assert report.outcomes[0].status is FetchStatus.OK
        assert "listing of 2026-07-27, read from a file" in report.outcomes[0].detail
        assert len(store.papers_for_day(date(2026, 11, 23))) == 2
        assert store.papers_for_day(MONDAY) == []


def test_fetch_command_prints_json_lines_and_fails_on_a_broken_source(
    tmp_path: Path, server: FeedServer
) -> None:
    good = server.route("/good", Reply(body=LISTING))
    path = tmp_path / "subscribers.yaml"
    path.write_text(
        "newsletter:\n  sources:\n"
        + arxiv_source(good, "good")
        + arxiv_source(server.url("/gone"), "gone")
        + SUBSCRIBERS
    )
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "newsletter",
            "fetch",
            "-c",
            str(path),
            "--date",
            "2026-07-27",
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "COLUMNS": "200"},
    )
    assert result.returncode == 1
    papers = [json.loads(line) for line in result.stdout.splitlines()]
    assert [p["id"] for p in papers] == ["2607.00001", "2607.00002"]
    assert papers[1]["categories"] == ["stat.ML", "cs.LG"]
    assert "gone" in result.stderr and "HTTP 404" in result.stderr
    assert "Traceback" not in result.stderr


def test_fetch_command_rejects_an_unknown_source_name(tmp_path: Path) -> None:
    path = tmp_path / "subscribers.yaml"
    path.write_text("newsletter:\n  sources:\n" + arxiv_source("x.xml") + SUBSCRIBERS)
    result = subprocess.run(
        [sys.executable, "-m", "newsletter", "fetch", "-c", str(path), "--source", "nope"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    assert "no source named 'nope'" in result.stderr


FIXTURES = Path(__file__).parent / "fixtures" / "feeds"


def feed_source(url: str, name: str) -> str:
    return f"    - type: feed\n      name: {name}\n      url: {url}\n"


@pytest.mark.parametrize(
    ("fixture", "status", "papers", "detail"),
    [
        ("malformed.xml", FetchStatus.OK, 1, "skipped"),  # the complete items before the error
        ("empty_channel.xml", FetchStatus.OK, 0, "0 papers"),
        ("missing_title.xml", FetchStatus.OK, 1, "1 item skipped"),
        ("missing_link.xml", FetchStatus.OK, 1, "1 item skipped"),
        ("duplicates.xml", FetchStatus.OK, 2, "2 papers"),  # three items, one repeated
        ("html_error.html", FetchStatus.FAILED, 0, "HTML"),
    ],
)
def test_hostile_feeds_served_over_http(
    tmp_path: Path,
    server: FeedServer,
    make_fetcher: Callable[..., Fetcher],
    fixture: str,
    status: FetchStatus,
    papers: int,
    detail: str,
) -> None:
    url = server.route("/feed", Reply(body=(FIXTURES / fixture).read_bytes()))
    good = server.route("/good", Reply(body=LISTING))
    sources = feed_source(url, "hostile") + arxiv_source(good, "good")
    report, _ = run(tmp_path, config_for(tmp_path, sources), make_fetcher())
    hostile, other = report.outcomes
    assert (hostile.status, len(hostile.papers)) == (status, papers), hostile.detail
    assert detail in hostile.detail
    assert other.status is FetchStatus.OK and len(other.papers) == 2


def test_markup_control_characters_and_script_links_are_cleaned_over_http(
    tmp_path: Path, server: FeedServer, make_fetcher: Callable[..., Fetcher]
) -> None:
    url = server.route("/feed", Reply(body=(FIXTURES / "hostile_items.xml").read_bytes()))
    report, _ = run(tmp_path, config_for(tmp_path, feed_source(url, "hostile")), make_fetcher())
    papers = report.outcomes[0].papers
    for paper in papers:
        text = paper.title + paper.abstract
        assert (
            "<script" not in text and "\n" not in text and "\r" not in text and "\u2028" not in text
        )
        for link in paper.links.model_dump().values():
            assert link is None or link.startswith(("http://", "https://"))
    assert all("javascript:" not in paper.id for paper in papers)


def test_huge_and_non_utf8_feeds_over_http(
    tmp_path: Path, server: FeedServer, make_fetcher: Callable[..., Fetcher]
) -> None:
    huge = Item("2607.00003", abstract="word " * 1_000_000)  # a 5 MB abstract
    latin1 = arxiv_rss(MONDAY, [Item("2607.00004", "Schrödinger bridges")]).replace(
        "Schrödinger".encode(), "Schrödinger".encode("latin-1")
    )
    a = server.route("/huge", Reply(body=arxiv_rss(MONDAY, [huge, Item("2607.00001")])))
    b = server.route("/latin1", Reply(body=latin1))
    report, stored = run(
        tmp_path,
        config_for(tmp_path, arxiv_source(a, "huge") + arxiv_source(b, "latin1")),
        make_fetcher(),
    )
    assert [o.status for o in report.outcomes] == [FetchStatus.OK, FetchStatus.OK]
    by_id = {p.id: p for p in stored}
    assert len(by_id["2607.00003"].abstract) <= 10_001
    assert by_id["2607.00004"].title.startswith("Schr") and by_id["2607.00004"].title.endswith(
        "bridges"
    )
