"""Selection's fast ways give the same floats, picks and reasons as the plain ways: TF-IDF rows
taken from the corpus, cosines summed term by term, scores computed where they are not -1, the
day's index kept between calls, and the papers read once for `prepare` and `select_day`."""

from __future__ import annotations

import random
import sys
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from newsletter import day_index, select, tfidf
from newsletter.bm25 import Bm25
from newsletter.config import Interests
from newsletter.day_index import DayIndex, document
from newsletter.models import Paper, Profile
from newsletter.similarity import LIKED_LEVEL
from newsletter.sources.arxiv import parse_rss

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))
import pipeline_data  # noqa: E402

DAY = pipeline_data.DAY


@pytest.fixture(scope="module")
def day() -> tuple[list[Paper], list[Profile]]:
    """A benchmark day: 300 papers, 400 readers of every kind (keywords, authors, categories,
    descriptions, exclusions, readers matching nothing)."""
    papers = parse_rss(pipeline_data.listing(300), source="arxiv").papers
    rng = random.Random(7)
    profiles = [
        Interests.model_validate(entry["interests"]).profile(entry["email"], max_papers=20)
        for entry in (pipeline_data.subscriber(rng, n) for n in range(400))
    ]
    return papers, profiles


def ratings_of(papers: list[Paper], profiles: list[Profile]) -> dict[str, list[tuple[Paper, int]]]:
    """Some readers rated papers up and down: enough for their own model."""
    rng = random.Random(3)
    return {
        p.email: [(paper, rng.choice((1, -1))) for paper in rng.sample(papers, 6)]
        for p in profiles[::7]
    }


# --- word spaces ----------------------------------------------------------------------------


def test_rows_of_corpus_texts_are_the_rows_transform_computes(
    day: tuple[list[Paper], list[Profile]],
) -> None:
    papers, _ = day
    weights = tfidf.Tfidf([document(p) for p in papers])
    texts = [document(p) for p in papers[::-3]]
    placed, computed = weights.place(texts), weights.transform(texts)
    for name in ("starts", "columns", "weights"):
        assert np.array_equal(getattr(placed, name), getattr(computed, name))
    other = [*texts, "a text of no paper of the day"]
    assert np.array_equal(weights.place(other).weights, weights.transform(other).weights)


def test_bm25_rows_of_corpus_texts_are_the_rows_it_computes(
    day: tuple[list[Paper], list[Profile]],
) -> None:
    papers, _ = day
    weights = Bm25([document(p) for p in papers])
    texts = [document(p) for p in papers[::-3]]
    placed = weights.place(texts)  # taken from the corpus's rows
    computed = weights.place([*texts, "a text of no paper of the day"])  # computed anew
    assert np.array_equal(placed.starts, computed.starts[:-1])
    size = placed.starts[-1]
    for name in ("columns", "weights"):
        assert np.array_equal(getattr(placed, name), getattr(computed, name)[:size])


