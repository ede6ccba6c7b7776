"""Realistic issues: real listings (../shared/fixtures/real: an arXiv cs.AI day, Hugging Face
Daily Papers days, an arXiv API answer) parsed by the real parsers, picked by `select` for a few
typical readers, rendered and built into messages as `send` does. The text part of every one
keeps to 78 columns and carries every paper's reasons and upvotes; `tests/test_spam.py` scores
them with SpamAssassin. Skipped when the fixtures are absent.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime

import pytest

from newsletter.mail import Headers, Message, build
from newsletter.models import Paper, Profile, Selection
from newsletter.render.issue import RenderedIssue
from newsletter.render.renderer import IssueRenderer, Newsletter
from newsletter.render.text import long_run
from newsletter.render.views import PaperView, shown_reasons
from newsletter.select import select
from newsletter.sources.arxiv import parse_atom, parse_rss
from newsletter.sources.huggingface import parse_daily_papers
from tests.conftest import REAL_FIXTURES
from tests.rendering import web_links

DAY = date(2026, 7, 27)
TITLE = "ML Paper Digest"
SENDER = "ML Paper Digest <digest@example.org>"
UNSUBSCRIBE = "https://digest.example.org/unsubscribe?t=QmFzZTY0VG9rZW4"

_PARSERS: dict[str, Callable[[bytes], list[Paper]]] = {
    "arxiv_rss_2026-07-27_cs.AI_full.xml": lambda data: (
        parse_rss(data, source="cs.AI", include_replacements=True).papers
    ),
    "hf_daily_papers_2026-05-12.json": lambda data: parse_daily_papers(data, source="hf").papers,
    "hf_daily_papers_2026-06-02.json": lambda data: parse_daily_papers(data, source="hf").papers,
    "arxiv_api_atom_2026_cs_lg_or_ai.xml": lambda data: parse_atom(data, source="api").papers,
}
READERS = (
    Profile(
        "agents@example.org",
        "Ada Lovelace",
        keywords=("agents", "reasoning", "tool use"),
        description="Language model agents that plan, reason and call tools.",
    ),
    Profile(
        "rl@example.org",
        "Grace",
        keywords=("reinforcement learning", "benchmark"),
        categories=("cs.LG",),
    ),
    Profile(
        "generative@example.org",
        None,
        keywords=("diffusion", "video", "multimodal", "decoding", "vision-language-action"),
    ),
    Profile("llm@example.org", "Zoë Ñúñez", keywords=("language model", "training", "knowledge")),
    Profile("everything@example.org", categories=("cs.AI",), max_papers=500),  # a compact list
)


@dataclass(frozen=True)
class Realistic:
    """One reader's issue of one real day."""

    name: str
    selection: Selection
    issue: RenderedIssue
    message: Message


def papers_of(name: str) -> list[Paper]:
    return _PARSERS[name]((REAL_FIXTURES / name).read_bytes())


def renderer() -> IssueRenderer:
    return IssueRenderer(Newsletter(TITLE, "digest@example.org", web_links()))


def issues_of(papers: list[Paper], label: str, render: IssueRenderer) -> list[Realistic]:
    found = []
    for selection in select(papers, READERS, DAY):
        if not selection.papers:
            continue
        profile = selection.profile
        issue = render.render(selection, profile.email, profile.name)
        message = build(
            issue, to_name=profile.name, to_email=profile.email, day=DAY,
            headers=Headers.of(TITLE, SENDER), unsubscribe_https=UNSUBSCRIBE,
            now=datetime(2026, 7, 27, 7, tzinfo=UTC),
        )  # fmt: skip
        found.append(Realistic(f"{label}/{profile.email}", selection, issue, message))
    return found


@functools.cache
def realistic_issues() -> tuple[Realistic, ...]:
    """Every reader's issue of every real day (about 15), built once per test process."""
    if not REAL_FIXTURES.is_dir():
        pytest.skip("../shared/fixtures/real is not present")
    render = renderer()
    return tuple(issue for name in _PARSERS for issue in issues_of(papers_of(name), name, render))


def long_lines(text: str) -> list[str]:
    """Lines over 78 columns that are more than one unbreakable word (a URL)."""
    return [line for line in text.splitlines() if len(line) > 78 and " " in line.strip()]


def test_there_are_enough_realistic_issues() -> None:
    issues = realistic_issues()
    assert len(issues) >= 14
    assert sum(len(found.selection.papers) for found in issues) >= 250
    assert any(found.issue.layout.compact for found in issues)  # a long issue among them


def test_every_line_of_every_text_part_fits_78_columns() -> None:
    for found in realistic_issues():
        assert long_lines(found.issue.text) == [], found.name


def test_the_text_part_carries_every_reason_and_upvote() -> None:
    for found in realistic_issues():
        flat = " ".join(found.issue.text.split())
        for picked in found.selection.papers:
            for reason in shown_reasons(picked.reasons):
                assert reason in flat, (found.name, reason)
            upvotes = picked.paper.extras.upvotes
            if upvotes:
                assert f"{upvotes} upvote" in flat, (found.name, picked.paper.id)


def test_readers_see_no_similarity_scores() -> None:
    for found in realistic_issues():
        for part in (found.issue.text, found.issue.html):
            assert "description (0." not in part and "keywords (0." not in part, found.name


def test_no_real_summary_keeps_a_run_of_long_words() -> None:
    """What SpamAssassin's LONGWORDS counts (see tests/test_spam.py) is cut from every card."""
    realistic_issues()  # skips without the fixtures
    for name in _PARSERS:
        for paper in papers_of(name):
            assert long_run(PaperView.of(paper).summary) is None, paper.id
