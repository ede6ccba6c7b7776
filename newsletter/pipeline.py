"""One day of the digest, as an outline: fetch, select (and, in later stages, render and send).

Everything with side effects is passed in (the store, the HTTP fetcher), so the same outline
runs from the command line, the scheduler and the tests.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from urllib.parse import urlencode

from newsletter.config import Config, Subscriber
from newsletter.errors import SourceError
from newsletter.fetching import FetchReport, fetch_day
from newsletter.models import Paper, Selection
from newsletter.sources.http import Fetcher
from newsletter.store import Store

log = logging.getLogger(__name__)

ARXIV_API = "https://export.arxiv.org/api/query"
LIKED_BATCH = 100


@dataclass
class DayPlan:
    """The papers of an issue date and each chosen subscriber's selection."""

    day: date
    selections: list[Selection]
    fetch: FetchReport | None = None
    warnings: list[str] = field(default_factory=list)


def select_day(
    config: Config,
    day: date,
    store: Store,
    fetcher: Fetcher | None,
    subscribers: Sequence[Subscriber] | None = None,
) -> DayPlan:
    """Fetch the day if it was never fetched, then select every subscriber's papers."""
    from newsletter.select import select

    chosen = list(config.subscribers if subscribers is None else subscribers)
    report = None
    if fetcher is not None and not store.fetched(day):
        report = fetch_day(config, day, store, fetcher)
    papers = store.papers_for_day(day)
    profiles = [subscriber.profile() for subscriber in chosen]
    liked, warnings = liked_papers(store, fetcher, {i for p in profiles for i in p.liked})
    delivered = {p.email: store.delivered_paper_ids(p.email) for p in profiles}
    selections = select(papers, profiles, day, liked=liked, delivered=delivered)
    return DayPlan(day, selections, report, warnings)


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
