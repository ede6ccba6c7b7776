"""What every parser returns: the papers it could read and the items it had to skip.

Every parser is wrapped in `guarded_parser`: whatever a document does to it, it returns a
`ParseResult` or raises `FeedParseError` with a one-line reason, so that one odd document fails
its own source and never the run.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any, TypeVar, cast

from newsletter.errors import FeedParseError, SourceError
from newsletter.models import Paper

log = logging.getLogger(__name__)


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


Parser = TypeVar("Parser", bound=Callable[..., ParseResult])


MAX_ITEMS = 20_000  # items of one feed: arXiv's busiest day across every archive is ~10,000


def guarded_parser(parse: Parser) -> Parser:
    """`parse(data, *, source=...)`, with any unexpected exception turned into FeedParseError.

    The parsers handle the failures they know; this is the last line for the ones nobody
    foresaw (a library's odd exception, a recursion limit, memory), logged with the traceback
    at debug level only.
    """

    @functools.wraps(parse)
    def guarded(data: bytes, *args: Any, source: str, **options: Any) -> ParseResult:
        items = data.count(b"<item") + data.count(b"<entry")  # counted before any parsing
        if items > MAX_ITEMS:
            raise FeedParseError(
                source, f"about {items:,} items: more than {MAX_ITEMS:,} is no daily listing"
            )
        try:
            return parse(data, *args, source=source, **options)
        except SourceError:
            raise
        except RecursionError as exc:
            raise FeedParseError(source, "not usable: nested too deeply") from exc
        except Exception as exc:  # one document must never stop the run: see the docstring
            log.debug("source %s: the parser failed", source, exc_info=True)
            raise FeedParseError(
                source, f"cannot parse the document: {one_line_error(exc)}"
            ) from exc

    return cast(Parser, guarded)


def one_line_error(exc: BaseException, limit: int = 200) -> str:
    """`TypeName: first line of the message`, at most `limit` characters."""
    message = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    text = f"{type(exc).__name__}: {message}" if message else type(exc).__name__
    return text if len(text) <= limit else text[: limit - 1] + "…"
