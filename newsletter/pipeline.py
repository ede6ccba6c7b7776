"""One day of the digest, as an outline: fetch, select, render and send.

Everything with side effects is passed in (the store, the HTTP fetcher), so the same outline
runs from the command line, the scheduler and the tests.
"""

from __future__ import annotations

import hashlib
import logging
import queue
import threading
from collections.abc import Callable, Iterable, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field, fields
from datetime import UTC, date, datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from newsletter.config import Config, Subscriber
from newsletter.errors import SourceError
from newsletter.fetching import FetchReport, SourceOutcome, fetch_pending
from newsletter.models import Paper, Profile, Selection
from newsletter.sources.http import Fetcher
from newsletter.store import Store, StoredPaper

if TYPE_CHECKING:
    from newsletter.delivery.base import Backend

log = logging.getLogger(__name__)

ARXIV_API = "https://export.arxiv.org/api/query"
LIKED_BATCH = 100
CATCH_UP_DAYS = 7  # how far back an issue reaches for papers missed since the last one


@dataclass
class DayPlan:
    """The papers of an issue date and each chosen subscriber's selection."""

    day: date
    selections: list[Selection]
    horizon: int  # the papers stored when the selections were made (Store.horizon)
    fetches: list[FetchReport] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def problems(self) -> list[SourceOutcome]:
        """Sources that failed or were stale for a day of these issues."""
        return [o for report in self.fetches for o in report.problems]


def select_day(
    config: Config,
    day: date,
    store: Store,
    fetcher: Fetcher | None,
    subscribers: Sequence[Subscriber] | None = None,
) -> DayPlan:
    """Fetch what is missing, then select every chosen subscriber's papers for the issue of `day`.

    A reader's issue draws on the papers listed since their previous issue (at most
    `CATCH_UP_DAYS` back; the first issue draws on `day` alone) and not yet sent to them: a
    Monday issue after a weekend, or the first issue after days without sending, carries every
    missed paper once.
    """
    from newsletter.select import select

    chosen = list(config.subscribers if subscribers is None else subscribers)
    last = {s.email: store.last_issue(s.email, day) for s in chosen}
    profiles = [subscriber.profile() for subscriber in chosen]
    fetches, liked, warnings = _prefetch(config, day, store, fetcher, last.values(), profiles)
    window = day - timedelta(days=CATCH_UP_DAYS)
    horizon = store.horizon()
    pool = store.papers_between(_earliest(last.values(), day), day)
    new = {  # readers whose last issue is the same see the same papers as new: once per issue
        found: {s.paper.id for s in pool if _new_to(s, found, day, window)}
        for found in set(last.values())
    }
    candidates = set().union(*new.values())
    excluded = {found: candidates - ids for found, ids in new.items()}
    sent = store.delivered_among([s.email for s in chosen], candidates)
    delivered = {
        p.email: excluded[last[p.email]] | sent.get(p.email.lower(), set()) for p in profiles
    }
    papers = [stored.paper for stored in pool if stored.paper.id in candidates]
    corpus = store.papers_for_day(day) or [stored.paper for stored in pool]
    selections = select(papers, profiles, day, liked=liked, delivered=delivered, corpus=corpus)
    return DayPlan(day, selections, horizon, fetches, warnings)


def fetch_for(
    config: Config, day: date, store: Store, fetcher: Fetcher, chosen: Sequence[Subscriber]
) -> tuple[list[FetchReport], list[str]]:
    """Read what the issues of `day` for `chosen` still miss (see `_prefetch`), without
    selecting: done once before workers select their shares from the store."""
    last = [store.last_issue(s.email, day) for s in chosen]
    profiles = [s.profile() for s in chosen]
    fetches, _, warnings = _prefetch(config, day, store, fetcher, last, profiles)
    return fetches, warnings


def _prefetch(
    config: Config,
    day: date,
    store: Store,
    fetcher: Fetcher | None,
    last: Iterable[tuple[date, int | None] | None],
    profiles: Sequence[Profile],
) -> tuple[list[FetchReport], dict[str, Paper], list[str]]:
    """The days since each reader's last issue still missing from the store (read when a
    fetcher is given), and the liked papers' text."""
    fetches = []
    if fetcher is not None:
        earliest = _earliest(last, day)
        days = [earliest + timedelta(days=n) for n in range(1, (day - earliest).days + 1)]
        fetches = fetch_pending(config, days, day, store, fetcher)
    liked, warnings = liked_papers(store, fetcher, {i for p in profiles for i in p.liked})
    return fetches, liked, warnings


def _earliest(last: Iterable[tuple[date, int | None] | None], day: date) -> date:
    """The day after which the papers of these readers' next issues lie."""
    window = day - timedelta(days=CATCH_UP_DAYS)
    before = day - timedelta(days=1)
    return min((max(found[0] - timedelta(days=1), window) if found else before
                for found in last), default=before)  # fmt: skip


