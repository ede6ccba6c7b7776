"""Links that show one host and open another (`https://arxiv.org@evil.example/...`), or that
browsers and Python read differently (backslashes, odd characters in the authority), are
dropped where links are read (the parsers) and again where they are shown (the templates)."""

from __future__ import annotations

import json

import pytest

from newsletter.models import Links, Paper
from newsletter.render.text import safe_url as render_safe_url
from newsletter.render.views import PaperView
from newsletter.sources.feed import parse_feed
from newsletter.sources.huggingface import parse_daily_papers
from newsletter.sources.text import safe_url

UNSAFE = [
    "http://user:pass@example.org/",
    "https://arxiv.org@evil.example/abs/2401.01234",
    "https://arxiv.org:443@evil.example/",
    "https://@evil.example/",
    "https://arxiv.org\\@evil.example/",
    "https://evil.example\\arxiv.org/abs/1",
    "https:\\\\evil.example/",
    "https://arxiv.org%40evil.example/",
    "https://arxiv.org%2f@evil.example/",
    "https://exa\tmple.org/",
    "https://exa\x00mple.org/",
    "https://example.org:99999/",
    "https://example.org:port/",
    "https://exa<mple.org/",
    'https://exa"mple.org/',
    "https://example.org/a b",
]
SAFE = [
    "https://arxiv.org/abs/2401.01234",
    "http://example.org:8080/feed?x=1#y",
    "https://example.org/users/@ada",  # an @ in the path is not user info
    "https://example.org/a?next=https://other.example/",
    "HTTPS://EXAMPLE.ORG/",
    "https://[2001:db8::1]:8443/x",
    "https://bücher.example/",
    "https://example.org:/x",
]


@pytest.mark.parametrize("url", UNSAFE)
def test_links_with_user_info_or_an_odd_authority_are_refused(url: str) -> None:
    assert safe_url(url) is None
    assert render_safe_url(url) is None


@pytest.mark.parametrize("url", SAFE)
def test_ordinary_links_are_kept(url: str) -> None:
    assert safe_url(url) == url
    assert render_safe_url(url) == url


def test_a_feed_item_with_a_user_info_link_loses_the_link() -> None:
    feed = b"""<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>
    <item><title>Tricky</title><link>https://arxiv.org@evil.example/abs/1</link>
      <guid isPermaLink="false">tricky-1</guid></item>
    <item><title>Plain</title><link>https://example.org/plain</link></item>
    </channel></rss>"""
    result = parse_feed(feed, source="f")
    links = [url for paper in result.papers for url in paper.links.model_dump().values() if url]
    assert links == ["https://example.org/plain"]
    assert all("evil" not in paper.id for paper in result.papers)


def test_hugging_face_links_with_user_info_are_dropped() -> None:
    item = {
        "paper": {
            "id": "2607.00001",
            "title": "A paper",
            "githubRepo": "https://github.com@evil.example/x",
            "projectPage": "http://user:pass@project.example/",
        },
        "thumbnail": "https://cdn.example\\@evil.example/t.png",
    }
    (paper,) = parse_daily_papers(json.dumps([item]).encode(), source="hf").papers
    assert paper.links.code is None and paper.links.project is None
    assert paper.extras.thumbnail is None


def test_a_stored_link_with_user_info_never_reaches_a_template() -> None:
    """A paper stored by an older release, before the parsers refused such links."""
    paper = Paper(
        id="2607.00001",
        title="A paper",
        links=Links(
            abstract="https://arxiv.org@evil.example/abs/2607.00001",
            code="https://github.com@evil.example/x",
            pdf="https://arxiv.org/pdf/2607.00001",
        ),
    )
    view = PaperView.of(paper)
    assert [link.url for link in view.links] == ["https://arxiv.org/pdf/2607.00001"]
    assert view.url == "https://arxiv.org/pdf/2607.00001"
