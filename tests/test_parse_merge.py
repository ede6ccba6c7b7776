"""Merging the reports of the same paper by several sources."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from newsletter.models import AnnounceType, Links, Paper, PaperExtras
from newsletter.sources.merge import merge_papers


def arxiv(paper_id: str = "2605.00001", **fields: Any) -> Paper:
    values: dict[str, Any] = {
        "id": paper_id,
        "version": 1,
        "title": "arXiv title",
        "authors": ("A. Author",),
        "abstract": "arXiv abstract",
        "categories": ("cs.LG", "stat.ML"),
        "announce_type": AnnounceType.NEW,
        "links": Links(abstract=f"https://arxiv.org/abs/{paper_id}"),
        "announced": date(2026, 5, 12),
        "sources": ("cs.LG",),
    }
    values.update(fields)
    return Paper(**values)


def hugging_face(paper_id: str = "2605.00001", **fields: Any) -> Paper:
    values: dict[str, Any] = {
        "id": paper_id,
        "title": "HF title",
        "authors": ("Author A",),
        "abstract": "HF abstract",
        "links": Links(
            abstract=f"https://arxiv.org/abs/{paper_id}",
            huggingface=f"https://huggingface.co/papers/{paper_id}",
            code="https://github.com/example/code",
            project="https://example.org/project",
        ),
        "published": datetime(2026, 5, 9, tzinfo=UTC),
        "announced": date(2026, 5, 13),
        "sources": ("hf",),
        "extras": PaperExtras(
            upvotes=42,
            ai_summary="Short summary.",
            keywords=("diffusion", "scaling"),
            github_stars=7,
            thumbnail="https://cdn.example.org/t.png",
            num_comments=3,
        ),
    }
    values.update(fields)
    return Paper(**values)


def test_distinct_papers_keep_their_order() -> None:
    papers = [arxiv("2605.00003"), arxiv("2605.00001"), hugging_face("2605.00002")]
    assert [p.id for p in merge_papers(papers)] == ["2605.00003", "2605.00001", "2605.00002"]


def test_single_reports_are_returned_unchanged() -> None:
    paper = arxiv()
    assert merge_papers([paper]) == [paper]


def test_arxiv_metadata_wins_even_when_hugging_face_came_first() -> None:
    (merged,) = merge_papers([hugging_face(), arxiv()])
    assert merged.title == "arXiv title"
    assert merged.authors == ("A. Author",)
    assert merged.abstract == "arXiv abstract"
    assert merged.categories == ("cs.LG", "stat.ML")
    assert merged.announce_type is AnnounceType.NEW
    assert merged.announced == date(2026, 5, 12)
    assert merged.sources == ("hf", "cs.LG")


def test_hugging_face_enriches() -> None:
    (merged,) = merge_papers([arxiv(), hugging_face()])
    assert merged.links.huggingface == "https://huggingface.co/papers/2605.00001"
    assert merged.links.code == "https://github.com/example/code"
    assert merged.links.project == "https://example.org/project"
    assert merged.links.abstract == "https://arxiv.org/abs/2605.00001"
    assert merged.extras.upvotes == 42
    assert merged.extras.ai_summary == "Short summary."
    assert merged.extras.keywords == ("diffusion", "scaling")
    assert merged.extras.github_stars == 7
    assert merged.extras.thumbnail == "https://cdn.example.org/t.png"
    assert merged.extras.num_comments == 3
    assert merged.published == datetime(2026, 5, 9, tzinfo=UTC)


def test_categories_union_keeps_the_first_primary() -> None:
    first = arxiv(categories=("cs.LG", "stat.ML"), sources=("cs.LG",))
    second = arxiv(categories=("cs.AI", "cs.LG"), announce_type=AnnounceType.CROSS, sources=("ai",))
    (merged,) = merge_papers([first, second])
    assert merged.categories == ("cs.LG", "stat.ML", "cs.AI")
    assert merged.primary_category == "cs.LG"
    assert merged.sources == ("cs.LG", "ai")


def test_new_or_cross_listing_wins_over_replace() -> None:
    replaced = arxiv(announce_type=AnnounceType.REPLACE, version=2, sources=("a",))
    crossed = arxiv(announce_type=AnnounceType.CROSS, version=1, sources=("b",))
    (merged,) = merge_papers([replaced, crossed])
    assert merged.announce_type is AnnounceType.CROSS
    assert merged.version == 2  # the highest version wins on its own


def test_replacements_only_stay_replacements() -> None:
    papers = [
        arxiv(announce_type=AnnounceType.REPLACE_CROSS, version=3),
        arxiv(announce_type=AnnounceType.REPLACE, version=4),
    ]
    (merged,) = merge_papers(papers)
    assert merged.announce_type is AnnounceType.REPLACE_CROSS
    assert merged.version == 4


def test_empty_fields_are_filled_from_other_reports() -> None:
    bare = arxiv(abstract="", authors=())
    (merged,) = merge_papers([bare, hugging_face()])
    assert merged.abstract == "HF abstract"
    assert merged.authors == ("Author A",)


def test_counts_take_the_largest_and_keywords_unite() -> None:
    low = hugging_face(extras=PaperExtras(upvotes=3, keywords=("a", "b")), sources=("hf1",))
    high = hugging_face(extras=PaperExtras(upvotes=9, keywords=("b", "c")), sources=("hf2",))
    (merged,) = merge_papers([low, high])
    assert merged.extras.upvotes == 9
    assert merged.extras.keywords == ("a", "b", "c")
    assert merged.sources == ("hf1", "hf2")


def test_earliest_published_date_wins_across_time_zones() -> None:
    later = hugging_face(published=datetime(2026, 5, 9, 1, 0, tzinfo=UTC))
    earlier = arxiv(published=datetime(2026, 5, 8, 22, 0, tzinfo=UTC))
    (merged,) = merge_papers([later, earlier])
    assert merged.published == datetime(2026, 5, 8, 22, 0, tzinfo=UTC)


def test_merge_of_nothing() -> None:
    assert merge_papers([]) == []
