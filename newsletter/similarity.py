"""How close each of the day's papers is to a reader's text, and how much that stands out.

Pure and NumPy only, like `select`, which asks for a chunk of readers at a time. Cosines are
taken in the day's word space (BM25, `bm25.py`; the query: the reader's description and
keywords, short forms written out), then refined in two ways:

- pseudo-relevance feedback (Rocchio's query expansion, "Relevance feedback in information
  retrieval", 1971): the query moves towards the papers of the day's listing that match it
  best (at most FEEDBACK_PAPERS, each a real match itself), so that a paraphrased description
  ("reading scans") borrows the words those papers use ("radiology", "segmentation"). A paper's
  score is its cosine to the query plus FEEDBACK_WEIGHT times its mean cosine to those papers,
  a paper never counting as its own feedback;
- levels relative to the day: a score counts by how far it stands out among the reader's
  scores for the day's listing (`level`, a z-score), the listing's mean and spread shrunk
  towards a prior worth PRIOR_PAPERS papers. A description whose best cosines are 0.05 still
  finds its papers on a large day, and on a small day, where a spread says little, a level
  is the cosine over PRIOR_SPREAD: absolute thresholds, as before.

The listing ("corpus") is what the word weights are learnt from; levels are measured against
it, never against the papers being scored, so that a reader's picks do not depend on which
share of the day's papers is scored at once. The optional semantic similarity (`meaning.py`)
enters at `blend`: its own levels, measured the same way, weighed in.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING

from newsletter.tfidf import Postings, Vectors

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

FEEDBACK_PAPERS = 3  # the best matches a query borrows words from
FEEDBACK_LEVEL = 2.0  # ... each at least this level before feedback
FEEDBACK_WEIGHT = 0.7
PRIOR_PAPERS = 30  # weight of the prior mean and spread, in papers of the listing
PRIOR_SPREAD = 0.04  # the cosine of one level on a small day (a match, two: 0.08)
LIKED_SPREAD = 0.075  # ... of closeness to a liked paper (a match, two: 0.15)
LIKED_LEVEL = 2.0  # the closeness to a liked or rated-up paper from which it matches that paper
KEPT_ROWS = 4096  # listing papers' rows of cosines kept for the day (`Neighbours`)


@dataclass(frozen=True)
class Levels:
    """Readers x papers: the cosine to the reader's text, shown in reasons, and how much the
    paper stands out among the day's papers for that reader (`level`, with feedback); with the
    semantic ranking, `meaning`: the levels of closeness in meaning alone (for the reasons)."""

    cosine: NDArray[np.float64]
    level: NDArray[np.float64]
    meaning: NDArray[np.float64] | None = None


class Neighbours:
    """Cosines of listing papers to the listing and to the papers scored, a row per listing
    paper, computed when first needed and kept (readers share their best matches)."""

    def __init__(self, listing: Vectors, reference: Postings, papers: Postings) -> None:
        """`listing`: the listing's vectors; `reference` and `papers`: the listing's and the
        scored papers' postings (the same object when the listing is what is scored)."""
        self.listing = listing
        self.reference = reference
        self.papers = papers
        self._rows: dict[int, tuple[NDArray[np.float32], NDArray[np.float32]]] = {}
        self._lock = threading.Lock()

    def rows(
        self, wanted: NDArray[np.int64], self_in_papers: NDArray[np.int64]
    ) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
        """The rows of these listing papers: their cosines to the listing and to the papers,
        each paper's cosine to itself left out (0); `self_in_papers`: where each listing
        paper is among the scored papers (-1: not there)."""
        import numpy as np

        found: dict[int, tuple[NDArray[np.float32], NDArray[np.float32]]] = {}
        with self._lock:
            missing = [int(j) for j in wanted if int(j) not in self._rows]
            found.update((int(j), self._rows[int(j)]) for j in wanted if int(j) in self._rows)
        if missing:
            vectors = self.listing.take(missing)
            to_listing = self.reference.cosines(vectors)
            to_papers = (
                to_listing if self.papers is self.reference else self.papers.cosines(vectors)
            )
            for n, j in enumerate(missing):
                own, mine = to_listing[n].copy(), to_papers[n].copy()
                own[j] = 0.0
                if self_in_papers[j] >= 0:
                    mine[self_in_papers[j]] = 0.0
                found[j] = (own, mine)
            with self._lock:  # kept up to KEPT_ROWS: a big day's memory stays bounded
                for j in missing[: max(0, KEPT_ROWS - len(self._rows))]:
                    self._rows[j] = found[j]
        rows = [found[int(j)] for j in wanted]
        if not rows:
            size = (self.reference.size, self.papers.size)
            return np.zeros((0, size[0]), np.float32), np.zeros((0, size[1]), np.float32)
        return np.vstack([a for a, _ in rows]), np.vstack([b for _, b in rows])


