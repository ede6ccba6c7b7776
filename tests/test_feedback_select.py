"""Ratings teach the ranking: "more like this" lifts similar papers, "less like this" demotes
them, and from a handful of ratings a reader's own linear model joins the score."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest

from newsletter import feedback
from newsletter import select as select_module
from newsletter.config import Config, load_config
from newsletter.day_index import document as _document
from newsletter.feedback import Examples, short_title
from newsletter.matching import Postings, Tfidf, Vectors
from newsletter.models import Paper, Profile, Selection
from newsletter.plan import select_day
from newsletter.select import EXPLICIT_FLOOR, select
from newsletter.session import Session
from newsletter.similarity import Spread
from newsletter.store import Store

DAY = date(2026, 7, 27)
ADA = "ada@x.org"


def paper(pid: str, title: str, abstract: str = "") -> Paper:
    return Paper(id=pid, title=title, abstract=abstract)


MOLECULES = paper(
    "r1",
    "Equivariant graph networks for molecular property prediction",
    "Message passing on molecular graphs predicts quantum chemical properties of molecules.",
)
VIDEO = paper(
    "r2",
    "Diffusion models for video generation",
    "Denoising diffusion synthesises long videos with temporal attention and video codecs.",
)
SPEECH = paper(
    "r3",
    "Speech tokenizers for spoken language models",
    "Discrete speech tokens from audio codecs feed spoken language models for recognition.",
)
ROBOTS = paper(
    "r4",
    "Reinforcement learning for robot grasping",
    "A robot learns grasping policies with reinforcement learning in simulation and reality.",
)
DAY_PAPERS = [
    paper(
        "1",
        "Graph networks predict molecular properties",
        "Equivariant message passing on molecular graphs for property prediction of molecules.",
    ),
    paper(
        "2",
        "Latent diffusion for video generation",
        "Video diffusion with temporal attention generates long videos from text prompts.",
    ),
    paper("3", "Diffusion models for protein design", "Denoising diffusion generates proteins."),
    paper("4", "Tokenizers for speech", "Discrete speech tokens from audio for spoken language."),
    paper("5", "Robot grasping with reinforcement learning", "Policies for robot grasping."),
    paper("6", "A survey of sorting algorithms", "Comparators sort numbers in parallel."),
]


def one(profile: Profile, papers: list[Paper] = DAY_PAPERS, **kwargs: object) -> Selection:
    (selection,) = select(papers, [profile], DAY, corpus=papers, **kwargs)  # type: ignore[arg-type]
    return selection


def scores(selection: Selection) -> dict[str, float]:
    return {p.paper.id: p.score for p in selection.papers}


def reasons(selection: Selection) -> dict[str, tuple[str, ...]]:
    return {p.paper.id: p.reasons for p in selection.papers}


# ---------------------------------------------------------------------------- more like this


def test_a_paper_rated_up_lifts_similar_papers_naming_its_title() -> None:
    profile = Profile(ADA, keywords=("diffusion",))
    assert "1" not in scores(one(profile))
    rated = one(profile, ratings={ADA: [(MOLECULES, 1)]})
    assert reasons(rated)["1"] == (f"you liked a similar paper: {MOLECULES.title}",)
    assert "6" not in scores(rated)  # nothing like it: still not picked


def test_a_long_title_is_shortened_in_the_reason() -> None:
    long = MOLECULES.model_copy(update={"title": MOLECULES.title + " " + "and more words" * 9})
    (reason,) = reasons(one(Profile(ADA, keywords=("diffusion",)), ratings={ADA: [(long, 1)]}))["1"]
    title = reason.removeprefix("you liked a similar paper: ")
    assert title.endswith("…") and len(title) <= feedback.TITLE_MAX
    assert long.title.startswith(title.removesuffix("…"))


def test_short_titles_are_cut_at_a_word() -> None:
    assert short_title("Short title") == "Short title"
    assert short_title("alpha beta gamma delta", limit=15) == "alpha beta…"
    assert short_title("x" * 80, limit=10) == "x" * 9 + "…"


def test_papers_liked_in_the_config_keep_their_wording() -> None:
    profile = Profile(ADA, keywords=("diffusion",), liked=("r1",))
    selection = one(profile, liked={"r1": MOLECULES}, ratings={ADA: [(SPEECH, 1)]})
    assert reasons(selection)["1"] == ("similar to your liked paper r1",)
    assert reasons(selection)["4"] == (f"you liked a similar paper: {SPEECH.title}",)


# ---------------------------------------------------------------------------- less like this


def test_a_paper_rated_down_demotes_similar_papers() -> None:
    profile = Profile(ADA, keywords=("diffusion",))
    before, after = scores(one(profile)), scores(one(profile, ratings={ADA: [(VIDEO, -1)]}))
    assert list(before) == ["3", "2"]
    assert after["2"] < before["2"] * 0.75  # the video paper, close to the rated one
    assert after["3"] / before["3"] > after["2"] / before["2"]  # the protein paper, less so
    assert reasons(one(profile, ratings={ADA: [(VIDEO, -1)]}))["2"][-1] == (
        f'less like "{VIDEO.title}"'
    )


def test_the_demotion_grows_with_the_similarity() -> None:
    import numpy as np

    closeness = [-1.0, 0.0, feedback.DISLIKED_LEVEL, 3.0, 4.5, feedback.DISLIKED_FULL, 12.0]
    size = len(closeness)
    nothing = Vectors(
        np.zeros(1, dtype=np.int64), np.zeros(0, dtype=np.int64), np.zeros(0, np.float32)
    )
    taste = feedback.Taste(
        up=np.full(size, -1.0),
        up_from=np.zeros(size, dtype=np.int64),
        down=np.array(closeness),
        down_from=np.zeros(size, dtype=np.int64),
        model=None,
        examples=Examples(nothing, (), {}, Spread(np.zeros((0, 1)), np.zeros((0, 1)), 0)),
    )
    factors = taste.damping().tolist()
    assert factors[:3] == [1.0, 1.0, 1.0]
    assert 1.0 > factors[3] > factors[4] > factors[5]
    assert factors[5] == factors[6] == 1.0 - feedback.DISLIKE_PENALTY
    assert taste.doubt().tolist() == [1.0] * size  # no model: no doubt


def test_a_paper_rated_down_is_never_picked_again() -> None:
    profile = Profile(ADA, keywords=("diffusion",))
    video = DAY_PAPERS[1]
    assert "2" in scores(one(profile))
    assert "2" not in scores(one(profile, ratings={ADA: [(video, -1)]}))
    assert "2" in scores(one(profile, ratings={ADA: [(video, -1), (video, 1)]}))  # changed mind


# ---------------------------------------------------------------------------- the model


def _model_ratings(count: int) -> list[tuple[Paper, int]]:
    """Up: molecules (twice); down: video, speech, robots; the first `count` of them."""
    twin = paper("r5", "Molecular graph networks", "Graph message passing for molecules.")
    return [(MOLECULES, 1), (VIDEO, -1), (twin, 1), (SPEECH, -1), (ROBOTS, -1)][:count]


def test_the_model_engages_only_from_the_threshold() -> None:
    profile = Profile(ADA, keywords=("diffusion",), description="graph networks for molecules")
    model_reason = "like papers you rated up"
    few = one(profile, ratings={ADA: _model_ratings(feedback.MODEL_MIN_RATINGS - 1)})
    enough = one(profile, ratings={ADA: _model_ratings(feedback.MODEL_MIN_RATINGS)})
    assert not any(model_reason in r for r in reasons(few).values())
    assert model_reason in reasons(enough)["1"]
    assert scores(enough)["1"] > scores(few)["1"]
    ups_only = [(MOLECULES, 1), (paper("r6", "Graph molecules", "Molecules."), 1)] * 3
    assert not any(
        model_reason in r for r in reasons(one(profile, ratings={ADA: ups_only})).values()
    )


def test_the_model_moves_scores_the_right_way() -> None:
    tfidf = Tfidf([_document(p) for p in DAY_PAPERS])
    rated = _model_ratings(5)
    postings = Postings(tfidf.corpus, len(tfidf.vocabulary))
    examples = Examples.build({ADA: rated}, tfidf, _document, postings)
    assert examples is not None and examples.cosines is not None
    chunk = feedback.ChunkTaste.of(["other@x.org", ADA], examples, postings)
    assert chunk is not None and chunk.readers[0] is None and chunk.rows.tolist() == [1]
    taste = chunk.readers[1]
    assert taste is not None and taste.model is not None
    model = dict(zip([p.id for p in DAY_PAPERS], taste.model.tolist(), strict=True))
    assert model["1"] > feedback.MODEL_MIN  # molecules: rated up
    assert model["2"] < 0 and model["4"] < 0 and model["5"] < 0  # like the papers rated down
    assert abs(model["6"]) < feedback.MODEL_MIN  # like nothing rated: no opinion
    assert taste.doubt()[1] < 1.0 and taste.doubt()[0] == 1.0


def test_explicit_matches_outrank_the_model_at_its_strongest(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name, value in [("MODEL_MIN", 1e-6), ("MODEL_FULL", 1e-6), ("MODEL_WEIGHT", 0.99)]:
        monkeypatch.setattr(feedback, name, value)  # any opinion counts, fully
    monkeypatch.setattr(feedback, "MODEL_PENALTY", 0.99)
    monkeypatch.setattr(feedback, "DISLIKE_PENALTY", 0.0)  # the model alone
    for module in (feedback, select_module):  # and no nearest paper rated up
        monkeypatch.setattr(module, "LIKED_LEVEL", 1e9)
    chemistry = [
        paper(
            "7", "Solvent effects in chemistry", "A solvent changes small molecules' properties."
        ),
        paper("8", "Chemical reaction yields", "Yields of organic reactions from molecular data."),
    ]
    followed = [  # the sorting and robot papers, by the author the reader follows
        p.model_copy(update={"authors": ("Ada Lovelace",)}) if p.id in ("5", "6") else p
        for p in DAY_PAPERS
    ]
    profile = Profile(ADA, authors=("Ada Lovelace",))
    selection = one(profile, followed + chemistry, ratings={ADA: _model_ratings(5)})
    found = reasons(selection)
    assert found["7"] == found["8"] == ("like papers you rated up",)  # the model alone
    assert found["5"][0] == "author Ada Lovelace"  # a paper the model says no to
    explicit = min(scores(selection)["5"], scores(selection)["6"])
    assert explicit >= round(EXPLICIT_FLOOR * (1 - 0.004), 4)
    assert max(scores(selection)["7"], scores(selection)["8"]) < explicit
    assert [p.paper.id for p in selection.papers][-2:] == ["7", "8"]
    assert scores(one(profile, followed + chemistry))["5"] > explicit  # the model's no


def test_only_the_newest_ratings_count(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(feedback, "MAX_RATINGS", 2)
    rated = [(MOLECULES, 1), (VIDEO, -1), (SPEECH, 1), (MOLECULES, -1)]  # Molecules again
    tfidf = Tfidf([_document(p) for p in DAY_PAPERS])
    day = Postings(tfidf.corpus, len(tfidf.vocabulary))
    examples = Examples.build({ADA: rated}, tfidf, _document, day)
    assert examples is not None
    rows, votes = examples.by_reader[ADA]
    assert [examples.titles[row] for row in rows] == [SPEECH.title, MOLECULES.title]
    assert votes.tolist() == [1.0, -1.0]


@pytest.mark.parametrize("cells", [0, 4 * len(DAY_PAPERS)])
def test_readers_compared_in_groups_get_the_same_picks(
    monkeypatch: pytest.MonkeyPatch, cells: int
) -> None:
    """When the cosines of every rated paper do not fit at once, readers go in groups (here of
    one reader, or of up to 4 rated papers), and their spreads over the listing are taken a
    rated paper at a time: the picks are the same."""
    profiles = [
        Profile(f"{n}@x.org", keywords=("diffusion",), description="graph networks")
        for n in range(5)
    ]
    ratings = {f"{n}@x.org": _model_ratings(n + 1) for n in range(0, 5, 2)}  # 0, 2 and 4
    at_once = select(DAY_PAPERS, profiles, DAY, ratings=ratings)
    monkeypatch.setattr(feedback, "CELLS_AT_ONCE", cells)
    monkeypatch.setattr(feedback, "SPREAD_CELLS", 1)
    groups: list[list[str]] = []
    group_tastes = feedback._group_tastes

    def recorded(*args: Any) -> None:
        groups.append(args[1])
        group_tastes(*args)

    monkeypatch.setattr(feedback, "_group_tastes", recorded)
    assert select(DAY_PAPERS, profiles, DAY, ratings=ratings) == at_once
    expected = (
        [["0@x.org"], ["2@x.org"], ["4@x.org"]]
        if cells == 0
        else [["0@x.org", "2@x.org"], ["4@x.org"]]
    )
    assert groups == expected
    assert at_once[0] != at_once[1]


# ---------------------------------------------------------------------------- no ratings


def test_readers_without_ratings_get_the_same_selection() -> None:
    ada = Profile(ADA, keywords=("diffusion",), description="video generation")
    bea = Profile("bea@x.org", keywords=("graph",), categories=("cs.LG",), liked=("r1",))
    liked = {"r1": MOLECULES}
    plain = select(DAY_PAPERS, [ada, bea], DAY, liked=liked)
    assert select(DAY_PAPERS, [ada, bea], DAY, liked=liked, ratings={}) == plain
    assert repr(select(DAY_PAPERS, [ada, bea], DAY, liked=liked, ratings={})) == repr(plain)
    with_bea_rating = select(
        DAY_PAPERS, [ada, bea], DAY, liked=liked, ratings={"bea@x.org": [(SPEECH, 1)]}
    )
    assert repr(with_bea_rating[0]) == repr(plain[0])  # Ada's, while Bea rated something
    assert with_bea_rating[1] != plain[1]


def test_ratings_with_no_vote_or_unknown_words_change_nothing() -> None:
    profile = Profile(ADA, keywords=("diffusion",))
    stranger = paper("r9", "Zyxwv qwerty", "Plugh xyzzy.")  # no word of the day's papers
    assert one(profile, ratings={ADA: [(MOLECULES, 0)]}) == one(profile)
    assert scores(one(profile, ratings={ADA: [(stranger, 1)]})) == scores(one(profile))


# ---------------------------------------------------------------------------- through the state


def _config(tmp_path: Path) -> Config:
    path = tmp_path / "subscribers.yaml"
    path.write_text(
        "newsletter:\n  sources:\n    - type: arxiv\n      categories: [cs.LG]\n      url: x.xml\n"
        "subscribers:\n  - email: Ada@Example.org\n    interests: {keywords: [diffusion model]}\n"
    )
    return load_config(path)


def test_ratings_kept_in_the_state_change_the_next_days_picks(tmp_path: Path) -> None:
    config = _config(tmp_path)
    day2 = date(2026, 7, 28)
    video = paper("1", "Diffusion model for video", "Video diffusion with temporal attention.")
    protein = paper("2", "Diffusion model for proteins", "Protein backbones by diffusion.")
    later = [
        paper("3", "A diffusion model for long video", "Temporal attention for video diffusion."),
        paper("4", "Diffusion model design of proteins", "Diffusion generates protein backbones."),
    ]
    with Store(tmp_path / "s.db") as store:
        store.save_day(DAY, "arxiv", [video, protein])
        store.save_day(day2, "arxiv", later)

        def picks() -> list[tuple[str, tuple[str, ...]]]:
            plan = select_day(Session(config, store), day2, config.readers)
            return [(p.paper.id, p.reasons) for p in plan.selections[0].papers]

        before = picks()
        assert [paper_id for paper_id, _ in before] == ["3", "4"]
        store.mark_delivered("ada@example.org", DAY, ["1", "2"])
        store.rate("ada@example.org", "1", -1, DAY)
        store.rate("ada@example.org", "2", 1, DAY)
        store.rate("ada@example.org", "2607.99999", 1)  # not stored (any more): left out
        after = picks()
        store.rate("ada@example.org", "4", -1, day2)  # from the issue of day 2 itself
        again = picks()
    assert [paper_id for paper_id, _ in after] == ["4", "3"]
    assert again == after  # choosing day 2 again gives the same issue
    assert f"you liked a similar paper: {protein.title}" in dict(after)["4"]
    assert f'less like "{video.title}"' in dict(after)["3"]
