"""The source parsers on small feeds in the real formats, and on hostile documents."""

from __future__ import annotations

import json
import logging
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from newsletter.errors import FeedParseError
from newsletter.models import AnnounceType, Paper
from newsletter.sources.arxiv import parse_arxiv_id, parse_atom, parse_rss
from newsletter.sources.base import ParseResult, SkippedItem
from newsletter.sources.feed import parse_feed
from newsletter.sources.huggingface import parse_daily_papers

FEEDS = Path(__file__).resolve().parent / "fixtures" / "feeds"


def read(name: str) -> bytes:
    return (FEEDS / name).read_bytes()


def by_id(result: ParseResult) -> dict[str, Paper]:
    return {paper.id: paper for paper in result.papers}


def rss_item(title: str, abstract: str, arxiv_id: str = "2605.09001") -> str:
    return f"""<item><title>{title}</title><link>https://arxiv.org/abs/{arxiv_id}</link>
<description>arXiv:{arxiv_id}v1 Announce Type: new
Abstract: {abstract}</description><guid isPermaLink="false">oai:arXiv.org:{arxiv_id}v1</guid>
<category>cs.AI</category><arxiv:announce_type>new</arxiv:announce_type>
<dc:creator>Test Author</dc:creator></item>"""


def rss_feed(*items: str, encoding: str = "UTF-8") -> str:
    return f"""<?xml version="1.0" encoding="{encoding}"?>
<rss xmlns:arxiv="http://arxiv.org/schemas/atom" xmlns:dc="http://purl.org/dc/elements/1.1/"
 version="2.0"><channel><title>cs.AI updates on arXiv.org</title>
<link>http://rss.arxiv.org/rss/cs.AI</link><description>cs.AI</description>
<pubDate>Mon, 04 May 2026 00:00:00 -0400</pubDate>
{"".join(items)}
</channel></rss>"""


# --- arXiv RSS 2.0 (current) ----------------------------------------------------------------


def test_current_rss_skips_replacements_by_default() -> None:
    result = parse_rss(read("arxiv_rss_current.xml"), source="cs.LG")
    assert [p.id for p in result.papers] == ["2605.01234", "2605.01300"]
    assert [p.announce_type for p in result.papers] == [AnnounceType.NEW, AnnounceType.CROSS]
    assert result.skipped == []
    assert result.item_count == 4
    assert result.feed_date == date(2026, 5, 5)


def test_current_rss_keeps_replacements_when_asked() -> None:
    result = parse_rss(read("arxiv_rss_current.xml"), source="cs.LG", include_replacements=True)
    papers = by_id(result)
    assert len(papers) == 4
    assert papers["2501.00042"].announce_type is AnnounceType.REPLACE
    assert papers["2501.00042"].version == 3
    assert papers["2412.09999"].announce_type is AnnounceType.REPLACE_CROSS
    assert papers["2412.09999"].is_updated
    assert papers["2412.09999"].authors == ("Paul Erdős", "Kurt Gödel")


def test_current_rss_item_fields() -> None:
    paper = parse_rss(read("arxiv_rss_current.xml"), source="cs.LG").papers[0]
    assert paper.version == 1
    assert paper.title == "Sparse Mixtures for α-Stable Regression"
    assert paper.authors == ("Ada Lovelace", "Alan M. Turing", "Grace Hopper")
    assert paper.abstract == (
        "We fit α-stable models in O(n^2) time and show that p < 0.05 holds in 95% of runs, "
        r"with no tuning; see Smith \cite{smith} for a Q&A. Training takes 3--4 hours."
    )
    assert paper.categories == ("cs.LG", "stat.ML")
    assert paper.links.abstract == "https://arxiv.org/abs/2605.01234"
    assert paper.links.pdf == "https://arxiv.org/pdf/2605.01234v1"
    assert paper.links.doi == "https://doi.org/10.1000/XYZ.123"
    assert paper.extras.journal_ref == "J. Imag. Res. 12 (2026) 1-10"
    assert paper.announced == date(2026, 5, 5)
    assert paper.published is not None and paper.published.date() == date(2026, 5, 5)
    assert paper.sources == ("cs.LG",)


