"""The HTML part as readers see it: no stray separator on Hugging Face cards, reasons without
scores, a neutral greeting, correct plurals, a footer that names no file, dark-mode styles,
explicit colours on every text and background (clients that invert colours), links with room
to tap, and no link to a host under a top-level domain spam filters distrust."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest

from newsletter.models import Links, Paper, Profile, SelectedPaper, Selection
from newsletter.render.renderer import IssueRenderer, Newsletter
from newsletter.render.views import PaperView, distrusted, shown_reasons
from tests.rendering import web_links
from tests.test_email_text import REASONS, hf_paper
from tests.test_render import DAY, selection


def render(papers: list[Paper], name: str | None = "Ada", budget: int = 95_000) -> str:
    picked = tuple(SelectedPaper(p, 0.5, REASONS) for p in papers)
    chosen = Selection(Profile("ada@example.org", keywords=("x",)), DAY, picked)
    renderer = IssueRenderer(Newsletter("Digest", "digest@example.org"), budget=budget)
    return renderer.render(chosen, "ada@example.org", name).html


def test_a_hugging_face_card_starts_with_its_upvotes_not_a_separator() -> None:
    html = render([hf_paper(1)])
    facts = re.search(r'<div class="nl-muted"[^>]*>(.*?)</div>', html)
    assert facts is not None and facts[1] == "▲ 57 on Hugging Face"
    assert not re.search(r'<div class="nl-muted"[^>]*>\s*·', html)


def test_reasons_are_shown_without_scores() -> None:
    assert shown_reasons(("matches your description (0.10)", "similar to your keywords (0.4)")) == (
        "matches your description",
        "similar to your keywords",
    )
    kept = ("trending on Hugging Face (142 upvotes)", "similar to your liked paper 2502.05172")
    assert shown_reasons(kept) == kept
    html = render([hf_paper(1)])
    assert "matches your description</div>" in html and "(0.10)" not in html


def test_the_greeting_is_neutral_and_the_plurals_right() -> None:
    html = render([hf_paper(n) for n in range(3)])
    assert "Hello Ada,<br />3 papers matched your interests today." in html
    assert "Good morning" not in html
    assert "Hello" not in render([hf_paper(1)], name=None)
    long = render([hf_paper(n) for n in range(60)], budget=30_000)
    full = re.search(r"the first (\d+) in full, the rest as a list", long)
    assert full is not None and int(full[1]) > 1
    assert "the first 1 in full" not in long


def test_the_footer_names_no_config_file() -> None:
    html = render([hf_paper(1)])
    assert "subscribers.yaml" not in html
    assert "ask the person who runs this digest (digest@example.org)" in html


def test_dark_mode_is_declared_and_styled() -> None:
    html = render([hf_paper(1)])
    assert re.search(r'<meta name="color-scheme" content="light dark" ?/?>', html)
    assert re.search(r'<meta name="supported-color-schemes" content="light dark" ?/?>', html)
    assert re.search(r":root\s*\{\s*color-scheme:\s*light dark;", html)
    dark = html.split("@media (prefers-color-scheme: dark)", 1)
    assert len(dark) == 2
    for name in ("nl-page", "nl-paper", "nl-title", "nl-summary", "nl-link", "nl-why", "nl-foot"):
        assert f".{name}" in dark[1].split("</style>", 1)[0], name
        assert name in dark[1].split("</head>", 1)[1], name  # the class is used


class _Colours(HTMLParser):
    """Each visible text with whether an element around it sets a colour inline, and each
    inline colour with whether a background is set around (or on) it."""

    VOID = frozenset({"br", "meta", "img", "hr", "link", "input"})

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.uncoloured: list[str] = []
        self.no_background: list[str] = []
        self.hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.VOID:
            return
        style = (dict(attrs).get("style") or "").replace(" ", "")
        if "display:none" in style:
            self.hidden += 1
        coloured = tag == "body" or re.search(r"(?<![-\w])color:", style)
        if coloured and not any("background" in s for s in [*self.stack, style]):
            self.no_background.append(tag)
        self.stack.append(style)

    def handle_endtag(self, tag: str) -> None:
        if tag in self.VOID or not self.stack:
            return
        if "display:none" in self.stack.pop():
            self.hidden -= 1

    def handle_data(self, data: str) -> None:
        if not data.strip() or self.hidden:
            return
        if not any(re.search(r"(?<![-\w])color:", s) for s in self.stack):
            self.uncoloured.append(data.strip()[:40])


@pytest.mark.parametrize("count", [3, 300])
def test_every_text_and_background_has_an_explicit_colour(count: int) -> None:
    renderer = IssueRenderer(Newsletter("Digest", "digest@example.org", web_links()))
    html = renderer.render(selection(count), "ada@example.org", "Ada").html
    body = html[html.index("<body") :]
    colours = _Colours()
    colours.feed(body)
    assert colours.uncoloured == []
    assert colours.no_background == []
    control = _Colours()  # the check can fail: a text without a colour is found
    control.feed('<body style="background-color:#fff"><div>plain</div></body>')
    assert control.uncoloured == ["plain"]


def test_links_have_room_to_tap() -> None:
    html = render([hf_paper(1)])
    links = re.findall(r'<a class="nl-link"[^>]*style="([^"]*)"', html)
    assert links
    for style in links:  # 12 + 20 + 12 = 44 px, measured in tests/test_browser.py
        assert "display:inline-block;padding:12px 0;" in style
    assert ".more a { display: block; padding: 12px 0; line-height: 20px;" in html


def test_links_to_distrusted_top_level_domains_are_left_out() -> None:
    paper = hf_paper(1)
    paper = paper.model_copy(
        update={"links": paper.links.model_copy(update={
            "project": "https://www.haodilei.top/draft-opd/",
            "code": "https://github.com/example/draft",
        })}
    )  # fmt: skip
    view = PaperView.of(paper)
    assert [link.label for link in view.links] == ["Abstract", "Code", "Hugging Face"]
    assert "haodilei.top" not in render([paper])
    assert distrusted("https://x.TOP./a") and not distrusted("https://example.org/top")
    own = paper.model_copy(update={"links": Links(abstract="https://blog.example.top/p")})
    assert PaperView.of(own).url == "https://blog.example.top/p"  # the paper's own page stays
