"""Hostile HTTP sources, served for real on 127.0.0.1 by the fault-injection server: each one
fails its own source with a one-line reason, within its deadline and size cap, and the good
local listing beside it is still read.

Classes: one misbehaving source aborting everything (bombs, bad encodings, oversized bodies,
redirect loops); no overall deadline (drips, slowloris, Retry-After); SSRF through redirects.
"""

from __future__ import annotations

import time
import tracemalloc
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from newsletter.config import load_config
from newsletter.errors import FetchError
from newsletter.fetching import FetchReport, FetchStatus, SourceOutcome, fetch_day
from newsletter.sources.hosts import is_public_host
from newsletter.sources.http import MAX_REDIRECTS, Fetcher, user_agent
from newsletter.sources.limits import MAX_BODY
from newsletter.store import Store
from tests.fakes import FakeTime
from tests.feeds import LISTING, MONDAY, arxiv_source, feed_source, write_sources
from tests.httpserver import (
    MIB,
    FeedServer,
    HostMap,
    Reply,
    drip_body,
    drip_head,
    gzip_bomb,
    huge_body,
    not_gzip,
    redirect,
    serve,
    slowloris,
)

GOOD = arxiv_source("good.xml", "good")  # the local listing beside every hostile source
PUBLIC = ("public.test", "cdn.public.test")  # names the tests declare public, served locally


@pytest.fixture
def server() -> Iterator[FeedServer]:
    with serve() as running:
        yield running


@pytest.fixture
def internal() -> Iterator[FeedServer]:
    """A second server: the "internal" service a redirect must not reach."""
    with serve() as running:
        running.route("/secret", Reply(body=LISTING.replace(b"Mixture", b"SECRET")))
        yield running


@pytest.fixture
def make_fetcher() -> Iterator[Callable[..., Fetcher]]:
    clients: list[httpx.Client] = []

    def make(*, timeout: float = 5.0, names: tuple[str, ...] = (), **options: object) -> Fetcher:
        client = httpx.Client(
            timeout=timeout,
            transport=HostMap(*names) if names else None,
            headers={"User-Agent": user_agent(None)},
        )
        clients.append(client)
        settings: dict[str, object] = {"intervals": {}, "backoff": 0.0}
        if names:
            settings["is_public"] = lambda host: host in names or is_public_host(host)
        settings.update(options)
        return Fetcher(client, **settings)  # type: ignore[arg-type]

    yield make
    for client in clients:
        client.close()


def fetch(tmp_path: Path, fetcher: Fetcher, *sources: str) -> FetchReport:
    config = load_config(write_sources(tmp_path, *sources))
    with Store(tmp_path / "state.db") as store:
        return fetch_day(config, MONDAY, store, fetcher)


def outcomes(report: FetchReport) -> dict[str, SourceOutcome]:
    return {outcome.source: outcome for outcome in report.outcomes}


def assert_fails_alone(report: FetchReport, fragment: str) -> SourceOutcome:
    """The hostile source failed with a one-line reason naming `fragment`; the good one is ok."""
    by_name = outcomes(report)
    hostile, good = by_name["hostile"], by_name["good"]
    assert hostile.status is FetchStatus.FAILED, hostile.detail
    assert fragment in hostile.detail
    assert "\n" not in hostile.detail and "Traceback" not in hostile.detail
    assert good.status is FetchStatus.OK and [p.id for p in good.papers] == [
        "2607.00001",
        "2607.00002",
    ]
    return hostile


# --- one misbehaving source never stops the others ---------------------------------------------

BAD_ANSWERS: dict[str, tuple[Callable[[], Reply], str]] = {
    "gzip bomb, 1 MiB to 1 GiB": (gzip_bomb, "larger than 64 MiB"),
    "x-gzip bomb": (lambda: gzip_bomb(encoding="x-gzip"), "larger than 64 MiB"),
    "gzip header over plain bytes": (not_gzip, "not valid gzip"),
    "deflate header over plain bytes": (
        lambda: Reply(body=b"plain", headers={"Content-Encoding": "deflate"}),
        "not valid deflate",
    ),
    "an encoding never asked for": (
        lambda: Reply(body=b"x", headers={"Content-Encoding": "br"}),
        "unsupported Content-Encoding",
    ),
    "65 MiB declared": (lambda: huge_body(65 * MIB), "larger than 64 MiB"),
    "65 MiB streamed, undeclared": (
        lambda: huge_body(65 * MIB, declare=False),
        "larger than 64 MiB",
    ),
    "10 GiB declared, little sent": (
        lambda: Reply(body=b"<rss/>", length=10 * 1024 * MIB),
        "larger than 64 MiB",
    ),
    "redirect loop": (lambda: redirect("/hostile"), "too many redirects"),
    "not HTTP at all": (lambda: Reply(raw=b"SSH-2.0-OpenSSH\r\n\r\n"), "after 2 attempts"),
    "body cut short": (lambda: Reply(body=b"<rss>", length=5000), "after 2 attempts"),
}


