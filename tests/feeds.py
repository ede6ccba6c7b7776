"""Build small feeds in the real formats (rss.arxiv.org RSS 2.0, Hugging Face JSON) for tests."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, datetime, time
from email.utils import format_datetime
from pathlib import Path
from xml.sax.saxutils import escape
from zoneinfo import ZoneInfo


@dataclass
class Item:
    id: str
    title: str = "A study of things"
    abstract: str = "We study things. They turn out to be interesting."
    authors: list[str] = field(default_factory=lambda: ["Ada Lovelace", "Alan Turing"])
    categories: list[str] = field(default_factory=lambda: ["cs.LG"])
    announce: str = "new"
    version: int = 1


def arxiv_rss(day: date | None, items: list[Item], categories: str = "cs.LG") -> bytes:
    """A listing as rss.arxiv.org serves it, dated `day` (None: no date in the channel)."""
    when = ""
    if day is not None:
        stamp = datetime.combine(day, time(0), ZoneInfo("America/New_York"))
        when = f"<pubDate>{format_datetime(stamp)}</pubDate>"
    body = "".join(_rss_item(item) for item in items)
    return f"""<?xml version='1.0' encoding='UTF-8'?>
<rss xmlns:arxiv="http://arxiv.org/schemas/atom" xmlns:dc="http://purl.org/dc/elements/1.1/"
     xmlns:atom="http://www.w3.org/2005/Atom" version="2.0"
     xmlns:content="http://purl.org/rss/1.0/modules/content/">
  <channel>
    <title>{categories} updates on arXiv.org</title>
    <link>http://rss.arxiv.org/rss/{categories}</link>
    <description>{categories} updates on the arXiv.org e-print archive.</description>
    <language>en-us</language>
    {when}
    <skipDays><day>Saturday</day><day>Sunday</day></skipDays>
    {body}
  </channel>
</rss>""".encode()


def _rss_item(item: Item) -> str:
    cats = "".join(f"<category>{c}</category>" for c in item.categories)
    description = (
        f"arXiv:{item.id}v{item.version} Announce Type: {item.announce} \nAbstract: {item.abstract}"
    )
    return f"""<item>
      <title>{escape(item.title)}</title>
      <link>https://arxiv.org/abs/{item.id}</link>
      <description>{escape(description)}</description>
      <guid isPermaLink="false">oai:arXiv.org:{item.id}v{item.version}</guid>
      {cats}
      <arxiv:announce_type>{item.announce}</arxiv:announce_type>
      <dc:rights>http://creativecommons.org/licenses/by/4.0/</dc:rights>
      <dc:creator>{escape(", ".join(item.authors))}</dc:creator>
    </item>
"""


def hf_daily(entries: list[tuple[str, str, int]]) -> bytes:
    """Hugging Face /api/daily_papers JSON: (arXiv id, title, upvotes) per paper."""
    papers = []
    for paper_id, title, upvotes in entries:
        paper = {
            "id": paper_id,
            "authors": [{"_id": "x", "name": "Ada Lovelace", "hidden": False}],
            "publishedAt": "2026-07-26T10:00:00.000Z",
            "submittedOnDailyAt": "2026-07-26T12:00:00.000Z",
            "title": title,
            "summary": "A summary of the paper.",
            "upvotes": upvotes,
            "ai_summary": "An AI summary.",
            "githubRepo": "https://github.com/example/code",
        }
        papers.append(
            {
                "paper": paper,
                "title": title,
                "summary": paper["summary"],
                "publishedAt": paper["publishedAt"],
                "numComments": 1,
            }
        )
    return json.dumps(papers).encode()


# --- configs of a few sources, for the fetching tests -----------------------------------------

MONDAY = date(2026, 7, 27)
LISTING = arxiv_rss(
    MONDAY,
    [
        Item("2607.00001", "Mixture of experts at scale"),
        Item("2607.00002", announce="cross", categories=["stat.ML", "cs.LG"]),
    ],
)
SUBSCRIBERS = """
subscribers:
  - email: ada@example.org
    interests: {keywords: [things]}
"""


def arxiv_source(url: str, name: str = "arxiv") -> str:
    return (
        f"    - type: arxiv\n      name: {name}\n      categories: [cs.LG]\n"
        f"      url: {_quoted(url)}\n"
    )


def feed_source(url: str, name: str = "feed") -> str:
    return f"    - type: feed\n      name: {name}\n      url: {_quoted(url)}\n"


def hf_source(url: str, name: str = "huggingface") -> str:
    return f"    - type: huggingface\n      name: {name}\n      url: {_quoted(url)}\n"


def _quoted(url: str) -> str:
    """A YAML single-quoted scalar: `{date}` and `:` stay text."""
    return "'" + url.replace("'", "''") + "'"


def write_sources(folder: Path, *sources: str) -> Path:
    """A config reading `sources` (YAML list items), in `folder`; the good local listing
    `good.xml` (LISTING, dated MONDAY) is written beside it for `arxiv_source("good.xml")`."""
    (folder / "good.xml").write_bytes(LISTING)
    path = folder / "subscribers.yaml"
    path.write_text("newsletter:\n  sources:\n" + "".join(sources) + SUBSCRIBERS, encoding="utf-8")
    return path
