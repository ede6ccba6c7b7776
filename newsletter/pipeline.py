"""One day of the digest, as an outline: fetch, select, render and send.

Everything with side effects is passed in (the store, the HTTP fetcher), so the same outline
runs from the command line, the scheduler and the tests.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from functools import partial
from typing import TYPE_CHECKING
from urllib.parse import urlencode

from newsletter.config import Config, Subscriber
from newsletter.errors import SourceError
from newsletter.fetching import FetchReport, fetch_day
from newsletter.models import Paper, Selection
from newsletter.sources.http import Fetcher
from newsletter.store import Store

if TYPE_CHECKING:
    from newsletter.delivery.base import Backend

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

    @property
    def ok(self) -> bool:
        return not (self.failed or self.deferred or self.in_doubt)


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
) -> SendReport:
    """Select, render and send each reader's issue of `day`, at most once per reader.

    Per reader: skip if already sent (or being sent by another process); build the message;
    claim the delivery row (`sending`) before the SMTP transaction; record the outcome after the
    reply. Papers count as delivered only after the server accepted the message.
    """
    from newsletter.compose import Composer
    from newsletter.delivery.base import Outcome
    from newsletter.store import claimant

    plan = select_day(config, day, store, fetcher, subscribers)
    report = SendReport(day, warnings=list(plan.warnings))
    composer = Composer.of(config)
    me = claimant()
    stamp = now or datetime.now(UTC)
    with backend:
        for selection in plan.selections:
            email = selection.profile.email
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
            if not store.claim(email, day, me, resend_in_doubt=resend_in_doubt):
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
