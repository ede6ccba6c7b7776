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

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from operator import itemgetter
from typing import TYPE_CHECKING

from newsletter import feedback
from newsletter.feedback import LIKED_FULL, LIKED_MIN, ChunkTaste, Ratings, Taste, liked_best
from newsletter.matching import PaperIndex, Postings, Tfidf, Vectors, is_acronym
from newsletter.models import Paper, Profile, SelectedPaper, Selection

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

DESCRIPTION_MIN = 0.08  # cosine similarity below which a description match is noise
DESCRIPTION_FULL = 0.35  # similarity that counts as a strong match
TRENDING_UPVOTES = 10
UPVOTE_WEIGHT = 0.004
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

    def to_profiles(self, start: int, stop: int) -> NDArray[np.float64] | None:
        """Cosine similarity of readers start..stop to every paper."""
        if self.papers is None or self.queries is None:
            return None
        import numpy as np

        return self.papers.cosines(self.queries, start, stop).astype(np.float64)


@dataclass(frozen=True)
class _Day:
    """What every reader's scoring shares: the paper index, similarities and per-paper arrays."""

    index: PaperIndex
    similarity: _Similarity
    upvotes: NDArray[np.int64]
    upvote_bonus: NDArray[np.float64]
    id_rank: NDArray[np.int64]
    position: Mapping[str, int]  # paper id -> index
    category_column: Mapping[str, int]
    primary: NDArray[np.float64]  # categories x papers: 1 where it is the primary category
    listed: NDArray[np.float64]  # categories x papers: 1 where the paper is listed in it

    @classmethod
    def build(cls, papers: Sequence[Paper], similarity: _Similarity) -> _Day:
        import numpy as np

        upvotes = np.array([p.extras.upvotes or 0 for p in papers], dtype=np.int64)
        bonus = UPVOTE_WEIGHT * np.minimum(1.0, np.log1p(upvotes) / math.log1p(1000))
        id_rank = np.empty(len(papers), dtype=np.int64)
        id_rank[sorted(range(len(papers)), key=lambda i: papers[i].id)] = np.arange(len(papers))
        columns = {c: n for n, c in enumerate(sorted({c for p in papers for c in p.categories}))}
        primary = np.zeros((len(columns), len(papers)))
        listed = np.zeros((len(columns), len(papers)))
        for i, paper in enumerate(papers):
            for n, category in enumerate(paper.categories):
                listed[columns[category], i] = 1.0
                if n == 0:
                    primary[columns[category], i] = 1.0
        position = {paper.id: i for i, paper in enumerate(papers)}
        return cls(
            PaperIndex(papers),
            similarity,
            upvotes,
            bonus,
            id_rank,
            position,
            columns,
            primary,
            listed,
        )


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
    similarity = _similarities(papers, profiles, liked, corpus or papers, ratings)
    today = _Day.build(papers, similarity)
    selections = []
    for start in range(0, len(profiles), CHUNK):
        chunk = profiles[start : start + CHUNK]
        description = similarity.to_profiles(start, start + len(chunk))
        taste = ChunkTaste.of([p.email for p in chunk], similarity.rated, similarity.papers)
        scores = _scores(chunk, description, today, taste)
        for offset, profile in enumerate(chunk):
            explainer = _Explainer(
                profile,
                None if description is None else description[offset],
                today,
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
        title, body = today.index.keyword(phrase)
        dropped |= title | body
    if seen:
        dropped.update(today.position[i] for i in seen if i in today.position)
    eligible = np.flatnonzero(scores >= max(profile.min_score, 0.0))
    if dropped:
        eligible = np.setdiff1d(eligible, np.fromiter(dropped, dtype=np.int64))
    order = eligible[
        np.lexsort((today.id_rank[eligible], -today.upvotes[eligible], -scores[eligible]))
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

    index = today.index
    rows, size = len(chunk), len(index.papers)
    in_title, in_body, by_author = _hit_counts(chunk, today)
    has_query = np.array([_has_query(p) for p in chunk])[:, None]
    if description is None:
        description = np.zeros((rows, size))
        topical = np.full((rows, size), 0.5)
    else:
        topical = np.where(has_query, np.minimum(1.0, description / DESCRIPTION_FULL), 0.5)
    similarity = today.similarity
    liked = liked_best([p.liked for p in chunk], similarity.to_liked, similarity.liked_row, size)
    if taste is not None:
        liked[taste.rows] = np.maximum(liked[taste.rows], taste.up)

    # prod(1 - strength), one factor per signal; repeated hits multiply by a power
    keep = np.where(in_title > 0, 0.65 - 0.4 * topical, 1.0)
    keep *= _powers(0.85, in_title - 1)
    keep *= _powers(0.2, by_author)
    keep *= np.where(in_body > 0, 0.85 - 0.3 * topical, 1.0)
    keep *= _powers(0.92, in_body - 1)
    description_hit = (description >= DESCRIPTION_MIN) & has_query
    keep *= np.where(description_hit, 1 - 0.7 * np.minimum(1.0, description / DESCRIPTION_FULL), 1)
    liked_hit = liked >= LIKED_MIN
    keep *= np.where(liked_hit, 1 - 0.6 * np.minimum(1.0, liked / LIKED_FULL), 1.0)
    primary, listed = _category_hits(chunk, today)
    keep *= np.where(primary, 0.9, np.where(listed, 0.95, 1.0))
    if taste is not None:  # the model's yes is one more signal, its no scales the rest down
        keep[taste.rows] = 1 - (1 - keep[taste.rows] * (1 - taste.boost)) * taste.doubt
    score = 1 - keep

    explicit = (in_title > 0) | (by_author > 0)
    categories_only = np.array([_categories_only(p) for p in chunk])[:, None]
    supported = explicit | (in_body > 0) | liked_hit | (listed & categories_only)
    score = np.where(explicit, np.maximum(score, EXPLICIT_FLOOR), score)
    score = np.where(~explicit & ~supported, np.minimum(score, EXPLICIT_FLOOR - 0.01), score)
    if taste is not None:
        score[taste.rows] *= taste.damping
        description_hit[taste.rows] |= taste.boost > 0  # the model may pick, like the description
    score = np.round(score * (1 - UPVOTE_WEIGHT) + today.upvote_bonus, 4)
    return np.where(supported | description_hit, score, -1.0)


def _powers(base: float, exponents: NDArray[np.int64]) -> NDArray[np.float64]:
    """base ** max(exponent, 0), by table look-up (counts are small integers)."""
    import numpy as np

    exponents = np.maximum(exponents, 0)
    table: NDArray[np.float64] = np.power(base, np.arange(int(exponents.max()) + 1), dtype=float)
    return table[exponents]


def _hit_counts(
    chunk: Sequence[Profile], today: _Day
) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.int64]]:
    """Readers x papers: keywords in the title, keywords only in the abstract, followed authors."""
    import numpy as np

    index = today.index
    size = len(index.papers)
    title: list[NDArray[np.int64]] = []
    body: list[NDArray[np.int64]] = []
    author: list[NDArray[np.int64]] = []
    for row, profile in enumerate(chunk):
        offset = row * size
        for keyword in profile.keywords:
            in_title, only_body = index.keyword_positions(keyword)
            title.append(in_title + offset)
            body.append(only_body + offset)
        author.extend(index.author_positions(name) + offset for name in profile.authors)

    def counts(parts: list[NDArray[np.int64]]) -> NDArray[np.int64]:
        flat = np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)
        return np.bincount(flat, minlength=len(chunk) * size).reshape(len(chunk), size)

    return counts(title), counts(body), counts(author)


