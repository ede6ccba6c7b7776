"""Fetch the day's papers from every configured source and store them once.

Each source is read, parsed and judged on its own: one failing source never stops the others,
and the report says for each what happened.

Outcomes:
- `ok`: the listing was read (and stored; an empty listing on an announcement day is ok too);
- `no announcement`: an arXiv listing for a day arXiv does not announce (weekend, holiday);
- `stale`: an arXiv listing that still carries an earlier date on an announcement day - the
  announcement is late or the feed is cached; try again later;
- `failed`: the source could not be read or parsed (an HTTP error, a timeout past the deadline,
  a body over the size cap, a refused redirect, a document that is not a feed...).

A saved arXiv listing read from a local file is never stale: reading it for a day is how a day
is replayed or a demo is built, so its papers are stored under the day asked for.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, timedelta
from enum import StrEnum
from pathlib import Path
from urllib.parse import urlsplit

from newsletter.calendar import is_announcement_day
from newsletter.checks import plural
from newsletter.config import Config, SourceBase
from newsletter.errors import SourceError
from newsletter.models import Paper
from newsletter.sources.base import ParseResult, SkippedItem, one_line_error
from newsletter.sources.http import Fetcher
from newsletter.sources.merge import merge_papers
from newsletter.sources.registry import SourcePlan, plan
from newsletter.store import Store

log = logging.getLogger(__name__)


FETCH_LEASE_SECONDS = 60.0  # a reader of the sources that dies lets them go this soon
FETCH_WAIT_SECONDS = 960.0  # the most one waits for another's reading: its whole budget


class FetchStatus(StrEnum):
    OK = "ok"
    NO_ANNOUNCEMENT = "no announcement"
    STALE = "stale"
    FAILED = "failed"


@dataclass
class SourceOutcome:
    """What one source gave for one day."""

    source: str
    status: FetchStatus
    day: date  # the day its papers are stored under
    papers: list[Paper] = field(default_factory=list)
    skipped: list[SkippedItem] = field(default_factory=list)
    detail: str = ""
    not_modified: bool = False


@dataclass
class FetchReport:
    day: date
    outcomes: list[SourceOutcome]

    @property
    def papers(self) -> list[Paper]:
        """Every paper read today, one per id, merged across sources."""
        return merge_papers(paper for outcome in self.outcomes for paper in outcome.papers)

    @property
    def problems(self) -> list[SourceOutcome]:
        """Sources the operator must hear about: failed or stale."""
        return [o for o in self.outcomes if o.status in (FetchStatus.FAILED, FetchStatus.STALE)]


def fetch_day(
    config: Config,
    day: date,
    store: Store,
    fetcher: Fetcher,
    only: Sequence[str] = (),
) -> FetchReport:
    """Read every source (or those named in `only`) for the issue of `day` and store the papers."""
    outcomes = []
    for source in config.newsletter.sources:
        if only and source.label not in only:
            continue
        outcome = fetch_source(source, day, fetcher, config)
        if outcome.status is FetchStatus.OK:
            outcome.papers = _save(store, outcome)
        store.record_fetch(outcome.source, day, outcome.status, outcome.detail, len(outcome.papers))
        _log(outcome)
        outcomes.append(outcome)
    return FetchReport(day, outcomes)


DONE = (FetchStatus.OK.value, FetchStatus.NO_ANNOUNCEMENT.value)


def fetch_pending(
    config: Config, days: Sequence[date], today: date, store: Store, fetcher: Fetcher
) -> list[FetchReport]:
    """Read what is still missing for `days` (oldest first): every source never read for a
    day, or read with a failed or stale outcome, is read (again).

    A past day is read only from sources that can read one (a dated URL, such as Hugging Face
    Daily Papers or a `{date}` folder). An arXiv listing never read on its announcement day is
    reported as failed: the RSS feed carries only the newest listing, so its papers are missed.
    arXiv is not asked for a listing on a day it does not announce.
    """
    reports = []
    for day in days:
        if all(store.fetch_statuses(day).get(s.label) in DONE for s in config.newsletter.sources):
            continue
        with reading(store, day):
            report = _pending_day(config, day, today, store, fetcher)
        if report is not None:
            reports.append(report)
    return reports


@contextmanager
def reading(store: Store, day: date) -> Iterator[None]:
    """Hold the right to read the sources of `day`: one process at a time, on every host that
    shares the state. The others wait for it and then read only what is still missing (a
    source that failed for it is tried again). A reader that takes longer than the fetch
    budget is not waited for."""
    from newsletter.store import HeldLease, claimant

    lease = HeldLease(store.location, f"fetch:{day}", claimant(), FETCH_LEASE_SECONDS)
    if not lease.take():
        log.info("another process is reading the sources of %s: waiting for it", day)
        if not lease.wait(poll=0.5, timeout=FETCH_WAIT_SECONDS):
            log.warning("the sources of %s are still being read elsewhere: reading here", day)
            yield
            return
    try:
        yield
    finally:
        lease.release()


def _pending_day(
    config: Config, day: date, today: date, store: Store, fetcher: Fetcher
) -> FetchReport | None:
    """What `fetch_pending` reads for one day: None when nothing was missing."""
    done = store.fetch_statuses(day)
    names, other = [], []
    for source in config.newsletter.sources:
        if done.get(source.label) in DONE:
            continue
        if _no_listing(config, source, day):
            other.append(_quiet_day(store, source.label, day))
        elif day == today or _reads_past(source, day):
            names.append(source.label)
        elif source.label not in done and _listing(source, day):
            other.append(_missed(store, source.label, day))
    report = fetch_day(config, day, store, fetcher, only=names) if names else None
    if report is not None or other:
        return FetchReport(day, (report.outcomes if report else []) + other)
    return None


def _reads_past(source: SourceBase, day: date) -> bool:
    """Whether `source` reads a different address for another day."""
    return plan(source, day).url != plan(source, day - timedelta(days=1)).url


def _listing(source: SourceBase, day: date) -> bool:
    """Whether `source` is an arXiv listing (dated, one per announcement day)."""
    return plan(source, day).expects_listing_date is not None


def _no_listing(config: Config, source: SourceBase, day: date) -> bool:
    """An arXiv listing of a day arXiv does not announce: nothing to ask arXiv for."""
    return _listing(source, day) and not is_announcement_day(day, config.newsletter.holidays)


def _quiet_day(store: Store, name: str, day: date) -> SourceOutcome:
    detail = f"arXiv does not announce on {day:%A %Y-%m-%d}"
    return _unread(store, name, day, FetchStatus.NO_ANNOUNCEMENT, detail)


def _missed(store: Store, name: str, day: date) -> SourceOutcome:
    detail = (
        f"the listing of {day} was not read on its day, and arXiv's RSS feed carries only the "
        "newest listing: its papers are missed"
    )
    return _unread(store, name, day, FetchStatus.FAILED, detail)


def _unread(store: Store, name: str, day: date, status: FetchStatus, detail: str) -> SourceOutcome:
    """An outcome known without a request: recorded and logged like a fetched one."""
    outcome = SourceOutcome(name, status, day, detail=detail)
    store.record_fetch(name, day, status, detail, 0)
    _log(outcome)
    return outcome


def fetch_source(source: SourceBase, day: date, fetcher: Fetcher, config: Config) -> SourceOutcome:
    """Read, parse and judge one source; whatever goes wrong is this source's `failed` outcome
    with a one-line reason, never an exception that would stop the other sources."""
    source_plan = plan(source, day)
    try:
        fetched = fetcher.get(source_plan.url, source=source_plan.name, base_dir=config.base_dir)
        parsed = source_plan.parse(fetched.body)
    except SourceError as exc:
        return _failed(source_plan.name, day, exc.reason)
    except Exception as exc:  # the last line of the promise above; the traceback with --debug
        log.debug("%s: unexpected failure", source_plan.name, exc_info=True)
        return _failed(source_plan.name, day, f"unexpected error: {one_line_error(exc)}")
    outcome = _judge(source_plan, parsed, day, config.newsletter.holidays)
    outcome.not_modified = fetched.not_modified
    return outcome


def _failed(name: str, day: date, reason: str) -> SourceOutcome:
    return SourceOutcome(name, FetchStatus.FAILED, day, detail=" ".join(reason.split()))


def _judge(
    source_plan: SourcePlan, parsed: ParseResult, day: date, holidays: Sequence[date]
) -> SourceOutcome:
    name = source_plan.name
    expected = source_plan.expects_listing_date
    listed = parsed.feed_date
    counts = plural(len(parsed.papers), "paper") + (
        f", {plural(len(parsed.skipped), 'item')} skipped" if parsed.skipped else ""
    )
    if parsed.skipped and not parsed.papers:
        detail = f"no usable item: {parsed.skipped[0]}"
        return SourceOutcome(name, FetchStatus.FAILED, day, skipped=parsed.skipped, detail=detail)
    if expected is not None and not parsed.papers and not is_announcement_day(expected, holidays):
        detail = f"arXiv does not announce on {expected:%A %Y-%m-%d}"
        return SourceOutcome(name, FetchStatus.NO_ANNOUNCEMENT, day, detail=detail)
    if expected is not None and not parsed.papers:
        log.warning("%s: the listing of %s is empty", name, expected)
    if expected is None or listed is None or listed == expected:
        return SourceOutcome(name, FetchStatus.OK, day, parsed.papers, parsed.skipped, counts)
    if _is_local(source_plan.url):
        detail = f"the listing of {listed}, read from a file: {counts}"
        return SourceOutcome(name, FetchStatus.OK, day, parsed.papers, parsed.skipped, detail)
    if not is_announcement_day(expected, holidays):
        detail = f"arXiv does not announce on {expected:%A %Y-%m-%d}"
        return SourceOutcome(name, FetchStatus.NO_ANNOUNCEMENT, day, detail=detail)
    detail = f"the feed still carries the listing of {listed}, not {expected}; try again later"
    return SourceOutcome(name, FetchStatus.STALE, day, detail=detail)


def _save(store: Store, outcome: SourceOutcome) -> list[Paper]:
    """Merge with what other sources already stored for these papers, then store."""
    stored = {paper.id: paper for paper in store.papers_by_ids([p.id for p in outcome.papers])}
    merged = [
        _merge_with_stored(paper, stored[paper.id]) if paper.id in stored else paper
        for paper in merge_papers(outcome.papers)
    ]
    store.save_day(outcome.day, outcome.source, merged)
    return merged


def _merge_with_stored(paper: Paper, stored: Paper) -> Paper:
    """A newer version's metadata wins; otherwise what was stored first keeps its place."""
    newer = (paper.version or 0) > (stored.version or 0)
    return merge_papers([paper, stored] if newer else [stored, paper])[0]


def _is_local(url: str) -> bool:
    scheme = urlsplit(url).scheme.lower()
    return scheme == "file" or len(scheme) <= 1 or Path(url).exists()


def _log(outcome: SourceOutcome) -> None:
    if outcome.status in (FetchStatus.FAILED, FetchStatus.STALE):
        log.error("%s: %s: %s", outcome.source, outcome.status, outcome.detail)
    else:
        log.info("%s: %s: %s", outcome.source, outcome.status, outcome.detail)
    for item in outcome.skipped:
        log.warning("%s: skipped %s", outcome.source, item)