@pytest.mark.parametrize("answer", list(BAD_ANSWERS), ids=list(BAD_ANSWERS))
def test_a_misbehaving_source_fails_alone_with_a_reason(
    tmp_path: Path, server: FeedServer, make_fetcher: Callable[..., Fetcher], answer: str
) -> None:
    reply, fragment = BAD_ANSWERS[answer]
    url = server.route("/hostile", reply())
    started = time.monotonic()
    report = fetch(tmp_path, make_fetcher(attempts=2), feed_source(url, "hostile"), GOOD)
    assert_fails_alone(report, fragment)
    assert time.monotonic() - started < 10


def test_a_gzip_bomb_is_never_inflated_past_the_cap(
    server: FeedServer, make_fetcher: Callable[..., Fetcher]
) -> None:
    url = server.route("/bomb", gzip_bomb())
    for cap, most in ((4 * MIB, 8 * MIB), (MAX_BODY, MAX_BODY + 8 * MIB)):
        fetcher = make_fetcher(max_body=cap)
        tracemalloc.start()
        try:
            with pytest.raises(FetchError, match="larger than"):
                fetcher.get(url, source="bomb")
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert peak < most, f"{peak / MIB:.0f} MiB in memory for a cap of {cap / MIB:.0f} MiB"


def test_well_behaved_compressed_and_chunked_answers_still_read(
    tmp_path: Path, server: FeedServer, make_fetcher: Callable[..., Fetcher]
) -> None:
    import gzip
    import zlib

    gz = server.route(
        "/gz", Reply(body=gzip.compress(LISTING), headers={"Content-Encoding": "gzip"})
    )
    wrapped = server.route(
        "/zlib", Reply(body=zlib.compress(LISTING), headers={"Content-Encoding": "deflate"})
    )
    raw = zlib.compressobj(wbits=-15)
    bare = raw.compress(LISTING) + raw.flush()
    deflate = server.route("/raw", Reply(body=bare, headers={"Content-Encoding": "deflate"}))
    closed = server.route("/close", Reply(body=LISTING, declare_length=False))
    fetcher = make_fetcher()
    for url in (gz, wrapped, deflate, closed):
        assert fetcher.get(url, source="x").body == LISTING
    assert server.hits("/gz")[0].headers["accept-encoding"] == "gzip, deflate"


# --- every source has a deadline ----------------------------------------------------------------

DRIPS: dict[str, Callable[[FeedServer], Reply]] = {
    "headers one byte at a time": lambda _: drip_head(0.2, LISTING),
    "body one byte at a time": lambda _: drip_body(LISTING, 0.05),
    "headers that never end": lambda _: slowloris(0.2),
    "no answer at all": lambda server: Reply(body=LISTING, stall=server.release),
}


@pytest.mark.parametrize("drip", list(DRIPS), ids=list(DRIPS))
def test_a_dripping_server_cannot_hold_the_run_past_the_deadline(
    tmp_path: Path, server: FeedServer, make_fetcher: Callable[..., Fetcher], drip: str
) -> None:
    url = server.route("/hostile", DRIPS[drip](server))
    started = time.monotonic()
    # httpx's own timeout (30 s a read) is never reached by a drip: only the deadline stops it
    report = fetch(
        tmp_path, make_fetcher(timeout=30.0, deadline=1.5), feed_source(url, "hostile"), GOOD
    )
    elapsed = time.monotonic() - started
    assert_fails_alone(report, "timed out")
    assert elapsed < 1.5 + 3.0, f"{elapsed:.1f} s"