def test_cross_list_keeps_its_primary_category_first() -> None:
    paper = by_id(parse_rss(read("arxiv_rss_current.xml"), source="cs.LG"))["2605.01300"]
    assert paper.primary_category == "q-bio.BM"
    assert paper.categories == ("q-bio.BM", "cs.LG")


def test_feed_date_is_the_channel_day_in_its_own_time_zone() -> None:
    feed = rss_feed().replace("Mon, 04 May 2026 00:00:00 -0400", "Mon, 04 May 2026 23:30:00 -0400")
    assert parse_rss(feed.encode(), source="s").feed_date == date(2026, 5, 4)


# --- arXiv RSS 1.0 / RDF (legacy) -----------------------------------------------------------


def test_legacy_rdf_listing() -> None:
    result = parse_rss(read("arxiv_rdf_legacy.xml"), source="math")
    assert result.feed_date == date(2013, 3, 5)
    assert result.item_count == 3
    assert [p.id for p in result.papers] == ["1303.1001", "math/0601001"]
    first, cross = result.papers
    assert first.title == "Random walks on ℤ^d with drift"
    assert first.abstract == (
        "We show that P(X_n < 0) → 0 for walks in ℤ^d, answering a question of Erdős. "
        "A second paragraph."
    )
    assert first.authors == ("Carl Gauß", "Bernhard Riemann")
    assert first.categories == ("math.PR",)
    assert first.announce_type is AnnounceType.NEW
    assert cross.announce_type is AnnounceType.CROSS
    assert cross.version == 2
    assert cross.links.abstract == "https://arxiv.org/abs/math/0601001"


def test_legacy_rdf_updated_items_are_replacements() -> None:
    result = parse_rss(read("arxiv_rdf_legacy.xml"), source="math", include_replacements=True)
    updated = by_id(result)["1201.0500"]
    assert updated.announce_type is AnnounceType.REPLACE
    assert updated.version == 4
    assert updated.title == "Old results, new proofs"


# --- arXiv API Atom -------------------------------------------------------------------------


def test_api_atom_entries() -> None:
    result = parse_atom(read("arxiv_api.xml"), source="api")
    assert result.item_count == 2
    assert result.skipped == []
    paper, old_style = result.papers
    assert paper.id == "2603.00123"
    assert paper.version == 2
    assert paper.title == "Lattice Models of β-Sheets"
    assert paper.abstract == "We study lattice models of β-sheets and their folding."
    assert paper.categories == ("q-bio.BM", "cs.LG")
    assert paper.authors == ("Linus Pauling", "Dorothy Hodgkin")
    assert paper.extras.comments == "12 pages, 3 figures"
    assert paper.published == datetime(2026, 2, 27, 18, 30, tzinfo=UTC)
    assert paper.links.pdf == "https://arxiv.org/pdf/2603.00123v2"
    assert old_style.id == "cond-mat/0102536"
    assert old_style.links.doi == "https://doi.org/10.1000/SG.2001.1"
    assert old_style.extras.journal_ref == "Eur. Phys. J. B 20, 217 (2001)"


def test_api_error_entry_is_a_parse_error() -> None:
    with pytest.raises(FeedParseError, match="arXiv API error: incorrect id format for 1234"):
        parse_atom(read("arxiv_api_error.xml"), source="api")


def test_rss_parser_refuses_atom_and_atom_parser_refuses_rss() -> None:
    with pytest.raises(FeedParseError, match="expected an arXiv RSS listing, got Atom"):
        parse_rss(read("arxiv_api.xml"), source="s")
    with pytest.raises(FeedParseError, match="expected an arXiv API Atom feed, got RSS"):
        parse_atom(read("arxiv_rss_current.xml"), source="s")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2401.01234", ("2401.01234", None)),
        ("http://arxiv.org/abs/2401.01234v2", ("2401.01234", 2)),
        ("https://arxiv.org/pdf/2401.01234v3.pdf", ("2401.01234", 3)),
        ("oai:arXiv.org:2607.21596v1", ("2607.21596", 1)),
        ("arXiv:1209.2411v1", ("1209.2411", 1)),
        ("http://arxiv.org/abs/cond-mat/0011267v1", ("cond-mat/0011267", 1)),
        ("math.PR/0501001", ("math/0501001", None)),
        ("0704.0001", ("0704.0001", None)),
        ("2023.12.16.571984", None),
        ("https://example.org/abs/2401.01234", None),
        ("", None),
    ],
)
def test_parse_arxiv_id(value: str, expected: tuple[str, int | None] | None) -> None:
    assert parse_arxiv_id(value) == expected


