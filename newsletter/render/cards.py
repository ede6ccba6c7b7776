"""Each paper's card, rendered once: what a template sees of the paper (`PaperView`), its card
HTML, its compact-list line and its text block (once for each indent it is shown with).

A renderer renders each card the first time an issue needs it. Cards rendered ahead
(`Cards.render_all`, for instance by a process about to fork its workers) are kept for the
process and shared by every renderer whose card templates are the same (`Cards.fingerprint`):
the workers, each with a renderer of its own, find them rendered. A kept card is only found for
an equal paper, field for field.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from newsletter.render.views import PaperView

if TYPE_CHECKING:
    from newsletter.models import Paper

MAX_KEPT = 8_000  # cards kept for the process: a large day's listing, with room
Render = Callable[..., str]


@dataclass
class Card:
    """A paper rendered once: its view, card HTML, compact-list line and its text block, the
    latter once for each indent it is shown with (`texts`, by indent width)."""

    view: PaperView
    html: str
    compact: str
    texts: dict[int, str] = field(default_factory=dict)


_kept: dict[tuple[str, Paper], Card] = {}  # (fingerprint, paper) -> card, for the process


@dataclass
class Cards:
    """The cards of one set of card templates (`card.html.j2`, `compact.html.j2`,
    `card.txt.j2`), by paper id within a renderer, for the process across renderers."""

    card_html: Render
    compact: Render
    card_text: Render
    fingerprint: str  # of the templates' names and sources: equal templates, equal cards
    _by_id: dict[str, Card] = field(default_factory=dict)

    @staticmethod
    def fingerprint_of(sources: Iterable[tuple[str, str]]) -> str:
        """A fingerprint of templates given as (file name, source) pairs."""
        digest = hashlib.sha256()
        for name, source in sources:
            digest.update(f"{len(name)}:{name}{len(source)}:{source}".encode())
        return digest.hexdigest()

    def card(self, paper: Paper) -> Card:
        """The paper's card: rendered ahead (`render_all`) or now."""
        found = self._by_id.get(paper.id)
        if found is None:
            found = _kept.get((self.fingerprint, paper)) if _kept else None
            if found is None:
                found = self._rendered(paper)
            self._by_id[paper.id] = found
        return found

    def text(self, paper: Paper, indent: int) -> str:
        """The paper's text block, every line indented by `indent` columns."""
        card = self.card(paper)
        found = card.texts.get(indent)
        if found is None:
            rendered = self.card_text(paper=card.view, indent=" " * indent)
            found = card.texts[indent] = rendered.strip("\n")
        return found

    def render_all(self, papers: Iterable[Paper], indents: Iterable[int] = ()) -> None:
        """Render these papers' cards (and text blocks for these indents) now, and keep them
        for every renderer of the process with the same templates."""
        for paper in papers:
            card = self.card(paper)
            for indent in indents:
                self.text(paper, indent)
            if len(_kept) >= MAX_KEPT:
                _kept.clear()
            _kept[(self.fingerprint, paper)] = card

    def _rendered(self, paper: Paper) -> Card:
        view = PaperView.of(paper)
        html = self.card_html(paper=view).strip()
        return Card(view, html, self.compact(paper=view).strip())
