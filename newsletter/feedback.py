"""What a reader's ratings teach their ranking: "more like this" (+1), "less like this" (-1).

Pure and NumPy only, like `select`, which calls it: the rated papers come in, and for each reader
with ratings, three signals over the day's papers go out, all from cosines to the rated papers
in the day's word space (BM25 weights, as the liked papers are placed). Closeness to a rated
paper counts as the papers liked in the config count: by how much a paper stands out among the
day's listing for that rated paper (a level, `similarity.Spread`), so that a rating finds its
neighbours on a day whose cosines are all low, and a day of near-copies does not make every
paper close:

- up: the level of closeness to the closest paper rated +1, from LIKED_LEVEL. It joins the
  signal of the papers liked in the config (`select`), a supporting signal: "you liked a
  similar paper: <title>";
- down: the level of closeness to the closest paper rated -1, a multiplicative penalty on the
  final score (after the explicit floor) that grows from nothing at DISLIKED_LEVEL to
  DISLIKE_PENALTY at DISLIKED_FULL: `less like "<title>"`. A paper rated -1 is never picked
  again;
- model: from MODEL_MIN_RATINGS ratings of both signs, a linear classifier over the same
  features (as arxiv-sanity's per-user SVM): least squares on the +1/-1 labels with a ridge and
  an unpenalised intercept, solved in closed form in its dual (a system of ratings + 1
  unknowns, so a reader's model costs one small solve). Only its direction counts: the
  intercept absorbs the share of up and down votes, so a paper unlike every rated one gets 0.
  Its positive side is a supporting signal of at most MODEL_WEIGHT that alone never lifts a
  paper to the explicit tier ("like papers you rated up"); its negative side a penalty of at
  most MODEL_PENALTY taken before the explicit floor, so it never demotes an explicit match
  below a paper without one.

Fewer ratings, or ratings of one sign only, leave the model out: the nearest-paper signals
already say all that a few examples can, and a linear model with one class is their centroid.

Readers without ratings cost nothing: nothing here runs for them, and the scores of a chunk
that has none are computed as before, to the bit.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from newsletter.models import Paper
from newsletter.similarity import LIKED_LEVEL, LIKED_SPREAD, Spread, reason_weight
from newsletter.tfidf import Postings, Space, Vectors

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

Ratings = Mapping[str, Sequence[tuple[Paper, int]]]  # by `Profile.email`: (paper, +1 or -1)

DISLIKED_LEVEL = 2.0  # closeness (a level) to a rated-down paper from which a paper is demoted
DISLIKED_FULL = 6.0  # ... fully (on a small day, where levels are cosines / LIKED_SPREAD: 0.45)
DISLIKE_PENALTY = 0.5  # the score's share taken at DISLIKED_FULL
MAX_RATINGS = 100  # the newest ratings of a reader that count
CELLS_AT_ONCE = 2**24  # rated papers x papers cosines held at once (float32: 64 MB)
SPREAD_CELLS = 2**20  # ... cosines to the listing taken at once for their spread (8 MB)
MODEL_MIN_RATINGS = 4  # with at least one of each sign
RIDGE = 1.0  # the model's regularisation (rated papers are unit vectors)
MODEL_MIN = 0.04  # model value below which it says nothing
MODEL_FULL = 0.3  # model value that counts fully
MODEL_WEIGHT = 0.5  # the model's strongest support (noisy-OR strength)
MODEL_PENALTY = 0.3  # the score's share the model takes at -MODEL_FULL
TITLE_MAX = 60  # characters of a rated paper's title in a reason


@dataclass(frozen=True)
class Examples:
    """The papers every reader rated, placed in the day's word space once."""

    vectors: Vectors  # one row per distinct rated paper
    titles: tuple[str, ...]  # of each row
    by_reader: Mapping[str, tuple[NDArray[np.int64], NDArray[np.float64]]]  # rows, votes
    spread: Spread  # of each row's cosines to the listing, what closeness levels are against
    cosines: NDArray[np.float32] | None = None  # rows x the day's papers, when they fit

    @classmethod
    def build(
        cls,
        ratings: Ratings,
        words: Space,
        document: Callable[[Paper], str],
        day: Postings,
        listing: Postings | None = None,
    ) -> Examples | None:
        """The rated papers of `ratings` (each reader's newest MAX_RATINGS, the last vote of a
        paper winning), as `words` vectors of their `document` text. Their cosines to the
        `day`'s papers are taken here, for every reader at once, when they fit in CELLS_AT_ONCE
        (else per group of readers), and their spread among the `listing` (None: the day's
        papers are the listing). None when no reader rated anything."""
        import numpy as np

        row: dict[str, int] = {}
        papers: list[Paper] = []
        by_reader = {}
        for email, rated in ratings.items():
            votes: dict[str, tuple[Paper, int]] = {}
            for paper, vote in rated:
                votes.pop(paper.id, None)  # a paper rated again counts as rated last
                if vote in (-1, 1):
                    votes[paper.id] = (paper, vote)
            newest = list(votes.values())[-MAX_RATINGS:]
            for paper, _ in newest:
                if paper.id not in row:
                    row[paper.id] = len(papers)
                    papers.append(paper)
            if newest:
                rows = np.array([row[paper.id] for paper, _ in newest], dtype=np.int64)
                by_reader[email] = (rows, np.array([vote for _, vote in newest], dtype=float))
        if not by_reader:
            return None
        vectors = words.place([document(paper) for paper in papers])
        cosines = day.cosines(vectors) if len(papers) * day.size <= CELLS_AT_ONCE else None
        if listing is None or listing is day:
            spread = _spread(day, vectors, cosines)
        else:
            spread = _spread(listing, vectors, None)
        return cls(vectors, tuple(p.title for p in papers), by_reader, spread, cosines)


