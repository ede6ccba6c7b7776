"""Matching readers' phrases and names against the day's papers, once for all readers.

Every paper's title and abstract are split into normalised tokens once; a keyword is looked up
as a token sequence in an index of n-grams, so ten thousand readers' keywords cost a dictionary
look-up each instead of a regular-expression scan of every abstract.

Normalisation makes the variants readers expect match: case, accents (`Schrödinger` =
`Schrodinger`), plural/singular (`diffusion models` = `Diffusion Model`) and hyphen/space
(`diffusion-model`). Short acronyms written in capitals by the reader (`MoE`, `RL`, `RAG`) match
only the same capitals as a whole word, so `MoE` does not match `Moebius` or `moe`. A keyword
with symbols or scripts that tokens cannot carry (`C++`, `量子`) falls back to a literal search.

Similarity is TF-IDF over the same tokens (`Tfidf`), computed with NumPy alone: the numbers of
scikit-learn's `TfidfVectorizer(sublinear_tf=True)` without importing it (or SciPy), which
would take most of a small day's run.
"""

from __future__ import annotations

import itertools
import re
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING

from newsletter.models import Paper

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

MAX_NGRAM = 8
_TOKEN = re.compile(r"[^\W_]+", re.UNICODE)
_SIMPLE_KEYWORD = re.compile(r"^[\w\s\-‐‑–/.,'’]+$", re.UNICODE)
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af]")
_INVARIANT = ("ss", "us", "is", "ics", "sis", "ous")


def fold(text: str) -> str:
    """Lower case without accents: `Łochowski` -> `lochowski`."""
    if text.isascii():
        return text.lower()
    decomposed = unicodedata.normalize("NFKD", text.replace("ł", "l").replace("Ł", "L"))
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()


@lru_cache(maxsize=65536)
def singular(token: str) -> str:
    """A crude, consistent singular: the same rule is applied to keywords and to text."""
    if len(token) <= 3 or token.endswith(_INVARIANT):
        return token
    if token.endswith("ies") and len(token) > 4:
        return token[:-3] + "y"
    if token.endswith(("sses", "xes", "ches", "shes", "zes")):
        return token[:-2]
    if token.endswith("s"):
        return token[:-1]
    return token


def tokens(text: str) -> list[str]:
    return [singular(token) for token in _TOKEN.findall(fold(text))]


def is_acronym(word: str) -> bool:
    """`MoE`, `RL`, `LLM`, `RAG`: short, with at least two capitals."""
    return 2 <= len(word) <= 6 and sum(ch.isupper() for ch in word) >= 2 and word.isalnum()


@dataclass(frozen=True)
class Keyword:
    """A reader's phrase, prepared for look-up."""

    text: str
    ngram: tuple[str, ...] = ()  # normalised tokens, for the index
    acronym: str | None = None  # exact-case whole-word match
    literal: re.Pattern[str] | None = None  # fallback search

    @classmethod
    def parse(cls, text: str) -> Keyword:
        stripped = text.strip()
        if is_acronym(stripped.removesuffix("s")):
            return cls(stripped, acronym=stripped.removesuffix("s"))
        words = tokens(stripped)
        if (
            words
            and len(words) <= MAX_NGRAM
            and _SIMPLE_KEYWORD.match(stripped)
            and not _CJK.search(stripped)
        ):
            return cls(stripped, ngram=tuple(words))
        escaped = re.escape(fold(stripped))
        start = r"(?<![^\W_])" if _TOKEN.match(fold(stripped[:1]) or " ") else ""
        end = (
            r"(?![^\W_])"
            if _TOKEN.match(fold(stripped[-1:]) or " ") and not _CJK.search(stripped)
            else ""
        )
        return cls(stripped, literal=re.compile(start + escaped + end))


@dataclass
class _Field:
    """One text field of every paper, indexed by token position."""

    folded: list[str] = field(default_factory=list)
    words: list[list[str]] = field(default_factory=list)
    postings: dict[str, list[tuple[int, int]]] = field(default_factory=lambda: defaultdict(list))
    acronyms: dict[str, set[int]] = field(default_factory=lambda: defaultdict(set))

    def add(self, index: int, text: str) -> None:
        self.folded.append(fold(text))
        words = tokens(text)
        self.words.append(words)
        for position, word in enumerate(words):
            self.postings[word].append((index, position))
        for word in _TOKEN.findall(text):
            if is_acronym(word.removesuffix("s")):
                self.acronyms[word.removesuffix("s")].add(index)

    def find(self, keyword: Keyword) -> set[int]:
        if keyword.acronym is not None:
            return self.acronyms.get(keyword.acronym, set())
        if keyword.ngram:
            first, rest = keyword.ngram[0], list(keyword.ngram[1:])
            size = len(rest)
            return {
                index
                for index, position in self.postings.get(first, ())
                if not rest or self.words[index][position + 1 : position + 1 + size] == rest
            }
        assert keyword.literal is not None
        return {i for i, text in enumerate(self.folded) if keyword.literal.search(text)}


