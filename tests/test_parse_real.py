"""The parsers on real documents captured from arXiv, Hugging Face and bioRxiv.

The documents live outside the project (../shared/fixtures/real, see SOURCES.md there); these
tests are skipped when that folder is absent.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest

from newsletter.models import AnnounceType, Paper
from newsletter.sources.arxiv import parse_atom, parse_rss
from newsletter.sources.base import ParseResult
from newsletter.sources.feed import parse_feed
from newsletter.sources.huggingface import parse_daily_papers

REAL = Path(__file__).resolve().parents[2] / "shared/fixtures/real"
CS_AI = "arxiv_rss_2026-07-27_cs.AI_full.xml"
MULTI = "arxiv_rss_2026-09-24_multi_cs.LG+cs.AI+cs.CL+stat.ML_trimmed4.xml"
RDF_MATH = "arxiv_rss1_rdf_2012-09-12_math_legacy.xml"
BIORXIV = "biorxiv_rss1_rdf_2023-12-16_genomics_trimmed1.xml"

pytestmark = pytest.mark.skipif(not REAL.is_dir(), reason=f"{REAL} is absent")

# Macros the authors defined for themselves: nothing can convert them.
_AUTHOR_MACROS = re.compile(r"\\(?:msimfull|msim|method)\b")


def real(name: str) -> bytes:
    return (REAL / name).read_bytes()


@pytest.fixture(scope="module")
def cs_ai() -> ParseResult:
    return parse_rss(real(CS_AI), source="cs.AI")


@pytest.fixture(scope="module")
def cs_ai_all() -> ParseResult:
    return parse_rss(real(CS_AI), source="cs.AI", include_replacements=True)


def by_id(result: ParseResult) -> dict[str, Paper]:
    return {paper.id: paper for paper in result.papers}


# --- arXiv RSS 2.0 --------------------------------------------------------------------------


def test_cs_ai_listing_counts(cs_ai: ParseResult) -> None:
    kinds = Counter(paper.announce_type for paper in cs_ai.papers)
    assert len(cs_ai.papers) == 143
    assert kinds == {AnnounceType.NEW: 51, AnnounceType.CROSS: 92}
    assert cs_ai.skipped == []
    assert cs_ai.item_count == 223


def test_cs_ai_listing_with_replacements(cs_ai_all: ParseResult) -> None:
    kinds = Counter(paper.announce_type for paper in cs_ai_all.papers)
    assert len(cs_ai_all.papers) == 223
    assert kinds[AnnounceType.REPLACE] == 25
    assert kinds[AnnounceType.REPLACE_CROSS] == 55


def test_cs_ai_listing_date_and_ids(cs_ai: ParseResult) -> None:
    assert cs_ai.feed_date is not None and cs_ai.feed_date.isoformat() == "2026-07-27"
    papers = by_id(cs_ai)
    flowevo = papers["2607.21596"]
    assert flowevo.version == 1
    assert flowevo.title.startswith("FlowEvo: Self-Evolving Agents")
    assert flowevo.authors[:3] == ("Zeyu Ren", "Ling Yue", "Ran Li")
    assert len(flowevo.authors) == 8
    assert "achieves an 82.8% success rate" in flowevo.abstract
    assert "(1) workflow-to-skill compilation" in flowevo.abstract
    assert flowevo.links.abstract == "https://arxiv.org/abs/2607.21596"
    assert all(paper.announced == cs_ai.feed_date for paper in cs_ai.papers)


def test_cs_ai_primary_category_first(cs_ai: ParseResult) -> None:
    for paper in cs_ai.papers:
        assert "cs.AI" in paper.categories
        is_primary = paper.primary_category == "cs.AI"
        assert is_primary == (paper.announce_type is AnnounceType.NEW), paper.id
    assert by_id(cs_ai)["2607.21186"].categories == ("quant-ph", "cs.AI", "cs.LG")


def test_cs_ai_abstracts_are_clean(cs_ai_all: ParseResult) -> None:
    for paper in cs_ai_all.papers:
        assert paper.abstract, paper.id
        assert not paper.abstract.startswith("arXiv:"), paper.id
        assert "Abstract:" not in paper.abstract[:20], paper.id
        for text in (paper.title, paper.abstract):
            assert "&amp;" not in text and "&lt;" not in text, paper.id
            assert "$\\" not in text, paper.id
            assert not _AUTHOR_MACROS.sub("", text).count("\\"), paper.id


def test_cs_ai_entities_and_math(cs_ai_all: ParseResult) -> None:
    abstracts = " ".join(paper.abstract for paper in cs_ai_all.papers)
    assert "(p < 0.02)" in abstracts
    assert "from >90% to <15%" in abstracts
    assert "HDL Q&A posts" in abstracts
    assert "κ = 0.917" in abstracts
    assert "2.3× fewer rollouts" in abstracts


def test_cs_ai_dois_and_journal_refs(cs_ai_all: ParseResult) -> None:
    with_doi = [paper for paper in cs_ai_all.papers if paper.links.doi]
    with_ref = [paper for paper in cs_ai_all.papers if paper.extras.journal_ref]
    assert len(with_doi) == 12
    assert len(with_ref) == 6
    assert by_id(cs_ai_all)["2607.21624"].links.doi == "https://doi.org/10.1145/3745756.3809214"


def test_multi_category_listing() -> None:
    result = parse_rss(real(MULTI), source="ml")
    assert [paper.id for paper in result.papers] == ["2609.26811", "2609.26820", "2205.06398"]
    assert result.papers[1].categories == ("cs.LG", "cs.AI")
    assert result.papers[2].announce_type is AnnounceType.CROSS
    assert result.papers[2].primary_category == "stat.ME"
    assert result.item_count == 4


# --- arXiv RSS 1.0 / RDF --------------------------------------------------------------------


def test_legacy_math_listing() -> None:
    everything = parse_rss(real(RDF_MATH), source="math", include_replacements=True)
    default = parse_rss(real(RDF_MATH), source="math")
    kinds = Counter(paper.announce_type for paper in everything.papers)
    assert everything.item_count == 126
    assert len(everything.papers) == 126
    assert kinds == {AnnounceType.NEW: 71, AnnounceType.REPLACE: 54, AnnounceType.CROSS: 1}
    assert len(default.papers) == 72
    assert everything.feed_date is not None and everything.feed_date.isoformat() == "2012-09-12"


def test_legacy_math_items() -> None:
    papers = by_id(parse_rss(real(RDF_MATH), source="math", include_replacements=True))
    first = papers["1209.2411"]
    assert first.title == "On the first time that an Ito process hits a barrier"
    assert first.authors == ("Gerardo Hernandez-del-Valle",)
    assert first.categories == ("math.PR",)
    assert "class ℬ^2" in first.abstract
    assert "<p>" not in first.abstract
    cross = papers["0901.1155"]
    assert cross.announce_type is AnnounceType.CROSS
    assert cross.authors == ("Itai Benjamini", "Yury Makarychev")
    updated = papers["0804.1418"]
    assert updated.version == 4
    assert updated.authors[0] == "Bernd Ammann"  # the affiliation is dropped
    names = {name for paper in papers.values() for name in paper.authors}
    assert {"Léon Bottou", "Björn Engquist", "Christian Gérard"} <= names
    assert not any("<" in name or "&" in name for name in names)


def test_biorxiv_item_has_a_doi_id() -> None:
    (paper,) = parse_feed(real(BIORXIV), source="biorxiv").papers
    assert paper.id == "doi:10.1101/2023.12.16.571984"
    assert paper.title.startswith("Complete genome of the Medicago anthracnose fungus")
    assert paper.authors[0] == "N. LAPALU"
    assert len(paper.authors) == 10
    assert paper.links.doi == "https://doi.org/10.1101/2023.12.16.571984"


# --- arXiv API Atom -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "count"),
    [
        ("arxiv_api_atom_2013_legacy_format_single.xml", 1),
        ("arxiv_api_atom_2016_legacy_format_au_del_maestro.xml", 10),
        ("arxiv_api_atom_2025_new_format_all_electron.xml", 10),
        ("arxiv_api_atom_2026_cs_lg_or_ai.xml", 20),
    ],
)
def test_api_atom_files(name: str, count: int) -> None:
    result = parse_atom(real(name), source="api")
    assert len(result.papers) == count
    assert result.skipped == []
    for paper in result.papers:
        assert paper.title and paper.abstract and paper.authors and paper.categories
        assert paper.version is not None and paper.published is not None
        assert paper.links.pdf is not None and paper.links.pdf.startswith("https://arxiv.org/pdf/")


def test_api_atom_current_layout() -> None:
    papers = by_id(parse_atom(real("arxiv_api_atom_2026_cs_lg_or_ai.xml"), source="api"))
    tide = papers["2604.26951"]
    assert tide.categories == ("cs.CL", "cs.AI", "cs.LG")
    assert tide.authors[:2] == ("Gongbo Zhang", "Wen Wang")
    assert (
        tide.extras.comments == "15 pages, 3 figures. Code: https://github.com/PKU-YuanGroup/TIDE"
    )
    assert papers["2604.26932"].primary_category == "math.OC"


def test_api_atom_old_style_ids_and_dois() -> None:
    result = parse_atom(real("arxiv_api_atom_2025_new_format_all_electron.xml"), source="api")
    papers = by_id(result)
    old = papers["cond-mat/0011267"]
    assert old.version == 1
    assert old.categories[0] == "cond-mat.supr-con"
    assert old.extras.journal_ref == "J. Electron Spectr. Relat. Phenom. 117-118, 203 (2001)"
    assert papers["1401.3078"].links.doi == "https://doi.org/10.1016/j.elspec.2014.01.005"


def test_api_atom_legacy_layout() -> None:
    (paper,) = parse_atom(real("arxiv_api_atom_2013_legacy_format_single.xml"), source="api").papers
    assert paper.id == "1301.7746"
    assert paper.categories == ("cond-mat.dis-nn", "cond-mat.str-el")
    assert paper.extras.comments is not None
    assert paper.extras.comments.startswith("Pedagogical introduction to strong disorder physics")
    assert "\n" not in paper.extras.comments


# --- Hugging Face ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "count", "without_summary"),
    [
        ("hf_daily_papers_2026-05-12.json", 50, {"2605.10913"}),
        ("hf_daily_papers_2026-06-02.json", 47, {"2606.01356"}),
    ],
)
def test_hf_2026_files(name: str, count: int, without_summary: set[str]) -> None:
    result = parse_daily_papers(real(name), source="hf")
    assert len(result.papers) == count
    assert result.skipped == []
    assert all(paper.extras.upvotes is not None for paper in result.papers)
    assert {p.id for p in result.papers if not p.extras.ai_summary} == without_summary
    assert all(
        p.links.huggingface == f"https://huggingface.co/papers/{p.id}" for p in result.papers
    )
    assert result.feed_date is not None and result.feed_date.isoformat() == name[16:26]


def test_hf_2026_enrichment() -> None:
    papers = by_id(parse_daily_papers(real("hf_daily_papers_2026-05-12.json"), source="hf"))
    assert len([paper for paper in papers.values() if paper.links.code]) == 29
    soohak = papers["2605.09063"]
    assert soohak.extras.upvotes == 50
    assert "LLM reasoning" in soohak.extras.keywords
    names = {name for paper in papers.values() for name in paper.authors}
    assert {"Rafał Marcin Łochowski", "Raphaël Lachièze-Rey"} <= names


def test_hf_unbalanced_dollar_is_kept() -> None:
    papers = by_id(parse_daily_papers(real("hf_daily_papers_2026-06-02.json"), source="hf"))
    assert "prevent 87-$89% of invalid proposals" in papers["2606.00089"].abstract


def test_hf_2024_file() -> None:
    result = parse_daily_papers(real("hf_daily_papers_2024-04-04_raw_compact.json"), source="hf")
    assert len(result.papers) == 8
    assert all(paper.extras.upvotes is not None for paper in result.papers)
    assert all(paper.extras.ai_summary is None for paper in result.papers)
    first = result.papers[0]
    assert first.id == "2404.02258"
    assert first.title == (
        "Mixture-of-Depths: Dynamically allocating compute in transformer-based language models"
    )
    assert first.extras.thumbnail is not None
    assert result.feed_date is not None and result.feed_date.isoformat() == "2024-04-04"
