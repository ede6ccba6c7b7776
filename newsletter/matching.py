"""Matching readers' phrases and names against the day's papers, once for all readers.

Every paper's title and abstract are split into normalised tokens once (`words`); a keyword is
looked up as a token sequence in an index of n-grams, so ten thousand readers' keywords cost a
dictionary look-up each instead of a regular-expression scan of every abstract.

Short acronyms written in capitals by the reader (`MoE`, `RL`, `RAG`) match only the same
capitals as a whole word, so `MoE` does not match `Moebius` or `moe`. A keyword with symbols or
scripts that tokens cannot carry (`C++`, `量子`) falls back to a literal search.

A keyword is also found written another way (`abbreviations.forms`): `LLM agents` as `large
language model agents`, `retrieval-augmented generation` as `RAG`, `Schrödinger` as
`Schroedinger`; a short form counts only where the paper does not define it as something else.
Where it is found says how central it is: in the title, in the abstract's first LEAD_SENTENCES
sentences or more than once, or in passing.

Similarity is over the same tokens: `bm25.py`, in the rows of `tfidf.py` (re-exported here).
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from newsletter.abbreviations import (
    Definition,
    Form,
    Glossary,
    LongForm,
    definitions,
    forms,
    own_definitions,
)
from newsletter.models import Paper, Profile
from newsletter.tfidf import STOP_WORDS as STOP_WORDS
from newsletter.tfidf import Postings as Postings
from newsletter.tfidf import Tfidf as Tfidf
from newsletter.tfidf import Vectors as Vectors
from newsletter.tfidf import terms as terms
from newsletter.words import TOKEN, fold, is_acronym, singular, tokens, without_umlauts

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

MAX_NGRAM = 8
LEAD_SENTENCES = 2  # of an abstract, where a phrase counts as central
_SENTENCE_END = re.compile(r"[.!?](?=\s+[A-Z0-9(\[])")
_SIMPLE_KEYWORD = re.compile(r"^[\w\s\-‐‑–/.,'’]+$", re.UNICODE)
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af]")


@dataclass(frozen=True)
class Keyword:
    """A reader's phrase, prepared for look-up."""

    text: str
    ngram: tuple[str, ...] = ()  # normalised tokens, for the index
    acronym: str | None = None  # exact-case whole-word match
    literal: re.Pattern[str] | None = None  # fallback search
    means: tuple[tuple[str, LongForm], ...] = ()  # its short forms, as the day reads them
    forms: tuple[Form, ...] = ()  # other ways to write it (`large language model` for `LLM`)

    @classmethod
    def parse(cls, text: str, glossary: Glossary | None = None) -> Keyword:
        stripped = text.strip()
        means, others = forms(stripped, glossary) if glossary is not None else ((), [])
        written = without_umlauts(stripped)
        if written != stripped and _SIMPLE_KEYWORD.match(stripped):
            others.append(Form(tuple(tokens(written)), written, ()))
        if is_acronym(stripped.removesuffix("s")):
            return cls(stripped, acronym=stripped.removesuffix("s"), means=means, forms=(*others,))
        words = tokens(stripped)
        if (
            words
            and len(words) <= MAX_NGRAM
            and _SIMPLE_KEYWORD.match(stripped)
            and not _CJK.search(stripped)
        ):
            return cls(stripped, ngram=tuple(words), means=means, forms=(*others,))
        escaped = re.escape(fold(stripped))
        start = r"(?<![^\W_])" if TOKEN.match(fold(stripped[:1]) or " ") else ""
        end = (
            r"(?![^\W_])"
            if TOKEN.match(fold(stripped[-1:]) or " ") and not _CJK.search(stripped)
            else ""
        )
        return cls(stripped, literal=re.compile(start + escaped + end))


Places = dict[int, list[int]]  # paper -> token positions of a phrase in one of its fields


