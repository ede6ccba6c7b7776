"""TF-IDF over the tokens of `words`, computed with NumPy alone: the numbers of scikit-learn's
`TfidfVectorizer(sublinear_tf=True)` without importing it (or SciPy), which would take most of a
small day's run.

Documents are sparse rows (`Vectors`); `Postings` holds the day's papers by term, so that the
cosines of any other rows (readers' queries, liked and rated papers) with every paper are one
sparse product. The ranking weighs words with BM25 (`bm25.py`, measured better), in the same
rows and postings (`Space`: what either weighting offers).
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from newsletter.words import tokens

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

# The English stop words of scikit-learn (after the Glasgow Information Retrieval Group's list),
# which the ranking was tuned with.
_STOP_WORDS = """
    a about above across after afterwards again against all almost alone along already also
    although always am among amongst amoungst amount an and another any anyhow anyone
    anything anyway anywhere are around as at back be became because become becomes becoming
    been before beforehand behind being below beside besides between beyond bill both bottom
    but by call can cannot cant co con could couldnt cry de describe detail do done down due
    during each eg eight either eleven else elsewhere empty enough etc even ever every
    everyone everything everywhere except few fifteen fifty fill find fire first five for
    former formerly forty found four from front full further get give go had has hasnt have
    he hence her here hereafter hereby herein hereupon hers herself him himself his how
    however hundred i ie if in inc indeed interest into is it its itself keep last latter
    latterly least less ltd made many may me meanwhile might mill mine more moreover most
    mostly move much must my myself name namely neither never nevertheless next nine no
    nobody none noone nor not nothing now nowhere of off often on once one only onto or
    other others otherwise our ours ourselves out over own part per perhaps please put
    rather re same see seem seemed seeming seems serious several she should show side since
    sincere six sixty so some somehow someone something sometime sometimes somewhere still
    such system take ten than that the their them themselves then thence there thereafter
    thereby therefore therein thereupon these they thick thin third this those though three
    through throughout thru thus to together too top toward towards twelve twenty two un
    under until up upon us very via was we well were what whatever when whence whenever
    where whereafter whereas whereby wherein whereupon wherever whether which while whither
    who whoever whole whom whose why will with within without would yet you your yours
    yourself yourselves
"""
STOP_WORDS = frozenset(_STOP_WORDS.split())
MAX_EXPANDED = 4_000_000  # (row, term, paper) products held at once by `Postings.cosines`
BY_TERM_FROM = 64  # rows from which `Postings.cosines` takes a product per term


def terms(text: str) -> list[str]:
    """What TF-IDF counts: tokens that are neither stop words nor numbers, and adjacent pairs."""
    words = [w for w in tokens(text) if w not in STOP_WORDS and not w.isdigit()]
    return words + [f"{a} {b}" for a, b in itertools.pairwise(words)]


def document_frequencies(
    counted: Sequence[Counter[str]],
) -> tuple[dict[str, int], NDArray[np.int64], NDArray[np.int64]]:
    """The vocabulary of counted documents (term -> column, in sorted order), each document's
    terms' columns one after another (in counting order), and in how many documents each term
    occurs."""
    import numpy as np

    vocabulary = {term: n for n, term in enumerate(sorted(set().union(*counted)))}
    columns = np.array([vocabulary[term] for counts in counted for term in counts], dtype=np.int64)
    return vocabulary, columns, np.bincount(columns, minlength=len(vocabulary))


class Space(Protocol):
    """Word weights learnt from a corpus: this module's `Tfidf`, or `bm25.Bm25`."""

    vocabulary: dict[str, int]
    corpus: Vectors  # the corpus's rows

    def place(self, texts: Sequence[str]) -> Vectors:
        """Rows for papers' texts (those of the corpus: its rows)."""

    def query(self, texts: Iterable[str]) -> Vectors:
        """Rows for readers' texts."""


@dataclass(frozen=True)
class Vectors:
    """Documents as sparse rows: row r weighs the terms `columns[starts[r]:starts[r + 1]]`
    (ascending) with `weights[starts[r]:starts[r + 1]]`; a row has L2 norm 1, or no terms."""

    starts: NDArray[np.int64]
    columns: NDArray[np.int64]
    weights: NDArray[np.float32]

    @property
    def rows(self) -> int:
        return len(self.starts) - 1

    def take(self, rows: Sequence[int]) -> Vectors:
        """These rows, in this order, as vectors of their own."""
        import numpy as np

        picked = np.asarray(rows, dtype=np.int64)
        begin = self.starts[picked]
        lengths = self.starts[picked + 1] - begin
        starts = np.zeros(len(picked) + 1, dtype=np.int64)
        np.cumsum(lengths, out=starts[1:])
        at = np.arange(starts[-1]) + np.repeat(begin - starts[:-1], lengths)
        return Vectors(starts, self.columns[at], self.weights[at])


