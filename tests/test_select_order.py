"""Scores keep their order: more of a reader's keywords rank higher, a keyword counts by where
it is (title > first sentences > in passing), an unrelated keyword flattens nothing, and
similarity counts relative to the day, so that paraphrases and liked papers find their papers.
"""

from __future__ import annotations

from datetime import date

from newsletter.day_index import document
from newsletter.models import Paper, Profile, Selection
from newsletter.select import select
from newsletter.tfidf import Postings, Tfidf

DAY = date(2026, 7, 27)
FILLER = (
    "We describe the setting and the data. Experiments cover several benchmarks. "
    "Ablations study each part of the method. Code is released."
)
OTHER_TOPICS = [
    ("Protein folding at scale", "We predict protein structures from sequences with attention."),
    ("Speech recognition in noise", "Acoustic models transcribe speech recorded in crowds."),
    ("Galaxy morphology", "Telescopes image galaxies whose shapes we classify."),
    ("Sorting networks", "Comparators sort numbers in parallel on hardware."),
    ("Weather forecasting", "Numerical models predict rain and wind a week ahead."),
    ("Robot grasping", "A robot arm learns to grasp unseen household objects."),
    ("Music generation", "Symbolic melodies are generated with long-range structure."),
    ("Traffic simulation", "Cars and pedestrians are simulated in a city model."),
    ("Graph coloring", "We bound the chromatic number of sparse random graphs."),
    ("Crop yield", "Satellite images estimate the yield of wheat fields."),
    ("Code completion", "Editors suggest the next lines of a program as one types."),
    ("Fluid dynamics", "Turbulent flows past a cylinder are resolved on grids."),
]


def paper(pid: str, title: str, abstract: str = "", **extra: object) -> Paper:
    return Paper(id=pid, title=title, abstract=abstract, **extra)  # type: ignore[arg-type]


def others() -> list[Paper]:
    """Papers on other topics: a day for similarity to stand out in."""
    return [paper(f"o{n}", title, abstract) for n, (title, abstract) in enumerate(OTHER_TOPICS)]


def one(papers: list[Paper], profile: Profile, **kwargs: object) -> Selection:
    (selection,) = select(papers, [profile], DAY, **kwargs)  # type: ignore[arg-type]
    return selection


def scores(selection: Selection) -> dict[str, float]:
    return {p.paper.id: p.score for p in selection.papers}


def test_two_of_the_readers_keywords_rank_above_one() -> None:
    papers = [
        paper("one", "Expert routing in sparse models", FILLER),
        paper("two", "Expert routing with load balancing", FILLER),
        *others(),
    ]
    profile = Profile("a@x.org", keywords=("expert routing", "load balancing"))
    found = scores(one(papers, profile))
    assert found["two"] > found["one"]


def test_a_keyword_counts_by_where_it_is() -> None:
    """Title, then the abstract's first sentences, then a passing mention later on."""
    later = "We describe the setting. Experiments cover benchmarks. We compare with expert routing."
    papers = [
        paper("title", "Expert routing for sparse models", FILLER),
        paper("lead", "Sparse models", "Expert routing is studied here. " + FILLER),
        paper("passing", "Sparse models", later + " Code is released."),
        *others(),
    ]
    picked = one(papers, Profile("a@x.org", keywords=("expert routing",)))
    assert [p.paper.id for p in picked.papers] == ["title", "lead", "passing"]
    assert len(set(scores(picked).values())) == 3


