"""Pick each reader's papers of the day, best first, with the reasons for every pick.

Pure: papers, profiles, liked papers, ratings and what was already delivered come in;
selections go out. No clock, no I/O, so the same input always gives the same issue.

Scoring, per reader and paper:
- explicit signals: a keyword in the title, a followed author. A paper with one of these scores
  at least EXPLICIT_FLOOR; a paper matched by nothing but similarity to the reader's text and
  the reader's model stays below it, so explicit matches always rank above pure similarity;
- supporting signals: a keyword in the abstract, the reader's arXiv categories (primary or
  cross-list), TF-IDF similarity to the reader's description and keywords, similarity to the
  papers the reader liked (in the config) or rated "more like this", and - from a handful of
  ratings - the reader's own linear model learnt from them (`feedback.py`);
- signals combine as a noisy-OR of their strengths (each adds, none alone saturates); the
  model's no scales the result down, within its tier;
- closeness to a paper the reader rated "less like this" scales the final score down, below
  the explicit floor if need be: the reader said so;
- Hugging Face upvotes only break ties: they add less than any relevance signal can.
A paper needs at least one real match to be picked: an explicit signal, a keyword in the
abstract, enough similarity, the model's support, or - for a reader who gave nothing but
categories - its category. `exclude` phrases drop a paper; papers already delivered to the
reader, or rated "less like this", are never picked again. Readers without ratings cost nothing
more and get the same picks as if ratings did not exist.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

from newsletter import feedback
from newsletter.day_index import UPVOTE_WEIGHT, DayIndex, day_index
from newsletter.day_index import document as _document
from newsletter.feedback import LIKED_FULL, LIKED_MIN, ChunkTaste, Ratings, liked_best
from newsletter.models import Paper, Profile, Selection
from newsletter.reasons import DESCRIPTION_MIN, Explainer
from newsletter.tfidf import Postings, Vectors
from newsletter.words import is_acronym

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

DESCRIPTION_FULL = 0.35  # similarity that counts as a strong match
EXPLICIT_FLOOR = 0.45


CHUNK = 512  # readers scored together: a readers x papers block of floats at a time


@dataclass(frozen=True)
class _Similarity:
    """TF-IDF vectors of the day's papers, the readers' text, the liked and rated papers."""

    papers: Postings | None  # None when no word survives the stop list
    queries: Vectors | None  # one row per reader (description + keywords)
    to_liked: NDArray[np.float32] | None  # liked papers x papers, cosine
    liked_row: Mapping[str, int]
    rated: feedback.Examples | None = None  # None: nobody rated a paper

    def liked_of(self, profile: Profile) -> list[tuple[str, NDArray[np.float32]]]:
        """The reader's liked papers, each with its cosines to the day's papers."""
        if self.to_liked is None:
            return []
        rows = self.liked_row
        return [(i, self.to_liked[rows[i]]) for i in profile.liked if i in rows]

    def to_profiles(self, start: int, stop: int) -> NDArray[np.float64] | None:
        """Cosine similarity of readers start..stop to every paper."""
        if self.papers is None or self.queries is None:
            return None
        import numpy as np

        return self.papers.cosines(self.queries, start, stop).astype(np.float64)


@dataclass(frozen=True)
class _Day:
    """What every reader's scoring shares: the day's papers, their index, the similarities."""

    papers: Sequence[Paper]
    shared: DayIndex  # built once for these papers (`day_index`)
    similarity: _Similarity


def select(
    papers: Sequence[Paper],
    profiles: Sequence[Profile],
    day: date,
    *,
    liked: Mapping[str, Paper] | None = None,
    delivered: Mapping[str, set[str]] | None = None,
    corpus: Sequence[Paper] | None = None,
    ratings: Ratings | None = None,
) -> list[Selection]:
    """One Selection per profile, in profile order.

    Word weights (TF-IDF) are learnt from `corpus` (default: `papers`) alone, so that a
    reader's picks do not depend on who else is selected in the same call: pass the same corpus
    for a preview of one reader, a send to all of them, or a share of them in a worker.
    `delivered` and `ratings` (each reader's rated papers with +1 or -1, oldest first) are keyed
    by `Profile.email`.
    """
    liked, delivered, ratings = liked or {}, delivered or {}, ratings or {}
    if not papers:
        return [Selection(profile, day, ()) for profile in profiles]
    shared = day_index(papers, corpus or papers)
    similarity = _similarities(shared, profiles, liked, ratings)
    today = _Day(papers, shared, similarity)
    selections = []
    for start in range(0, len(profiles), CHUNK):
        chunk = profiles[start : start + CHUNK]
        description = similarity.to_profiles(start, start + len(chunk))
        taste = ChunkTaste.of([p.email for p in chunk], similarity.rated, similarity.papers)
        scores = _scores(chunk, description, today, taste)
        for offset, profile in enumerate(chunk):
            explainer = Explainer(
                profile,
                today.papers,
                today.shared.index,
                None if description is None or not _has_query(profile) else description[offset],
                today.similarity.liked_of(profile),
                None if taste is None else taste.readers[offset],
            )
            seen = delivered.get(profile.email, set())
            if profile.email in ratings:
                seen = seen | feedback.disliked_ids(ratings[profile.email])
            picked = _pick(profile, scores[offset], today, seen)
            selections.append(
                Selection(profile, day, tuple(explainer.explain(picked, scores[offset])))
            )
    return selections


def _pick(profile: Profile, scores: NDArray[np.float64], today: _Day, seen: set[str]) -> list[int]:
    """Indices of the reader's papers, best first: score, then upvotes, then id."""
    import numpy as np

    dropped: set[int] = set()
    for phrase in profile.exclude:
        title, body = today.shared.index.keyword(phrase)
        dropped |= title | body
    if seen:
        dropped.update(today.shared.position[i] for i in seen if i in today.shared.position)
    eligible = np.flatnonzero(scores >= max(profile.min_score, 0.0))
    if dropped:
        eligible = np.setdiff1d(eligible, np.fromiter(dropped, dtype=np.int64))
    order = eligible[
        np.lexsort(
            (today.shared.id_rank[eligible], -today.shared.upvotes[eligible], -scores[eligible])
        )
    ]
    return [int(i) for i in order[: profile.max_papers]]


def _scores(
    chunk: Sequence[Profile],
    description: NDArray[np.float64] | None,
    today: _Day,
    taste: ChunkTaste | None = None,
) -> NDArray[np.float64]:
    """Every paper's score for each reader of the chunk; -1 for a paper with no real match.

    Signals combine as a noisy-OR: score = 1 - prod(1 - strength). The first keyword found in
    the title or abstract counts more when the paper is also close to the reader's text overall.
    Ratings (`taste`) add to the liked papers' signal and a model's support, then scale down.
    """
    import numpy as np

    rows, size = len(chunk), len(today.papers)
    in_title, in_body, by_author = _hit_counts(chunk, today)
    has_query = np.array([_has_query(p) for p in chunk])
    near = None if description is None else np.minimum(1.0, description / DESCRIPTION_FULL)
    similarity = today.similarity
    liked = liked_best([p.liked for p in chunk], similarity.to_liked, similarity.liked_row, size)
    if taste is not None:
        liked[taste.rows] = np.maximum(liked[taste.rows], taste.up)

    def topical(at: NDArray[np.intp]) -> NDArray[np.float64] | float:
        """How close the papers at these cells are to the reader's text (0.5: no text)."""
        return 0.5 if near is None else np.where(has_query[at // size], near.flat[at], 0.5)

    # prod(1 - strength), one factor per signal; repeated hits multiply by a power. Each factor
    # is applied only where it is not 1 (x * 1.0 is x): cells without a signal stay 1
    keep = np.ones((rows, size))
    flat = keep.reshape(-1)
    at = np.flatnonzero(in_title > 0)
    flat[at] = 0.65 - 0.4 * topical(at)
    _multiply_powers(flat, 0.85, in_title, 1)
    _multiply_powers(flat, 0.2, by_author, 0)
    at = np.flatnonzero(in_body > 0)
    flat[at] *= 0.85 - 0.3 * topical(at)
    _multiply_powers(flat, 0.92, in_body, 1)
    description_hit = np.zeros((rows, size), dtype=bool)
    if description is not None and near is not None:
        description_hit = (description >= DESCRIPTION_MIN) & has_query[:, None]
        at = np.flatnonzero(description_hit)
        flat[at] *= 1 - 0.7 * near.flat[at]
    liked_hit = liked >= LIKED_MIN
    at = np.flatnonzero(liked_hit)
    flat[at] *= 1 - 0.6 * np.minimum(1.0, liked.flat[at] / LIKED_FULL)
    primary, listed = _category_hits(chunk, today)
    flat[np.flatnonzero(primary)] *= 0.9
    flat[np.flatnonzero(listed & ~primary)] *= 0.95
    if taste is not None:  # the model's yes is one more signal, its no scales the rest down
        keep[taste.rows] = 1 - (1 - keep[taste.rows] * (1 - taste.boost)) * taste.doubt

    explicit = (in_title > 0) | (by_author > 0)
    categories_only = np.array([_categories_only(p) for p in chunk])[:, None]
    supported = explicit | (in_body > 0) | liked_hit | (listed & categories_only)
    if taste is not None:
        description_hit[taste.rows] |= taste.boost > 0  # the model may pick, like the description
    at = np.flatnonzero(supported | description_hit)  # the others score -1: no real match
    score = 1 - flat[at]
    strong = explicit.flat[at]
    score = np.where(strong, np.maximum(score, EXPLICIT_FLOOR), score)
    score = np.where(~strong & ~supported.flat[at], np.minimum(score, EXPLICIT_FLOOR - 0.01), score)
    if taste is not None:
        damping = np.ones((rows, size))
        damping[taste.rows] = taste.damping
        score *= damping.flat[at]
    scores = np.full(rows * size, -1.0)
    scores[at] = np.round(score * (1 - UPVOTE_WEIGHT) + today.shared.upvote_bonus[at % size], 4)
    return scores.reshape(rows, size)


def _multiply_powers(
    flat: NDArray[np.float64], base: float, counts: NDArray[np.int64], free: int
) -> None:
    """flat *= base ** max(count - free, 0), where that is not 1 (exponents by table look-up:
    counts are small integers)."""
    import numpy as np

    at = np.flatnonzero(counts > free)
    if len(at):
        exponents = counts.flat[at] - free
        table = np.power(base, np.arange(int(exponents.max()) + 1), dtype=float)
        flat[at] *= table[exponents]


def _hit_counts(
    chunk: Sequence[Profile], today: _Day
) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.int64]]:
    """Readers x papers: keywords in the title, keywords only in the abstract, followed authors."""
    import numpy as np

    index = today.shared.index
    size, rows = len(today.papers), len(chunk)
    found: list[tuple[NDArray[np.int64], NDArray[np.int64]]] = []  # title, abstract only
    authors: list[NDArray[np.int64]] = []
    keyword_rows: list[int] = []
    author_rows: list[int] = []
    for row, profile in enumerate(chunk):
        found += map(index.keyword_positions, profile.keywords)
        keyword_rows += [row] * len(profile.keywords)
        authors += map(index.author_positions, profile.authors)
        author_rows += [row] * len(profile.authors)

    def counts(parts: Sequence[NDArray[np.int64]], of_rows: list[int]) -> NDArray[np.int64]:
        """Papers by row, counted: each part's papers in the row it was found for."""
        lengths = np.fromiter(map(len, parts), dtype=np.int64, count=len(parts))
        offsets = np.repeat(np.asarray(of_rows, dtype=np.int64) * size, lengths)
        flat = np.concatenate(parts) + offsets if parts else np.zeros(0, dtype=np.int64)
        return np.bincount(flat, minlength=rows * size).reshape(rows, size)

    titles = [title for title, _ in found]
    bodies = [body for _, body in found]
    return counts(titles, keyword_rows), counts(bodies, keyword_rows), counts(authors, author_rows)


def _category_hits(
    chunk: Sequence[Profile], today: _Day
) -> tuple[NDArray[np.bool_], NDArray[np.bool_]]:
    """Readers x papers: one of the reader's categories is primary; the paper is listed in one."""
    import numpy as np

    columns, categories = today.shared.category_column, today.shared.categories
    wanted = np.zeros((len(chunk), len(columns) + 1), dtype=bool)  # the last: no category
    for row, profile in enumerate(chunk):
        for category in profile.categories:
            if category in columns:
                wanted[row, columns[category]] = True
    primary = wanted[:, categories[0]]  # column -1 is the last: never wanted
    listed = primary.copy()
    for others in categories[1:]:
        listed |= wanted[:, others]
    return primary, listed


def _categories_only(profile: Profile) -> bool:
    return not (profile.keywords or profile.authors or profile.description or profile.liked)


def _has_query(profile: Profile) -> bool:
    return bool(profile.description or profile.keywords)


def _query(profile: Profile) -> str:
    """Description and keywords; acronyms are left to exact matching (`MoE` is not `moe`)."""
    keywords = [k for k in profile.keywords if not is_acronym(k.strip().removesuffix("s"))]
    return " ".join(filter(None, [profile.description, *keywords]))


def _similarities(
    shared: DayIndex,
    profiles: Sequence[Profile],
    liked: Mapping[str, Paper],
    ratings: Ratings,
) -> _Similarity:
    """The profiles' queries, the liked and the rated papers placed in the day's TF-IDF space;
    products with the readers are taken per chunk."""
    tfidf, paper_vectors = shared.tfidf, shared.vectors
    if tfidf is None or paper_vectors is None:  # no word that is not a stop word
        return _Similarity(None, None, None, {})
    liked_ids = sorted({i for p in profiles for i in p.liked if i in liked})
    queries = None
    if any(_has_query(p) for p in profiles):
        queries = tfidf.transform(map(_query, profiles))
    to_liked = None
    if liked_ids:
        to_liked = paper_vectors.cosines(tfidf.transform(_document(liked[i]) for i in liked_ids))
    rated = feedback.Examples.build(ratings, tfidf, _document, paper_vectors)
    liked_row = {i: n for n, i in enumerate(liked_ids)}
    return _Similarity(paper_vectors, queries, to_liked, liked_row, rated)
