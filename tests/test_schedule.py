"""Daily operation driven by a fake clock through the real jobs and APScheduler's triggers.

Two and a half weeks, 2026-10-21 to 2026-11-06, with a weekend, an arXiv holiday, the
daylight-saving changes of Europe (25 Oct) and the USA (1 Nov), a source that fails and then
recovers, a config edit (a new reader) and an invalid one, a short outage inside the grace
period and a three-day outage. Messages go to a real SMTP server on 127.0.0.1; what each reader
got, when, and which papers, is checked exactly.
"""

from __future__ import annotations

import email
import email.policy
import heapq
import logging
import re
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from newsletter.calendar import is_announcement_day, listing_date
from newsletter.schedule import GRACE, AlreadyRunning, Operator, single_instance
from newsletter.store import Store
from tests.feeds import Item, arxiv_rss, hf_daily
from tests.smtpserver import Script, smtp_server

START = datetime(2026, 10, 21, 0, 0, tzinfo=UTC)
END = datetime(2026, 11, 7, 0, 0, tzinfo=UTC)
HOLIDAY = date(2026, 10, 29)
LATE_DAY = date(2026, 10, 27)  # its listing file appears only at LATE_AT
LATE_AT = datetime(2026, 10, 27, 3, 5, tzinfo=UTC)
JOINS_AT = datetime(2026, 10, 28, 12, 0, tzinfo=UTC)
BROKEN_EDIT_AT = datetime(2026, 10, 30, 12, 0, tzinfo=UTC)
SHORT_OUTAGE = (datetime(2026, 11, 2, 5, 0, tzinfo=UTC), datetime(2026, 11, 2, 8, 0, tzinfo=UTC))
LONG_OUTAGE = (datetime(2026, 11, 3, 0, 0, tzinfo=UTC), datetime(2026, 11, 6, 0, 0, tzinfo=UTC))
WEEKDAYS = "[mon, tue, wed, thu, fri]"
EVERY_DAY = "[mon, tue, wed, thu, fri, sat, sun]"

READERS = {  # email: (time zone, send time, days)
    "ada@example.org": ("Europe/Warsaw", "07:00", WEEKDAYS),
    "bob@example.org": ("America/New_York", "07:00", EVERY_DAY),
    "cy@example.org": ("Europe/Warsaw", "02:30", EVERY_DAY),  # twice on 25 Oct, once on 29 Mar
}
NEWCOMER = ("dee@example.org", ("Asia/Tokyo", "08:00", WEEKDAYS))


def arxiv_items(day: date) -> list[Item]:
    """Two papers on graphs (wanted) and one on compilers (not) each announcement day; the
    listing of 27 Oct also carries 26 Oct's first paper again, as a cross-list."""
    stem = f"26{day:%m}.{day:%d}"
    items = [
        Item(f"{stem}001", title=f"Graph neural networks for molecules {day}"),
        Item(f"{stem}002", title=f"Message passing on graph transformers {day}"),
        Item(f"{stem}003", title=f"Register allocation in compilers {day}"),
    ]
    if day == LATE_DAY:
        items.append(Item("2610.26001", title="Graph neural networks again", announce="cross"))
    return items


def newest_listing(moment: datetime) -> date:
    """The issue a send at `moment` carries: the newest arXiv listing out by then."""
    day = listing_date(moment)
    while not is_announcement_day(day, [HOLIDAY]):
        day -= timedelta(days=1)
    return day


def hf_items(day: date) -> list[tuple[str, str, int]]:
    """Hugging Face Daily Papers of every day, weekends too: one graph paper."""
    return [(f"26{day:%m}.{day:%d}900", f"Graph foundation models {day}", 10)]


def wanted(day: date) -> set[str]:
    """The graph papers of the issue dated `day` (HF papers are read from the day before)."""
    found = {p for p, _, _ in hf_items(day - timedelta(days=1))}
    if is_announcement_day(day, [HOLIDAY]):
        found |= {i.id for i in arxiv_items(day) if "ompiler" not in i.title}
    return found


