"""Pick each reader's papers of the day, best first, with the reasons for every pick.

Pure: papers, profiles, liked papers, ratings and what was already delivered come in;
selections go out. No clock, no I/O, so the same input always gives the same issue.

Scoring, per reader and paper, a noisy-OR of the strengths of its signals (each adds, none
alone saturates, and no strength is capped, so the order of the matches is kept):
- similarity to the reader's text (description and keywords), measured as a level: how far the
  paper stands out among the day's papers for this reader (`similarity.py`: short forms
  written out, the query expanded from its best matches). It also says how `topical` a paper
  is, and the keyword signals below count more on topical papers;
- keywords (`evidence.py`), written as the reader wrote them or another way (`LLM` as `large
  language model`): each found in the title, centrally in the abstract (its first sentences,
  or more than once) or in passing, in that order of strength; a passing mention counts only
  on a topical paper, and each keyword found adds (two of the reader's keywords rank above
  one). A keyword in the title is strong, not absolute: a paper about the reader's whole text
  can outrank one whose title only holds a keyword (an explicit keyword tier measured worse);
- a followed author: the one explicit signal. Such a paper scores at least EXPLICIT_FLOOR; a
  paper without one stays below it (scaled, not capped, so that order is kept);
- papers the reader liked (in the config): nearest neighbours, by the level of the paper's
  closeness to the liked paper that it is closest to; papers rated "more like this" join them,
  and from a handful of ratings the reader's own linear model adds its yes, or takes its no
  (`feedback.py`);
- the reader's arXiv categories (primary or cross-list), a small push;
- closeness to a paper the reader rated "less like this" scales the final score down, below
  the explicit floor if need be: the reader said so;
- Hugging Face upvotes only break ties: they add less than any relevance signal can.
A paper needs at least one real match to be picked: an author, a keyword in the title or
abstract, a level of similarity that stands out (MATCH_LEVEL), closeness to a liked paper, the
model's support, or - for a reader who gave nothing but categories - its category. `exclude`
phrases drop a paper; papers already delivered to the reader, or rated "less like this", are
never picked again. Readers without ratings cost nothing more and get the same picks as if
ratings did not exist.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date
from typing import TYPE_CHECKING

from newsletter import feedback
from newsletter.abbreviations import Glossary
from newsletter.day_index import UPVOTE_WEIGHT, DayIndex, day_index
from newsletter.evidence import category_hits, hit_counts
from newsletter.feedback import ChunkTaste, Ratings
from newsletter.matching import reading_of
from newsletter.models import Paper, Profile, Selection
from newsletter.reasons import MATCH_LEVEL, Explainer
from newsletter.similarity import LIKED_LEVEL, LIKED_SPREAD, Levels, blend, levels, relative
from newsletter.tfidf import Postings, Vectors
from newsletter.words import is_acronym, transliterated

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

    from newsletter.meaning import Meaning

EXPLICIT_FLOOR = 0.45
BELOW_FLOOR = EXPLICIT_FLOOR - 0.01  # what the others' scores are scaled to
TOPICAL_FROM = 1.0  # the level from which a paper is topical at all
TOPICAL_SCALE = 3.0  # ... and how fast it grows (1 - exp(-(level - from) / scale))
NO_QUERY_TOPICAL = 0.5  # how topical any paper is for a reader without description or keywords
SIMILARITY = 0.7  # the strongest similarity's noisy-OR strength
IN_TITLE = (0.5, 0.5)  # a keyword in the title: strength, and its share that needs no topic
CENTRAL = (0.35, 0.2)  # ... centrally in the abstract
PASSING = 0.15  # ... in passing: topical share only
AUTHOR = 0.8
LIKED = 0.5  # the strongest closeness to a liked paper
LIKED_SCALE = 4.0  # levels over LIKED_LEVEL it takes to reach 63% of LIKED
PRIMARY, LISTED = 0.1, 0.05  # one of the reader's categories as the primary, or cross-listed

CHUNK = 512  # readers scored together: a readers x papers block of floats at a time


@dataclass(frozen=True)
class _Similarity:
    """The day's word space (`shared`), the readers' queries, the liked and rated papers."""

    shared: DayIndex
    queries: Vectors | None  # one row per reader (description + keywords)
    liked: NDArray[np.float64] | None  # liked papers x papers, levels of closeness
    liked_row: Mapping[str, int]
    rated: feedback.Examples | None = None  # None: nobody rated a paper
    meaning: Meaning | None = None  # the semantic ranking's vectors (`meaning.py`), if on

    @property
    def papers(self) -> Postings | None:  # None when no word survives the stop list
        return self.shared.vectors

    def liked_of(self, profile: Profile) -> list[tuple[str, NDArray[np.float64]]]:
        """The reader's liked papers, each with its levels of closeness to the day's papers."""
        if self.liked is None:
            return []
        rows = self.liked_row
        return [(i, self.liked[rows[i]]) for i in profile.liked if i in rows]

    def to_profiles(self, start: int, stop: int) -> Levels | None:
        """How close the day's papers are to readers start..stop (`similarity.levels`)."""
        shared = self.shared
        if shared.vectors is None or shared.reference is None or self.queries is None:
            return None
        import numpy as np

        to_listing = shared.reference.cosines(self.queries, start, stop).astype(np.float64)
        to_papers = to_listing
        if shared.vectors is not shared.reference:
            to_papers = shared.vectors.cosines(self.queries, start, stop).astype(np.float64)
        found = levels(to_listing, to_papers, shared.neighbours, shared.in_papers)
        if self.meaning is None:
            return found
        semantic, has_text = self.meaning.levels(start, stop)
        return blend(found, semantic, self.meaning.weight, has_text)


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
    meaning: Meaning | None = None,
) -> list[Selection]:
    """One Selection per profile, in profile order (`meaning`: closeness in meaning to weigh
    into the similarity, `meaning.py`, made for these papers and profiles in this order).

    Word weights (BM25), what the day's short forms mean and how much a similarity stands out
    are learnt from `corpus` (default: `papers`) alone, so that a reader's picks do not depend
    on who else is selected in the same call: pass the same corpus for a preview of one
    reader, a send to all of them, or a share of them in a worker.
    `delivered` and `ratings` (each reader's rated papers with +1 or -1, oldest first) are keyed
    by `Profile.email`.
    """
    liked, delivered, ratings = liked or {}, delivered or {}, ratings or {}
    if not papers:
        return [Selection(profile, day, ()) for profile in profiles]
    shared = day_index(papers, corpus or papers)
    similarity = _similarities(shared, profiles, liked, ratings)
    if meaning is not None:
        similarity = replace(similarity, meaning=meaning)
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
                None if description is None or not _has_query(profile) else description,
                offset,
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
    index = today.shared.index
    reading = reading_of(profile, index.glossary)
    for phrase in profile.exclude:
        found = index.keyword(phrase, reading)
        dropped |= found.title | found.body
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
    description: Levels | None,
    today: _Day,
    taste: ChunkTaste | None = None,
) -> NDArray[np.float64]:
    """Every paper's score for each reader of the chunk; -1 for a paper with no real match.

    Signals combine as a noisy-OR: score = 1 - prod(1 - strength), one factor per signal and
    keyword (`_keep`). Ratings (`taste`) add to the liked papers' signal and a model's support,
    then scale down. Scores are computed only where there is a real match (the other cells are
    -1), so a reader costs what their matches cost.
    """
    import numpy as np

    rows, size = len(chunk), len(today.papers)
    shared = today.shared
    hits = hit_counts(chunk, shared.index, size)
    in_title, central, passing, by_author = hits
    has_query = np.array([_has_query(p) for p in chunk])
    level = np.zeros((rows, size)) if description is None else description.level
    liked, liked_hit = _liked(chunk, today, taste)
    primary, listed = category_hits(chunk, shared.category_column, shared.categories)
    categories_only = np.array([_categories_only(p) for p in chunk])[:, None]
    similar = has_query[:, None] & (level >= MATCH_LEVEL)
    if taste is not None:
        similar[taste.rows] |= taste.boost > 0  # the model may pick, like the description
    supported = (by_author > 0) | (in_title > 0) | (central > 0) | liked_hit | similar
    supported |= (passing > 0) & (level >= TOPICAL_FROM) | (listed & categories_only)
    at = np.flatnonzero(supported)  # the others score -1: no real match
    keep = _keep(has_query[at // size], level.flat[at], [h.flat[at] for h in hits])
    keep *= 1 - liked.flat[at]
    keep *= np.where(primary.flat[at], 1 - PRIMARY, np.where(listed.flat[at], 1 - LISTED, 1.0))
    if taste is not None:  # the model's yes is one more signal, its no scales the rest down
        rated = np.isin(at // size, taste.rows)  # the others' scores stay as they were
        boost, doubt = np.zeros((rows, size)), np.ones((rows, size))
        boost[taste.rows], doubt[taste.rows] = taste.boost, taste.doubt
        changed = 1 - (1 - keep * (1 - boost.flat[at])) * doubt.flat[at]
        keep = np.where(rated, changed, keep)
    strong = by_author.flat[at] > 0
    score = np.where(
        strong, EXPLICIT_FLOOR + (1 - EXPLICIT_FLOOR) * (1 - keep), (1 - keep) * BELOW_FLOOR
    )
    if taste is not None:
        damping = np.ones((rows, size))
        damping[taste.rows] = taste.damping
        score *= damping.flat[at]
    scores = np.full(rows * size, -1.0)
    scores[at] = np.round(score * (1 - UPVOTE_WEIGHT) + shared.upvote_bonus[at % size], 4)
    return scores.reshape(rows, size)


def _keep(
    asks: NDArray[np.bool_],
    level: NDArray[np.float64],
    hits: list[NDArray[np.int64]],
) -> NDArray[np.float64]:
    """prod(1 - strength) of the similarity, keyword and author signals of some cells: `asks`,
    whether the reader has a text; `level`, the similarity; `hits`, the counts of keywords in
    the title, centrally, in passing, and of authors (`evidence.hit_counts`)."""
    import numpy as np

    in_title, central, passing, authors = hits
    topical = np.where(asks, _growth(level - TOPICAL_FROM, TOPICAL_SCALE), NO_QUERY_TOPICAL)
    keep = np.where(asks, 1 - SIMILARITY * topical, 1.0)
    for found, (weight, base) in (
        (in_title, IN_TITLE),
        (central, CENTRAL),
        (passing, (PASSING, 0.0)),
    ):
        factor = 1 - weight * (base + (1 - base) * topical)
        keep = np.where(found > 0, keep * factor**found, keep)
    result: NDArray[np.float64] = np.where(authors > 0, keep * (1 - AUTHOR) ** authors, keep)
    return result


def _growth(excess: NDArray[np.float64], scale: float) -> NDArray[np.float64]:
    """0 up to an excess of 0, then rising towards 1, ever more slowly: order is kept."""
    import numpy as np

    grown: NDArray[np.float64] = 1.0 - np.exp(-np.maximum(excess, 0.0) / scale)
    return grown


def _liked(
    chunk: Sequence[Profile], today: _Day, taste: ChunkTaste | None
) -> tuple[NDArray[np.float64], NDArray[np.bool_]]:
    """Readers x papers: the strength of closeness to the reader's liked papers (in the config
    or rated up: its level, `similarity.relative`) and whether it is a match."""
    import numpy as np

    similarity = today.similarity
    strength = np.zeros((len(chunk), len(today.papers)))
    hit = np.zeros(strength.shape, dtype=bool)
    if similarity.liked is not None:
        for row, profile in enumerate(chunk):
            rows = [similarity.liked_row[i] for i in profile.liked if i in similarity.liked_row]
            if rows:
                best = similarity.liked.take(rows, axis=0).max(axis=0)
                hit[row], strength[row] = _closeness(best)
    if taste is not None:
        rated, rated_strength = _closeness(taste.up)
        strength[taste.rows] = np.maximum(strength[taste.rows], rated_strength)
        hit[taste.rows] |= rated
    return strength, hit


def _closeness(level: NDArray[np.float64]) -> tuple[NDArray[np.bool_], NDArray[np.float64]]:
    """Whether closeness levels to a liked paper match, and their strength."""
    import numpy as np

    hit = level >= LIKED_LEVEL
    return hit, np.where(
        hit, LIKED * _growth(np.where(hit, level, LIKED_LEVEL) - LIKED_LEVEL, LIKED_SCALE), 0.0
    )


def _categories_only(profile: Profile) -> bool:
    return not (profile.keywords or profile.authors or profile.description or profile.liked)


def _has_query(profile: Profile) -> bool:
    return bool(profile.description or profile.keywords)


def _query(profile: Profile, glossary: Glossary | None = None) -> str:
    """Description (without the sentences that say what the reader does not want) and
    keywords, short forms written out as the day reads them (`glossary`); a short form it
    cannot read is left to exact matching (`MoE` is not `moe`)."""
    keywords = [k for k in profile.keywords if not is_acronym(k.strip().removesuffix("s"))]
    text = " ".join(filter(None, [wanted(profile.description or ""), *keywords]))
    if glossary is None:
        return text
    shorts = [k.strip() for k in profile.keywords if is_acronym(k.strip().removesuffix("s"))]
    known = [long for long in map(glossary.expand, shorts) if long not in shorts]
    return glossary.expand(" ".join([text, *known, *transliterated(text)]))


_SENTENCE = re.compile(r"(?<=[.!?;])\s+")
_NEGATION = re.compile(
    r"\b(?:not|no|never|nor|except|excluding|(?:other|rather) than)\b|n't\b", re.IGNORECASE
)


_ABOUT_READING = re.compile(  # words readers use about reading, not about a topic
    r"\b(?:papers?|articles?|preprints?|whatever|interested|send|please)\b",
    re.IGNORECASE,
)


def wanted(description: str) -> str:
    """A description without its sentences that say no (`I am not interested in language
    models`), nor the words that speak of reading rather than of a topic (`send me papers on
    ..., whatever the method`): a bag of words cannot tell them from the others, and would
    look for them."""
    sentences = _SENTENCE.split(description)
    kept = " ".join(sentence for sentence in sentences if not _NEGATION.search(sentence))
    return _ABOUT_READING.sub(" ", kept)


def _similarities(
    shared: DayIndex,
    profiles: Sequence[Profile],
    liked: Mapping[str, Paper],
    ratings: Ratings,
) -> _Similarity:
    """The profiles' queries, the liked and the rated papers placed in the day's word space,
    the liked papers' closeness to the day's papers as levels; products with the readers are
    taken per chunk."""
    space, paper_vectors, reference = shared.words, shared.vectors, shared.reference
    if space is None or paper_vectors is None or reference is None:  # only stop words
        return _Similarity(shared, None, None, {})
    import numpy as np

    liked_ids = sorted({i for p in profiles for i in p.liked if i in liked})
    queries = None
    if any(_has_query(p) for p in profiles):
        queries = space.query(_query(p, reading_of(p, shared.glossary)) for p in profiles)
    closeness = None
    if liked_ids:
        placed = space.place([shared.document(liked[i]) for i in liked_ids])
        to_papers = paper_vectors.cosines(placed).astype(np.float64)
        to_listing = to_papers if reference is paper_vectors else reference.cosines(placed)
        closeness = relative(to_papers, to_listing.astype(np.float64), LIKED_SPREAD)
    rated = feedback.Examples.build(ratings, space, shared.document, paper_vectors, reference)
    liked_row = {i: n for n, i in enumerate(liked_ids)}
    return _Similarity(shared, queries, closeness, liked_row, rated)
