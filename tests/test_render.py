"""Rendering: safe, within Gmail's size budget, the same bytes however it is assembled, and a
text part that carries everything the HTML part links to."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from markupsafe import escape

from newsletter.errors import RenderError
from newsletter.models import Links, Paper, PaperExtras, Profile, SelectedPaper, Selection
from newsletter.render.renderer import HTML_BUDGET, IssueRenderer, Newsletter, environment
from newsletter.render.text import one_line, short_authors, subject, summary
from tests.rendering import links_in, web_links

DAY = date(2026, 7, 27)
HOSTILE_TITLES = [
    "Bounds $a<b$ and $c>d$ & more",
    "<script>alert(1)</script> Attention",
    "Quotes \"double\" and 'single' </mj-text></mj-column> <mj-raw>",
    "Unicode: Schrödinger, 量子, emoji 🧪, RTL \u202eevil",
    "<img src=x onerror=alert(1)> onclick=steal()",
    "Line\r\nbreak\tand\x00control",
]


def paper(n: int, title: str | None = None, **links: str) -> Paper:
    paper_id = f"2607.{n:05d}"
    return Paper(
        id=paper_id,
        title=title or HOSTILE_TITLES[n % len(HOSTILE_TITLES)] + f" #{n}",
        authors=tuple(f"Author{k} Surname{n}" for k in range(1 + n % 9)),
        abstract="First sentence about <b>models</b> & things. Second one! Third sentence here? "
        "Fourth sentence is long enough to be cut. " * 3,
        categories=("cs.LG", "cs.CL")[: 1 + n % 2],
        links=Links(
            abstract=f"https://arxiv.org/abs/{paper_id}",
            pdf=f"https://arxiv.org/pdf/{paper_id}",
            code=links.get("code", "javascript:alert(document.cookie)"),
            huggingface=f"https://huggingface.co/papers/{paper_id}" if n % 3 == 0 else None,
        ),
        extras=PaperExtras(
            upvotes=n if n % 2 else None, ai_summary="An <i>AI</i> summary." if n % 4 == 0 else None
        ),
    )


def selection(count: int, reasons: tuple[str, ...] = ('keyword "a<b" in title',)) -> Selection:
    picked = tuple(SelectedPaper(paper(n), round(1 - n / 1000, 4), reasons) for n in range(count))
    return Selection(Profile("ada@example.org", keywords=("a<b",)), DAY, picked)


@pytest.fixture(scope="module")
def renderer() -> IssueRenderer:
    return IssueRenderer(
        Newsletter(
            "Paper <Digest>",
            "digest@example.org",
            web_links("https://example.org"),
        )
    )


def _unsafe(document: str) -> list[str]:
    problems = []
    if re.search(r"<script", document, re.IGNORECASE):
        problems.append("<script")
    if re.search(r"<[^>]*\son\w+\s*=", document, re.IGNORECASE):
        problems.append("on*= attribute")
    if "javascript:" in document.lower():
        problems.append("javascript: link")
    if "<img src=x" in document:
        problems.append("feed markup passed through")
    return problems


@pytest.mark.parametrize("count", [0, 1, 15, 50, 300])
def test_every_issue_compiles_is_safe_and_fits_the_budget(
    renderer: IssueRenderer, count: int
) -> None:
    issue = renderer.render(selection(count), "ada@example.org", "Ada <Admin>")
    assert issue.html.startswith("<!doctype html>")
    assert issue.html_bytes <= HTML_BUDGET
    assert _unsafe(issue.html) == []
    assert "Ada &lt;Admin&gt;" in issue.html
    shown = issue.layout.full + issue.layout.compact
    assert issue.layout.full + issue.layout.compact + issue.layout.hidden == count
    if count <= 15:
        assert issue.layout.full == count  # a normal issue is never cut
    if count == 300:
        assert issue.layout.full > 0 and shown == count  # the rest as a compact list
    for picked in selection(count).papers[:shown]:
        assert str(escape(one_line(picked.paper.title))) in issue.html


def test_feed_text_is_escaped_not_interpreted(renderer: IssueRenderer) -> None:
    issue = renderer.render(selection(6), "ada@example.org", None)
    assert "Bounds $a&lt;b$ and $c&gt;d$ &amp; more" in issue.html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in issue.html
    assert "&lt;/mj-text&gt;&lt;/mj-column&gt;" in issue.html
    assert "\u202e" not in issue.html and "\x00" not in issue.html
    assert "First sentence about &lt;b&gt;models&lt;/b&gt;" in issue.html


def test_a_huge_issue_shows_what_fits_and_says_how_many_are_left_out() -> None:
    renderer = IssueRenderer(Newsletter("Digest"), budget=30_000)
    issue = renderer.render(selection(400), "ada@example.org", None)
    assert issue.html_bytes <= 30_000
    assert issue.layout.hidden > 0
    assert f"and {issue.layout.hidden} more" in issue.html
    assert f"and {issue.layout.hidden} more" in issue.text


@pytest.mark.parametrize("count", [0, 1, 7, 60])
def test_joined_cards_equal_a_render_in_one_piece(renderer: IssueRenderer, count: int) -> None:
    chosen = selection(count, reasons=("author Zoë <Z>", 'keyword "&amp;" in abstract'))
    fast = renderer.render(chosen, "ada@example.org", "Ada")
    direct = renderer.render_direct(chosen, "ada@example.org", "Ada")
    assert fast.html == direct.html
    assert fast.text == direct.text
    assert fast.layout == direct.layout


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    titles=st.lists(st.text(min_size=1, max_size=80), min_size=1, max_size=4),
    reason=st.text(max_size=40),
)
def test_joined_cards_equal_a_render_in_one_piece_for_any_text(
    titles: list[str], reason: str
) -> None:
    renderer = IssueRenderer(Newsletter("Digest"))
    picked = tuple(
        SelectedPaper(paper(n, title=title), 0.5, (reason,)) for n, title in enumerate(titles)
    )
    chosen = Selection(Profile("a@example.org", keywords=("x",)), DAY, picked)
    assert renderer.render(chosen, "a@example.org", None).html == (
        renderer.render_direct(chosen, "a@example.org", None).html
    )


@pytest.mark.parametrize("count", [1, 15, 300])
def test_the_text_part_carries_every_title_link_and_reason(
    renderer: IssueRenderer, count: int
) -> None:
    issue = renderer.render(selection(count), "ada@example.org", "Ada")
    flat_text = " ".join(issue.text.split())
    for url in links_in(issue.html):
        assert url in issue.text, url
    shown = selection(count).papers[: issue.layout.full + issue.layout.compact]
    for picked in shown:
        assert " ".join(one_line(picked.paper.title).split()) in flat_text
    for picked in shown:  # the compact list's papers too
        for reason in picked.reasons:
            assert reason in flat_text
    unsubscribe = web_links("https://example.org").unsubscribe_link("ada@example.org", DAY)
    assert f"Unsubscribe: {unsubscribe}" in issue.text
    assert "https://example.org/u/" in unsubscribe
    assert "Unsubscribe" in issue.html
    long_lines = [
        line for line in issue.text.splitlines() if len(line) > 78 and " " in line.strip()
    ]
    assert long_lines == []  # wrapped at 78 columns; only an unbreakable URL may be longer


def test_subject_puts_the_top_paper_first_on_one_short_line() -> None:
    picked = (SelectedPaper(paper(1, title="A\r\nB\u2028C " + "long " * 60), 0.9, ()),) * 3
    line = subject("Digest\n", DAY, picked)
    assert "\n" not in line and "\r" not in line and "\u2028" not in line
    assert len(line) <= 140
    assert line.startswith("A B C long")  # what a phone shows first is the paper
    assert line.endswith(" and 2 more - Digest, 27 Jul")  # the date keeps issues apart
    one = subject("ML Paper Digest", DAY, picked[:1])
    assert one.endswith("… - ML Paper Digest, 27 Jul") and " more" not in one
    assert subject("Digest", DAY, ()) == "No new papers matched your interests - Digest, 27 Jul"


def test_summaries_stop_on_a_sentence_and_author_lists_are_shortened() -> None:
    text = "One. Two is here! Three? Four goes beyond the cut."
    assert summary(text) == "One. Two is here! Three?"
    assert summary("A" * 900).endswith("…") and len(summary("A" * 900)) <= 420
    assert short_authors(["A", "B", "C", "D"]) == "A, B, C, D"
    assert short_authors([f"N{i}" for i in range(12)]) == "N0, N1, N2 … N11 (12 authors)"


def test_a_users_template_overrides_the_built_in_one(tmp_path: Path) -> None:
    (tmp_path / "card.html.j2").write_text(
        '<p class="mine">{{ paper.title }}</p>', encoding="utf-8"
    )
    renderer = IssueRenderer(Newsletter("Digest"), environment(tmp_path))
    issue = renderer.render(selection(2), "ada@example.org", None)
    assert '<p class="mine">Bounds $a&lt;b$ and $c&gt;d$ &amp; more #0</p>' in issue.html
    assert renderer.render_direct(selection(2), "ada@example.org", None).html == issue.html


def test_a_missing_template_names_every_folder_searched(tmp_path: Path) -> None:
    env = environment(tmp_path)
    env.loader.searchpath = [str(tmp_path)]  # type: ignore[union-attr]
    env.globals["search_path"] = [str(tmp_path)]
    with pytest.raises(
        RenderError, match=re.escape(f"issue.mjml.j2 not found; searched: {tmp_path}")
    ):
        IssueRenderer(Newsletter("Digest"), env)


def test_a_broken_user_template_is_reported_with_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "issue.txt.j2").write_text("line one\n{% if %}\n", encoding="utf-8")
    with pytest.raises(RenderError, match=r"issue\.txt\.j2:2: "):
        IssueRenderer(Newsletter("Digest"), environment(tmp_path))


def test_user_mjml_templates_are_autoescaped(tmp_path: Path) -> None:
    builtin = environment().loader.get_source(environment(), "issue.mjml.j2")[0]  # type: ignore[union-attr]
    (tmp_path / "issue.mjml.j2").write_text(
        builtin.replace("{{ title }}</mj-text>", "{{ title }} {{ email }}</mj-text>"),
        encoding="utf-8",
    )
    renderer = IssueRenderer(Newsletter("A <b>&"), environment(tmp_path))
    issue = renderer.render(selection(1), "x<y@example.org", None)
    assert "A &lt;b&gt;&amp; x&lt;y@example.org" in issue.html


@pytest.mark.parametrize("count", [300, 500])
def test_the_html_part_as_sent_fits_the_budget(renderer: IssueRenderer, count: int) -> None:
    """The budget holds for the decoded HTML part of the message, in its canonical CRLF form,
    not only for the string the renderer made."""
    from datetime import UTC, datetime
    from email import message_from_bytes, policy

    from newsletter.mail import Headers, build

    issue = renderer.render(selection(count), "ada@example.org", "Ada")
    message = build(
        issue, to_name="Ada", to_email="ada@example.org", day=DAY,
        headers=Headers.of("Digest", "Digest <digest@example.org>"), now=datetime.now(UTC),
    )  # fmt: skip
    parsed = message_from_bytes(message.data, policy=policy.default)
    html = next(part for part in parsed.walk() if part.get_content_type() == "text/html")
    sent = html.get_payload(decode=True)
    assert isinstance(sent, bytes) and b"\r\n" in sent
    assert len(sent) == issue.html_bytes <= HTML_BUDGET
    assert len(sent) > HTML_BUDGET - 10_000  # it fills the budget: the limit is what binds