def config_text(folder: Path, port: int, readers: dict[str, tuple[str, str, str]]) -> str:
    people = "".join(
        f'  - email: {address}\n    timezone: {tz}\n    send_time: "{at}"\n    days: {days}\n'
        f"    interests:\n      keywords: [graph]\n"
        for address, (tz, at, days) in readers.items()
    )
    return f"""newsletter:
  title: Graph Digest
  sender: "Graph Digest <digest@example.org>"
  alerts_to: ops@example.org
  max_papers: 50
  holidays: [{HOLIDAY}]
  smtp:
    host: 127.0.0.1
    port: {port}
    security: none
    timeout: 10
  sources:
    - type: arxiv
      categories: [cs.LG]
      url: {folder}/arxiv-{{date}}.xml
    - type: huggingface
      url: {folder}/hf-{{date}}.json
subscribers:
{people}"""


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@dataclass(order=True)
class Event:
    when: datetime
    order: int
    name: str = field(compare=False)
    run: Callable[[], object] = field(compare=False)


class Simulation:
    """Steps through the jobs' fire times (APScheduler's triggers) and one-off events in time
    order, skipping what falls inside an outage and restarting (a catch-up) after it."""

    def __init__(self, operator: Operator, clock: Clock) -> None:
        self.operator, self.clock = operator, clock
        self.queue: list[Event] = []
        self.counter = 0
        self.fired: dict[str, object] = {}
        operator.retry = lambda key, when: self.at(when, f"{key} retry", self._sender(key))
        self.schedule_jobs(START)

    def _sender(self, key: str) -> Callable[[], object]:
        return lambda: self.operator.send(key)

    def at(self, when: datetime, name: str, run: Callable[[], object]) -> None:
        self.counter += 1
        heapq.heappush(self.queue, Event(when, self.counter, name, run))

    def schedule_jobs(self, after: datetime) -> None:
        """(Re)build the recurring jobs from the operator's current config."""
        self.queue = [e for e in self.queue if e.name not in self.fired]
        heapq.heapify(self.queue)
        self.fired = {}
        for spec in self.operator.jobs():
            self.fired[spec.id] = spec
            self._next(spec.id, spec.trigger, None, after)

    def _next(self, name: str, trigger: object, previous: datetime | None, now: datetime) -> None:
        fire = trigger.get_next_fire_time(previous, now)  # type: ignore[attr-defined]
        if fire is not None:
            spec = self.fired[name]
            self.at(fire, name, lambda: self._fire(name, spec, fire))

    def _fire(self, name: str, spec: object, fire: datetime) -> None:
        if self.fired.get(name) is not spec:
            return  # a job of an older config
        spec.run()  # type: ignore[attr-defined]
        self._next(name, spec.trigger, fire, fire)  # type: ignore[attr-defined]

    def run(self, end: datetime, outages: list[tuple[datetime, datetime]]) -> None:
        for _start, stop in outages:
            self.at(stop, "restart", self.operator.catch_up)
        while self.queue and self.queue[0].when < end:
            event = heapq.heappop(self.queue)
            self.clock.now = event.when.astimezone(UTC)
            down = any(start <= self.clock.now < stop for start, stop in outages)
            if down and event.name in self.fired:
                self._next(event.name, self.fired[event.name].trigger, event.when, event.when)  # type: ignore[attr-defined]
            elif not down:
                event.run()


@dataclass(frozen=True)
class Received:
    to: str
    issue: date
    sent_at: datetime
    papers: frozenset[str]


