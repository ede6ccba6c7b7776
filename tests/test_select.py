"""Selection: matching rules, scores, reasons, limits and the never-twice rule."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from newsletter.config import Config
from newsletter.matching import PaperIndex, author_key
from newsletter.models import AnnounceType, Paper, PaperExtras, Profile
from newsletter.plan import DayPlan, select_day
from newsletter.select import select
from newsletter.session import Session
from newsletter.sources.merge import merge_papers
from newsletter.store import Store

DAY = date(2026, 7, 27)


def paper(pid: str, title: str, abstract: str = "", **extra: object) -> Paper:
    return Paper(id=pid, title=title, abstract=abstract, **extra)  # type: ignore[arg-type]


def picks(papers: list[Paper], profile: Profile, **kwargs: object) -> list[str]:
    (selection,) = select(papers, [profile], DAY, **kwargs)  # type: ignore[arg-type]
    return [p.paper.id for p in selection.papers]


@pytest.mark.parametrize(
    "title",
    [
        "Diffusion Models for video",
        "A diffusion-model sampler",
        "DIFFUSION MODEL distillation",
        "Faster diffusion  models",
    ],
)
def test_keyword_variants_match(title: str) -> None:
    assert picks([paper("1", title)], Profile("a@x.org", keywords=("diffusion model",))) == ["1"]


def test_plural_keyword_matches_singular_text() -> None:
    profile = Profile("a@x.org", keywords=("mixtures of experts",))
    assert picks([paper("1", "A sparse mixture of expert layers")], profile) == ["1"]


def test_acronyms_match_whole_words_in_capitals_only() -> None:
    papers = [
        paper("1", "Training MoE models"),
        paper("2", "Moebius transforms of moe"),
        paper("3", "Scaling MoEs"),
        paper("4", "An RL agent", "We fetch each URL."),
        paper("5", "A paper", "Our URL parser and curl tools."),
    ]
    assert sorted(picks(papers, Profile("a@x.org", keywords=("MoE",)))) == ["1", "3"]
    assert picks(papers, Profile("a@x.org", keywords=("RL",))) == ["4"]


def test_keyword_in_title_ranks_above_the_same_keyword_in_the_abstract() -> None:
    papers = [
        paper("abs", "Efficient routing", "We study scaling laws of sparse models."),
        paper("title", "Scaling laws for routing", "We study sparse models."),
    ]
    profile = Profile(
        "a@x.org", keywords=("scaling laws",), description="scaling laws of sparse models"
    )
    assert picks(papers, profile) == ["title", "abs"]


def test_a_paper_about_the_readers_text_outranks_a_keyword_alone_in_a_title() -> None:
    """Keywords in titles are strong, not absolute: a reader's whole text counts more."""
    papers = [
        paper("abs", "Efficient inference", "We study scaling laws of sparse models " * 3),
        paper("title", "Scaling laws for routing", "Nothing else in common."),
    ]
    profile = Profile(
        "a@x.org", keywords=("scaling laws",), description="scaling laws sparse models"
    )
    assert picks(papers, profile) == ["abs", "title"]


@pytest.mark.parametrize(
    "written", ["J. Krajewski", "Krajewski, Jakub", "Jakub Krajewski", "JAKUB KRAJEWSKI"]
)
def test_author_names_match_across_forms(written: str) -> None:
    papers = [paper("1", "Anything", authors=("A. Other", written))]
    assert picks(papers, Profile("a@x.org", authors=("Jakub Krajewski",))) == ["1"]


def test_author_matching_folds_accents_and_keeps_first_names_apart() -> None:
    assert author_key("Zoë Müller") == author_key("Zoe Muller")
    papers = [paper("1", "A", authors=("Jan Krajewski",)), paper("2", "B", authors=("Zoe Muller",))]
    assert picks(papers, Profile("a@x.org", authors=("Jakub Krajewski", "Zoë Müller"))) == ["2"]


def test_exclude_drops_a_paper_even_with_strong_matches() -> None:
    papers = [paper("1", "Mixture of experts: a survey"), paper("2", "Mixture of experts routing")]
    profile = Profile("a@x.org", keywords=("mixture of experts",), exclude=("survey",))
    assert picks(papers, profile) == ["2"]


