"""What a template sees: papers as plain text and checked URLs, never feed markup."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from markupsafe import Markup

from newsletter.render.text import one_line, safe_url, short_authors, shorten, summary

if TYPE_CHECKING:
    from datetime import date

    from newsletter.links import ReaderLinks
    from newsletter.models import Paper, Profile, SelectedPaper

_LINK_LABELS = (
    ("abstract", "Abstract"),
    ("pdf", "PDF"),
    ("code", "Code"),
    ("huggingface", "Hugging Face"),
    ("project", "Project page"),
    ("doi", "DOI"),
)
# Top-level domains SpamAssassin distrusts (72_active.cf: `enlist_uri_host (SUSP_URI_NTLD)`,
# rule PDS_OTHER_BAD_TLD, +1.0 for any link to such a host, shown or not). A card links them
# only as the paper's own page; a project page there is one click away on Hugging Face.
DISTRUSTED_TLDS = frozenset({
    "icu", "online", "work", "date", "top", "fun", "life", "review", "bid", "stream", "gdn",
    "click", "world", "fit", "ooo", "faith", "buzz", "trade", "cyou", "vip",
})  # fmt: skip
_SCORE = re.compile(r"\s*\((?:0|1)?\.\d+\)$")  # `matches your description (0.31)`


@dataclass(frozen=True)
class LinkView:
    label: str
    url: str


@dataclass(frozen=True)
class PaperView:
    """What a card shows of a paper: plain text and checked URLs, ready for a template."""

    id: str
    title: str
    url: str | None
    authors: str
    categories: tuple[str, ...]
    summary: str
    summary_is_ai: bool
    links: tuple[LinkView, ...]
    upvotes: int | None
    updated: bool

    @property
    def primary(self) -> str | None:
        return self.categories[0] if self.categories else None

    @property
    def others(self) -> tuple[str, ...]:
        return self.categories[1:]

    @property
    def facts(self) -> tuple[str, ...]:
        """Categories, `new version`, upvotes: the line above the title, in plain text."""
        facts = list(self.categories)
        if self.updated:
            facts.append("new version")
        if self.upvotes:
            facts.append(f"{self.upvotes} upvote{_s(self.upvotes)} on Hugging Face")
        return tuple(facts)

    @classmethod
    def of(cls, paper: Paper) -> PaperView:
        links: list[LinkView] = []
        for key, label in _LINK_LABELS:
            url = safe_url(getattr(paper.links, key))
            if not url or (key != "abstract" and distrusted(url)):
                continue
            if all(link.url != url for link in links):
                links.append(LinkView(label, url))
        ai = paper.extras.ai_summary
        return cls(
            id=paper.id,
            title=one_line(paper.title),
            url=safe_url(paper.links.abstract) or (links[0].url if links else None),
            authors=short_authors(paper.authors),
            categories=tuple(one_line(c) for c in paper.categories),
            summary=summary(ai or paper.abstract),
            summary_is_ai=bool(ai),
            links=tuple(links),
            upvotes=paper.extras.upvotes or None,
            updated=paper.is_updated,
        )


def _s(count: int) -> str:
    return "" if count == 1 else "s"


def distrusted(url: str) -> bool:
    """Whether the URL's host is under a top-level domain spam filters distrust."""
    host = (urlsplit(url).hostname or "").rstrip(".")
    return host.rpartition(".")[2].lower() in DISTRUSTED_TLDS


def shown_reasons(reasons: tuple[str, ...]) -> tuple[str, ...]:
    """Reasons as readers see them: without the similarity score (`matches your description
    (0.31)` reads `matches your description`), which means nothing to a reader."""
    return tuple(  # only a reason ending in `)` can have a score (`$`: or `)\n`)
        _SCORE.sub("", reason) if reason.endswith((")", ")\n")) else reason for reason in reasons
    )


@dataclass(frozen=True)
class CardSlot:
    """A card as the issue template sees it: the paper's HTML and this reader's reasons."""

    html: Markup
    reasons: tuple[str, ...]
    text: str = ""
    more: str | None = None  # this reader's "more like this" link, when the web app is set up
    less: str | None = None

    def with_html(self, html: Markup) -> CardSlot:
        return CardSlot(html, self.reasons, self.text, self.more, self.less)

    def with_text(self, text: str) -> CardSlot:
        return CardSlot(self.html, self.reasons, text, self.more, self.less)


@dataclass(frozen=True)
class Newsletter:
    """What every issue shares: the newsletter's name, its sender, the readers' links."""

    title: str
    sender: str | None = None  # the address readers can write to
    links: ReaderLinks | None = None  # unsubscribe, feedback, the issue on the web

    def unsubscribe(self, email: str, day: date) -> str:
        return self.links.unsubscribe_link(email, day) if self.links else ""

    def issue_url(self, email: str, day: date) -> str | None:
        return self.links.issue(email, day) if self.links else None

    def slot(
        self, html: Markup, picked: SelectedPaper, email: str, day: date, text: str = ""
    ) -> CardSlot:
        """A card of this reader's issue: the shared HTML, their reasons and feedback links."""
        more = less = None
        if self.links is not None:
            more = self.links.feedback(email, day, picked.paper.id, "more")
            less = self.links.feedback(email, day, picked.paper.id, "less")
        return CardSlot(html, shown_reasons(picked.reasons), text, more, less)


@dataclass(frozen=True)
class ListItem:
    """A paper of the compact list as the plain-text part sees it, with this reader's reasons."""

    paper: PaperView
    reasons: tuple[str, ...]


def interests_summary(profile: Profile) -> list[str]:
    """`keywords: a, b`, `authors: ...`: what the footer reminds the reader they asked for."""
    parts = [
        ("keywords", profile.keywords),
        ("authors", profile.authors),
        ("categories", profile.categories),
        ("liked papers", profile.liked),
    ]
    lines = [f"{label}: {shorten(', '.join(values), 120)}" for label, values in parts if values]
    if profile.description:
        lines.append(f"description: “{shorten(one_line(profile.description), 80)}”")
    return lines