def received(script: Script) -> tuple[list[Received], list[EmailMessage]]:
    issues, alerts = [], []
    for _, _, data in script.received:
        message = email.message_from_bytes(data, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        if message["Auto-Submitted"]:
            alerts.append(message)
            continue
        text = message.get_body(("plain",))
        assert text is not None
        papers = frozenset(re.findall(r"arxiv\.org/abs/(\d{4}\.\d{5})", text.get_content()))
        issue = datetime.strptime(message["Message-ID"][1:9], "%Y%m%d").date()
        issues.append(Received(message["To"].addresses[0].addr_spec, issue,
                               message["Date"].datetime, papers))  # fmt: skip
    return issues, alerts


def test_a_simulated_fortnight_sends_every_issue_once_and_loses_no_paper(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    feeds = tmp_path / "feeds"
    feeds.mkdir()
    day = START.date() - timedelta(days=2)
    while day <= END.date():
        if day != LATE_DAY:
            items = arxiv_items(day) if is_announcement_day(day, [HOLIDAY]) else []
            (feeds / f"arxiv-{day}.xml").write_bytes(arxiv_rss(day, items))
        (feeds / f"hf-{day}.json").write_bytes(hf_daily(hf_items(day)))
        day += timedelta(days=1)

    with smtp_server() as (port, script):
        path = tmp_path / "subscribers.yaml"
        path.write_text(config_text(feeds, port, READERS), encoding="utf-8")
        clock = Clock(START)
        operator = Operator(path, clock=clock)
        sim = Simulation(operator, clock)

        def late_listing() -> None:
            (feeds / f"arxiv-{LATE_DAY}.xml").write_bytes(
                arxiv_rss(LATE_DAY, arxiv_items(LATE_DAY))
            )

        def newcomer_joins() -> None:
            path.write_text(config_text(feeds, port, dict([*READERS.items(), NEWCOMER])))
            assert operator.reload()
            sim.schedule_jobs(clock.now)

        def broken_edit() -> None:
            text = path.read_text().replace("email: bob@example.org", "email: bob-at-example")
            path.write_text(text)
            assert not operator.reload()  # logged, the previous config stays in use

        sim.at(LATE_AT, "late listing", late_listing)
        sim.at(JOINS_AT, "edit", newcomer_joins)
        sim.at(BROKEN_EDIT_AT, "broken edit", broken_edit)
        sim.run(END, [SHORT_OUTAGE, LONG_OUTAGE])
        issues, alerts = received(script)

    # every (reader, issue date) exactly once
    counts = Counter((r.to, r.issue) for r in issues)
    assert [key for key, n in counts.items() if n > 1] == []

    # each reader at their local time, on their days; outage days without a catch-up missing
    by_reader: dict[str, list[Received]] = defaultdict(list)
    for r in issues:
        by_reader[r.to].append(r)
    everyone = dict([*READERS.items(), NEWCOMER])
    for reader, got in by_reader.items():
        zone, at, days = everyone[reader]
        for r in got:
            local = r.sent_at.astimezone(ZoneInfo(zone))
            in_grace = r.sent_at in (SHORT_OUTAGE[1], LONG_OUTAGE[1])  # caught up on restart
            assert f"{local:%H:%M}" == at or in_grace, (reader, r.sent_at, local)
            assert f"{local:%a}".lower() in days, (reader, local)
            assert r.issue == newest_listing(r.sent_at)  # on weekends: Friday's

    ada = sorted(r.issue for r in by_reader["ada@example.org"])
    weekdays = [START.date() + timedelta(days=n) for n in range(17)]
    expected = [
        d
        for d in weekdays
        if is_announcement_day(d, [HOLIDAY]) and not date(2026, 11, 3) <= d <= date(2026, 11, 5)
    ]
    assert ada == expected  # incl. 2 Nov, caught up after the short outage; no holiday issue
    caught_up = next(r for r in by_reader["ada@example.org"] if r.issue == date(2026, 11, 2))
    assert caught_up.sent_at == SHORT_OUTAGE[1]

    # cy's 02:30: sent once on 25 Oct although the hour happened twice
    cy_days = Counter(
        r.sent_at.astimezone(ZoneInfo("Europe/Warsaw")).date() for r in by_reader["cy@example.org"]
    )
    assert max(cy_days.values()) == 1
    # a weekend brings no new listing: readers who had Friday's issue get nothing more
    weekend = [r for r in issues if r.sent_at.astimezone(ZoneInfo("Europe/Warsaw")).weekday() >= 5]
    assert all(r.to == "dee@example.org" or r.sent_at in (SHORT_OUTAGE[1], LONG_OUTAGE[1])
               for r in weekend) or weekend == []  # fmt: skip
    # bob's 07:00 New York is 11:00 UTC before 1 Nov and 12:00 UTC after
    bob_hours = {r.sent_at.date(): r.sent_at.hour for r in by_reader["bob@example.org"]}
    assert bob_hours[date(2026, 10, 30)] == 11 and bob_hours[date(2026, 11, 2)] == 12
    # the newcomer's first issue is the first after joining (08:00 in Tokyo on Thursday 29 Oct
    # is 19:00 on Wednesday in New York: the listing of 28 Oct); the broken edit changed nothing
    dee = sorted(r.issue for r in by_reader["dee@example.org"])
    assert dee and dee[0] == date(2026, 10, 28)
    assert any("keeping the previous one" in m for m in caplog.messages)
    assert max(r.issue for r in by_reader["bob@example.org"]) == date(2026, 11, 6)

    # no paper lost, none twice: each reader got every wanted paper from their first issue on
    for reader, got in by_reader.items():
        papers = Counter(p for r in got for p in r.papers)
        assert [p for p, n in papers.items() if n > 1] == [], reader
        first = min(r.issue for r in got)
        last = max(r.issue for r in got)
        want = set().union(
            *(wanted(first + timedelta(days=n)) for n in range((last - first).days + 1))
        )
        assert set(papers) == want, (reader, sorted(want - set(papers)), sorted(set(papers) - want))

    # the failed source was told once, by email and at ERROR; the holiday was not a problem
    assert len(alerts) == 1
    body = alerts[0].get_body(("plain",))
    assert body is not None and f"{LATE_DAY}: failed" in body.get_content()
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert any("failed" in r.getMessage() for r in errors)
    assert not any(str(HOLIDAY) in r.getMessage() for r in errors)
    with Store(tmp_path / "newsletter.db") as store:
        assert store.fetch_statuses(HOLIDAY)["arxiv cs.LG"] == "no announcement"
        assert store.fetch_statuses(LATE_DAY)["arxiv cs.LG"] == "ok"


def test_a_second_scheduler_on_the_same_state_refuses_to_start(tmp_path: Path) -> None:
    state = tmp_path / "newsletter.db"
    with single_instance(state):
        twin = single_instance(state)
        with pytest.raises(AlreadyRunning, match="already using"):
            twin.__enter__()
    with single_instance(state):  # released on exit
        pass


def test_a_restart_within_the_grace_period_catches_up(tmp_path: Path) -> None:
    with smtp_server(Script()) as (port, script):
        feeds = tmp_path
        day = date(2026, 11, 4)
        (feeds / f"arxiv-{day}.xml").write_bytes(arxiv_rss(day, arxiv_items(day)))
        (feeds / f"hf-{day - timedelta(days=1)}.json").write_bytes(hf_daily([]))
        path = tmp_path / "subscribers.yaml"
        path.write_text(config_text(feeds, port, {"ada@example.org": READERS["ada@example.org"]}))
        fire = datetime(2026, 11, 4, 6, 0, tzinfo=UTC)  # 07:00 in Warsaw
        late = Clock(fire + GRACE - timedelta(minutes=1))
        assert Operator(path, clock=late).due_sends() != []
        too_late = Clock(fire + GRACE + timedelta(minutes=1))
        assert Operator(path, clock=too_late).due_sends() == []
        Operator(path, clock=late).catch_up()
        assert script.recipients() == ["ada@example.org"]