def _new_to(
    stored: StoredPaper, last: tuple[date, int | None] | None, day: date, window: date
) -> bool:
    """Whether a paper is new to a reader whose previous issue is `last`: stored after that
    issue was built (so a listing fetched late is not lost), at most `CATCH_UP_DAYS` old. A
    first issue draws on the papers first listed on `day`."""
    if last is None:
        return stored.first_day == day
    previous, horizon = last
    if stored.first_day <= window:
        return False
    if horizon is None:  # an issue recorded before horizons were kept
        return stored.first_day > previous
    return stored.first_row > horizon


def liked_papers(
    store: Store, fetcher: Fetcher | None, ids: set[str]
) -> tuple[dict[str, Paper], list[str]]:
    """The liked papers' text: from the store, else fetched once from the arXiv API and kept."""
    found = {paper.id: paper for paper in store.papers_by_ids(sorted(ids))}
    missing = sorted(ids - found.keys())
    warnings: list[str] = []
    if missing and fetcher is not None:
        for start in range(0, len(missing), LIKED_BATCH):
            fetched, problem = _fetch_by_id(fetcher, missing[start : start + LIKED_BATCH])
            if problem:
                warnings.append(problem)
            store.save_papers(fetched)
            found.update((paper.id, paper) for paper in fetched)
    for paper_id in sorted(ids - found.keys()):
        warnings.append(f"liked paper {paper_id} was not found on arXiv; it is ignored")
    for warning in warnings:
        log.warning("%s", warning)
    return found, warnings


def _fetch_by_id(fetcher: Fetcher, ids: list[str]) -> tuple[list[Paper], str | None]:
    from newsletter.sources.arxiv import parse_atom

    query = urlencode({"id_list": ",".join(ids), "max_results": len(ids)})
    try:
        fetched = fetcher.get(f"{ARXIV_API}?{query}", source="liked papers")
        return parse_atom(fetched.body, source="liked papers").papers, None
    except SourceError as exc:
        return (
            [],
            f"cannot read liked papers from arXiv ({exc.reason}); similarity to them is skipped",
        )


@dataclass
class SendReport:
    """What one `send` run did, reader by reader."""

    day: date
    sent: list[str] = field(default_factory=list)
    already: list[str] = field(default_factory=list)  # sent earlier, or being sent elsewhere
    no_papers: list[str] = field(default_factory=list)
    deferred: list[tuple[str, str]] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    in_doubt: list[tuple[str, str]] = field(default_factory=list)
    would_send: list[str] = field(default_factory=list)  # --dry-run
    warnings: list[str] = field(default_factory=list)
    sources: list[SourceOutcome] = field(default_factory=list)  # failed or stale sources
    stopped: list[str] = field(default_factory=list)  # not tried: the run was asked to stop

    @property
    def ok(self) -> bool:
        return not (self.failed or self.deferred or self.in_doubt or self.sources)


def send_day(
    config: Config,
    day: date,
    store: Store,
    fetcher: Fetcher | None,
    backend: Backend,
    *,
    subscribers: Sequence[Subscriber] | None = None,
    dry_run: bool = False,
    resend_in_doubt: bool = False,
    now: datetime | None = None,
    progress: Callable[[str], None] | None = None,
    stop: threading.Event | None = None,
) -> SendReport:
    """Select, render and send each reader's issue of `day`, at most once per reader.

    Per reader: skip if already sent (or being sent by another process); build the message;
    claim the delivery row (`sending`) before the SMTP transaction; record the outcome after the
    reply. Papers count as delivered only after the server accepted the message. When `stop`
    is set, the message in flight is finished and the rest are left for the next run.
    """
    from newsletter.compose import Composer
    from newsletter.delivery.base import Outcome
    from newsletter.store import claimant

    plan = select_day(config, day, store, fetcher, subscribers)
    report = SendReport(day, warnings=list(plan.warnings), sources=plan.problems)
    composer = Composer.of(config)
    me = claimant()
    stamp = now or datetime.now(UTC)
    with nullcontext() if dry_run else backend:  # a dry run connects to nothing
        for selection in plan.selections:
            email = selection.profile.email
            if stop is not None and stop.is_set():
                report.stopped.append(email)
                continue
            if progress is not None:
                progress(email)
            if _settled(store, email, day, report, resend_in_doubt):
                continue
            if not selection.should_send:
                report.no_papers.append(email)
                continue
            message = composer.message(selection, composer.issue(selection), day, stamp)
            if dry_run:
                report.would_send.append(email)
                continue
            claimed = store.claim(
                email, day, me, resend_in_doubt=resend_in_doubt, horizon=plan.horizon
            )
            if not claimed:
                if not _settled(store, email, day, report, resend_in_doubt):
                    report.already.append(email)  # being sent by another live process
                continue
            result = backend.send(message, partial(store.handing_over, email, day))
            paper_ids = [p.paper.id for p in selection.papers]
            store.finish(
                email,
                day,
                result.outcome.value,
                message_id=message.envelope.message_id,
                detail=result.detail,
                paper_ids=paper_ids,
            )
            if result.outcome is Outcome.SENT:
                report.sent.append(email)
            else:
                bucket = {
                    Outcome.DEFERRED: report.deferred,
                    Outcome.FAILED: report.failed,
                    Outcome.IN_DOUBT: report.in_doubt,
                }[result.outcome]
                bucket.append((email, result.detail))
                log.warning("%s: %s (%s)", email, result.outcome.value, result.detail)
    return report