def test_retry_after_past_the_deadline_is_not_waited_for(
    tmp_path: Path, server: FeedServer, make_fetcher: Callable[..., Fetcher]
) -> None:
    fake = FakeTime()
    url = server.route("/hostile", Reply(503, headers={"Retry-After": "100"}))
    fetcher = make_fetcher(deadline=60.0, clock=fake.clock, sleep=fake.sleep)
    report = fetch(tmp_path, fetcher, feed_source(url, "hostile"), GOOD)
    assert_fails_alone(report, "would pass the deadline of 60 s")
    assert fake.sleeps == [] and len(server.hits("/hostile")) == 1


def test_all_attempts_and_waits_fit_in_the_deadline(
    tmp_path: Path, server: FeedServer, make_fetcher: Callable[..., Fetcher]
) -> None:
    fake = FakeTime()
    url = server.route("/hostile", Reply(503))
    fetcher = make_fetcher(deadline=25.0, backoff=10.0, clock=fake.clock, sleep=fake.sleep)
    report = fetch(tmp_path, fetcher, feed_source(url, "hostile"), GOOD)
    assert_fails_alone(report, "HTTP 503")
    assert len(fake.sleeps) == 1 and sum(fake.sleeps) < 25.0
    assert len(server.hits("/hostile")) == 2


def test_retry_after_within_the_deadline_is_honoured(
    tmp_path: Path, server: FeedServer, make_fetcher: Callable[..., Fetcher]
) -> None:
    fake = FakeTime()
    url = server.route("/rss", Reply(429, headers={"Retry-After": "7"}), Reply(body=LISTING))
    fetcher = make_fetcher(deadline=60.0, clock=fake.clock, sleep=fake.sleep)
    report = fetch(tmp_path, fetcher, feed_source(url, "hostile"), GOOD)
    assert outcomes(report)["hostile"].status is FetchStatus.OK
    assert fake.sleeps == [7.0]


@pytest.mark.parametrize("value", ["nan", "inf", "-5", "Mon, 27 Jul 2026 04:00:02 +99999999999"])
def test_odd_retry_after_values_do_not_break_the_retry(
    tmp_path: Path, server: FeedServer, make_fetcher: Callable[..., Fetcher], value: str
) -> None:
    fake = FakeTime()
    url = server.route("/rss", Reply(503, headers={"Retry-After": value}), Reply(body=LISTING))
    fetcher = make_fetcher(deadline=200.0, clock=fake.clock, sleep=fake.sleep)
    report = fetch(tmp_path, fetcher, feed_source(url, "hostile"), GOOD)
    assert outcomes(report)["hostile"].status is FetchStatus.OK
    assert len(fake.sleeps) == 1 and 0 <= fake.sleeps[0] <= 120


# --- redirects: never from a public address into the machine or its network -----------------


def loopback_forms(port: int) -> list[str]:
    return [
        f"http://127.0.0.1:{port}/secret",
        f"http://localhost:{port}/secret",
        f"//127.0.0.1:{port}/secret",
        f"http://2130706433:{port}/secret",
        f"http://0x7f000001:{port}/secret",
        f"http://017700000001:{port}/secret",
        f"http://127.1:{port}/secret",
        f"http://0.0.0.0:{port}/secret",
        f"http://[::1]:{port}/secret",
        f"http://[::ffff:127.0.0.1]:{port}/secret",
        f"http://[::ffff:7f00:1]:{port}/secret",
        "http://169.254.169.254/latest/meta-data/",
        "http://[fd00:ec2::254]/latest/meta-data/",
        "http://10.0.0.1/admin",
        "http://192.168.1.1/",
        "http://[fe80::1]/",
    ]


def test_a_public_feed_cannot_redirect_into_a_non_public_address(
    tmp_path: Path,
    server: FeedServer,
    internal: FeedServer,
    make_fetcher: Callable[..., Fetcher],
) -> None:
    fetcher = make_fetcher(names=PUBLIC)
    for n, location in enumerate(loopback_forms(internal.port)):
        server.route(f"/hostile{n}", redirect(location))
        url = f"http://public.test:{server.port}/hostile{n}"
        folder = tmp_path / str(n)
        folder.mkdir()
        report = fetch(folder, fetcher, feed_source(url, "hostile"), GOOD)
        hostile = assert_fails_alone(report, "refused a redirect")
        assert "non-public address" in hostile.detail, (location, hostile.detail)
    assert internal.hits("/secret") == []


