"""A parser for any RSS 2.0, RSS 1.0/RDF or Atom feed of papers (bioRxiv, journals, blogs).

Each item's id is, in this order: its arXiv id when its guid, link or identifier is an arXiv
URL or id; `doi:` + the lower-cased DOI from `dc:identifier`, `prism:doi`, a `doi:` guid or a
doi.org link; else `url:` + its (http or https) link. Categories are the item's tags as given.
"""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

from newsletter.models import Links, Paper
from newsletter.sources._feedparse import (
    Entry,
    ItemError,
    collect_items,
    entry_authors,
    entry_label,
    entry_str,
    entry_terms,
    load_feed,
    parse_datetime,
    result,
)
from newsletter.sources.arxiv import arxiv_links, doi_url, parse_arxiv_id
from newsletter.sources.base import ParseResult, guarded_parser
from newsletter.sources.text import ABSTRACT_MAX_CHARS, TITLE_MAX_CHARS, clean_text, safe_url

logger = logging.getLogger(__name__)

_DOI_HOSTS = frozenset({"doi.org", "dx.doi.org", "www.doi.org"})
_DOI_PREFIXES = ("doi:", "info:doi/", "https://doi.org/", "http://doi.org/", "http://dx.doi.org/")
_DATE_KEYS = ("published", "updated", "prism_publicationdate", "prism_coverdate", "created")


@guarded_parser
def parse_feed(data: bytes, *, source: str) -> ParseResult:
    """Parse any RSS or Atom feed of papers."""
    loaded = load_feed(data, source=source)
    papers, skipped = collect_items(
        loaded.entries, lambda entry: _feed_paper(entry, source=source), label=entry_label
    )
    logger.debug("source %s: %d papers from %d items", source, len(papers), loaded.item_count)
    return result(loaded, papers, skipped)


def _feed_paper(entry: Entry, *, source: str) -> Paper:
    title = clean_text(entry_str(entry, "title"), max_chars=TITLE_MAX_CHARS)
    if not title:
        raise ItemError("item has no title")
    link = _item_link(entry)
    doi = _item_doi(entry, link)
    paper_id, version, links = _identify(entry, link, doi)
    published = next(
        (moment for key in _DATE_KEYS if (moment := parse_datetime(entry_str(entry, key)))), None
    )
    return Paper(
        id=paper_id,
        version=version,
        title=title,
        authors=entry_authors(entry),
        abstract=clean_text(_item_abstract(entry), max_chars=ABSTRACT_MAX_CHARS),
        categories=entry_terms(entry),
        links=links,
        published=published,
        announced=published.date() if published else None,
        sources=(source,),
    )


def _identify(entry: Entry, link: str | None, doi: str | None) -> tuple[str, int | None, Links]:
    for reference in (entry_str(entry, "id"), link or "", entry_str(entry, "dc_identifier")):
        parsed = parse_arxiv_id(reference) if reference else None
        if parsed is not None:
            arxiv_id, version = parsed
            return arxiv_id, version, arxiv_links(arxiv_id, version, doi)
    if doi:
        return f"doi:{doi.lower()}", None, Links(abstract=link, doi=doi_url(doi))
    if link:
        return f"url:{link}", None, Links(abstract=link)
    raise ItemError("item has no arXiv id, DOI or http(s) link")


def _item_link(entry: Entry) -> str | None:
    """The item's http(s) link: its `link`, another alternate link, or a permalink guid."""
    candidates = [entry_str(entry, "link")]
    candidates += [
        link.get("href") for link in entry.get("links") or [] if link.get("rel") == "alternate"
    ]
    if entry.get("guidislink") or not candidates[0]:
        candidates.append(entry_str(entry, "id"))
    return next((url for value in candidates if (url := safe_url(value))), None)


def _item_doi(entry: Entry, link: str | None) -> str | None:
    for key in ("prism_doi", "dc_identifier", "id"):
        value = entry_str(entry, key).strip()
        if key == "prism_doi" and value.startswith("10."):
            return value
        if value.lower().startswith(_DOI_PREFIXES):
            return _doi_part(value)
    if link and (urlsplit(link).hostname or "").lower() in _DOI_HOSTS:
        return _doi_part(link)
    return None


def _doi_part(value: str) -> str | None:
    start = value.find("10.")
    return value[start:].strip() if start >= 0 and "/" in value[start:] else None


def _item_abstract(entry: Entry) -> str:
    summary = entry_str(entry, "summary")
    if summary.strip():
        return summary
    content = entry.get("content") or []
    values = [part.get("value") for part in content if hasattr(part, "get")]
    return next((value for value in values if isinstance(value, str) and value.strip()), "")
