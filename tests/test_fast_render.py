"""Rendering's fast ways give the bytes of the plain ones: the issue compiled once per shape with
each reader's strings filled in (`render` against `render_direct`, which compiles every issue in
one piece), for any names, addresses, interests, titles and reasons; and cards rendered ahead
for the process."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from markupsafe import escape

from newsletter.models import Links, Paper, PaperExtras, Profile, SelectedPaper, Selection
from newsletter.render import cards, skeleton
from newsletter.render.renderer import IssueRenderer, Newsletter, environment
from tests.rendering import web_links

DAY = date(2026, 7, 27)
TRICKY = st.text(
    alphabet=st.sampled_from("aZé ü\\'\"<>&·…\u0301\u05b0\uff9e中 \t\n") | st.characters(),
    min_size=1,
    max_size=30,
)


def paper(n: int, title: str = "") -> Paper:
    return Paper(
        id=f"2607.{n:05d}",
        title=title or f"Paper number {n} on diffusion",
        authors=(f"Author {n}", "Zoë Ünal"),
        abstract="First sentence here. Second one! " * 4,
        categories=("cs.LG",),
        links=Links(abstract=f"https://arxiv.org/abs/2607.{n:05d}"),
        extras=PaperExtras(upvotes=n % 3 or None),
    )


def selection(
    count: int, reasons: tuple[str, ...], profile: Profile, titles: list[str] | None = None
) -> Selection:
    titles = titles or []
    picked = tuple(
        SelectedPaper(paper(n, titles[n] if n < len(titles) else ""), 0.5, reasons)
        for n in range(count)
    )
    return Selection(profile, DAY, picked)


@pytest.fixture(scope="module")
def renderer() -> IssueRenderer:
    return IssueRenderer(Newsletter("Paper <Digest> & Co", "digest@example.org", web_links()))


def same_issue(renderer: IssueRenderer, chosen: Selection, email: str, name: str | None) -> None:
    fast = renderer.render(chosen, email, name)
    direct = renderer.render_direct(chosen, email, name)
    assert (fast.html, fast.text, fast.layout) == (direct.html, direct.text, direct.layout)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    name=st.none() | TRICKY,
    local=st.sampled_from(["ada", "o'brien", "a+b", "用户", "x&y"]),
    keywords=st.lists(TRICKY, max_size=3),
    description=st.none() | TRICKY,
    reasons=st.lists(TRICKY | st.just("matches your description (0.31)"), max_size=3),
    titles=st.lists(TRICKY, max_size=3),
    count=st.sampled_from([0, 1, 3, 12]),
)
def test_a_filled_skeleton_is_the_issue_compiled_in_one_piece(
    renderer: IssueRenderer,
    name: str | None,
    local: str,
    keywords: list[str],
    description: str | None,
    reasons: list[str],
    titles: list[str],
    count: int,
) -> None:
    email = f"{local}@example.org"
    profile = Profile(email, keywords=tuple(keywords), description=description)
    same_issue(renderer, selection(count, tuple(reasons), profile, titles), email, name)


@pytest.mark.parametrize("count", [0, 1, 9, 10, 30, 300])
def test_every_layout_fills_its_skeleton_as_it_compiles(
    renderer: IssueRenderer, count: int
) -> None:
    profile = Profile("ada@example.org", keywords=("diffusion", "MoE"), authors=("Zoë Ünal",))
    same_issue(
        renderer, selection(count, ('keyword "diffusion" in title',), profile), profile.email, "Ada"
    )


def test_readers_of_one_shape_share_one_compiled_skeleton(monkeypatch: pytest.MonkeyPatch) -> None:
    renderer = IssueRenderer(Newsletter("Digest", "digest@example.org", web_links()))
    compiled: list[str] = []
    original = skeleton.Skeletons._compiled

    def counted(self: skeleton.Skeletons, *args: object) -> object:
        compiled.append("one")
        return original(self, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(skeleton.Skeletons, "_compiled", counted)
    for n in range(20):
        email = f"reader{n}@example.org"
        profile = Profile(email, keywords=(f"topic {n}",), description=f"Papers on {n}")
        renderer.render(selection(5, (f'keyword "topic {n}" in title',), profile), email, f"R {n}")
    assert compiled == ["one"]


def test_a_reader_string_mjml_would_change_is_compiled_in_one_piece(
    renderer: IssueRenderer, monkeypatch: pytest.MonkeyPatch
) -> None:
    fills: list[bool] = []
    original = skeleton.Skeletons.fill

    def recorded(self: skeleton.Skeletons, *args: object) -> str | None:
        found = original(self, *args)  # type: ignore[arg-type]
        fills.append(found is not None)
        return found

    monkeypatch.setattr(skeleton.Skeletons, "fill", recorded)
    profile = Profile("ada@example.org", keywords=("x",))
    for name in ("Ada", "A\\da", "Ade\u0301le"):
        fills.clear()
        same_issue(renderer, selection(2, ("r",), profile), profile.email, name)
        assert fills and all(fills) == (name == "Ada"), name


def test_plain_text_is_text_mjml_copies_as_it_is_everywhere() -> None:
    """Every printable character that `plain` lets through comes out of MJML as it went in: in
    text, in a link, in the title and its copy in an attribute, in the preview. (MJML escapes a
    backslash and the combining marks in attributes: `plain` refuses them.)"""
    allowed = [c for c in range(0x20, 0x110000) if skeleton.plain(f"a{escape(chr(c))}b")]
    assert len(allowed) > 140_000
    changed = []
    for start in range(0, len(allowed), 4000):
        values = [f"a{escape(chr(c))}b" for c in allowed[start : start + 4000]]
        if not copied_as_they_are(values):
            changed += [v for v in values if not copied_as_they_are([v])]
    assert changed == []


def copied_as_they_are(values: list[str]) -> bool:
    from mjml import mjml2html

    body = "".join(f'<a href="https://h/{v}">|</a>X{v}X' for v in values)
    title = " ".join(values)
    html = mjml2html(
        f"<mjml><mj-head><mj-title>{title}</mj-title><mj-preview>{title}</mj-preview>"
        f"</mj-head><mj-body><mj-section><mj-column><mj-text>{body}</mj-text></mj-column>"
        "</mj-section></mj-body></mjml>",
        fonts={},
    )
    return all(
        part in html
        for part in (f"<title>{title}</title>", f'aria-label="{title}"', f">{title}</div>", body)
    )


def test_cards_rendered_ahead_are_shared_by_renderers_of_the_same_templates(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cards, "_kept", {})
    papers = [paper(n) for n in range(5)]
    IssueRenderer(Newsletter("Digest")).render_cards(papers)
    rendered: list[str] = []
    original = cards.Cards._rendered

    def counted(self: cards.Cards, one: Paper) -> cards.Card:
        rendered.append(one.id)
        return original(self, one)

    monkeypatch.setattr(cards.Cards, "_rendered", counted)
    profile = Profile("ada@example.org", keywords=("x",))
    chosen = selection(5, ("r",), profile)
    issue = IssueRenderer(Newsletter("Digest")).render(chosen, "a@x.org", None)
    assert rendered == []
    (tmp_path / "card.html.j2").write_text("<p>{{ paper.title }}</p>", encoding="utf-8")
    mine = IssueRenderer(Newsletter("Digest"), environment(tmp_path))
    assert mine.render(chosen, "a@x.org", None).html != issue.html
    assert len(rendered) == 5  # other templates: other cards
