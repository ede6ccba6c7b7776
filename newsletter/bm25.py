"""BM25 term weights over the words of `words.py`, NumPy only: the word space the ranking
compares readers and papers in (`day_index.py` learns it from the day's listing).

Okapi BM25 (S. Robertson and H. Zaragoza, "The Probabilistic Relevance Framework: BM25 and
Beyond", 2009) with Lucene's idf, log(1 + (n - df + 0.5) / (df + 0.5)), and the usual K1 and B:
a paper's row weighs each of its words idf * tf * (K1 + 1) / (tf + K1 * (1 - B + B * length /
mean length)), so that a word said again counts less and less, and a long abstract does not
win by length; a query's row holds each of its words once, the idf being on the paper's side.
Rows are L2-normalised, so that the same rows give the cosines of two papers (the papers of a
reader's feedback, a liked paper and the day's) as well as a query's scores.

Why BM25 and not TF-IDF (`tfidf.py`, kept: it is scikit-learn's, to the bit): on the labelled
relevance set (benchmarks/relevance.py) BM25 weights ranked better, with single words (TF-IDF's
word pairs did not help either), for description-only readers most: TF-IDF squares the idf
(in the query and in the paper), and the rare words of a paraphrase then decide.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from newsletter.tfidf import STOP_WORDS, Vectors, document_frequencies
from newsletter.words import tokens

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

K1 = 1.2
B = 0.75


def words(text: str) -> list[str]:
    """What BM25 counts: tokens that are neither stop words nor numbers."""
    return [w for w in tokens(text) if w not in STOP_WORDS and not w.isdigit()]


class Bm25:
    """Word weights learnt from a corpus (document frequencies, mean length)."""

    def __init__(self, corpus: Sequence[str]) -> None:
        import numpy as np

        counted = [Counter(words(text)) for text in corpus]
        self.vocabulary, _, found = document_frequencies(counted)
        df = found.astype(np.float64)
        self.idf = np.log1p((len(corpus) - df + 0.5) / (df + 0.5))
        lengths = [sum(counts.values()) for counts in counted]
        self.mean_length = max(float(np.mean(lengths)), 1.0) if lengths else 1.0
        self.corpus = self._documents(counted)
        self._row = {text: row for row, text in enumerate(corpus)}

    def place(self, texts: Sequence[str]) -> Vectors:
        """Rows for papers' texts; those of the corpus are taken from `corpus`."""
        rows = [self._row.get(text) for text in texts]
        if any(row is None for row in rows):
            return self._documents([Counter(words(text)) for text in texts])
        return self.corpus.take([row for row in rows if row is not None])

    def query(self, texts: Iterable[str]) -> Vectors:
        """Rows for readers' texts: each known word once (a word the corpus lacks is left out)."""
        import numpy as np

        lengths, columns = [], []
        for text in texts:
            known = sorted({self.vocabulary[w] for w in words(text) if w in self.vocabulary})
            lengths.append(len(known))
            columns += known
        return _rows(lengths, np.array(columns, dtype=np.int64), np.ones(len(columns)))

    def _documents(self, counted: Sequence[Counter[str]]) -> Vectors:
        import numpy as np

        lengths, columns, weights = [], [], []
        for counts in counted:
            size = sum(counts.values())
            known = [(self.vocabulary[w], n) for w, n in counts.items() if w in self.vocabulary]
            lengths.append(len(known))
            norm = K1 * (1 - B + B * size / self.mean_length)
            columns += [column for column, _ in known]
            weights += [n * (K1 + 1) / (n + norm) for _, n in known]
        found = np.array(columns, dtype=np.int64)
        return _rows(lengths, found, np.array(weights) * self.idf[found])


def _rows(lengths: list[int], columns: NDArray[np.int64], weights: NDArray[np.float64]) -> Vectors:
    """Sparse rows of these lengths, columns ascending within a row, L2-normalised."""
    import numpy as np

    row_of = np.repeat(np.arange(len(lengths)), np.asarray(lengths, dtype=np.int64))
    order = np.lexsort((columns, row_of))
    columns, weights = columns[order], weights[order]
    norms = np.sqrt(np.bincount(row_of, weights * weights, minlength=len(lengths)))
    starts = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(lengths, out=starts[1:])
    scaled = weights / np.maximum(norms[row_of], 1e-12)
    return Vectors(starts, columns, scaled.astype(np.float32))