class Tfidf:
    """Term weights learnt from a corpus: the sublinear term frequency 1 + log(count) times the
    smoothed inverse document frequency 1 + log((n + 1) / (df + 1)), each row L2-normalised, so
    that the product of two rows is their cosine. The arithmetic (float32 weights, float64
    norms) is that of scikit-learn's `TfidfVectorizer(sublinear_tf=True, dtype=float32)`, so
    the numbers are the same to the bit (a test compares them).
    """

    def __init__(self, corpus: Sequence[str]) -> None:
        import numpy as np

        counted = [Counter(terms(text)) for text in corpus]
        self.vocabulary, columns, found = document_frequencies(counted)
        df = found.astype(np.float32)
        df += 1.0
        self.idf = np.full_like(df, len(corpus) + 1)
        self.idf /= df
        np.log(self.idf, out=self.idf)
        self.idf += 1.0
        counts = [n for counts in counted for n in counts.values()]
        self.corpus = self._vectors([len(c) for c in counted], columns, counts)
        self._row = {text: row for row, text in enumerate(corpus)}

    def place(self, texts: Sequence[str]) -> Vectors:
        """`transform(texts)`, with the rows of texts of the corpus taken from `corpus` (the
        same numbers to the bit: the same terms, counted and weighed the same way)."""
        rows = [self._row.get(text) for text in texts]
        if any(row is None for row in rows):
            return self.transform(texts)
        return self.corpus.take([row for row in rows if row is not None])

    def query(self, texts: Iterable[str]) -> Vectors:
        """Rows for readers' texts: `transform` (a query is weighed as a document is)."""
        return self.transform(texts)

    def transform(self, texts: Iterable[str]) -> Vectors:
        """Rows for other texts in the corpus's terms; a term the corpus lacks is left out."""
        import numpy as np

        lengths, columns, counts = [], [], []
        for text in texts:
            known = [(self.vocabulary.get(t), n) for t, n in Counter(terms(text)).items()]
            known = [(column, n) for column, n in known if column is not None]
            lengths.append(len(known))
            columns += [column for column, _ in known]
            counts += [n for _, n in known]
        return self._vectors(lengths, np.array(columns, dtype=np.int64), counts)

    def _vectors(
        self, lengths: list[int], columns: NDArray[np.int64], counts: list[int]
    ) -> Vectors:
        import numpy as np

        row_of = np.repeat(np.arange(len(lengths)), np.asarray(lengths, dtype=np.int64))
        order = np.lexsort((columns, row_of))
        columns = columns[order]
        weights = np.log(np.array(counts, dtype=np.float32)[order])
        weights += 1.0
        weights *= self.idf[columns]
        norms = np.sqrt(np.bincount(row_of, weights * weights, minlength=len(lengths)))
        starts = np.zeros(len(lengths) + 1, dtype=np.int64)
        np.cumsum(lengths, out=starts[1:])
        return Vectors(starts, columns, (weights / norms[row_of]).astype(np.float32))


class Postings:
    """Vectors by term (the transpose), for the cosines of other rows with each of them."""

    def __init__(self, vectors: Vectors, terms: int) -> None:
        import numpy as np

        row_of = np.repeat(np.arange(vectors.rows), np.diff(vectors.starts))
        order = np.lexsort((row_of, vectors.columns))
        self.size = vectors.rows
        self.starts = np.zeros(terms + 1, dtype=np.int64)
        np.cumsum(np.bincount(vectors.columns, minlength=terms), out=self.starts[1:])
        self.rows = row_of[order]
        self.weights = vectors.weights[order]

    def cosines(
        self, vectors: Vectors, start: int = 0, stop: int | None = None
    ) -> NDArray[np.float32]:
        """Rows start..stop of `vectors` x these vectors: a sparse product, summed per cell in
        the rows' term order."""
        import numpy as np

        stop = vectors.rows if stop is None else stop
        if stop - start >= BY_TERM_FROM:
            return self._cosines_by_term(vectors, start, stop)
        first, last = vectors.starts[start], vectors.starts[stop]
        columns = vectors.columns[first:last]
        begin = self.starts[columns]
        length = self.starts[columns + 1] - begin
        ends = np.cumsum(length)
        total = int(ends[-1]) if len(ends) else 0
        if total > MAX_EXPANDED and stop - start > 1:
            middle = (start + stop) // 2
            return np.vstack(
                [self.cosines(vectors, start, middle), self.cosines(vectors, middle, stop)]
            )
        at = np.arange(total) + np.repeat(begin - (ends - length), length)
        row_of = np.repeat(
            np.arange(stop - start) * self.size, np.diff(vectors.starts[start : stop + 1])
        )
        cells = np.repeat(row_of, length) + self.rows[at]
        products = np.repeat(vectors.weights[first:last], length) * self.weights[at]
        result = np.zeros((stop - start) * self.size, dtype=np.float32)
        np.add.at(result, cells, products)  # in order: each cell sums its terms in ascending order
        return result.reshape(stop - start, self.size)

    def _cosines_by_term(self, vectors: Vectors, start: int, stop: int) -> NDArray[np.float32]:
        """`cosines` for many rows: one block product per term, terms in ascending order, so
        each cell sums its terms in the same order (the same floats to the bit)."""
        import numpy as np

        first, last = vectors.starts[start], vectors.starts[stop]
        row_of = np.repeat(np.arange(stop - start), np.diff(vectors.starts[start : stop + 1]))
        order = np.argsort(vectors.columns[first:last], kind="stable")
        columns = vectors.columns[first:last][order]
        rows, weights = row_of[order], vectors.weights[first:last][order]
        result = np.zeros((stop - start, self.size), dtype=np.float32)
        bounds = np.flatnonzero(np.diff(columns)) + 1
        for begin, end in zip(np.r_[0, bounds], np.r_[bounds, len(columns)], strict=True):
            term = columns[begin]
            papers = slice(self.starts[term], self.starts[term + 1])
            if papers.start < papers.stop:  # a row has a term once, a paper too: no cell twice
                block = np.ix_(rows[begin:end], self.rows[papers])
                result[block] += np.outer(weights[begin:end], self.weights[papers])
        return result