def test_categories_boost_and_alone_select() -> None:
    papers = [
        paper("1", "Graphs", categories=("math.CO",)),
        paper("2", "Groups", categories=("math.GR", "math.CO")),
        paper("3", "Galaxies", categories=("astro-ph.GA",)),
    ]
    (selection,) = select(papers, [Profile("a@x.org", categories=("math.CO",))], DAY)
    assert [p.paper.id for p in selection.papers] == ["1", "2"]
    assert selection.papers[0].reasons == ("category math.CO",)
    assert selection.papers[1].reasons == ("cross-listed in math.CO",)


def test_category_alone_does_not_select_for_a_reader_with_keywords() -> None:
    papers = [paper("1", "Unrelated things", categories=("cs.LG",))]
    profile = Profile("a@x.org", keywords=("diffusion model",), categories=("cs.LG",))
    assert picks(papers, profile) == []


def test_reasons_are_human_readable() -> None:
    papers = [
        paper(
            "1",
            "Scaling mixture of experts",
            "We route tokens with MoE layers.",
            authors=("J. Krajewski",),
            categories=("cs.LG",),
            extras=PaperExtras(upvotes=57),
        ),
    ]
    profile = Profile(
        "a@x.org",
        keywords=("MoE", "tokens"),
        authors=("Jakub Krajewski",),
        categories=("cs.LG",),
    )
    (selection,) = select(papers, [profile], DAY)
    reasons = selection.papers[0].reasons
    assert reasons[0] == "author Jakub Krajewski"
    assert 'keyword "MoE" as "mixture of experts" in title' in reasons
    assert 'keyword "tokens" in abstract' in reasons
    assert "category cs.LG" in reasons
    assert reasons[-1] == "trending on Hugging Face (57 upvotes)"
    assert 0.5 <= selection.papers[0].score <= 1.0


def test_liked_papers_pull_in_similar_ones() -> None:
    liked = paper(
        "2401.00001",
        "Speculative decoding with draft models",
        "Draft models propose tokens that a large target model verifies in parallel.",
    )
    papers = [
        paper(
            "1",
            "Faster speculative decoding",
            "A draft model proposes tokens; the target model verifies them.",
        ),
        paper("2", "Protein folding", "We predict protein structures."),
    ]
    (selection,) = select(
        papers, [Profile("a@x.org", liked=("2401.00001",))], DAY, liked={liked.id: liked}
    )
    assert [p.paper.id for p in selection.papers] == ["1"]
    assert selection.papers[0].reasons == ("similar to your liked paper 2401.00001",)


def test_upvotes_break_ties_but_never_override_relevance() -> None:
    papers = [
        paper("a", "Diffusion model tricks", extras=PaperExtras(upvotes=0)),
        paper("b", "Diffusion model tricks", extras=PaperExtras(upvotes=300)),
        paper(
            "c", "Unrelated", "A diffusion model appears once.", extras=PaperExtras(upvotes=5000)
        ),
    ]
    assert picks(papers, Profile("a@x.org", keywords=("diffusion model",))) == ["b", "a", "c"]


def test_max_papers_min_score_and_digest() -> None:
    papers = [paper(str(n), f"Diffusion model number {n}") for n in range(30)]
    assert len(picks(papers, Profile("a@x.org", keywords=("diffusion model",), max_papers=7))) == 7
    assert picks(papers, Profile("a@x.org", keywords=("diffusion model",), min_score=0.99)) == []
    (quiet,) = select([], [Profile("a@x.org", keywords=("x",))], DAY)
    (always,) = select([], [Profile("a@x.org", keywords=("x",), digest="always")], DAY)
    assert not quiet.should_send and always.should_send


def test_hostile_and_non_latin_keywords() -> None:
    papers = [
        paper("1", "量子计算的新算法", "我们提出量子算法。"),
        paper("2", "Faster C++ template metaprogramming"),
        paper("3", "Regex (.*)+[a-z]{2,}? soup", "Text with $^ and \\ in it."),
        paper("4", "Schrödinger bridges"),
    ]
    assert picks(papers, Profile("a@x.org", keywords=("量子",))) == ["1"]
    assert picks(papers, Profile("a@x.org", keywords=("C++",))) == ["2"]
    assert picks(papers, Profile("a@x.org", keywords=("(.*)+[a-z]{2,}?",))) == ["3"]
    assert picks(papers, Profile("a@x.org", keywords=("Schrodinger bridge",))) == ["4"]
    assert picks(papers, Profile("a@x.org", keywords=("$^\\",))) == []


def test_a_day_with_zero_papers() -> None:
    (selection,) = select([], [Profile("a@x.org", keywords=("x",))], DAY)
    assert selection.papers == ()