# --- Hugging Face ---------------------------------------------------------------------------


def test_hf_2024_shape() -> None:
    result = parse_daily_papers(read("hf_daily_2024.json"), source="hf")
    (paper,) = result.papers
    assert paper.id == "2404.00001"
    assert paper.title == "Analytical Engines as Language Models"
    assert paper.authors == ("Ada Lovelace", "Charles Babbage")
    assert paper.extras.upvotes == 12
    assert paper.extras.num_comments == 3
    assert paper.extras.thumbnail == (
        "https://cdn-thumbnails.huggingface.co/social-thumbnails/papers/2404.00001.png"
    )
    assert paper.links.huggingface == "https://huggingface.co/papers/2404.00001"
    assert paper.links.abstract == "https://arxiv.org/abs/2404.00001"
    assert paper.published == datetime(2024, 4, 2, 19, 28, 11, tzinfo=UTC)
    assert paper.announced == date(2024, 4, 4)
    assert paper.categories == ()
    assert result.feed_date == date(2024, 4, 4)


def test_hf_2026_shape() -> None:
    result = parse_daily_papers(read("hf_daily_2026.json"), source="hf")
    assert result.item_count == 5
    first, second = result.papers
    assert first.title == "Diffusion Policies at 10^6 Steps"
    assert first.abstract == "We scale diffusion policies to 10^6 steps & beyond."
    assert first.authors == ("Rafał Łochowski", "Anonymous Reviewer")
    assert first.extras.ai_summary == "Diffusion policies scale to a million steps."
    assert first.extras.keywords == ("diffusion policy", "scaling")
    assert first.extras.github_stars == 321
    assert first.links.code == "https://github.com/example/diffusion-policies"
    assert first.links.project is None  # it was a javascript: URL
    assert first.announced == date(2026, 5, 12)
    assert second.extras.ai_summary is None
    assert second.links.project == "https://example.org/compilers"
    assert result.feed_date == date(2026, 5, 12)


def test_hf_bad_elements_are_skipped_with_reasons() -> None:
    skipped = parse_daily_papers(read("hf_daily_2026.json"), source="hf").skipped
    assert skipped == [
        SkippedItem("paper not-an-id", "paper.id 'not-an-id' is not an arXiv id"),
        SkippedItem("paper 2605.00004", "paper has no title"),
        SkippedItem("item #5", "not a daily-paper object (no 'paper' object)"),
    ]


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "not JSON: Expecting value at line 1"),
        (b"{not json", "not JSON: Expecting property name enclosed in double quotes at line 1"),
        (b'{"papers": []}', "expected a JSON list of daily papers, got dict"),
        (b'{"error": "Invalid date"}', "Hugging Face API error: Invalid date"),
        (b"<!DOCTYPE html><html><body>Too many requests</body></html>", "got an HTML page"),
    ],
)
def test_hf_unusable_documents(data: bytes, reason: str) -> None:
    with pytest.raises(FeedParseError, match=reason):
        parse_daily_papers(data, source="hf")


def test_hf_non_utf8_bytes_are_replaced_not_fatal() -> None:
    document = [
        {"paper": {"id": "2605.00009", "title": "Caf\u00e9 r\u00e9sum\u00e9", "authors": []}}
    ]
    data = json.dumps(document, ensure_ascii=False).encode("latin-1")
    (paper,) = parse_daily_papers(data, source="hf").papers
    assert paper.title == "Caf\ufffd r\ufffdsum\ufffd"


def test_hf_control_characters_and_surrogates_are_cleaned() -> None:
    data = (
        b'[{"paper": {"id": "2605.00010", "title": "A\\u0000B\\u2028C\\ud800D", "upvotes": true}}]'
    )
    (paper,) = parse_daily_papers(data, source="hf").papers
    assert paper.title == "AB CD"
    assert paper.extras.upvotes is None


# --- any feed -------------------------------------------------------------------------------


