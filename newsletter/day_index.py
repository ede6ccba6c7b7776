"""The day's papers prepared once for every reader's scoring: the token index (`PaperIndex`),
the TF-IDF space learnt from the day's listing and the papers in it, and the per-paper arrays
(upvotes, id order, categories).

Pure, like `select`, which asks for it (`day_index`): the same papers and corpus always give the
same index. The last one built is kept, so that selecting again for the same papers (another
share of the readers, a preview, a worker process forked after `plan.prepare` built it) does
not build it again; it is only used when the papers and the corpus are equal, field for field,
to the ones it was built from.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from newsletter.matching import PaperIndex
from newsletter.models import Paper
from newsletter.tfidf import Postings, Tfidf

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

UPVOTE_WEIGHT = 0.004


def document(paper: Paper) -> str:
    """Title twice: a word in the title counts more than the same word in the abstract."""
    return f"{paper.title}. {paper.title}. {paper.abstract}"


@dataclass(frozen=True)
class DayIndex:
    """What every reader's scoring shares of the day's papers."""

    index: PaperIndex
    tfidf: Tfidf | None  # None when no word of the corpus survives the stop list
    vectors: Postings | None  # the papers in the TF-IDF space, by term
    upvotes: NDArray[np.int64]
    upvote_bonus: NDArray[np.float64]
    id_rank: NDArray[np.int64]
    position: Mapping[str, int]  # paper id -> index
    category_column: Mapping[str, int]  # category -> its column (the last: no category)
    categories: NDArray[np.int64]  # k x papers: the column of each paper's k-th category (-1)

    @classmethod
    def build(cls, papers: Sequence[Paper], corpus: Sequence[Paper]) -> DayIndex:
        """The index of `papers`, with word weights learnt from `corpus`."""
        import numpy as np

        upvotes = np.array([p.extras.upvotes or 0 for p in papers], dtype=np.int64)
        bonus = UPVOTE_WEIGHT * np.minimum(1.0, np.log1p(upvotes) / math.log1p(1000))
        id_rank = np.empty(len(papers), dtype=np.int64)
        id_rank[sorted(range(len(papers)), key=lambda i: papers[i].id)] = np.arange(len(papers))
        columns = {c: n for n, c in enumerate(sorted({c for p in papers for c in p.categories}))}
        most = max((len(p.categories) for p in papers), default=0)
        categories = np.full((max(most, 1), len(papers)), -1, dtype=np.int64)
        for i, paper in enumerate(papers):
            for n, category in enumerate(paper.categories):
                categories[n, i] = columns[category]
        position = {paper.id: i for i, paper in enumerate(papers)}
        fitted = Tfidf([document(p) for p in corpus])
        tfidf, vectors = None, None
        if fitted.vocabulary:
            placed = fitted.place([document(p) for p in papers])
            tfidf, vectors = fitted, Postings(placed, len(fitted.vocabulary))
        return cls(
            PaperIndex(papers), tfidf, vectors, upvotes, bonus, id_rank, position, columns,
            categories,
        )  # fmt: skip


_last: list[tuple[tuple[Paper, ...], tuple[Paper, ...], DayIndex]] = []
_lock = threading.Lock()


def day_index(papers: Sequence[Paper], corpus: Sequence[Paper]) -> DayIndex:
    """The index of `papers` in the word weights of `corpus`: the one kept, when it was built
    from equal papers and corpus, else a new one (then kept instead)."""
    key = (tuple(papers), tuple(corpus))
    with _lock:
        if _last and _last[0][0] == key[0] and _last[0][1] == key[1]:
            return _last[0][2]
    built = DayIndex.build(papers, corpus)
    with _lock:
        _last[:] = [(*key, built)]
    return built