def in_shard(subscriber: Subscriber, shard: tuple[int, int] | None) -> bool:
    """Whether `subscriber` belongs to shard K of N (1-based): a split by a hash of the
    address, the same on every machine and run."""
    if shard is None:
        return True
    number, count = shard
    digest = hashlib.sha256(subscriber.email.strip().lower().encode()).digest()
    return int.from_bytes(digest[:8], "big") % count == number - 1


def send_parallel(
    config: Config,
    day: date,
    store: Store,
    fetcher: Fetcher | None,
    backend: str | None,
    workers: int,
    *,
    subscribers: Sequence[Subscriber] | None = None,
    dry_run: bool = False,
    resend_in_doubt: bool = False,
    progress: Callable[[str], None] | None = None,
) -> SendReport:
    """`send_day` in `workers` processes, each with its own share of the readers, its own
    state connection and one SMTP connection. The day is fetched once, here, first."""
    import multiprocessing

    chosen = list(config.subscribers if subscribers is None else subscribers)
    fetches: list[FetchReport] = []
    warnings: list[str] = []
    if fetcher is not None:
        fetches, warnings = fetch_for(config, day, store, fetcher, chosen)
    # fork: the workers inherit the parsed config and the imported modules (the caller has no
    # other threads running; a fork copies only the calling thread)
    context = multiprocessing.get_context("fork")
    done = context.Queue()
    _SHARED.update(
        config=config, day=day, chosen=chosen, workers=workers, backend=backend, done=done,
        dry_run=dry_run, resend=resend_in_doubt, now=datetime.now(UTC),
    )  # fmt: skip
    try:
        with context.Pool(workers) as pool:
            pending = pool.map_async(_send_share, range(workers))
            while not pending.ready() or not done.empty():
                try:
                    email = done.get(timeout=0.2)
                except queue.Empty:
                    continue
                if progress is not None:
                    progress(email)
            reports = pending.get()
    finally:
        _SHARED.clear()
    merged = SendReport(day, warnings=warnings, sources=[o for f in fetches for o in f.problems])
    for part in reports:
        for name in _PER_READER:
            getattr(merged, name).extend(getattr(part, name))
    return merged


_PER_READER = [f.name for f in fields(SendReport) if f.name not in ("day", "warnings", "sources")]


_SHARED: dict[str, Any] = {}


def _send_share(number: int) -> SendReport:
    """One worker's share of `send_parallel` (runs in a forked process)."""
    from newsletter.delivery.base import backend_for

    shared = _SHARED
    config: Config = shared["config"]
    share = shared["chosen"][number :: shared["workers"]]
    with Store(config.state_path) as store:
        return send_day(
            config,
            shared["day"],
            store,
            None,
            backend_for(config, shared["backend"]),
            subscribers=share,
            dry_run=shared["dry_run"],
            resend_in_doubt=shared["resend"],
            now=shared["now"],
            progress=shared["done"].put,
        )


def _settled(
    store: Store, email: str, day: date, report: SendReport, resend_in_doubt: bool
) -> bool:
    """Whether `email`'s issue of `day` is not this run's to send; if so, say why in `report`:
    sent, failed or being sent elsewhere count as already handled; in doubt stays in doubt.
    A `sending` row is left to `Store.claim`, which tells a live sender from a dead one."""
    record = store.delivery(email, day)
    if record is None or record.status in ("pending", "deferred", "sending"):
        return False
    if record.status == "in_doubt":
        if resend_in_doubt:
            return False
        report.in_doubt.append((email, f"{record.detail} (not resent; see --resend-in-doubt)"))
        return True
    report.already.append(email)
    return True


def alert_operator(
    config: Config, report: SendReport, store: Store, backend: Backend, now: datetime
) -> bool:
    """Tell `newsletter.alerts_to` about failed or stale sources, each problem once.
    True when an alert was sent."""
    from newsletter import mail

    settings = config.newsletter
    new = [
        outcome
        for outcome in report.sources
        if store.first_alert(f"source|{outcome.source}|{outcome.day}|{outcome.status}")
    ]
    if not new or settings.alerts_to is None:
        return False
    lines = [f"{o.source}, {o.day}: {o.status}: {o.detail}" for o in new]
    text = (
        f"{settings.title}: papers are missing from the issue of {report.day}.\n\n"
        + "\n".join(lines)
        + "\n\nFailed and stale sources are read again on the next run.\n"
    )
    message = mail.notice(
        f"{settings.title}: {len(new)} source problem(s) for {report.day}",
        text,
        to_email=settings.alerts_to,
        headers=mail.Headers.of(settings.title, settings.sender),
        now=now,
    )
    with backend:
        result = backend.send(message)
    log.info("alert to %s: %s", settings.alerts_to, result.detail)
    return True
