"""What a day's issues will carry: the sources read once, then every reader's papers chosen.

Two steps, so that the network is touched once per run however the sending is split:
- `prepare`: read the days each reader's next issue still misses from its sources, and the
  liked papers' text (the only step that uses the network); then read the papers the issues
  draw on and index them for selection (`day_index`), once, before any worker process forks;
- `select_day`: choose every reader's papers from the store (no network), excluding what
  already reached them, and taught by what they rated "more" or "less like this".

A reader's issue draws on the papers listed since their previous issue (at most
`CATCH_UP_DAYS` back; the first issue draws on the issue date alone): a Monday issue after a
weekend, or the first issue after days without sending, carries every missed paper once.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from urllib.parse import urlencode

from newsletter.errors import SourceError
from newsletter.fetching import FetchReport, SourceOutcome, fetch_pending
from newsletter.models import Paper, Reader, Selection
from newsletter.session import Session
from newsletter.sources.http import Fetcher
from newsletter.store import LastIssue, Rating, Store, StoredPaper

log = logging.getLogger(__name__)

ARXIV_API = "https://export.arxiv.org/api/query"
LIKED_BATCH = 100
CATCH_UP_DAYS = 7  # how far back an issue reaches for papers missed since the last one


@dataclass(frozen=True)
class Prepared:
    """What reading the sources for a run gave: each day's fetch report and warnings, and what
    was read on the way that selection needs again (each reader's last issue, liked papers)."""

    fetches: list[FetchReport] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    last: dict[str, LastIssue | None] | None = None  # by reader key; None: not read
    liked: dict[str, Paper] | None = None
    pool: _Pool | None = None  # the papers the issues draw on, for those last issues

    @property
    def problems(self) -> list[SourceOutcome]:
        """Sources that failed or were stale for a day of these issues."""
        return [o for report in self.fetches for o in report.problems]


@dataclass(frozen=True)
class Pick:
    """One reader and the papers of their issue."""

    reader: Reader
    selection: Selection


@dataclass(frozen=True)
class DayPlan:
    """The issue date and each chosen reader's selection, in the readers' order."""

    day: date
    picks: list[Pick]
    horizon: int  # the papers stored when the selections were made (Store.horizon)

    @property
    def selections(self) -> list[Selection]:
        return [pick.selection for pick in self.picks]


def prepare(session: Session, day: date, readers: Sequence[Reader]) -> Prepared:
    """Read what the issues of `day` for `readers` still miss, and the liked papers; offline
    (a session without a fetcher) nothing is read."""
    fetcher = session.fetcher
    if fetcher is None:
        return Prepared()
    store = session.store
    last = _last_issues(store, readers, day)
    earliest = _earliest(last.values(), day)
    days = [earliest + timedelta(days=n) for n in range(1, (day - earliest).days + 1)]
    fetches = fetch_pending(session.config, days, day, store, fetcher)
    ids = {paper_id for reader in readers for paper_id in reader.profile.liked}
    liked, warnings = fetch_liked(store, fetcher, ids)
    pool = _index_day(store, day, last)
    if session.config.newsletter.ranking.semantic:  # the vectors, before workers fork
        from newsletter.meaning import meaning_for

        meaning_for(session.config, store, pool.papers, pool.corpus, [r.profile for r in readers])
    return Prepared(fetches, warnings, last, liked, pool)


def _index_day(store: Store, day: date, last: dict[str, LastIssue | None]) -> _Pool:
    """Index the papers `select_day` will choose from, once, here: selecting (in this process,
    or in worker processes forked after this) finds the index built (`day_index`)."""
    from newsletter.day_index import day_index

    pool = _Pool.of(store, day, last)
    if pool.papers:
        day_index(pool.papers, pool.corpus)
    return pool


def select_day(
    session: Session, day: date, readers: Sequence[Reader], prepared: Prepared | None = None
) -> DayPlan:
    """Select every reader's papers for the issue of `day` from the stored papers and the
    readers' ratings (what `prepared` read already is not read again)."""
    from newsletter.meaning import meaning_for
    from newsletter.select import select

    store = session.store
    ready = prepared if prepared is not None else Prepared()
    last = ready.last if ready.last is not None else _last_issues(store, readers, day)
    pool = ready.pool
    if pool is None or set(pool.new) != set(last.values()):  # drawn for other last issues
        pool = _Pool.of(store, day, last)
    candidates = set().union(*pool.new.values())
    excluded = {found: candidates - ids for found, ids in pool.new.items()}
    sent = store.delivered_among([r.key for r in readers], candidates, besides=day)
    delivered = {r.profile.email: excluded[last[r.key]] | sent.get(r.key, set()) for r in readers}
    liked = ready.liked if ready.liked is not None else _stored_liked(store, readers)
    profiles = [reader.profile for reader in readers]
    ratings = _ratings(store, readers, day)
    meaning = meaning_for(session.config, store, pool.papers, pool.corpus, profiles)
    selections = select(
        pool.papers, profiles, day, liked=liked, delivered=delivered, corpus=pool.corpus,
        ratings=ratings, meaning=meaning,
    )  # fmt: skip
    picks = [Pick(r, s) for r, s in zip(readers, selections, strict=True)]
    return DayPlan(day, picks, pool.horizon)


@dataclass(frozen=True)
class _Pool:
    """The papers the issues of `day` draw on for readers whose last issues are `last`."""

    new: dict[LastIssue | None, set[str]]  # ids new to readers with that last issue
    papers: list[Paper]  # new to at least one of them
    corpus: list[Paper]  # the day's listing, which word weights are learnt from
    horizon: int  # the papers stored before these were read (Store.horizon)

    @classmethod
    def of(cls, store: Store, day: date, last: dict[str, LastIssue | None]) -> _Pool:
        window = day - timedelta(days=CATCH_UP_DAYS)
        horizon = store.horizon()  # first: a paper stored while reading counts as unseen
        pool = store.papers_between(_earliest(last.values(), day), day)
        new = {  # readers whose last issue is the same see the same papers as new: once per issue
            found: {s.paper.id for s in pool if _new_to(s, found, day, window)}
            for found in set(last.values())
        }
        candidates = set().union(*new.values())
        papers = [stored.paper for stored in pool if stored.paper.id in candidates]
        corpus = store.papers_for_day(day) or [stored.paper for stored in pool]
        return cls(new, papers, corpus, horizon)


def _earliest(last: Iterable[LastIssue | None], day: date) -> date:
    """The day after which the papers of these readers' next issues lie."""
    window = day - timedelta(days=CATCH_UP_DAYS)
    before = day - timedelta(days=1)
    return min((max(found.day - timedelta(days=1), window) if found else before
                for found in last), default=before)  # fmt: skip


def _new_to(stored: StoredPaper, last: LastIssue | None, day: date, window: date) -> bool:
    """Whether a paper is new to a reader whose previous issue is `last`: listed after that
    issue's date (that issue could not carry it, even if it was already stored), or stored
    after that issue was built (so a listing fetched late is not lost); at most
    `CATCH_UP_DAYS` old. A first issue draws on the papers first listed on `day`."""
    if last is None:
        return stored.first_day == day
    if stored.first_day <= window:
        return False
    if stored.first_day > last.day:
        return True
    return last.horizon is not None and stored.first_row > last.horizon


def _ratings(
    store: Store, readers: Sequence[Reader], day: date
) -> dict[str, list[tuple[Paper, int]]]:
    """Each reader's ratings with the rated papers, by profile email as `select` takes them
    (one query for the ratings, one for the papers). Only ratings from issues before `day`
    (or from no issue) count, so that choosing an issue again gives the same issue; a paper no
    longer stored is left out."""
    found = store.ratings([r.key for r in readers])
    if not found:
        return {}
    ids = sorted({rating.paper_id for rated in found.values() for rating in rated})
    papers = {paper.id: paper for paper in store.papers_by_ids(ids)}

    def rated(ratings: list[Rating]) -> list[tuple[Paper, int]]:
        return [
            (papers[r.paper_id], r.vote)
            for r in ratings
            if r.paper_id in papers and (r.day is None or r.day < day)
        ]

    return {r.profile.email: rated(found[r.key]) for r in readers if r.key in found}


def _stored_liked(store: Store, readers: Sequence[Reader]) -> dict[str, Paper]:
    ids = sorted({paper_id for reader in readers for paper_id in reader.profile.liked})
    return {paper.id: paper for paper in store.papers_by_ids(ids)}


def fetch_liked(
    store: Store, fetcher: Fetcher, ids: set[str]
) -> tuple[dict[str, Paper], list[str]]:
    """The liked papers: from the store, else fetched once from the arXiv API and kept; the
    warnings say what could not be had."""
    found = {paper.id: paper for paper in store.papers_by_ids(sorted(ids))}
    missing = sorted(ids - found.keys())
    warnings: list[str] = []
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


def _last_issues(store: Store, readers: Sequence[Reader], day: date) -> dict[str, LastIssue | None]:
    return {r.key: store.last_issue(r.key, day) for r in readers}


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
