"""Parsers for arXiv: the daily RSS listings (current and legacy formats) and the API's Atom.

Current listing (rss.arxiv.org, RSS 2.0): one item per paper with `arxiv:announce_type`, one
comma-separated `dc:creator`, `<category>` elements with the primary category first, and a
description "arXiv:ID Announce Type: TYPE \\nAbstract: ...". Legacy listing (RSS 1.0/RDF, before
2024): titles "Title. (arXiv:ID [primary] UPDATED)", HTML descriptions and linked authors.
Replacements are left out unless asked for; they are not errors and are not reported as skipped.
Links are the canonical https arXiv links (`/abs/ID`, `/pdf/IDvN`) and doi.org for DOIs.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import date
from typing import Any

from newsletter.errors import FeedParseError
from newsletter.models import AnnounceType, Links, Paper, PaperExtras
from newsletter.sources._feedparse import (
    Entry,
    ItemError,
    LoadedFeed,
    collect_items,
    entry_authors,
    entry_label,
    entry_str,
    entry_terms,
    feed_date,
    load_feed,
    parse_datetime,
    result,
)
from newsletter.sources.base import ParseResult, guarded_parser
from newsletter.sources.text import (
    ABSTRACT_MAX_CHARS,
    TITLE_MAX_CHARS,
    clean_text,
    safe_url,
)

logger = logging.getLogger(__name__)

_ID = r"(?P<id>\d{4}\.\d{4,5}|[a-z]+(?:-[a-z]+)*(?:\.[a-z]{2})?/\d{7})(?:v(?P<version>\d+))?"
_BARE_ID = re.compile(rf"(?i){_ID}")
_ID_REFERENCE = re.compile(
    rf"(?i)(?:arxiv\.org/(?:abs|pdf)/|oai:arxiv\.org:|\barxiv:\s?){_ID}(?!\d|\.\d)"
)
_DESCRIPTION_HEAD = re.compile(
    r"^\s*arXiv:(?P<ref>\S+)\s+Announce Type:\s*(?P<type>[\w-]+)\s*(?:Abstract:\s*)?", re.I
)
_LEGACY_TITLE = re.compile(
    r"^(?P<title>.*?)\.?\s*\(arXiv:(?P<ref>\S+)\s+\[(?P<category>[^\]]+)\]\s*"
    r"(?P<flag>UPDATED|CROSS LISTED)?\)\s*$",
    re.DOTALL,
)
_LEGACY_TYPES = {"UPDATED": AnnounceType.REPLACE, "CROSS LISTED": AnnounceType.CROSS}
_DOI = re.compile(r"10\.\d{4,9}/\S+")
_VERSION_MAX_DIGITS = 6  # arXiv versions are small numbers; `v` + 7 digits is not a reference


def parse_arxiv_id(value: str) -> tuple[str, int | None] | None:
    """The arXiv id without version, and the version, in an id, arXiv URL or `arXiv:` reference.

    Old-style ids lose their subject class (`math.PR/0501001` -> `math/0501001`). A reference
    with an absurd version (`v` and more than six digits) is not an arXiv id.
    """
    text = value.strip()
    match = _BARE_ID.fullmatch(text) or _ID_REFERENCE.search(text)
    if match is None:
        return None
    arxiv_id = match.group("id")
    if "/" in arxiv_id:
        archive, number = arxiv_id.split("/", 1)
        arxiv_id = f"{archive.split('.', 1)[0].lower()}/{number}"
    version = match.group("version")
    if version and len(version) > _VERSION_MAX_DIGITS:
        return None
    return arxiv_id, int(version) if version else None


def arxiv_links(arxiv_id: str, version: int | None, doi: str | None = None) -> Links:
    """The canonical arXiv abstract and PDF links (and the doi.org link) of a paper."""
    versioned = f"{arxiv_id}v{version}" if version else arxiv_id
    return Links(
        abstract=f"https://arxiv.org/abs/{arxiv_id}",
        pdf=f"https://arxiv.org/pdf/{versioned}",
        doi=doi_url(doi),
    )


def doi_url(doi: str | None) -> str | None:
    match = _DOI.search(doi or "")
    return safe_url(f"https://doi.org/{match.group(0)}") if match else None


@guarded_parser
def parse_rss(data: bytes, *, source: str, include_replacements: bool = False) -> ParseResult:
    """Parse an arXiv listing, current RSS 2.0 or legacy RSS 1.0/RDF."""
    loaded = load_feed(data, source=source)
    if not loaded.version.startswith("rss"):
        raise FeedParseError(source, f"expected an arXiv RSS listing, got {loaded.format_name}")
    listing = _Listing(source, feed_date(loaded.feed), include_replacements)
    papers, skipped = collect_items(loaded.entries, listing.paper, label=entry_label)
    logger.debug("source %s: %d papers from %d items", source, len(papers), loaded.item_count)
    return result(loaded, papers, skipped)


@dataclass(frozen=True)
class _Listing:
    """Turns the items of one listing into Papers."""

    source: str
    announced: date | None
    include_replacements: bool

    def paper(self, entry: Entry) -> Paper | None:
        """The item's Paper, or None for a replacement that is not wanted."""
        raw_title = entry_str(entry, "title")
        legacy = _LEGACY_TITLE.match(raw_title) if "(arXiv:" in raw_title else None
        if legacy:
            return self._legacy_paper(entry, legacy)
        title = clean_text(raw_title, max_chars=TITLE_MAX_CHARS)
        if not title:
            raise ItemError("item has no title")
        description = entry_str(entry, "summary")
        head = _DESCRIPTION_HEAD.match(description)
        kind = _announce_type(entry_str(entry, "arxiv_announce_type") or (head and head["type"]))
        if kind is not None and kind.is_replacement and not self.include_replacements:
            return None
        arxiv_id, version = _listing_id(entry, head)
        published = parse_datetime(entry_str(entry, "published"))
        journal_ref = clean_text(entry_str(entry, "arxiv_journal_reference"))
        return Paper(
            id=arxiv_id,
            version=version,
            title=title,
            authors=entry_authors(entry),
            abstract=clean_text(
                description[head.end() if head else 0 :], max_chars=ABSTRACT_MAX_CHARS
            ),
            categories=entry_terms(entry),
            announce_type=kind,
            links=arxiv_links(arxiv_id, version, entry_str(entry, "arxiv_doi")),
            published=published if version == 1 else None,  # the first version's announcement
            announced=self.announced,
            sources=(self.source,),
            extras=PaperExtras(journal_ref=journal_ref or None),
        )

    def _legacy_paper(self, entry: Entry, title: re.Match[str]) -> Paper | None:
        kind = _LEGACY_TYPES.get(title["flag"] or "", AnnounceType.NEW)
        if kind.is_replacement and not self.include_replacements:
            return None
        clean_title = clean_text(title["title"], max_chars=TITLE_MAX_CHARS)
        if not clean_title:
            raise ItemError("item has no title")
        parsed = parse_arxiv_id(title["ref"])
        if parsed is None:
            raise ItemError(f"no arXiv id in the title reference {title['ref']!r}")
        arxiv_id, version = parsed
        return Paper(
            id=arxiv_id,
            version=version,
            title=clean_title,
            authors=entry_authors(entry),
            abstract=clean_text(entry_str(entry, "summary"), max_chars=ABSTRACT_MAX_CHARS),
            categories=(clean_text(title["category"]),),
            announce_type=kind,
            links=arxiv_links(arxiv_id, version),
            announced=self.announced,
            sources=(self.source,),
        )