@pytest.mark.parametrize("space", [tfidf.Tfidf, Bm25])
@pytest.mark.parametrize("rows", [1, 63, 64, 200])
def test_cosines_by_term_are_the_expanded_product_to_the_bit(
    day: tuple[list[Paper], list[Profile]],
    rows: int,
    space: type[tfidf.Tfidf | Bm25],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    papers, profiles = day
    weights = space([document(p) for p in papers])
    postings = tfidf.Postings(weights.corpus, len(weights.vocabulary))
    queries = weights.query(select._query(p) for p in profiles[:rows])
    fast = postings.cosines(queries)
    monkeypatch.setattr(tfidf, "BY_TERM_FROM", 10**9)
    assert np.array_equal(fast, postings.cosines(queries))
    assert np.array_equal(postings._cosines_by_term(queries, 0, rows), postings.cosines(queries))


# --- the day's index, kept -------------------------------------------------------------------


def test_the_kept_index_gives_the_picks_a_new_one_gives(
    day: tuple[list[Paper], list[Profile]], monkeypatch: pytest.MonkeyPatch
) -> None:
    papers, profiles = day
    ratings = ratings_of(papers, profiles)
    kept = select.select(papers, profiles, DAY, ratings=ratings)
    again = select.select([p.model_copy() for p in papers], profiles, DAY, ratings=ratings)
    built: list[DayIndex] = []
    monkeypatch.setattr(day_index, "_last", [])  # nothing kept: built anew
    original = DayIndex.build

    def build(cls: type[DayIndex], *args: Any) -> DayIndex:
        built.append(original(*args))
        return built[-1]

    monkeypatch.setattr(DayIndex, "build", classmethod(build))
    fresh = select.select(papers, profiles, DAY, ratings=ratings)
    assert len(built) == 1
    assert kept == again == fresh


def test_an_equal_day_finds_the_index_kept_and_a_changed_one_does_not(
    day: tuple[list[Paper], list[Profile]],
) -> None:
    papers, _ = day
    first = day_index.day_index(papers, papers)
    assert day_index.day_index([p.model_copy() for p in papers], list(papers)) is first
    changed = [papers[0].model_copy(update={"title": "Another title"}), *papers[1:]]
    assert day_index.day_index(changed, changed) is not first


def test_selections_carry_the_papers_of_their_own_call(
    day: tuple[list[Paper], list[Profile]],
) -> None:
    papers, profiles = day
    select.select(papers, profiles[:5], DAY)
    copies = [p.model_copy() for p in papers]
    for selection in select.select(copies, profiles[:50], DAY):
        assert all(any(p.paper is c for c in copies) for p in selection.papers)


# --- scores -------------------------------------------------------------------------------


def scores_the_plain_way(
    chunk: Any, description: Any, today: Any, taste: Any = None
) -> np.ndarray[Any, Any]:
    """`_scores` the plain way: every factor over every cell, in the same order, keyword
    concepts by set unions, categories by a matrix product."""
    rows, size = len(chunk), len(today.papers)
    title, central, passing, author = hits_the_plain_way(chunk, today)
    has_query = np.array([select._has_query(p) for p in chunk])[:, None]
    level = np.zeros((rows, size)) if description is None else description.level
    grown = 1.0 - np.exp(-np.maximum(level - select.TOPICAL_FROM, 0.0) / select.TOPICAL_SCALE)
    topical = np.where(has_query, grown, select.NO_QUERY_TOPICAL)
    keep = np.where(has_query, 1 - select.SIMILARITY * topical, 1.0)
    passing_weight = (select.PASSING, 0.0)
    for counts, (weight, base) in (
        (title, select.IN_TITLE),
        (central, select.CENTRAL),
        (passing, passing_weight),
    ):
        factor = (1 - weight * (base + (1 - base) * topical)) ** counts
        keep = np.where(counts > 0, keep * factor, keep)
    keep = np.where(author > 0, keep * (1 - select.AUTHOR) ** author, keep)
    liked, liked_hit = liked_the_plain_way(chunk, today, taste)
    keep *= 1 - liked
    primary, listed = categories_the_plain_way(chunk, today)
    keep *= np.where(primary, 1 - select.PRIMARY, np.where(listed, 1 - select.LISTED, 1.0))
    similar = has_query & (level >= select.MATCH_LEVEL)
    if taste is not None:
        keep[taste.rows] = 1 - (1 - keep[taste.rows] * (1 - taste.boost)) * taste.doubt
        similar[taste.rows] |= taste.boost > 0
    explicit = author > 0
    score = np.where(
        explicit,
        select.EXPLICIT_FLOOR + (1 - select.EXPLICIT_FLOOR) * (1 - keep),
        (1 - keep) * select.BELOW_FLOOR,
    )
    if taste is not None:
        score[taste.rows] *= taste.damping
    categories_only = np.array([select._categories_only(p) for p in chunk])[:, None]
    mentioned = (title > 0) | (central > 0) | ((passing > 0) & (level >= select.TOPICAL_FROM))
    supported = explicit | mentioned | liked_hit | (listed & categories_only) | similar
    shown = np.round(score * (1 - day_index.UPVOTE_WEIGHT) + today.shared.upvote_bonus, 4)
    return np.where(supported, shown, -1.0)


def liked_the_plain_way(chunk: Any, today: Any, taste: Any) -> tuple[Any, Any]:
    """Closeness to liked papers and to papers rated up (levels), as strengths."""
    similarity, size = today.similarity, len(today.papers)
    best = np.full((len(chunk), size), -np.inf)
    for row, profile in enumerate(chunk):
        for paper_id in profile.liked:
            if paper_id in similarity.liked_row:
                best[row] = np.maximum(best[row], similarity.liked[similarity.liked_row[paper_id]])
    if taste is not None:
        best[taste.rows] = np.maximum(best[taste.rows], taste.up)
    hit = best >= LIKED_LEVEL
    grown = 1.0 - np.exp(-np.maximum(best - LIKED_LEVEL, 0.0) / select.LIKED_SCALE)
    strength = np.where(hit, select.LIKED * grown, 0.0)
    return strength, hit


def hits_the_plain_way(chunk: Any, today: Any) -> Iterator[Any]:
    """Readers x papers: keywords in the title, centrally only, in passing only, and authors,
    from the papers' sets of places."""
    index, size = today.shared.index, len(today.papers)
    found: dict[str, list[Any]] = {"title": [], "central": [], "passing": [], "author": []}
    for row, profile in enumerate(chunk):
        for keyword in profile.keywords:
            places = index.keyword(keyword)
            body = places.body - places.title
            central = body & places.central
            places_of = {"title": places.title, "central": central, "passing": body - central}
            for name, papers in places_of.items():
                found[name].append(np.array(sorted(papers), dtype=np.int64) + row * size)
        found["author"] += [index.author_positions(a) + row * size for a in profile.authors]
    for parts in found.values():
        flat = np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)
        yield np.bincount(flat, minlength=len(chunk) * size).reshape(len(chunk), size)


