"""The plain-text part: every line within 78 columns (only a lone URL may pass), numbers and
bullets aligned, the greeting wrapped, an RFC 3676 signature separator, and every paper's
reasons and upvotes, the compact list's papers and Hugging Face papers included."""

from __future__ import annotations

import re

import pytest

from newsletter.models import Links, Paper, PaperExtras, Profile, SelectedPaper, Selection
from newsletter.render.issue import Layout
from newsletter.render.renderer import IssueRenderer, Newsletter
from newsletter.render.text import intro, long_run, numbered, summary, without_long_runs
from tests.test_email_realistic import long_lines
from tests.test_render import DAY, selection

LONG_TITLE = "Scaling Sparse Mixture-of-Experts Language Models to Trillions of Parameters"


def hf_paper(n: int, upvotes: int = 57) -> Paper:
    """A paper known only from Hugging Face: no categories, upvotes, an AI summary."""
    return Paper(
        id=f"2607.{n:05d}",
        title=f"{LONG_TITLE} with Routing Tricks, Part {n}",
        authors=("Lin Wei", "Hannah Fischer"),
        abstract="An abstract.",
        links=Links(
            abstract=f"https://arxiv.org/abs/2607.{n:05d}",
            huggingface=f"https://huggingface.co/papers/2607.{n:05d}",
        ),
        extras=PaperExtras(upvotes=upvotes, ai_summary="Experts stay balanced without a loss."),
    )


REASONS = ('keyword "mixture of experts" in title', "matches your description (0.10)")


def issue_of(papers: list[Paper], name: str | None = "Ada", budget: int = 95_000) -> str:
    picked = tuple(SelectedPaper(p, 0.5, REASONS) for p in papers)
    chosen = Selection(Profile("ada@example.org", keywords=("x",)), DAY, picked)
    renderer = IssueRenderer(Newsletter("Digest", "digest@example.org"), budget=budget)
    return renderer.render(chosen, "ada@example.org", name).text


@pytest.fixture(scope="module")
def renderer() -> IssueRenderer:
    return IssueRenderer(Newsletter("Paper Digest", "digest@example.org"))


@pytest.mark.parametrize("count", [1, 9, 12, 120, 300])
def test_no_line_passes_78_columns(renderer: IssueRenderer, count: int) -> None:
    text = renderer.render(selection(count), "ada@example.org", "Ada " * 40).text
    assert long_lines(text) == []


def test_card_numbers_are_right_aligned_and_text_lines_up_under_the_title() -> None:
    text = issue_of([hf_paper(n) for n in range(12)])
    titles = [line for line in text.splitlines() if re.match(r"^ ?\d+\. ", line)]
    assert titles[0].startswith(" 1. Scaling") and titles[9].startswith("10. Scaling")
    assert len({line.index("Scaling") for line in titles}) == 1
    assert "    Lin Wei, Hannah Fischer" in text  # indented by the width of `10. `
    assert numbered("   Title\n   more", 7, 3) == "7. Title\n   more"
    assert numbered("    Title", 7, 4) == " 7. Title"


def test_compact_items_are_aligned_and_carry_reasons_upvotes_and_link() -> None:
    text = issue_of([hf_paper(n, upvotes=n + 1) for n in range(60)], budget=30_000)
    assert "More papers for you" in text
    listed = text.split("More papers for you", 1)[1].split("\n-- \n", 1)[0]
    items = re.split(r"\n(?=- )", listed.strip())[1:]
    assert len(items) > 10
    for item in items:
        lines = item.splitlines()
        assert lines[0].startswith("- Scaling")
        assert all(line.startswith("  ") and line[2] != " " for line in lines[1:]), item
        flat = " ".join(item.split())
        assert 'Why: keyword "mixture of experts" in title · matches your description' in flat
        assert re.search(r"\d+ upvotes? on Hugging Face", flat), item
        assert "  https://arxiv.org/abs/2607." in item


def test_hugging_face_papers_show_their_upvotes_and_reasons() -> None:
    text = issue_of([hf_paper(1, upvotes=1), hf_paper(2)])
    assert "   1 upvote on Hugging Face\n" in text
    assert "   57 upvotes on Hugging Face\n" in text
    assert text.count("Why: keyword") == 2
    assert "(0.10)" not in text and "matches your description" in text


def test_the_greeting_is_neutral_and_wrapped() -> None:
    name = "Ada Augusta King, Countess of Lovelace and Honorary Member of Every Society " * 2
    text = issue_of([hf_paper(1)], name=name)
    assert "Good morning" not in text
    assert text.split("\n")[3].startswith("Hello Ada Augusta King,")
    assert long_lines(text) == []
    assert "\nHello Ada,\n" in issue_of([hf_paper(1)])
    assert "\nHello" not in issue_of([hf_paper(1)], name=None)


def test_the_signature_separator_is_dash_dash_space() -> None:
    text = issue_of([hf_paper(1)])
    assert "\n-- \n" in text
    assert not re.search(r"^--$", text, re.MULTILINE)
    assert "subscribers.yaml" not in text
    assert "ask the person who runs this digest (digest@example.org)" in " ".join(text.split())


def test_the_intro_counts_full_cards_in_words() -> None:
    assert intro(0, Layout(0, 0, 0)) == "No new paper matched your interests today."
    assert intro(1, Layout(1, 0, 0)) == "One paper matched your interests today."
    assert intro(5, Layout(5, 0, 0)) == "5 papers matched your interests today."
    assert intro(9, Layout(1, 8, 0)).endswith("; the first paper in full, the rest as a list.")
    assert intro(9, Layout(3, 6, 0)).endswith("; the first 3 in full, the rest as a list.")
    assert intro(9, Layout(0, 9, 0)).endswith("; here they are as a list.")


# A real abstract's sentence (arXiv 2607.21634): six long words in a row, what LONGWORDS counts.
RUN = (
    "Masked discrete diffusion typically applies a uniform corruption schedule, implicitly "
    "treating structurally heterogeneous molecular components as equally difficult."
)


def test_a_summary_ends_before_a_run_of_long_words() -> None:
    assert long_run(RUN) is not None
    cut = summary(RUN)
    assert cut == (
        "Masked discrete diffusion typically applies a uniform corruption schedule, implicitly "
        "treating structurally heterogeneous molecular…"
    )
    assert long_run(cut) is None
    plain = "Experts stay balanced through a routing bias updated from load statistics."
    assert summary(plain) == plain  # prose without such a run is left whole
    assert without_long_runs("abcdefghij " * 6) == "abcdefghij " * 4 + "abcdefghij…"