def _listing_id(entry: Entry, head: re.Match[str] | None) -> tuple[str, int | None]:
    references = [entry_str(entry, "id"), head["ref"] if head else "", entry_str(entry, "link")]
    found = [parsed for ref in references if ref and (parsed := parse_arxiv_id(ref))]
    if not found:
        raise ItemError("no arXiv id in the guid, description or link")
    arxiv_id = found[0][0]
    version = next((v for i, v in found if i == arxiv_id and v is not None), None)
    return arxiv_id, version


def _announce_type(value: str | None) -> AnnounceType | None:
    try:
        return AnnounceType(value.strip().lower()) if value else None
    except ValueError:
        logger.debug("unknown announce type %r", value)
        return None


@guarded_parser
def parse_atom(data: bytes, *, source: str) -> ParseResult:
    """Parse an arXiv API response (export.arxiv.org/api/query), legacy or current layout."""
    loaded = load_feed(data, source=source)
    if not loaded.version.startswith("atom"):
        raise FeedParseError(source, f"expected an arXiv API Atom feed, got {loaded.format_name}")
    _raise_api_error(loaded, source)
    papers, skipped = collect_items(
        loaded.entries, lambda entry: _api_paper(entry, source=source), label=entry_label
    )
    return result(loaded, papers, skipped)


def _raise_api_error(loaded: LoadedFeed, source: str) -> None:
    for entry in loaded.entries:
        if "/api/errors" in entry_str(entry, "id") and entry_str(entry, "title") == "Error":
            message = clean_text(entry_str(entry, "summary")) or entry_str(entry, "id")
            raise FeedParseError(source, f"arXiv API error: {message}")


def _api_paper(entry: Entry, *, source: str) -> Paper:
    title = clean_text(entry_str(entry, "title"), max_chars=TITLE_MAX_CHARS)
    if not title:
        raise ItemError("entry has no title")
    parsed = parse_arxiv_id(entry_str(entry, "id")) or parse_arxiv_id(entry_str(entry, "link"))
    if parsed is None:
        raise ItemError("no arXiv id in the entry id or link")
    arxiv_id, version = parsed
    return Paper(
        id=arxiv_id,
        version=version,
        title=title,
        authors=entry_authors(entry),
        abstract=clean_text(entry_str(entry, "summary"), max_chars=ABSTRACT_MAX_CHARS),
        categories=entry_terms(entry, first=_primary_category(entry)),
        links=arxiv_links(arxiv_id, version, entry_str(entry, "arxiv_doi")),
        published=parse_datetime(entry_str(entry, "published")),
        sources=(source,),
        extras=PaperExtras(
            comments=clean_text(entry_str(entry, "arxiv_comment")) or None,
            journal_ref=clean_text(entry_str(entry, "arxiv_journal_ref")) or None,
        ),
    )


def _primary_category(entry: Entry) -> str | None:
    primary: Any = entry.get("arxiv_primary_category")
    term = primary.get("term") if isinstance(primary, dict) else None
    return term if isinstance(term, str) else None