def categories_the_plain_way(chunk: Any, today: Any) -> tuple[Any, Any]:
    columns, size = today.shared.category_column, len(today.papers)
    primary, listed = np.zeros((len(columns), size)), np.zeros((len(columns), size))
    for k, of_papers in enumerate(today.shared.categories):
        for i, column in enumerate(of_papers):
            if column >= 0:
                listed[column, i] = 1.0
                primary[column, i] += k == 0
    wanted = np.zeros((len(chunk), len(columns)))
    for row, profile in enumerate(chunk):
        for category in profile.categories:
            if category in columns:
                wanted[row, columns[category]] = 1.0
    return (wanted @ primary) > 0, (wanted @ listed) > 0


@pytest.mark.parametrize("rated", [False, True])
def test_scores_are_the_plain_ways_to_the_bit(
    day: tuple[list[Paper], list[Profile]], rated: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    papers, profiles = day
    compared = []
    fast = select._scores

    def both(*args: Any) -> Any:
        found = fast(*args)
        compared.append(np.array_equal(found, scores_the_plain_way(*args)))
        return found

    monkeypatch.setattr(select, "_scores", both)
    monkeypatch.setattr(select, "CHUNK", 128)
    ratings = ratings_of(papers, profiles) if rated else None
    selections = select.select(papers, profiles, DAY, ratings=ratings)
    assert compared == [True] * 4
    assert sum(bool(s.papers) for s in selections) > 300  # the readers do get issues


@settings(max_examples=30, deadline=None)
@given(
    titles=st.lists(
        st.sampled_from(["MoE routing", "Diffusion models", "RL agents", "x"]), min_size=1
    ),
    keywords=st.lists(st.sampled_from(["MoE", "diffusion", "agents", "routing", "zzz"])),
    categories=st.lists(st.sampled_from(["cs.LG", "cs.CV", "cs.AI"]), max_size=2),
)
def test_scores_of_small_days_are_the_plain_ways(
    titles: list[str], keywords: list[str], categories: list[str]
) -> None:
    papers = [
        Paper(id=f"{n}", title=t, abstract=f"{t} with agents", categories=tuple(categories[:1]))
        for n, t in enumerate(titles)
    ]
    profiles = [
        Profile("a@x.org", keywords=tuple(keywords)),
        Profile("b@x.org", categories=tuple(categories)),
        Profile("c@x.org", keywords=tuple(keywords[:1]), description="diffusion agents"),
    ]
    shared = day_index.day_index(papers, papers)
    today = select._Day(papers, shared, select._similarities(shared, profiles, {}, {}))
    description = today.similarity.to_profiles(0, len(profiles))
    assert np.array_equal(
        select._scores(profiles, description, today),
        scores_the_plain_way(profiles, description, today),
    )


# --- the papers read once ------------------------------------------------------------------


def test_select_day_reads_the_papers_again_only_for_other_last_issues(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from newsletter import plan
    from newsletter.config import load_config
    from newsletter.session import Session
    from newsletter.store import LastIssue

    data = pipeline_data.write(tmp_path, subscribers=20, papers=30, port=1)
    config = load_config(data.config)
    reads: list[int] = []
    original = plan._Pool.of.__func__  # type: ignore[attr-defined]

    def of(cls: type[plan._Pool], *args: Any) -> plan._Pool:
        reads.append(1)
        return original(cls, *args)  # type: ignore[no-any-return]

    monkeypatch.setattr(plan._Pool, "of", classmethod(of))
    with Session.open(config) as session:
        prepared = plan.prepare(session, DAY, config.readers)
        assert len(reads) == 1 and prepared.pool is not None
        first = plan.select_day(session, DAY, config.readers, prepared)
        assert len(reads) == 1  # the papers `prepare` read
        other = plan.Prepared(
            last={r.key: LastIssue(date(2026, 7, 24), None) for r in config.readers},
            pool=prepared.pool,
        )
        plan.select_day(session, DAY, config.readers, other)
        assert len(reads) == 2  # other last issues: other papers
        assert plan.select_day(session, DAY, config.readers) == first