def test_biorxiv_rdf_item_gets_a_doi_id() -> None:
    (paper,) = parse_feed(read("biorxiv_rss1.xml"), source="biorxiv").papers
    assert paper.id == "doi:10.1101/2024.02.01.578000"
    assert paper.title == "A Phage That Eats E. coli For Breakfast"
    assert paper.authors == ("L. PASTEUR", "R. Koch", "F. d'Herelle")
    assert paper.abstract == "Phages are viruses of bacteria. We isolate one."
    assert paper.links.doi == "https://doi.org/10.1101/2024.02.01.578000"
    assert paper.links.abstract == (
        "http://biorxiv.org/cgi/content/short/2024.02.01.578000v1?rss=1"
    )
    assert paper.published == datetime(2024, 2, 3, tzinfo=UTC)


def test_atom_journal_feed_ids() -> None:
    papers = parse_feed(read("journal_atom.xml"), source="journal").papers
    assert [p.id for p in papers] == [
        "doi:10.1038/s41586-026-0001",
        "2605.04321",
        "url:https://journal.example.org/editorials/2026",
        "doi:10.5555/abc-def",
    ]


def test_atom_journal_feed_fields() -> None:
    result = parse_feed(read("journal_atom.xml"), source="journal")
    article, preprint, editorial, _ = result.papers
    assert article.title == "Fast in vivo imaging"
    assert article.abstract == "We image cells fast."
    assert article.authors == ("Marie Curie", "Pierre Curie")
    assert article.categories == ("Imaging", "Biophysics")
    assert article.links.doi == "https://doi.org/10.1038/S41586-026-0001"
    assert article.announced == date(2026, 5, 30)
    assert preprint.version == 2
    assert preprint.abstract == "Symmetries and conservation laws."
    assert preprint.links.abstract == "https://arxiv.org/abs/2605.04321"
    assert editorial.links.abstract == "https://journal.example.org/editorials/2026"
    assert result.feed_date == date(2026, 6, 1)


def test_feed_parser_reads_arxiv_listings_too() -> None:
    result = parse_feed(read("arxiv_rss_current.xml"), source="any")
    assert [p.id for p in result.papers][:2] == ["2605.01234", "2605.01300"]


# --- hostile documents ----------------------------------------------------------------------


@pytest.mark.parametrize("parser", [parse_rss, parse_atom, parse_feed])
def test_html_error_page_is_not_a_feed(parser: object) -> None:
    with pytest.raises(FeedParseError, match="not a feed: got an HTML page"):
        parser(read("html_error.html"), source="s")  # type: ignore[operator]


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "empty document"),
        (b"  \n ", "empty document"),
        (b'{"items": []}', "not a feed: got JSON"),
        (b"<?xml version='1.0'?>\n<html><body>oops</body></html>", "got an HTML page"),
        (b"Service temporarily unavailable", r"malformed XML at line 1: syntax error"),
        (b"<?xml version='1.0'?><catalog><book/></catalog>", "no RSS or Atom root element"),
        (b"<?xml version='1.0'?><rss version='2.0'></rss>", "no channel element"),
    ],
)
def test_unusable_documents(data: bytes, reason: str) -> None:
    with pytest.raises(FeedParseError, match=reason) as caught:
        parse_feed(data, source="broken")
    assert caught.value.source == "broken"


