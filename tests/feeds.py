"""Build small feeds in the real formats (rss.arxiv.org RSS 2.0, Hugging Face JSON) for tests."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, datetime, time
from email.utils import format_datetime
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