def levels(
    to_listing: NDArray[np.float64],
    to_papers: NDArray[np.float64],
    neighbours: Neighbours | None,
    self_in_papers: NDArray[np.int64],
) -> Levels:
    """Readers x papers levels from the readers' cosines to the listing and to the papers, with
    feedback from each reader's best matches in the listing (`neighbours`: None, no feedback).
    """
    import numpy as np

    scores_listing, scores_papers = to_listing, to_papers
    if neighbours is not None and to_listing.shape[1] > FEEDBACK_PAPERS:
        best = np.argpartition(-to_listing, FEEDBACK_PAPERS - 1, axis=1)[:, :FEEDBACK_PAPERS]
        real = relative(np.take_along_axis(to_listing, best, axis=1), to_listing) >= FEEDBACK_LEVEL
        if real.any():
            wanted, where = np.unique(best[real], return_inverse=True)
            listing_rows, paper_rows = neighbours.rows(wanted, self_in_papers)
            at = np.full(best.shape, len(wanted))  # each feedback paper's row; the last: zeros
            at[real] = where
            share = FEEDBACK_WEIGHT / np.maximum(real.sum(axis=1), 1)[:, None]
            scores_listing = to_listing + share * _summed(listing_rows, at)
            scores_papers = to_papers + share * _summed(paper_rows, at)
    return Levels(to_papers, relative(scores_papers, scores_listing))


def _summed(rows: NDArray[np.float32], at: NDArray[np.int64]) -> NDArray[np.float64]:
    """Per reader, the sum of the rows at its positions in `at` (readers x FEEDBACK_PAPERS;
    `len(rows)` stands for none)."""
    import numpy as np

    padded = np.vstack([rows, np.zeros((1, rows.shape[1]), dtype=rows.dtype)])
    total = padded[at[:, 0]].astype(np.float64)
    for column in range(1, at.shape[1]):
        total += padded[at[:, column]]
    return total


def relative(
    scores: NDArray[np.float64], listing: NDArray[np.float64], spread: float = PRIOR_SPREAD
) -> NDArray[np.float64]:
    """`scores` as levels among `listing` (same rows): z-scores, the listing's mean and spread
    shrunk towards 0 and `spread` by PRIOR_PAPERS papers' worth."""
    return Spread.of(listing).levels(scores, spread=spread)


@dataclass(frozen=True)
class Spread:
    """Per row, the mean and mean square of its cosines to the listing (rows x 1), and the
    listing's size: what levels are measured against, kept when the cosines are not."""

    mean: NDArray[np.float64]
    square: NDArray[np.float64]
    size: int

    @classmethod
    def of(cls, listing: NDArray[np.float64]) -> Spread:
        import numpy as np

        size = listing.shape[1]
        square = np.einsum("ij,ij->i", listing, listing)[:, None] / max(size, 1)
        mean = listing.mean(axis=1, keepdims=True) if size else np.zeros_like(square)
        return cls(mean, square, size)

    def levels(
        self,
        scores: NDArray[np.float64],
        rows: NDArray[np.int64] | None = None,
        spread: float = PRIOR_SPREAD,
    ) -> NDArray[np.float64]:
        """`scores` (rows x papers; `rows`: which of this spread's rows they are) as levels."""
        import numpy as np

        mean, square = (
            (self.mean, self.square) if rows is None else (self.mean[rows], self.square[rows])
        )
        weight = self.size / (self.size + PRIOR_PAPERS)
        variance = weight * np.maximum(square - mean * mean, 0.0) + (1 - weight) * spread**2
        level: NDArray[np.float64] = (scores - weight * mean) / np.sqrt(variance)
        return level


def reason_weight(level: float) -> float:
    """A similarity's place among a paper's reasons: after the keywords and authors (which
    say more plainly why), before a category (0.1)."""
    return 0.15 + 0.01 * min(level, 10.0)


def blend(
    lexical: Levels,
    semantic: Levels | None = None,
    weight: float = 0.0,
    rows: NDArray[np.bool_] | None = None,
) -> Levels:
    """One similarity from the lexical one and, with the semantic ranking, closeness in
    meaning (its levels measured against the same listing): `weight` of the level is the
    semantic one's, for the readers in `rows` (those with a text to compare)."""
    if semantic is None or weight <= 0:
        return lexical
    import numpy as np

    mixed = (1 - weight) * lexical.level + weight * semantic.level
    chosen = np.ones(len(mixed), dtype=bool) if rows is None else rows
    level = np.where(chosen[:, None], mixed, lexical.level)
    meaning = np.where(chosen[:, None], semantic.level, -np.inf)
    return Levels(lexical.cosine, level, meaning)