def _category_hits(
    chunk: Sequence[Profile], today: _Day
) -> tuple[NDArray[np.bool_], NDArray[np.bool_]]:
    """Readers x papers: one of the reader's categories is primary; the paper is listed in one."""
    import numpy as np

    wanted = np.zeros((len(chunk), len(today.category_column)))
    for row, profile in enumerate(chunk):
        for category in profile.categories:
            if category in today.category_column:
                wanted[row, today.category_column[category]] = 1.0
    return (wanted @ today.primary) > 0, (wanted @ today.listed) > 0


class _Explainer:
    """Builds the reasons for one reader's picks; look-ups are done once per reader."""

    def __init__(
        self,
        profile: Profile,
        description: NDArray[np.float64] | None,
        today: _Day,
        taste: Taste | None = None,
    ) -> None:
        index, similarity = today.index, today.similarity
        self.papers = index.papers
        self.keywords = [(k, *index.keyword(k)) for k in profile.keywords]
        self.authors = [(a, index.author(a)) for a in profile.authors]
        self.description = description if _has_query(profile) else None
        self.label = (
            "matches your description" if profile.description else "similar to your keywords"
        )
        self.liked = [
            (liked_id, similarity.to_liked[similarity.liked_row[liked_id]])
            for liked_id in profile.liked
            if similarity.to_liked is not None and liked_id in similarity.liked_row
        ]
        self.categories = profile.categories
        self.taste = taste

    def explain(self, picked: list[int], scores: NDArray[np.float64]) -> list[SelectedPaper]:
        return [SelectedPaper(self.papers[i], float(scores[i]), self.reasons(i)) for i in picked]

    def reasons(self, i: int) -> tuple[str, ...]:
        """Why paper `i` was picked, the strongest reason first."""
        reasons = [(0.7, f"author {a}") for a, found in self.authors if i in found]
        for keyword, title, body in self.keywords:
            if i in title:
                reasons.append((0.6, f'keyword "{keyword}" in title'))
            elif i in body:
                reasons.append((0.3, f'keyword "{keyword}" in abstract'))
        if self.description is not None:
            value = float(self.description[i])
            if value >= DESCRIPTION_MIN:
                reasons.append((0.5 * value, f"{self.label} ({value:.2f})"))
        if self.liked:
            value, liked_id = max(((float(row[i]), k) for k, row in self.liked), key=lambda t: t[0])
            if value >= LIKED_MIN:
                reasons.append((0.5 * value, f"similar to your liked paper {liked_id}"))
        if self.taste is not None:
            reasons += self.taste.reasons(i)
        paper = self.papers[i]
        category = _category_reason(self.categories, paper)
        if category:
            reasons.append((0.1, category))
        upvotes = paper.extras.upvotes or 0
        if upvotes >= TRENDING_UPVOTES:
            reasons.append((0.0, f"trending on Hugging Face ({upvotes} upvotes)"))
        reasons.sort(key=itemgetter(0), reverse=True)  # stable: ties keep their order
        return tuple([text for _, text in reasons])