def test_selection_is_deterministic() -> None:
    papers = [paper(str(n), f"Diffusion model {n % 3}", "words " * n) for n in range(20)]
    profile = Profile("a@x.org", keywords=("diffusion model",), description="fast diffusion")
    assert select(papers, [profile], DAY) == select(papers, [profile], DAY)


def test_index_lookups_are_shared_between_readers() -> None:
    index = PaperIndex([paper("1", "Mixture of experts")])
    assert index.keyword("mixture of experts") is index.keyword("mixture of experts")


# --- never twice ---------------------------------------------------------------------------


def _config(tmp_path: Path) -> Config:
    from newsletter.config import load_config

    path = tmp_path / "subscribers.yaml"
    path.write_text(
        "newsletter:\n  sources:\n    - type: arxiv\n      categories: [cs.LG]\n      url: x.xml\n"
        "subscribers:\n  - email: Ada@Example.org\n    interests: {keywords: [diffusion model]}\n"
    )
    return load_config(path)


def _plan(config: Config, day: date, store: Store) -> DayPlan:
    return select_day(Session(config, store), day, config.readers)


def _ids(plan: object) -> list[str]:
    return [p.paper.id for p in plan.selections[0].papers]  # type: ignore[attr-defined]


def test_a_delivered_paper_is_not_selected_again_on_a_later_day(tmp_path: Path) -> None:
    config = _config(tmp_path)
    day2 = date(2026, 7, 28)
    with Store(tmp_path / "s.db") as store:
        store.save_day(
            DAY, "arxiv", [paper("1", "Diffusion model A"), paper("2", "Diffusion model B")]
        )
        store.save_day(
            day2, "arxiv", [paper("2", "Diffusion model B"), paper("3", "Diffusion model C")]
        )
        assert _ids(_plan(config, DAY, store)) == ["1", "2"]
        store.mark_delivered("ada@example.org", DAY, ["1", "2"])
        assert _ids(_plan(config, day2, store)) == ["3"]


def test_a_replacement_of_a_delivered_paper_is_not_sent_again(tmp_path: Path) -> None:
    config = _config(tmp_path)
    with Store(tmp_path / "s.db") as store:
        store.mark_delivered("ada@example.org", DAY, ["2607.00001"])
        v2 = Paper(
            id="2607.00001",
            version=2,
            title="Diffusion model, revised",
            announce_type=AnnounceType.REPLACE,
        )
        store.save_day(date(2026, 7, 29), "arxiv", [v2])
        assert _ids(_plan(config, date(2026, 7, 29), store)) == []


def test_a_paper_delivered_from_arxiv_is_not_resent_from_hugging_face(tmp_path: Path) -> None:
    config = _config(tmp_path)
    with Store(tmp_path / "s.db") as store:
        store.mark_delivered("ada@example.org", DAY, ["2607.00001"])
        hf = Paper(
            id="2607.00001",
            title="Diffusion model trending",
            sources=("huggingface",),
            extras=PaperExtras(upvotes=99),
        )
        store.save_day(date(2026, 7, 28), "huggingface", [hf])
        assert _ids(_plan(config, date(2026, 7, 28), store)) == []


def test_preview_does_not_count_as_delivery(tmp_path: Path) -> None:
    from newsletter.compose import Composer
    from newsletter.preview import write_preview

    config = _config(tmp_path)
    with Store(tmp_path / "s.db") as store:
        store.save_day(DAY, "arxiv", [paper("1", "Diffusion model A")])
        plan = select_day(Session(config, store), DAY, config.readers)
        write_preview(plan, tmp_path / "preview", Composer.of(config), datetime.now(UTC))
        assert _ids(_plan(config, DAY, store)) == ["1"]
        assert store.delivered_paper_ids("ada@example.org") == set()


def test_merged_papers_keep_one_id() -> None:
    arxiv = Paper(id="2607.00001", title="T", categories=("cs.LG",), sources=("arxiv",))
    hf = Paper(id="2607.00001", title="T", sources=("huggingface",), extras=PaperExtras(upvotes=3))
    assert len(merge_papers([arxiv, hf])) == 1


