"""What a template sees: papers as plain text and checked URLs, never feed markup."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from markupsafe import Markup

from newsletter.render.text import one_line, safe_url, short_authors, shorten, summary

if TYPE_CHECKING:
    from newsletter.models import Paper, Profile

_LINK_LABELS = (
    ("abstract", "Abstract"),
    ("pdf", "PDF"),
    ("code", "Code"),
    ("huggingface", "Hugging Face"),
    ("project", "Project page"),
    ("doi", "DOI"),
)


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

    @classmethod
    def of(cls, paper: Paper) -> PaperView:
        links: list[LinkView] = []
        for key, label in _LINK_LABELS:
            url = safe_url(getattr(paper.links, key))
            if url and all(link.url != url for link in links):
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


@dataclass(frozen=True)
class CardSlot:
    """A card as the issue template sees it: the paper's HTML and this reader's reasons."""

    html: Markup
    reasons: tuple[str, ...]
    text: str = ""


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