def _category_reason(categories: Sequence[str], paper: Paper) -> str | None:
    if not categories or not paper.categories:
        return None
    if paper.categories[0] in categories:
        return f"category {paper.categories[0]}"
    shared = [c for c in paper.categories[1:] if c in categories]
    return f"cross-listed in {shared[0]}" if shared else None


def _categories_only(profile: Profile) -> bool:
    return not (profile.keywords or profile.authors or profile.description or profile.liked)


def _has_query(profile: Profile) -> bool:
    return bool(profile.description or profile.keywords)


def _query(profile: Profile) -> str:
    """Description and keywords; acronyms are left to exact matching (`MoE` is not `moe`)."""
    keywords = [k for k in profile.keywords if not is_acronym(k.strip().removesuffix("s"))]
    return " ".join(filter(None, [profile.description, *keywords]))


def _document(paper: Paper) -> str:
    """Title twice: a word in the title counts more than the same word in the abstract."""
    return f"{paper.title}. {paper.title}. {paper.abstract}"


def _similarities(
    papers: Sequence[Paper],
    profiles: Sequence[Profile],
    liked: Mapping[str, Paper],
    corpus: Sequence[Paper],
    ratings: Ratings,
) -> _Similarity:
    """Fit TF-IDF on `corpus`, then place the papers, the liked and rated papers and the
    profiles' queries in it; products with the readers are taken per chunk."""
    liked_ids = sorted({i for p in profiles for i in p.liked if i in liked})
    tfidf = Tfidf([_document(p) for p in corpus])
    if not tfidf.vocabulary:  # no word that is not a stop word: nothing to compare
        return _Similarity(None, None, None, {})
    vectors = tfidf.corpus if corpus is papers else tfidf.transform(map(_document, papers))
    paper_vectors = Postings(vectors, len(tfidf.vocabulary))
    queries = None
    if any(_has_query(p) for p in profiles):
        queries = tfidf.transform(map(_query, profiles))
    to_liked = None
    if liked_ids:
        to_liked = paper_vectors.cosines(tfidf.transform(_document(liked[i]) for i in liked_ids))
    rated = feedback.Examples.build(ratings, tfidf, _document, paper_vectors)
    liked_row = {i: n for n, i in enumerate(liked_ids)}
    return _Similarity(paper_vectors, queries, to_liked, liked_row, rated)
