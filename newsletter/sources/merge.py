"""Merge the reports of one paper by several sources (or twice by one feed) into one Paper.

Rules, for the papers that share an `id`:

- the merged papers come out in the order their ids first appeared;
- metadata (title, authors, abstract, announce type, comments, journal reference, arXiv links,
  announcement day) comes from the first report that has categories - an arXiv listing or API
  entry; Hugging Face reports have none - and falls back to the other reports in order where
  that one has nothing;
- categories are the union in order of that report first, so its primary category stays first;
- a `new` or `cross` listing wins over a `replace` (`replace-cross`) one;
- the highest version wins; `published` is the earliest date reported;
- Hugging Face enriches: links (huggingface, code, project), upvotes, AI summary, stars and
  thumbnail are taken from whichever report has them (counts: the largest); keywords are united;
- `sources` is the union in order.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import TypeVar

from newsletter.models import AnnounceType, Links, Paper, PaperExtras

_T = TypeVar("_T")


def merge_papers(papers: Iterable[Paper]) -> list[Paper]:
    """One Paper per id, in order of first appearance; see the module docstring for the rules."""
    groups: dict[str, list[Paper]] = {}
    for paper in papers:
        groups.setdefault(paper.id, []).append(paper)
    return [group[0] if len(group) == 1 else _merge_group(group) for group in groups.values()]


def _merge_group(group: list[Paper]) -> Paper:
    primary = next((paper for paper in group if paper.categories), group[0])
    ranked = [primary, *(paper for paper in group if paper is not primary)]
    return Paper(
        id=primary.id,
        version=max((p.version for p in group if p.version is not None), default=None),
        title=_first(p.title for p in ranked) or primary.title,
        authors=_first(p.authors for p in ranked) or (),
        abstract=_first(p.abstract for p in ranked) or "",
        categories=_union(p.categories for p in ranked),
        announce_type=_announce_type(ranked),
        links=_merge_links(ranked),
        published=_earliest(p.published for p in group),
        announced=_first(p.announced for p in ranked),
        sources=_union(p.sources for p in group),
        extras=_merge_extras(ranked),
    )


def _merge_links(ranked: Sequence[Paper]) -> Links:
    fields = Links.model_fields
    return Links(**{name: _first(getattr(p.links, name) for p in ranked) for name in fields})


def _merge_extras(ranked: Sequence[Paper]) -> PaperExtras:
    extras = [paper.extras for paper in ranked]
    return PaperExtras(
        upvotes=_largest(e.upvotes for e in extras),
        ai_summary=_first(e.ai_summary for e in extras),
        keywords=_union(e.keywords for e in extras),
        github_stars=_largest(e.github_stars for e in extras),
        thumbnail=_first(e.thumbnail for e in extras),
        comments=_first(e.comments for e in extras),
        journal_ref=_first(e.journal_ref for e in extras),
        num_comments=_largest(e.num_comments for e in extras),
    )


def _announce_type(ranked: Sequence[Paper]) -> AnnounceType | None:
    types = [paper.announce_type for paper in ranked if paper.announce_type is not None]
    listed = [kind for kind in types if not kind.is_replacement]
    return next(iter(listed or types), None)


def _first(values: Iterable[_T | None]) -> _T | None:
    """The first value that is not None and not empty."""
    for value in values:
        if value:
            return value
    return None


def _union(values: Iterable[tuple[str, ...]]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(item for value in values for item in value))


def _largest(values: Iterable[int | None]) -> int | None:
    return max((value for value in values if value is not None), default=None)


def _earliest(values: Iterable[datetime | None]) -> datetime | None:
    moments = [value for value in values if value is not None]
    return min(moments, key=_aware, default=None)


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