@dataclass
class _Field:
    """One text field of every paper, indexed by token position; `lead`: where each paper's
    first LEAD_SENTENCES sentences end (in tokens, and in characters of the folded text)."""

    folded: list[str] = field(default_factory=list)
    words: list[list[str]] = field(default_factory=list)
    postings: dict[str, list[tuple[int, int]]] = field(default_factory=lambda: defaultdict(list))
    acronyms: dict[str, set[int]] = field(default_factory=lambda: defaultdict(set))
    lead: list[tuple[int, int]] = field(default_factory=list)

    def add(self, index: int, text: str, lead: str | None = None) -> None:
        """Index `text`; `lead`, its beginning that counts as its lead (None: all of it)."""
        folded = fold(text)
        self.folded.append(folded)
        words = [singular(token) for token in TOKEN.findall(folded)]  # tokens(text)
        self.words.append(words)
        for position, word in enumerate(words):
            self.postings[word].append((index, position))
        for word in set(TOKEN.findall(text)):
            if not word.islower() and is_acronym(word.removesuffix("s")):  # two capitals
                self.acronyms[word.removesuffix("s")].add(index)
        if lead is None:
            self.lead.append((len(words), len(folded)))
        else:
            self.lead.append((len(TOKEN.findall(fold(lead))), len(fold(lead))))

    def find(self, keyword: Keyword) -> Places:
        """The papers with `keyword` as written, and where in this field."""
        if keyword.acronym is not None:
            return self.acronym(keyword.acronym)
        if keyword.ngram:
            return self.ngram(keyword.ngram)
        assert keyword.literal is not None
        pattern, found = keyword.literal, {}
        for i, text in enumerate(self.folded):
            starts = [m.start() for m in pattern.finditer(text)]
            if starts:  # character offsets as positions: in the lead, or after it
                found[i] = [0 if at < self.lead[i][1] else self.lead[i][0] for at in starts]
        return found

    def acronym(self, short: str) -> Places:
        papers = self.acronyms.get(short)
        if not papers:
            return {}
        found: Places = {i: [] for i in papers}
        words = {singular(fold(short)), singular(fold(short + "s"))}  # `GPUs` stays `gpus`
        for word in words:
            for i, position in self.postings.get(word, ()):
                if i in found:
                    found[i].append(position)
        for i, at in found.items():
            if not at:  # folded into other tokens: one mention, after the lead
                at.append(self.lead[i][0])
            at.sort()
        return found

    def ngram(self, ngram: tuple[str, ...]) -> Places:
        first, rest = ngram[0], list(ngram[1:])
        size = len(rest)
        found: Places = {}
        for index, position in self.postings.get(first, ()):
            if not rest or self.words[index][position + 1 : position + 1 + size] == rest:
                found.setdefault(index, []).append(position)
        return found

    def central(self, places: Places) -> set[int]:
        """Of these papers, those where the phrase is central: in the lead, or said again."""
        return {i for i, at in places.items() if len(at) > 1 or min(at) < self.lead[i][0]}


@dataclass(frozen=True)
class Found:
    """Where a reader's phrase is in the day's papers."""

    title: set[int]
    body: set[int]  # in the abstract, title or not
    central: set[int]  # of `body`: in its first sentences, or more than once
    title_forms: dict[int, str]  # papers whose title writes it only another way: that way
    body_forms: dict[int, str]  # ... whose abstract does