def test_a_readers_picks_do_not_depend_on_who_else_is_selected() -> None:
    papers = [
        paper("1", "Sparse mixture of experts routing", "Experts and gating for language models."),
        paper("2", "Protein folding with diffusion", "Diffusion models for protein structures."),
        paper("3", "Load balancing of expert layers", "Balancing tokens across experts."),
        paper("4", "Video generation at scale", "Diffusion transformers make videos."),
    ]
    liked = {"9": paper("9", "Protein diffusion", "Protein structure generation, diffusion.")}
    ada = Profile("ada@x.org", description="routing tokens to experts in sparse models")
    bea = Profile("bea@x.org", description="protein design", liked=("9",))
    (alone,) = select(papers, [ada], DAY, corpus=papers)
    together = select(papers, [ada, bea], DAY, liked=liked, corpus=papers)
    fewer = select(papers[:2], [ada], DAY, corpus=papers)
    assert [(p.paper.id, p.score) for p in alone.papers] == [
        (p.paper.id, p.score) for p in together[0].papers
    ]
    assert {p.paper.id: p.score for p in fewer[0].papers} == {
        p.paper.id: p.score for p in alone.papers if p.paper.id in ("1", "2")
    }


# --- TF-IDF without scikit-learn -----------------------------------------------------------

RELEVANCE = Path(__file__).resolve().parents[1] / "benchmarks" / "data" / "relevance"


def _relevance_documents() -> list[str]:
    from newsletter.day_index import document
    from newsletter.sources.arxiv import parse_rss

    listing = parse_rss((RELEVANCE / "listing.xml").read_bytes(), source="arxiv")
    return [document(p) for p in listing.papers]


def test_tfidf_is_scikit_learns_to_the_bit() -> None:
    """The weights and cosines are those of the TfidfVectorizer and SciPy product the ranking
    was tuned with (the golden picks rest on them), bit for bit."""
    text = pytest.importorskip("sklearn.feature_extraction.text")
    import numpy as np

    from newsletter.matching import STOP_WORDS, Postings, Tfidf, terms

    assert text.ENGLISH_STOP_WORDS == STOP_WORDS
    documents = _relevance_documents()
    corpus, others = documents[:100], [*documents[100:], "mixture of experts", "", "the of"]
    theirs = text.TfidfVectorizer(analyzer=terms, sublinear_tf=True, dtype=np.float32)
    fitted = theirs.fit_transform(corpus)
    fitted.sort_indices()
    ours = Tfidf(corpus)
    assert ours.vocabulary == theirs.vocabulary_
    assert np.array_equal(ours.idf, theirs.idf_)
    for mine, reference in (
        (ours.corpus, fitted),
        (ours.transform(others), theirs.transform(others)),
    ):
        assert np.array_equal(mine.starts, reference.indptr)
        assert np.array_equal(mine.columns, reference.indices)
        assert mine.weights.dtype == np.float32
        assert np.array_equal(mine.weights, reference.data)
    cosines = Postings(ours.corpus, len(ours.vocabulary)).cosines(ours.transform(others))
    expected = (theirs.transform(others) @ fitted.T.tocsr()).toarray()
    assert cosines.dtype == expected.dtype and np.array_equal(cosines, expected)


def test_cosines_in_blocks_equal_cosines_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    import numpy as np

    from newsletter import tfidf as weights

    documents = _relevance_documents()
    tfidf = weights.Tfidf(documents)
    papers = weights.Postings(tfidf.corpus, len(tfidf.vocabulary))
    at_once = papers.cosines(tfidf.corpus, 3, 40)
    monkeypatch.setattr(weights, "MAX_EXPANDED", 500)
    assert np.array_equal(papers.cosines(tfidf.corpus, 3, 40), at_once)
    # a document's cosine with itself is 1
    assert np.allclose(np.diag(papers.cosines(tfidf.corpus)), 1.0, atol=1e-6)


def test_a_corpus_of_stop_words_only_compares_nothing() -> None:
    papers = [paper("1", "The of and", "It is"), paper("2", "Is it", "the")]
    profile = Profile("a@x.org", description="the it")
    assert picks(papers, profile) == []


def test_selection_imports_neither_scikit_learn_nor_scipy() -> None:
    """Importing them took most of a small day's run (`preview --demo`)."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from datetime import date\n"
        "from newsletter.models import Paper, Profile\n"
        "from newsletter.select import select\n"
        "papers = [Paper(id='1', title='Mixture of experts', abstract='Sparse routing.')]\n"
        "profile = Profile('a@x.org', description='sparse experts', keywords=('routing',))\n"
        "(selection,) = select(papers, [profile], date(2026, 7, 27))\n"
        "assert selection.papers, selection\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('sklearn', 'scipy')))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert result.stdout.strip() == "[]"