@pytest.mark.parametrize(
    ("location", "reason"),
    [
        ("http://user:pw@public.test:{port}/feed", "user info"),
        ("http://public.test:{port}@127.0.0.1:{internal}/secret", "user info"),
        ("http://public.test:{port}\\@127.0.0.1:{internal}/secret", "odd characters"),
        ("http://public.test:{port}/a\tb", "refused a redirect"),
        ("file:///etc/passwd", "not an http(s) URL"),
        ("ftp://public.test/feed", "not an http(s) URL"),
        ("javascript:alert(1)", "refused a redirect"),
        ("http://[::1/", "refused a redirect"),
    ],
)
def test_odd_redirect_targets_are_refused(
    tmp_path: Path,
    server: FeedServer,
    internal: FeedServer,
    make_fetcher: Callable[..., Fetcher],
    location: str,
    reason: str,
) -> None:
    server.route("/feed", Reply(body=LISTING))
    target = location.format(port=server.port, internal=internal.port)
    server.route("/hostile", redirect(target))
    url = f"http://public.test:{server.port}/hostile"
    report = fetch(tmp_path, make_fetcher(names=PUBLIC), feed_source(url, "hostile"), GOOD)
    assert reason in assert_fails_alone(report, "refused a redirect").detail
    assert internal.hits("/secret") == [] and server.hits("/feed") == []


def test_a_hop_through_a_public_host_is_checked_too(
    tmp_path: Path,
    server: FeedServer,
    internal: FeedServer,
    make_fetcher: Callable[..., Fetcher],
) -> None:
    server.route("/hostile", redirect(f"http://cdn.public.test:{server.port}/next"))
    server.route("/next", redirect(f"http://127.0.0.1:{internal.port}/secret"))
    url = f"http://public.test:{server.port}/hostile"
    report = fetch(tmp_path, make_fetcher(names=PUBLIC), feed_source(url, "hostile"), GOOD)
    assert_fails_alone(report, "non-public address")
    assert internal.hits("/secret") == [] and len(server.hits("/next")) == 1


def test_public_redirects_and_local_feeds_still_work(
    tmp_path: Path,
    server: FeedServer,
    internal: FeedServer,
    make_fetcher: Callable[..., Fetcher],
) -> None:
    server.route("/feed", Reply(body=LISTING))
    server.route("/moved", redirect(f"http://cdn.public.test:{server.port}/feed", 301))
    server.route("/local", redirect(f"http://127.0.0.1:{internal.port}/secret"))
    public = f"http://public.test:{server.port}/moved"
    local = server.url("/local")  # a feed configured on this machine may redirect within it
    fetcher = make_fetcher(names=PUBLIC)
    report = fetch(tmp_path, fetcher, feed_source(public, "public"), feed_source(local, "local"))
    by_name = outcomes(report)
    assert by_name["public"].status is FetchStatus.OK and len(by_name["public"].papers) == 2
    assert by_name["local"].status is FetchStatus.OK and len(internal.hits("/secret")) == 1


def test_redirects_are_counted(
    tmp_path: Path, server: FeedServer, make_fetcher: Callable[..., Fetcher]
) -> None:
    for n in range(MAX_REDIRECTS + 1):
        server.route(f"/r{n}", redirect(f"/r{n + 1}"))
    server.route(f"/r{MAX_REDIRECTS + 1}", Reply(body=LISTING))
    fetcher = make_fetcher()
    assert fetcher.get(server.url("/r1"), source="x").body == LISTING  # MAX_REDIRECTS hops
    with pytest.raises(FetchError, match="too many redirects"):
        fetcher.get(server.url("/r0"), source="x")


def test_the_production_check_resolves_names() -> None:
    fetcher = Fetcher(httpx.Client())
    assert fetcher.deadline == 120.0 and fetcher.max_body == 64 * MIB
    assert not fetcher.is_public("localhost") and not is_public_host("localhost")
    assert fetcher.is_public("93.184.216.34")
    resolving = Fetcher(httpx.Client(), resolve=fake_resolve)
    assert resolving.is_public("good.example") and not resolving.is_public("intranet.example")


