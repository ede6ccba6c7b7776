"""A parser for Hugging Face Daily Papers (`https://huggingface.co/api/daily_papers?date=...`).

The API returns a JSON list of `{"paper": {...}, ...}` objects. The 2024 shape has `paper.{id,
authors, publishedAt, title, summary, upvotes}` and a top-level `mediaUrl`; the 2026 shape adds
`submittedOnDailyAt`, `ai_summary`, `ai_keywords`, `githubRepo`, `githubStars`, `projectPage`
and a top-level `thumbnail`. Every paper is an arXiv paper; Hugging Face gives no categories.

Numbers are untrusted: counts are read with `as_count` (clamped to `MAX_COUNT`; a value that is
not a count is left out), and an integer literal too long for Python to read is read as infinity
(so clamped) instead of failing the whole document.
"""

from __future__ import annotations

import json
import logging
import math
from collections import Counter
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from newsletter.errors import FeedParseError
from newsletter.models import Links, Paper, PaperExtras, as_count
from newsletter.sources._feedparse import ItemError, collect_items, looks_like_html, parse_datetime
from newsletter.sources.arxiv import arxiv_links, parse_arxiv_id
from newsletter.sources.base import ParseResult, guarded_parser
from newsletter.sources.text import ABSTRACT_MAX_CHARS, TITLE_MAX_CHARS, clean_text, safe_url

logger = logging.getLogger(__name__)

_KEYWORD_MAX_CHARS = 100
_INT_MAX_DIGITS = 30  # longer integer literals are read as +-infinity, never converted


@guarded_parser
def parse_daily_papers(data: bytes, *, source: str) -> ParseResult:
    """Parse one day of Hugging Face Daily Papers; `feed_date` is the day most papers were on."""
    items = _load_list(data, source)
    papers, skipped = collect_items(
        items, lambda item: _daily_paper(item, source=source), label=_label
    )
    days = Counter(paper.announced for paper in papers if paper.announced)
    logger.debug("source %s: %d papers from %d items", source, len(papers), len(items))
    return ParseResult(
        papers=papers,
        skipped=skipped,
        feed_date=days.most_common(1)[0][0] if days else None,
        item_count=len(items),
    )


def _load_list(data: bytes, source: str) -> list[Any]:
    if looks_like_html(data):
        raise FeedParseError(source, "not a feed: got an HTML page")
    text = data.decode("utf-8-sig", errors="replace")
    try:
        document = json.loads(text, parse_int=_parse_int)
    except json.JSONDecodeError as exc:
        raise FeedParseError(source, f"not JSON: {exc.msg} at line {exc.lineno}") from exc
    except RecursionError as exc:
        raise FeedParseError(source, "not usable JSON: nested too deeply") from exc
    except ValueError as exc:  # a number Python refuses to read
        reason = str(exc).splitlines()[0][:120] if str(exc) else type(exc).__name__
        raise FeedParseError(source, f"not usable JSON: {reason}") from exc
    if isinstance(document, Mapping) and "error" in document:
        message = clean_text(str(document["error"]), max_chars=200)
        raise FeedParseError(source, f"Hugging Face API error: {message}")
    if not isinstance(document, list):
        kind = type(document).__name__
        raise FeedParseError(source, f"expected a JSON list of daily papers, got {kind}")
    return document


def _daily_paper(item: Any, *, source: str) -> Paper:
    if not isinstance(item, Mapping) or not isinstance(item.get("paper"), Mapping):
        raise ItemError("not a daily-paper object (no 'paper' object)")
    paper: Mapping[str, Any] = item["paper"]
    parsed = parse_arxiv_id(_text(paper, "id"))
    if parsed is None:
        raise ItemError(f"paper.id {str(paper.get('id'))[:50]!r} is not an arXiv id")
    arxiv_id, version = parsed
    title = clean_text(_text(paper, "title") or _text(item, "title"), max_chars=TITLE_MAX_CHARS)
    if not title:
        raise ItemError("paper has no title")
    published = parse_datetime(_text(paper, "publishedAt"))
    return Paper(
        id=arxiv_id,
        version=version,
        title=title,
        authors=_authors(paper.get("authors")),
        abstract=clean_text(
            _text(paper, "summary") or _text(item, "summary"), max_chars=ABSTRACT_MAX_CHARS
        ),
        links=_links(arxiv_id, version, paper),
        published=published,
        announced=_announced(item, paper, published),
        sources=(source,),
        extras=_extras(item, paper),
    )


def _links(arxiv_id: str, version: int | None, paper: Mapping[str, Any]) -> Links:
    return arxiv_links(arxiv_id, version).model_copy(
        update={
            "huggingface": f"https://huggingface.co/papers/{arxiv_id}",
            "code": safe_url(_text(paper, "githubRepo")),
            "project": safe_url(_text(paper, "projectPage")),
        }
    )


def _extras(item: Mapping[str, Any], paper: Mapping[str, Any]) -> PaperExtras:
    keywords = paper.get("ai_keywords")
    cleaned = (
        clean_text(word, max_chars=_KEYWORD_MAX_CHARS)
        for word in (keywords if isinstance(keywords, list) else [])
        if isinstance(word, str)
    )
    return PaperExtras(
        upvotes=_count(paper.get("upvotes")),
        ai_summary=clean_text(_text(paper, "ai_summary"), max_chars=ABSTRACT_MAX_CHARS) or None,
        keywords=tuple(dict.fromkeys(word for word in cleaned if word)),
        github_stars=_count(paper.get("githubStars")),
        thumbnail=safe_url(_text(item, "thumbnail") or _text(item, "mediaUrl")),
        num_comments=_count(item.get("numComments")),
    )


def _authors(value: Any) -> tuple[str, ...]:
    authors = value if isinstance(value, list) else []
    names = (
        clean_text(author.get("name"), max_chars=TITLE_MAX_CHARS)
        for author in authors
        if isinstance(author, Mapping) and isinstance(author.get("name"), str)
    )
    return tuple(dict.fromkeys(name for name in names if name))


def _announced(
    item: Mapping[str, Any], paper: Mapping[str, Any], published: datetime | None
) -> date | None:
    """The day the paper was on Daily Papers: submittedOnDailyAt (2026), publishedAt (2024)."""
    for value in (_text(paper, "submittedOnDailyAt"), _text(item, "publishedAt")):
        moment = parse_datetime(value)
        if moment is not None:
            return moment.date()
    return published.date() if published else None


def _label(item: Any, position: int) -> str:
    paper = item.get("paper") if isinstance(item, Mapping) else None
    paper_id = paper.get("id") if isinstance(paper, Mapping) else None
    if isinstance(paper_id, str) and clean_text(paper_id):
        return f"paper {clean_text(paper_id, max_chars=50)}"
    return f"item #{position}"


def _text(mapping: Mapping[str, Any], key: str) -> str:
    value = mapping.get(key)
    return value if isinstance(value, str) else ""


def _parse_int(literal: str) -> int | float:
    """A JSON integer; one too long to be a real count is +-infinity (clamped by `as_count`)."""
    if len(literal.lstrip("-")) > _INT_MAX_DIGITS:
        return -math.inf if literal.startswith("-") else math.inf
    return int(literal)


def _count(value: Any) -> int | None:
    """A count clamped to MAX_COUNT, or None for what is not one (bools, negatives, text)."""
    try:
        return as_count(value)
    except ValueError:
        logger.debug("not a count: a %s", type(value).__name__)
        return None
