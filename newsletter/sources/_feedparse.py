"""What the feed parsers share: reading bytes with feedparser, judging them, and the item loop.

`load_feed` decides whether a document is a usable feed:

- an HTML page (an error page served with status 200), JSON, or bytes that are not XML at all
  raise `FeedParseError`; so does XML that is not RSS or Atom, and RSS without a channel;
- control characters that XML 1.0 forbids (`\\x00`-`\\x1f` but tab, LF, CR) are dropped from the
  bytes before parsing (not for UTF-16 documents), so one bad title does not break the feed;
- feedparser's `CharacterEncodingOverride` (a feed declaring UTF-8 that is not) is harmless:
  feedparser has already decoded it with a fallback encoding;
- any other XML error (a truncated download, a broken tag) keeps only the items whose closing
  tag comes before the error; the rest of the document is reported as one `SkippedItem` and a
  warning is logged. When no complete item comes before the error the document is unusable.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import feedparser

from newsletter.errors import FeedParseError
from newsletter.models import Paper
from newsletter.sources.base import ParseResult, SkippedItem
from newsletter.sources.merge import merge_papers
from newsletter.sources.text import clean_text, split_authors

logger = logging.getLogger(__name__)

Entry = Mapping[str, Any]

_PROLOGUE = r"(?:\s|<\?xml[^>]*>|<!--.*?-->)*"
_HTML_START = re.compile(rf"{_PROLOGUE}<(?:!doctype\s+html|html[\s>])", re.IGNORECASE | re.DOTALL)
_ITEM_END = re.compile(r"</(?:[\w-]+:)?(?:item|entry)\s*>")
_CHANNEL = re.compile(rb"<(?:[\w-]+:)?channel[\s>/]")
_VERSION_NAMES = {"rss": "RSS", "atom": "Atom"}
_XML_FORBIDDEN_BYTES = bytes([*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20)])


class ItemError(ValueError):
    """An item cannot become a Paper; the message says why."""


@dataclass
class LoadedFeed:
    """A feed as feedparser read it, with the entries that can be trusted."""

    version: str  # feedparser's name of the format: "rss20", "rss10", "atom10"...
    feed: Entry
    entries: list[Entry]
    skipped: list[SkippedItem] = field(default_factory=list)
    item_count: int = 0

    @property
    def format_name(self) -> str:
        for prefix, name in _VERSION_NAMES.items():
            if self.version.startswith(prefix):
                return name
        return self.version or "unknown"


def looks_like_html(data: bytes) -> bool:
    """True when the document starts like an HTML page."""
    head = data[:2048].decode("utf-8", errors="replace").lstrip("\ufeff")
    return _HTML_START.match(head) is not None


def sniff_not_a_feed(data: bytes) -> str | None:
    """Why `data` is obviously not an XML feed (empty, HTML, JSON), or None."""
    head = data[:64].decode("utf-8", errors="replace").lstrip("\ufeff \t\r\n")
    if not head:
        return "empty document"
    if looks_like_html(data):
        return "not a feed: got an HTML page"
    if head[0] in "{[":
        return "not a feed: got JSON"
    return None


def load_feed(data: bytes, *, source: str) -> LoadedFeed:
    """Parse `data` with feedparser and keep what can be trusted; see the module docstring."""
    reason = sniff_not_a_feed(data)
    if reason:
        raise FeedParseError(source, reason)
    if b"\x00" not in data[:4]:  # not UTF-16 or UTF-32, where NUL bytes are part of characters
        data = data.translate(None, delete=_XML_FORBIDDEN_BYTES)
    parsed = feedparser.parse(data, sanitize_html=False, resolve_relative_uris=False)
    entries: list[Entry] = list(parsed.get("entries") or [])
    loaded = LoadedFeed(
        version=str(parsed.get("version") or ""),
        feed=parsed.get("feed") or {},
        entries=entries,
        item_count=len(entries),
    )
    error = parsed.get("bozo_exception") if parsed.get("bozo") else None
    if error is not None and not isinstance(error, feedparser.CharacterEncodingOverride):
        _keep_complete_entries(loaded, data, error, source)
    if not loaded.version:
        raise FeedParseError(source, "not a feed: no RSS or Atom root element")
    if loaded.version.startswith("rss") and not _CHANNEL.search(data):
        raise FeedParseError(source, "not a feed: no channel element")
    return loaded


def _keep_complete_entries(loaded: LoadedFeed, data: bytes, error: Exception, source: str) -> None:
    line = _error_line(error, data)
    where = f"malformed XML at line {line}" if line else "malformed XML"
    detail = f"{where}: {_error_message(error)}"
    complete = min(len(loaded.entries), _closed_items_before(data, line))
    if complete == 0:
        raise FeedParseError(source, detail)
    logger.warning(
        "source %s: %s; keeping the %d complete items before it", source, detail, complete
    )
    loaded.entries = loaded.entries[:complete]
    loaded.skipped.append(
        SkippedItem(
            item=f"items from #{complete + 1}",
            reason=f"{detail}; the feed is truncated or broken here, the rest was not read",
        )
    )


def _error_line(error: Exception, data: bytes) -> int | None:
    """The line of `data` where the XML error is (feedparser adds a declaration when missing)."""
    get_line = getattr(error, "getLineNumber", None)
    line = get_line() if callable(get_line) else None
    if not isinstance(line, int) or line <= 0:
        return None
    head = data[:64].decode("utf-8", errors="replace").lstrip("\ufeff")
    return line if head.startswith("<?xml") else max(line - 1, 1)


def _error_message(error: Exception) -> str:
    get_message = getattr(error, "getMessage", None)
    message = get_message() if callable(get_message) else str(error)
    return str(message)


def _closed_items_before(data: bytes, line: int | None) -> int:
    """How many items or entries are closed before `line` (the whole document if None)."""
    text = data.decode("utf-8", errors="replace")
    if line is not None:
        lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
        text = "\n".join(lines[: line - 1])
    return len(_ITEM_END.findall(text))


def collect_items(
    items: Iterable[Any],
    build: Callable[[Any], Paper | None],
    *,
    label: Callable[[Any, int], str],
) -> tuple[list[Paper], list[SkippedItem]]:
    """Build a Paper from each item; `build` returns None to leave an item out silently.

    An `ItemError` (or a model validation error) skips the item with its reason. Items with
    the same id are merged into one Paper.
    """
    papers: list[Paper] = []
    skipped: list[SkippedItem] = []
    for position, item in enumerate(items, start=1):
        try:
            paper = build(item)
        except (ItemError, ValueError, TypeError) as exc:
            skipped.append(SkippedItem(item=label(item, position), reason=_reason(exc)))
            continue
        if paper is not None:
            papers.append(paper)
    return merge_papers(papers), skipped


def _reason(exc: Exception) -> str:
    if isinstance(exc, ItemError):
        return str(exc)
    return f"invalid item: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}"


def entry_label(entry: Entry, position: int) -> str:
    """What identifies a feed entry in a report: its guid, link or title, else its position."""
    for key in ("id", "link", "title"):
        value = clean_text(entry_str(entry, key), max_chars=200)
        if value:
            return value
    return f"item #{position}"


def entry_str(entry: Entry, key: str) -> str:
    value = entry.get(key)
    return value if isinstance(value, str) else ""


def entry_authors(entry: Entry) -> tuple[str, ...]:
    """Author names: one per Atom author, or split out of a `dc:creator` string."""
    authors = entry.get("authors") or []
    names = [author.get("name") for author in authors if isinstance(author, Mapping)]
    if not names:
        names = [entry_str(entry, "author")]
    found = (name for value in names if isinstance(value, str) for name in split_authors(value))
    return tuple(dict.fromkeys(found))


def entry_terms(entry: Entry, *, first: str | None = None) -> tuple[str, ...]:
    """The entry's category terms as given, in order, without duplicates; `first` leads."""
    terms: list[Any] = [first] if first else []
    terms += [tag.get("term") for tag in entry.get("tags") or [] if isinstance(tag, Mapping)]
    cleaned = (clean_text(term) for term in terms if isinstance(term, str))
    return tuple(dict.fromkeys(term for term in cleaned if term))


def parse_datetime(value: str | None) -> datetime | None:
    """Read an RFC 822 or ISO 8601 date; keeps its time zone, assumes UTC when it has none.

    Anything else, an absurd offset or a moment that cannot be converted to UTC, is None."""
    if not value or not value.strip():
        return None
    text = value.strip()
    moment: datetime | None = None
    try:
        moment = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            return None
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment
    try:
        moment.astimezone(UTC)  # a moment at the edge of the calendar cannot be compared
    except (ValueError, OverflowError):
        return None
    return moment


def feed_date(feed: Entry) -> date | None:
    """The date a feed says it is for, in its own time zone (RSS pubDate, else dc:date)."""
    for key in ("published", "updated"):
        moment = parse_datetime(entry_str(feed, key))
        if moment is not None:
            return moment.date()
    return None


def result(loaded: LoadedFeed, papers: list[Paper], skipped: list[SkippedItem]) -> ParseResult:
    return ParseResult(
        papers=papers,
        skipped=loaded.skipped + skipped,
        feed_date=feed_date(loaded.feed),
        item_count=loaded.item_count,
    )