NON_PUBLIC = [
    *("127.0.0.1", "2130706433", "0x7f000001", "017700000001", "0177.0.0.1", "0x7f.1", "127.1"),
    *("[::1]", "::ffff:127.0.0.1", "::ffff:7f00:1", "::127.0.0.1", "0.0.0.0", "0", "::"),
    *("10.1.2.3", "172.16.0.1", "192.168.0.1", "100.64.0.1", "fc00::1", "fe80::1%eth0"),
    *("169.254.169.254", "168.63.129.16", "100.100.100.200", "192.0.0.192", "fd00:ec2::254"),
    *("224.0.0.1", "ff02::1", "240.0.0.1", "255.255.255.255"),
    "2002:7f00:1::",  # 6to4 of 127.0.0.1
    "64:ff9b::7f00:1",  # NAT64 of 127.0.0.1
    "2001:0:4136:e378:8000:63bf:80ff:fffe",  # Teredo, client 127.0.0.1
]
NAMES = {
    "intranet.example": ["10.0.0.5"],
    "metadata.example": ["169.254.169.254"],
    "mixed.example": ["93.184.216.34", "127.0.0.1"],
    "v6.example": ["fd12::1"],
    "good.example": ["93.184.216.34", "2606:2800:220:1::1"],
}


def fake_resolve(host: str, *_: object) -> list[tuple[object, ...]]:
    if host not in NAMES:
        raise OSError("Name or service not known")
    return [(0, 0, 0, "", (address, 0)) for address in NAMES[host]]


def never_resolve(host: str, *_: object) -> list[tuple[object, ...]]:
    raise AssertionError(f"{host} is a literal address: no lookup")


@pytest.mark.parametrize("host", NON_PUBLIC)
def test_non_public_address_forms_are_known_without_a_lookup(host: str) -> None:
    assert not is_public_host(host, resolve=never_resolve)


@pytest.mark.parametrize("host", ["93.184.216.34", "8.8.8.8", "2606:4700:4700::1111"])
def test_public_addresses_are_public(host: str) -> None:
    assert is_public_host(host, resolve=never_resolve)


@pytest.mark.parametrize(
    ("host", "public"),
    [
        ("intranet.example", False),
        ("metadata.example", False),
        ("mixed.example", False),  # one private address is enough
        ("v6.example", False),
        ("nowhere.example", False),  # cannot be resolved: not known to be public
        ("good.example", True),
    ],
)
def test_names_are_judged_by_every_address_they_resolve_to(host: str, public: bool) -> None:
    assert is_public_host(host, resolve=fake_resolve) is public


def test_a_run_has_one_budget_for_all_its_sources(
    tmp_path: Path, server: FeedServer, make_fetcher: Callable[..., Fetcher]
) -> None:
    """Each source has its deadline, and the run as a whole a budget: slow sources one after
    another cannot hold the run for the sum of their deadlines; local files are still read."""
    fake = FakeTime()
    early = server.route("/early", Reply(body=LISTING))
    late = server.route("/late", Reply(body=LISTING))
    fetcher = make_fetcher(deadline=60.0, budget=10.0, clock=fake.clock, sleep=fake.sleep)
    (tmp_path / "a").mkdir(), (tmp_path / "b").mkdir()
    first = fetch(tmp_path / "a", fetcher, feed_source(early, "early"), GOOD)
    assert outcomes(first)["early"].status is FetchStatus.OK
    fake.sleep(10.5)  # the run spent its budget on slow sources
    second = fetch(tmp_path / "b", fetcher, feed_source(late, "late"), GOOD)
    found = outcomes(second)
    assert found["late"].status is FetchStatus.FAILED and "ran out" in found["late"].detail
    assert server.hits("/late") == []  # not even asked
    assert found["good"].status is FetchStatus.OK  # a local listing is not the network


def test_a_feed_of_too_many_items_fails_before_it_is_parsed(tmp_path: Path) -> None:
    """Half a million tiny items stay under the byte cap but would take minutes and gigabytes
    to parse: the items are counted first."""
    import time

    from newsletter.errors import FeedParseError
    from newsletter.sources.base import MAX_ITEMS
    from newsletter.sources.feed import parse_feed

    body = (
        b"<rss version='2.0'><channel><title>t</title>"
        + (b"<item><title>x</title><link>https://example.org/a</link></item>" * (MAX_ITEMS + 1))
        + b"</channel></rss>"
    )
    started = time.monotonic()
    with pytest.raises(FeedParseError, match="no daily listing"):
        parse_feed(body, source="flood")
    assert time.monotonic() - started < 5  # refused, not parsed
    small = body.replace(b"<item>", b"", MAX_ITEMS).replace(b"</item>", b"", MAX_ITEMS)
    assert len(parse_feed(small, source="small").papers) == 1  # a feed under the limit is read