class PaperIndex:
    """The day's papers, indexed for keyword and author look-ups."""

    def __init__(self, papers: Sequence[Paper]) -> None:
        self.papers = papers
        self.titles = _Field()
        self.bodies = _Field()  # abstract, AI summary and keywords
        self.authors: dict[tuple[str, str], set[int]] = defaultdict(set)
        self.author_keys: list[list[tuple[str, str, str]]] = []
        for index, paper in enumerate(papers):
            self.titles.add(index, paper.title)
            extra = " ".join((paper.extras.ai_summary or "", *paper.extras.keywords))
            self.bodies.add(index, f"{paper.abstract} {extra}")
            keys = [key for key in map(author_key, paper.authors) if key is not None]
            self.author_keys.append(keys)
            for key in keys:
                self.authors[key[:2]].add(index)
        self._cache: dict[str, tuple[set[int], set[int]]] = {}
        self._author_cache: dict[str, set[int]] = {}
        self._positions: dict[str, tuple[NDArray[np.int64], NDArray[np.int64]]] = {}
        self._author_positions: dict[str, NDArray[np.int64]] = {}

    def keyword(self, text: str) -> tuple[set[int], set[int]]:
        """Papers with `text` in the title, and papers with it in the abstract."""
        if text not in self._cache:
            keyword = Keyword.parse(text)
            self._cache[text] = (self.titles.find(keyword), self.bodies.find(keyword))
        return self._cache[text]

    def keyword_positions(self, text: str) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
        """`keyword` as sorted index arrays: in the title, and in the abstract only."""
        if text not in self._positions:
            import numpy as np

            title, body = self.keyword(text)
            self._positions[text] = (
                np.array(sorted(title), dtype=np.int64),
                np.array(sorted(body - title), dtype=np.int64),
            )
        return self._positions[text]

    def author_positions(self, name: str) -> NDArray[np.int64]:
        if name not in self._author_positions:
            import numpy as np

            self._author_positions[name] = np.array(sorted(self.author(name)), dtype=np.int64)
        return self._author_positions[name]

    def author(self, name: str) -> set[int]:
        """Papers by the person called `name`."""
        if name not in self._author_cache:
            self._author_cache[name] = self._find_author(name)
        return self._author_cache[name]

    def _find_author(self, name: str) -> set[int]:
        key = author_key(name)
        if key is None:
            return set()
        last, initial, first = key
        found = self.authors.get((last, initial), set())
        if not first or len(first) == 1:
            return set(found)
        return {i for i in found if _same_first_name(first, self.author_keys[i], last)}


def author_key(name: str) -> tuple[str, str, str] | None:
    """(last name, first initial, first name) folded: `Krajewski, Jakub`, `J. Krajewski` and
    `Jakub Krajewski` share (`krajewski`, `j`, ...)."""
    text = name.strip()
    if "," in text:
        last_part, _, first_part = text.partition(",")
        text = f"{first_part} {last_part}"
    words = [w for w in re.split(r"[\s.]+", fold(text)) if w and not w.startswith("(")]
    words = [w for w in words if w not in ("jr", "sr", "ii", "iii")]
    if len(words) < 2:
        return (words[0], "", "") if words else None
    first = words[0].strip("-")
    return (words[-1], first[:1], first)


def _same_first_name(first: str, keys: Iterable[tuple[str, str, str]], last: str) -> bool:
    """A full first name must agree with a full first name; an initial agrees with any."""
    for key in keys:
        if key[0] == last and key[1] == first[:1]:
            other = key[2]
            if (
                len(other) == 1
                or other == first
                or other.startswith(first)
                or first.startswith(other)
            ):
                return True
    return False


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


def terms(text: str) -> list[str]:
    """What TF-IDF counts: tokens that are neither stop words nor numbers, and adjacent pairs."""
    words = [w for w in tokens(text) if w not in STOP_WORDS and not w.isdigit()]
    return words + [f"{a} {b}" for a, b in itertools.pairwise(words)]


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
        vocabulary = sorted(set().union(*counted))
        self.vocabulary = {term: n for n, term in enumerate(vocabulary)}
        columns = np.array(
            [self.vocabulary[term] for counts in counted for term in counts], dtype=np.int64
        )
        df = np.bincount(columns, minlength=len(vocabulary)).astype(np.float32)
        df += 1.0
        self.idf = np.full_like(df, len(corpus) + 1)
        self.idf /= df
        np.log(self.idf, out=self.idf)
        self.idf += 1.0
        counts = [n for counts in counted for n in counts.values()]
        self.corpus = self._vectors([len(c) for c in counted], columns, counts)

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
