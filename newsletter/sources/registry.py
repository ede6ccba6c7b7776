"""The source kinds, keyed by the config's `type`: where each reads and how it parses.

Adding a kind means adding a config model in `config.py` and one entry here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any
from urllib.parse import urlencode

from newsletter.config import (
    ArxivQuerySource,
    ArxivSource,
    FeedSource,
    HuggingFaceSource,
    SourceBase,
)
from newsletter.sources.base import ParseResult

ARXIV_RSS = "https://rss.arxiv.org/rss/"
ARXIV_API = "https://export.arxiv.org/api/query"
HF_DAILY = "https://huggingface.co/api/daily_papers"


@dataclass(frozen=True)
class SourcePlan:
    """What to read for one source on one issue date, and how to read it."""

    name: str
    url: str
    parse: Callable[[bytes], ParseResult]
    expects_listing_date: date | None  # arXiv listings: the date the feed must carry


def plan(source: SourceBase, day: date) -> SourcePlan:
    """The URL and parser of `source` for the issue of `day`.

    A configured `url` may contain `{date}`, replaced by the date the source is read for
    (`YYYY-MM-DD`), so that a folder of saved days can be replayed.
    """
    planner: Callable[[Any, date], SourcePlan] = _PLANNERS[type(source)]
    return planner(source, day)


def _url(source: SourceBase, default: str, day: date) -> str:
    return (source.url or default).replace("{date}", day.isoformat())


def _arxiv(source: ArxivSource, day: date) -> SourcePlan:
    from newsletter.sources.arxiv import parse_rss

    name = source.label
    url = _url(source, ARXIV_RSS + "+".join(source.categories), day)

    def parse(data: bytes) -> ParseResult:
        return parse_rss(data, source=name, include_replacements=source.include_replacements)

    return SourcePlan(name, url, parse, expects_listing_date=day)


def _arxiv_query(source: ArxivQuerySource, day: date) -> SourcePlan:
    from newsletter.sources.arxiv import parse_atom

    name = source.label
    query = urlencode(
        {
            "search_query": source.query,
            "sortBy": "submittedDate",
            "sortOrder": "descending",
            "max_results": source.max_results,
        }
    )
    url = _url(source, f"{ARXIV_API}?{query}", day)
    return SourcePlan(name, url, lambda data: parse_atom(data, source=name), None)


def _huggingface(source: HuggingFaceSource, day: date) -> SourcePlan:
    """Hugging Face collects a day's papers during that day, so a morning issue reads the day
    before: the issue of Tuesday carries Monday's Daily Papers."""
    from newsletter.sources.huggingface import parse_daily_papers

    name = source.label
    read_day = day - timedelta(days=1)
    url = _url(source, f"{HF_DAILY}?{urlencode({'date': read_day.isoformat()})}", read_day)
    return SourcePlan(name, url, lambda data: parse_daily_papers(data, source=name), None)


def _feed(source: FeedSource, day: date) -> SourcePlan:
    from newsletter.sources.feed import parse_feed

    name = source.label
    return SourcePlan(
        name, _url(source, source.url, day), lambda data: parse_feed(data, source=name), None
    )


_PLANNERS: dict[type[SourceBase], Callable[[Any, date], SourcePlan]] = {
    ArxivSource: _arxiv,
    ArxivQuerySource: _arxiv_query,
    HuggingFaceSource: _huggingface,
    FeedSource: _feed,
}
