"""Matching readers' phrases and names against the day's papers, once for all readers.

Every paper's title and abstract are split into normalised tokens once (`words`); a keyword is
looked up as a token sequence in an index of n-grams, so ten thousand readers' keywords cost a
dictionary look-up each instead of a regular-expression scan of every abstract.

Short acronyms written in capitals by the reader (`MoE`, `RL`, `RAG`) match only the same
capitals as a whole word, so `MoE` does not match `Moebius` or `moe`. A keyword with symbols or
scripts that tokens cannot carry (`C++`, `量子`) falls back to a literal search.

Similarity is TF-IDF over the same tokens: `tfidf.py` (re-exported here).
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from newsletter.models import Paper
from newsletter.tfidf import STOP_WORDS as STOP_WORDS
from newsletter.tfidf import Postings as Postings
from newsletter.tfidf import Tfidf as Tfidf
from newsletter.tfidf import Vectors as Vectors
from newsletter.tfidf import terms as terms
from newsletter.words import TOKEN, fold, is_acronym, singular, tokens

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

MAX_NGRAM = 8
_SIMPLE_KEYWORD = re.compile(r"^[\w\s\-‐‑–/.,'’]+$", re.UNICODE)
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af]")


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
        start = r"(?<![^\W_])" if TOKEN.match(fold(stripped[:1]) or " ") else ""
        end = (
            r"(?![^\W_])"
            if TOKEN.match(fold(stripped[-1:]) or " ") and not _CJK.search(stripped)
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
        folded = fold(text)
        self.folded.append(folded)
        words = [singular(token) for token in TOKEN.findall(folded)]  # tokens(text)
        self.words.append(words)
        for position, word in enumerate(words):
            self.postings[word].append((index, position))
        for word in set(TOKEN.findall(text)):
            if not word.islower() and is_acronym(word.removesuffix("s")):  # two capitals
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
