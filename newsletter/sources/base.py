"""What every parser returns: the papers it could read and the items it had to skip."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from newsletter.models import Paper


@dataclass(frozen=True)
class SkippedItem:
    """An item of a feed that could not become a Paper, and why."""

    item: str  # what identifies the item in the feed: its guid, link, title or position
    reason: str

    def __str__(self) -> str:
        return f"{self.item}: {self.reason}"


@dataclass
class ParseResult:
    """The outcome of parsing one document of one source."""

    papers: list[Paper] = field(default_factory=list)
    skipped: list[SkippedItem] = field(default_factory=list)
    feed_date: date | None = None  # the date the feed says it is for (arXiv: the announcement day)
    item_count: int = 0  # items seen in the document, papers and skipped alike