def test_one_unrelated_keyword_more_flattens_nothing() -> None:
    """Each match keeps its own score when the reader adds a keyword that matches none of
    them (scores are never capped to one value): the paper with both keywords stays first,
    the passing mention last."""
    papers = [
        paper("1", "Expert routing for sparse models", "Expert routing with load balancing."),
        paper("2", "Expert routing at scale", FILLER),
        paper("3", "Sparse models", "Expert routing is studied here. " + FILLER),
        paper("4", "Dense models", FILLER + " Expert routing is mentioned."),
        *others(),
    ]
    keywords = ("expert routing", "load balancing")
    before = one(papers, Profile("a@x.org", keywords=keywords))
    after = one(papers, Profile("a@x.org", keywords=(*keywords, "protein folding")))
    mine = ["1", "2", "3", "4"]
    for selection in (before, after):
        order = [p.paper.id for p in selection.papers if p.paper.id in mine]
        assert sorted(order) == mine and order[0] == "1" and order[-1] == "4"
        assert len({scores(selection)[i] for i in mine}) == 4


def test_a_passing_mention_on_another_topic_ranks_below_the_readers_topic() -> None:
    """`score-based` said once, late, in a test-time-compute paper is a weak signal for a
    reader of diffusion models; papers on their topic come first."""
    papers = [
        paper(
            "compute",
            "Test-time compute for reasoning",
            "Language models think longer at inference. We allocate compute per question. "
            "Verifiers pick answers. We compare with a score-based selection rule.",
        ),
        paper(
            "diffusion",
            "Denoising diffusion for images",
            "Denoising diffusion models generate images by reversing a noising process.",
        ),
        paper("sampler", "Fast sampling of diffusion models", "Few-step image sampling."),
        *others(),
    ]
    profile = Profile(
        "a@x.org",
        keywords=("score-based",),
        description="denoising diffusion models for images and their fast sampling",
    )
    order = [p.paper.id for p in one(papers, profile).papers]
    assert order.index("compute") > max(order.index("diffusion"), order.index("sampler"))


def test_a_paraphrase_finds_the_papers_that_stand_out_for_it() -> None:
    """No word of the description is common on the day, yet the paper that shares the most
    of it stands out and is picked; the day's other papers are not."""
    papers = [
        paper("clinic", "Reading chest scans", "Radiology reports are drafted from scans."),
        *others(),
    ]
    profile = Profile("a@x.org", description="computers that help doctors read patient scans")
    picked = one(papers, profile)
    assert [p.paper.id for p in picked.papers] == ["clinic"]


SPECULATIVE = paper(
    "2401.00001",
    "Speculative decoding with draft models",
    "A small draft model proposes tokens that a large target model verifies in parallel, "
    "which makes decoding faster without changing the output distribution.",
)
LOSSLESS = paper(
    "near",
    "Lossless acceleration of autoregressive generation",
    "Tokens guessed cheaply are checked by the big network in one pass; accepted guesses "
    "save time. We analyse the acceptance rate of the draft.",
)


def test_a_liked_paper_is_a_real_positive() -> None:
    """Papers close to a liked paper are picked for it, by how much they stand out on the
    day: this one's TF-IDF cosine is below what used to count (0.15), and it is picked."""
    liked, near = SPECULATIVE, LOSSLESS
    papers = [near, *others()]
    tfidf = Tfidf([document(p) for p in papers])
    before = Postings(tfidf.corpus, len(tfidf.vocabulary)).cosines(
        tfidf.transform([document(liked)])
    )
    assert before[0, 0] < 0.15
    picked = one(papers, Profile("a@x.org", liked=(liked.id,)), liked={liked.id: liked})
    assert [p.paper.id for p in picked.papers] == ["near"]
    assert picked.papers[0].reasons == ("similar to your liked paper 2401.00001",)


def test_a_paper_rated_up_is_a_real_positive_too() -> None:
    """ "More like this" counts as a liked paper does: the same low-cosine neighbour stands
    out among the day's papers and is picked for the rating; the others are not."""
    profile = Profile("a@x.org", keywords=("quantum error correction",))
    papers = [LOSSLESS, *others()]
    assert one(papers, profile).papers == ()
    picked = one(papers, profile, ratings={"a@x.org": [(SPECULATIVE, 1)]})
    assert [p.paper.id for p in picked.papers] == ["near"]
    assert picked.papers[0].reasons == (
        "you liked a similar paper: Speculative decoding with draft models",
    )