def _spread(listing: Postings, vectors: Vectors, cosines: NDArray[np.float32] | None) -> Spread:
    """The spread of each rated paper's cosines to the listing (`cosines`, when they are
    those), a block of about SPREAD_CELLS cosines at a time."""
    import numpy as np

    step = max(1, SPREAD_CELLS // max(listing.size, 1))
    parts = []
    for start in range(0, vectors.rows, step):
        stop = min(start + step, vectors.rows)
        if cosines is not None:
            block = cosines[start:stop]
        else:
            block = listing.cosines(_take(vectors, np.arange(start, stop)))
        parts.append(Spread.of(block.astype(np.float64)))
    return Spread(
        np.vstack([part.mean for part in parts]),
        np.vstack([part.square for part in parts]),
        listing.size,
    )


@dataclass(frozen=True)
class Taste:
    """One reader's signals over the day's papers."""

    up: NDArray[np.float64]  # closeness (level) to the closest paper rated +1; -inf: none
    up_from: NDArray[np.int64]  # ... which one (a row of `Examples`)
    down: NDArray[np.float64]  # closeness (level) to the closest paper rated -1; -inf: none
    down_from: NDArray[np.int64]
    model: NDArray[np.float64] | None  # the linear model's value; None: too few ratings
    examples: Examples

    def boost(self) -> NDArray[np.float64]:
        """The model's support, a noisy-OR strength in [0, MODEL_WEIGHT]; 0 below MODEL_MIN."""
        import numpy as np

        if self.model is None:
            return np.zeros(len(self.up))
        strength = MODEL_WEIGHT * np.minimum(1.0, self.model / MODEL_FULL)
        return np.where(self.model >= MODEL_MIN, strength, 0.0)

    def doubt(self) -> NDArray[np.float64]:
        """The model's no, a factor in [1 - MODEL_PENALTY, 1] on the score before the tiers are
        drawn (so it never takes an explicit match below the explicit floor)."""
        import numpy as np

        if self.model is None:
            return np.ones(len(self.up))
        said_no = 1.0 - MODEL_PENALTY * np.clip(-self.model / MODEL_FULL, 0.0, 1.0)
        return np.where(self.model <= -MODEL_MIN, said_no, 1.0)

    def damping(self) -> NDArray[np.float64]:
        """Closeness to a rated-down paper, a factor in [1 - DISLIKE_PENALTY, 1] on the final
        score: the reader said so, and it may take an explicit match below the floor."""
        import numpy as np

        ramp = np.clip((self.down - DISLIKED_LEVEL) / (DISLIKED_FULL - DISLIKED_LEVEL), 0.0, 1.0)
        factor: NDArray[np.float64] = 1.0 - DISLIKE_PENALTY * ramp
        return factor

    def reasons(self, i: int) -> list[tuple[float, str]]:
        """What the ratings did to paper `i`, each with its weight among the reasons; the
        demotion comes last."""
        found = []
        up = float(self.up[i])
        if up >= LIKED_LEVEL:
            title = short_title(self.examples.titles[self.up_from[i]])
            found.append((reason_weight(up), f"you liked a similar paper: {title}"))
        if self.model is not None and self.model[i] >= MODEL_MIN:
            strength = min(1.0, float(self.model[i]) / MODEL_FULL)
            found.append((0.4 * strength, "like papers you rated up"))
        if self.down[i] > DISLIKED_LEVEL:
            title = short_title(self.examples.titles[self.down_from[i]])
            found.append((-1.0, f'less like "{title}"'))
        return found


@dataclass(frozen=True)
class ChunkTaste:
    """The signals of the readers of a chunk who rated papers: `rows` (their rows in the chunk)
    x papers arrays, and each reader's `Taste` (None: no ratings) for the reasons."""

    rows: NDArray[np.int64]
    up: NDArray[np.float64]
    boost: NDArray[np.float64]
    doubt: NDArray[np.float64]
    damping: NDArray[np.float64]
    readers: list[Taste | None]

    @classmethod
    def of(
        cls, emails: Sequence[str], examples: Examples | None, papers: Postings | None
    ) -> ChunkTaste | None:
        """The chunk's arrays; None when none of its readers rated a paper."""
        import numpy as np

        if examples is None or papers is None:
            return None
        readers = _tastes(emails, examples, papers)
        rated = [taste for taste in readers if taste is not None]
        if not rated:
            return None
        rows = np.array([row for row, taste in enumerate(readers) if taste is not None])
        return cls(
            rows,
            np.vstack([taste.up for taste in rated]),
            np.vstack([taste.boost() for taste in rated]),
            np.vstack([taste.doubt() for taste in rated]),
            np.vstack([taste.damping() for taste in rated]),
            readers,
        )


def _tastes(emails: Sequence[str], examples: Examples, papers: Postings) -> list[Taste | None]:
    """Each reader's signals (None: no ratings). Without the cosines of every rated paper at
    hand, readers are taken in groups of about CELLS_AT_ONCE cosines (one reader's more at
    most), so that a paper rated by several readers of a group is compared once."""
    import numpy as np

    tastes: list[Taste | None] = [None] * len(emails)
    if examples.cosines is not None:
        for n, email in enumerate(emails):
            if email in examples.by_reader:
                rows, votes = examples.by_reader[email]
                cosines = examples.cosines[rows].astype(np.float64)
                tastes[n] = _taste(examples, cosines, rows, votes)
        return tastes
    group: list[int] = []
    size = 0
    for n, email in enumerate(emails):
        if email in examples.by_reader:
            group.append(n)
            size += len(examples.by_reader[email][0]) * papers.size
        if group and (size >= CELLS_AT_ONCE or n == len(emails) - 1):
            _group_tastes(tastes, [emails[m] for m in group], group, examples, papers)
            group, size = [], 0
    return tastes


def _group_tastes(
    tastes: list[Taste | None],
    emails: list[str],
    positions: list[int],
    examples: Examples,
    papers: Postings,
) -> None:
    """Fill in the tastes of one group of readers (`emails`, at `positions`)."""
    import numpy as np

    rows = np.unique(np.concatenate([examples.by_reader[email][0] for email in emails]))
    cosines = papers.cosines(_take(examples.vectors, rows))
    for email, position in zip(emails, positions, strict=True):
        mine, votes = examples.by_reader[email]
        theirs = cosines[np.searchsorted(rows, mine)].astype(np.float64)
        tastes[position] = _taste(examples, theirs, mine, votes)


def _taste(
    examples: Examples,
    cosines: NDArray[np.float64],
    rows: NDArray[np.int64],
    votes: NDArray[np.float64],
) -> Taste:
    """A reader's signals from the cosines of their rated papers (`rows`) to the day's papers:
    the closest paper rated up and down (by level), and the model (on the cosines)."""

    level = examples.spread.levels(cosines, rows, LIKED_SPREAD)
    up, up_from = _best(level, rows, votes > 0)
    down, down_from = _best(level, rows, votes < 0)
    model = None
    if len(votes) >= MODEL_MIN_RATINGS and (votes > 0).any() and (votes < 0).any():
        model = fit(_take(examples.vectors, rows), votes) @ cosines
    return Taste(up, up_from, down, down_from, model, examples)


def _best(
    closeness: NDArray[np.float64], rows: NDArray[np.int64], chosen: NDArray[np.bool_]
) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
    """Per paper, the highest closeness to the chosen rated papers (-inf: none) and which one."""
    import numpy as np

    if not chosen.any():
        return np.full(closeness.shape[1], -np.inf), np.zeros(closeness.shape[1], dtype=np.int64)
    picked = closeness[chosen]
    best = picked.argmax(axis=0)
    return picked[best, np.arange(picked.shape[1])], rows[chosen][best]


def fit(rated: Vectors, votes: NDArray[np.float64]) -> NDArray[np.float64]:
    """Dual weights `a` of the linear model `f(x) = sum(a_i <x_i, x>) + b` that minimises
    sum((y_i - f(x_i))**2) + RIDGE * |w|**2 with b unpenalised (a least-squares SVM):
    [[G + RIDGE*I, 1], [1', 0]] [a; b] = [y; 0], G the rated papers' Gram matrix. The last row
    makes the weights sum to 0, so a paper equally close to every rated paper scores 0."""
    import numpy as np

    size = len(votes)
    system = np.zeros((size + 1, size + 1))
    system[:size, :size] = _gram(rated) + RIDGE * np.eye(size)
    system[:size, size] = system[size, :size] = 1.0
    solution: NDArray[np.float64] = np.linalg.solve(system, np.append(votes, 0.0))
    return solution[:size]


def _gram(vectors: Vectors) -> NDArray[np.float64]:
    """The cosines of every pair of rows, through a dense matrix of the terms they use."""
    import numpy as np

    used, column = np.unique(vectors.columns, return_inverse=True)
    dense = np.zeros((vectors.rows, len(used)))
    dense[np.repeat(np.arange(vectors.rows), np.diff(vectors.starts)), column] = vectors.weights
    gram: NDArray[np.float64] = dense @ dense.T
    return gram


def _take(vectors: Vectors, rows: NDArray[np.int64]) -> Vectors:
    """The given rows of `vectors`, in that order."""
    import numpy as np

    lengths = vectors.starts[rows + 1] - vectors.starts[rows]
    starts = np.zeros(len(rows) + 1, dtype=np.int64)
    np.cumsum(lengths, out=starts[1:])
    at = np.arange(starts[-1]) + np.repeat(vectors.starts[rows] - starts[:-1], lengths)
    return Vectors(starts, vectors.columns[at], vectors.weights[at])


def disliked_ids(rated: Sequence[tuple[Paper, int]]) -> set[str]:
    """The papers a reader rated -1 (by their latest vote): never picked again."""
    votes = {paper.id: vote for paper, vote in rated}
    return {paper_id for paper_id, vote in votes.items() if vote < 0}


def short_title(title: str, limit: int = TITLE_MAX) -> str:
    """`title` cut at a word to at most `limit` characters, with an ellipsis when cut."""
    title = " ".join(title.split())
    if len(title) <= limit:
        return title
    cut = title[: limit - 1].rsplit(" ", 1)[0] if " " in title[: limit - 1] else title[: limit - 1]
    return cut.rstrip(" ,.;:-") + "…"