def test_malformed_xml_keeps_items_before_the_error(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        result = parse_rss(read("malformed.xml"), source="cs.CL")
    assert [p.id for p in result.papers] == ["2605.02001"]
    assert result.skipped == [
        SkippedItem(
            "items from #2",
            "malformed XML at line 23: mismatched tag; the feed is truncated or broken here, "
            "the rest was not read",
        )
    ]
    assert "malformed XML at line 23" in caplog.text


def test_truncated_feed_keeps_complete_items() -> None:
    data = read("arxiv_rss_current.xml")
    cut = data.index(b"<title>A Revised Bound") + 10  # inside the third item
    last_line = data[:cut].count(b"\n") + 1
    result = parse_rss(data[:cut], source="cs.LG")
    assert [p.id for p in result.papers] == ["2605.01234", "2605.01300"]
    (skipped,) = result.skipped
    assert skipped.item == "items from #3"
    assert skipped.reason.startswith(f"malformed XML at line {last_line}: no element found")


def test_truncated_before_the_first_item_ends_is_fatal() -> None:
    data = read("arxiv_rss_current.xml")
    cut = data.index(b"</item>")
    last_line = data[:cut].count(b"\n") + 1
    with pytest.raises(FeedParseError, match=f"malformed XML at line {last_line}: no element"):
        parse_rss(data[:cut], source="cs.LG")


def test_empty_channel_is_an_empty_result() -> None:
    result = parse_rss(read("empty_channel.xml"), source="cs.CL")
    assert result.papers == []
    assert result.skipped == []
    assert result.item_count == 0
    assert result.feed_date == date(2026, 5, 6)


def test_item_without_title_is_skipped() -> None:
    result = parse_rss(read("missing_title.xml"), source="cs.CL")
    assert [p.id for p in result.papers] == ["2605.02011"]
    assert result.skipped == [SkippedItem("oai:arXiv.org:2605.02010v1", "item has no title")]


def test_item_without_link_or_guid_is_skipped() -> None:
    result = parse_rss(read("missing_link.xml"), source="cs.CL")
    assert [p.id for p in result.papers] == ["2605.02021"]
    assert result.skipped == [
        SkippedItem("An item without link or guid", "no arXiv id in the guid, description or link")
    ]


def test_duplicate_items_become_one_paper() -> None:
    result = parse_rss(read("duplicates.xml"), source="cs.CL")
    assert [p.id for p in result.papers] == ["2605.02001", "2605.02002"]
    assert result.item_count == 3
    assert result.skipped == []


def test_five_megabyte_abstract_is_capped() -> None:
    huge = "many words " * 500_000
    data = rss_feed(rss_item("Huge", huge)).encode()
    assert len(data) > 5_000_000
    (paper,) = parse_rss(data, source="s").papers
    assert len(paper.abstract) <= 10_000
    assert paper.abstract.endswith("words…") or paper.abstract.endswith("many…")


def test_long_title_is_capped_at_500_characters() -> None:
    (paper,) = parse_rss(rss_feed(rss_item("word " * 400, "x")).encode(), source="s").papers
    assert len(paper.title) <= 500
    assert paper.title.endswith("…")


def test_latin1_bytes_in_a_feed_declaring_utf8() -> None:
    data = rss_feed(rss_item("Café Müller", "Ünïcödé")).encode("latin-1")
    (paper,) = parse_rss(data, source="s").papers
    assert paper.title == "Café Müller"
    assert paper.abstract == "Ünïcödé"


def test_control_bytes_in_a_title_are_dropped() -> None:
    data = rss_feed(rss_item("Con\x00trol\x01 \x1fchars\x7f", "ok")).encode()
    result = parse_rss(data, source="s")
    assert [p.title for p in result.papers] == ["Control chars"]
    assert result.skipped == []


def test_script_title_and_markup_are_removed() -> None:
    papers = parse_feed(read("hostile_items.xml"), source="s").papers
    assert papers[0].title == "Safe title"
    assert papers[0].abstract == "Hello there."


def test_line_breaks_tabs_separators_and_bidi_in_titles() -> None:
    papers = parse_feed(read("hostile_items.xml"), source="s").papers
    assert papers[1].title == "Line breaks and tabs andbidi!"


def test_javascript_link_is_not_used() -> None:
    result = parse_feed(read("hostile_items.xml"), source="s")
    assert len(result.papers) == 2
    assert result.skipped == [SkippedItem("item-c", "item has no arXiv id, DOI or http(s) link")]


def test_javascript_link_beside_an_arxiv_guid_is_dropped() -> None:
    item = rss_item("T", "A").replace(
        "<link>https://arxiv.org/abs/2605.09001</link>", "<link>javascript:alert(1)</link>"
    )
    (paper,) = parse_feed(rss_feed(item).encode(), source="s").papers
    assert paper.id == "2605.09001"
    assert paper.links.abstract == "https://arxiv.org/abs/2605.09001"


def test_latex_in_titles_never_hides_text() -> None:
    title = "Bounds $a&lt;b$ and $c&gt;d$ with &lt;i&gt;style&lt;/i&gt;"
    (paper,) = parse_rss(rss_feed(rss_item(title, "x")).encode(), source="s").papers
    assert paper.title == "Bounds a<b and c>d with style"
