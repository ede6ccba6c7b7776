"""A reader's issue of a day, for the web: every paper picked, with its score and reasons.

What the email carried is what was kept at send time (`Store.kept_issue`: every pick, also
those the email's size budget moved to its compact list or left out). An issue never sent (the
link came from a preview) is selected now from the stored papers, for that reader only, as
`send` would select it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from newsletter.config import Config
from newsletter.models import Reader, SelectedPaper
from newsletter.store import KeptPick, Store


@dataclass(frozen=True)
class WebIssue:
    papers: list[SelectedPaper]
    live: bool  # selected now: nothing was kept for this reader and day


def issue_of(store: Store, config: Config, reader: Reader, day: date) -> WebIssue:
    """The papers of `reader`'s issue of `day`, best first."""
    kept = store.kept_issue(reader.key, day)
    if kept is not None:
        return WebIssue(_as_picked(store, kept), live=False)
    from newsletter.plan import select_day
    from newsletter.session import Session

    session = Session(config, store)  # offline: no fetcher, the store's papers only
    plan = select_day(session, day, [reader])
    return WebIssue(list(plan.picks[0].selection.papers), live=True)


def _as_picked(store: Store, kept: Sequence[KeptPick]) -> list[SelectedPaper]:
    """The kept picks with their papers (a paper no longer stored is left out)."""
    papers = {paper.id: paper for paper in store.papers_by_ids([k.paper_id for k in kept])}
    return [
        SelectedPaper(papers[pick.paper_id], pick.score, pick.reasons)
        for pick in kept
        if pick.paper_id in papers
    ]
