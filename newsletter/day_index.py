"""The day's papers prepared once for every reader's scoring: the token index (`PaperIndex`),
what the listing's short forms mean (`abbreviations.Glossary`), the word space (BM25) learnt
from the day's listing and the papers in it, the listing papers' cosines to each other as
readers' feedback needs them (`similarity.Neighbours`), and the per-paper arrays (upvotes, id
order, categories).

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

from newsletter.abbreviations import Definition, Glossary, own_definitions
from newsletter.bm25 import Bm25
from newsletter.matching import PaperIndex, defined_in
from newsletter.models import Paper
from newsletter.similarity import Neighbours
from newsletter.tfidf import Postings, Space

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

UPVOTE_WEIGHT = 0.004


def document(
    paper: Paper, glossary: Glossary | None = None, defined: Sequence[Definition] | None = None
) -> str:
    """Title twice: a word in the title counts more than the same word in the abstract. With a
    `glossary`, short forms are written out (`LLMs` as `large language model`), as the paper
    defines them (`defined`, found here if not given), else as the glossary reads them."""
    text = f"{paper.title}. {paper.title}. {paper.abstract}"
    if glossary is None:
        return text
    return glossary.expand(text, own_definitions(defined_in(paper) if defined is None else defined))


@dataclass(frozen=True)
class DayIndex:
    """What every reader's scoring shares of the day's papers."""

    index: PaperIndex
    words: Space | None  # word weights (BM25); None when no word of the corpus is not a stop word
    vectors: Postings | None  # the papers in the word space, by term
    reference: Postings | None  # the corpus's (`vectors` when the corpus is the papers)
    neighbours: Neighbours | None  # corpus papers' cosines, for the readers' feedback
    in_papers: NDArray[np.int64]  # each corpus paper's index among the papers (-1: not there)
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
        defined = {id(p): defined_in(p) for p in [*corpus, *papers]}  # (equal papers: once)
        glossary = Glossary.learn(defined[id(p)] for p in corpus)
        fitted = Bm25([document(p, glossary, defined[id(p)]) for p in corpus])
        space, vectors, reference, neighbours = None, None, None, None
        if fitted.vocabulary:
            placed = fitted.place([document(p, glossary, defined[id(p)]) for p in papers])
            space, vectors = fitted, Postings(placed, len(fitted.vocabulary))
            reference = vectors
            if tuple(papers) != tuple(corpus):
                reference = Postings(fitted.corpus, len(fitted.vocabulary))
            neighbours = Neighbours(fitted.corpus, reference, vectors)
        in_papers = np.array([position.get(p.id, -1) for p in corpus], dtype=np.int64)
        index = PaperIndex(papers, glossary, [defined[id(p)] for p in papers])
        return cls(
            index, space, vectors, reference, neighbours, in_papers, upvotes, bonus, id_rank,
            position, columns, categories,
        )  # fmt: skip

    @property
    def glossary(self) -> Glossary:
        return self.index.glossary

    def document(self, paper: Paper) -> str:
        """A paper's text for the word space (`document`), short forms read as the day reads
        them."""
        return document(paper, self.index.glossary)


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