class PaperIndex:
    """The day's papers, indexed for keyword and author look-ups; `glossary`: what the short
    forms of the day mean (default: the curated list), each paper's own definitions apart."""

    def __init__(
        self,
        papers: Sequence[Paper],
        glossary: Glossary | None = None,
        defined: Sequence[Sequence[Definition]] | None = None,
    ) -> None:
        """`defined`: each paper's own definitions (`defined_in`), when they were found
        already; `glossary`: default, the curated list and these definitions."""
        self.papers = papers
        self.titles = _Field()
        self.bodies = _Field()  # abstract, AI summary and keywords
        self.authors: dict[tuple[str, str], set[int]] = defaultdict(set)
        self.author_keys: list[list[tuple[str, str, str]]] = []
        for index, paper in enumerate(papers):
            self.titles.add(index, paper.title)
            extra = " ".join((paper.extras.ai_summary or "", *paper.extras.keywords))
            self.bodies.add(index, f"{paper.abstract} {extra}", lead_of(paper.abstract))
            keys = [key for key in map(author_key, paper.authors) if key is not None]
            self.author_keys.append(keys)
            for key in keys:
                self.authors[key[:2]].add(index)
        if defined is None:
            defined = [defined_in(paper) for paper in papers]
        self.defined = [own_definitions(found) for found in defined]  # short -> long, per paper
        self.glossary = glossary or Glossary.learn(defined)
        self._cache: dict[str, Found] = {}
        self._paper_words: dict[int, set[str]] = {}
        self._concepts: dict[str, tuple[str, ...]] = {}
        self._author_cache: dict[str, set[int]] = {}
        self._positions: dict[str, tuple[NDArray[np.int64], ...]] = {}
        self._author_positions: dict[str, NDArray[np.int64]] = {}

    def keyword(self, text: str, reading: Glossary | None = None) -> Found:
        """Where `text` is, as written or written another way (`LLM` as `large language
        model`), leaving out the papers that give one of its short forms another meaning;
        `reading`: the glossary as the reader reads it (`Glossary.read_by`), default the day's."""
        glossary = reading or self.glossary
        key = self._key(text, glossary)
        if key not in self._cache:
            self._cache[key] = self._find(Keyword.parse(text, glossary))
        return self._cache[key]

    def _key(self, text: str, glossary: Glossary) -> str:
        """The cache key of `text` as `glossary` reads it: the text, and every short form the
        reader reads their own way (its long form may be in the text: `text-to-speech` is
        also `TTS` to a reader of speech)."""
        if glossary is self.glossary:
            return text
        own = [
            f"{short}={' '.join(glossary.meanings.get(short, ()))}"
            for short in glossary.readings
            if glossary.meanings.get(short) != self.glossary.meanings.get(short)
        ]
        return "\n".join([text, *own])

    def _find(self, keyword: Keyword) -> Found:
        title, in_title = self._places(self.titles, keyword)
        body, in_body = self._places(self.bodies, keyword)
        return Found(set(title), set(body), self.bodies.central(body), in_title, in_body)

    def _places(self, field_: _Field, keyword: Keyword) -> tuple[Places, dict[int, str]]:
        """Where `keyword` is in this field, and the papers where it is written only another
        way, with that way. A short form counts only where the paper does not define it as
        something else."""
        places = {i: at for i, at in field_.find(keyword).items() if self._agrees(i, keyword.means)}
        written: dict[int, str] = {}
        for form in keyword.forms:
            if len(form.tokens) == 1 and is_acronym(form.written):
                found = field_.acronym(form.written)  # an abbreviation: in capitals only
            else:
                found = field_.ngram(form.tokens)
            for i, at in found.items():
                if self._agrees(i, form.means):
                    if i not in places:
                        written.setdefault(i, form.written)
                    places.setdefault(i, []).extend(at)
        return places, written

    def concept(self, text: str) -> tuple[str, ...]:
        """What a phrase says, its short forms written out: `GNNs` and `graph neural
        network` say (`graph`, `neural`, `network`)."""
        if text not in self._concepts:
            found = tuple(tokens(self.glossary.expand(text.strip())))
            self._concepts[text] = found or (text,)
        return self._concepts[text]

    def _agrees(self, i: int, means: Sequence[tuple[str, LongForm]]) -> bool:
        """Whether paper `i` reads these short forms the same way: as it defines them, else,
        for a short form with several meanings, as its words say (`Glossary.reads`; when they
        do not tell, it agrees)."""
        own = self.defined[i]
        for short, long in means:
            if short in own:
                if own[short] != long:
                    return False
            elif short in self.glossary.readings:
                read = self.glossary.reads(short, self._words(i))
                if read is not None and read != long:
                    return False
        return True

    def _words(self, i: int) -> set[str]:
        """Paper `i`'s tokens, title and abstract."""
        if i not in self._paper_words:
            self._paper_words[i] = {*self.titles.words[i], *self.bodies.words[i]}
        return self._paper_words[i]

    def keyword_positions(
        self, text: str, reading: Glossary | None = None
    ) -> tuple[NDArray[np.int64], ...]:
        """`keyword` as sorted index arrays: in the title; only in the abstract, centrally;
        only in the abstract, in passing."""
        key = self._key(text, reading or self.glossary)
        if key not in self._positions:
            import numpy as np

            found = self.keyword(text, reading)
            body = found.body - found.title
            self._positions[key] = tuple(
                np.array(sorted(papers), dtype=np.int64)
                for papers in (found.title, body & found.central, body - found.central)
            )
        return self._positions[key]

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


def reading_of(profile: Profile, glossary: Glossary) -> Glossary:
    """The day's glossary as this reader reads it: their short forms with several meanings in
    the light of their keywords and description (`Glossary.read_by`)."""
    return glossary.read_by(" ".join([*profile.keywords, profile.description or ""]))


def defined_in(paper: Paper) -> list[Definition]:
    """The abbreviations a paper defines in its title and abstract."""
    return definitions(f"{paper.title}. {paper.abstract}")


def lead_of(abstract: str) -> str:
    """The first LEAD_SENTENCES sentences of an abstract: where its topic is stated."""
    ends = [m.end() for m in _SENTENCE_END.finditer(abstract)]
    return abstract if len(ends) < LEAD_SENTENCES else abstract[: ends[LEAD_SENTENCES - 1]]


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
