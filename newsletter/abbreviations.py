"""Abbreviations, so that `LLM`, `LLMs` and `large language model(s)` are one term for keyword
matching and for similarity.

Two sources of "long form (SHORT)" pairs:
- the text itself: definitions found with the algorithm of A. S. Schwartz and M. A. Hearst,
  "A simple algorithm for identifying abbreviation definitions in biomedical text", Pacific
  Symposium on Biocomputing 8:451-462 (2003) (`definitions`). A paper's own definition holds
  for that paper; the day's definitions hold for the papers (and readers) that use a short form
  without defining it;
- a curated list of the field's most common ones (`newsletter/data/abbreviations.txt`), for
  what nobody defines because everybody knows it.

A short form counts only as written, capitals and all (`is_acronym`): `RAG` is not `rag`, and
`ANN` is not the name `Ann`. Short forms with several long forms (`ANN`: artificial neural
network or approximate nearest neighbour) are read the way the day mostly defines them
(`Glossary.meaning`), and left as written when the day does not say; a paper that defines one
its own way keeps its own meaning.

A short form is also read in context. A reader's (`Glossary.read_by`): `TTS` among keywords
about speech is text-to-speech, among keywords about reasoning test-time scaling. A paper's,
when it uses a short form with several known meanings without defining it (`Glossary.reads`):
the meaning whose words it uses most, so that `ASR` in a jailbreak paper about attacks is not
automatic speech recognition. The curated list names such other meanings (`~`) even where the
field mostly means one thing.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from importlib.resources import files

from newsletter.words import TOKEN, fold, is_acronym, singular, tokens

MAX_SHORT = 10  # characters of a short form (Schwartz & Hearst's limit)
MAX_INSIDE = 60  # characters looked at inside the parentheses
MAX_BEFORE = 300  # characters looked at before them
DOMINANT = 2 / 3  # share of a short form's definitions that makes a long form its meaning
_FUNCTION_WORDS = frozenset(
    {"a", "an", "and", "for", "from", "in", "of", "on", "the", "to", "with"}
)

_OPEN = re.compile(r"\(")
_CLAUSE_END = re.compile(r"[.!?;:\[\](){}]\s|[\[\](){};]")
_ACRONYM = re.compile(r"(?<![^\W_])[^\W_]*[A-Z][^\W_]*(?![^\W_])")  # a word with a capital

LongForm = tuple[str, ...]  # a long form's tokens (`words.tokens`): ("large", "language", "model")


@dataclass(frozen=True)
class Definition:
    """`long` (as written) defines `short` (as written, a plural `s` dropped: `LLMs` -> `LLM`)."""

    short: str
    long: str

    @property
    def tokens(self) -> LongForm:
        return tuple(tokens(self.long))


def definitions(text: str) -> list[Definition]:
    """The abbreviations `text` defines, as "long form (SF)" or "SF (long form)", in order.

    Schwartz & Hearst's algorithm: for each parenthesis, the short form is the clause inside it
    (up to a comma or semicolon) and the long form is found in the words before it, by matching
    the short form's letters and digits from right to left, its first one at the start of a
    word. Bounded for hostile text: each parenthesis looks at most MAX_INSIDE characters in and
    MAX_BEFORE back, so a text costs time in proportion to its length."""
    found = []
    for match in _OPEN.finditer(text):
        start = match.start()
        inside = _inside(text, start)
        if inside is None:
            continue
        before = _clause_before(text, start)
        pair = _pair(inside, before)
        if pair is not None:
            short, long = pair
            if short.endswith("s") and is_acronym(short[:-1]):
                short = short[:-1]
            if is_acronym(short) and len(tokens(long)) >= 2:
                found.append(Definition(short, long))
    return found


def _inside(text: str, start: int) -> str | None:
    """The clause inside the parenthesis opened at `start`, up to a comma or semicolon; None
    without a closing one. A nested parenthesis ends it: in `(MoE (sparse))` it is `MoE`."""
    window = text[start + 1 : start + 1 + MAX_INSIDE]
    end = min((i for i in (window.find(")"), window.find("(")) if i >= 0), default=-1)
    if end <= 0:
        return None
    inside = window[:end]
    for separator in (", ", "; "):
        inside = inside.split(separator, 1)[0]
    return inside.strip()


def _clause_before(text: str, start: int) -> str:
    """The words before the parenthesis at `start`, back to the end of a sentence or clause."""
    window = text[max(0, start - MAX_BEFORE) : start]
    ends = list(_CLAUSE_END.finditer(window))
    return window[ends[-1].end() :] if ends else window


def _pair(inside: str, before: str) -> tuple[str, str] | None:
    """(short, long) from a parenthesis and the clause before it, in either order."""
    words = before.split()
    if not words or not inside:
        return None
    if len(inside.split()) <= 2 and len(inside) < len(before.strip()):
        size = min(len(inside) + 5, len(inside) * 2)  # the long form's words at most
        return _matched(inside, " ".join(re.split(r"[\s]+", before.strip())[-size:]))
    short = words[-1].strip(",.;:")  # "SF (long form)"
    return _matched(short, inside) if any(ch.isupper() for ch in short) else None


def _matched(short: str, candidate: str) -> tuple[str, str] | None:
    """The pair when `candidate` ends in a long form of `short` that passes the checks."""
    if not _valid_short(short):
        return None
    long = best_long_form(short, candidate)
    if long is None:
        return None
    characters = sum(ch.isalnum() for ch in short)
    size = len(re.split(r"[\s-]+", long.strip()))
    if (
        len(long) < len(short)
        or f"{short} " in long
        or long.endswith(short)
        or size > 2 * characters
        or size > characters + 5
        or characters > MAX_SHORT
    ):
        return None
    return short, long


def _valid_short(short: str) -> bool:
    return (
        2 <= len(short) <= MAX_SHORT
        and any(ch.isalpha() for ch in short)
        and short[0].isalnum()
        and len(short.split()) <= 2
    )


def best_long_form(short: str, candidate: str) -> str | None:
    """The shortest end of `candidate` that holds the short form's letters and digits in order,
    the first at the start of a word (Schwartz & Hearst's `findBestLongForm`); None if none."""
    s, c = len(short) - 1, len(candidate) - 1
    while s >= 0:
        char = short[s].lower()
        if not char.isalnum():
            s -= 1
            continue
        while (c >= 0 and candidate[c].lower() != char) or (
            s == 0 and c > 0 and candidate[c - 1].isalnum()
        ):
            c -= 1
        if c < 0:
            return None
        c -= 1
        s -= 1
    return candidate[candidate.rfind(" ", 0, c + 1) + 1 :]


# ---------------------------------------------------------------------------- the glossary


@lru_cache(maxsize=1)
def curated() -> tuple[Definition, ...]:
    """The curated list (`newsletter/data/abbreviations.txt`), one definition per long form;
    not the other meanings marked `~` (`also_meant`)."""
    return tuple(d for d, other in _curated_lines() if not other)


def also_meant() -> tuple[Definition, ...]:
    """The other meanings the curated list gives short forms (`~`): known, so that a paper
    using one is told apart, but never a day's reading unless the day defines it so."""
    return tuple(d for d, other in _curated_lines() if other)


@lru_cache(maxsize=1)
def _curated_lines() -> tuple[tuple[Definition, bool], ...]:
    text = files("newsletter.data").joinpath("abbreviations.txt").read_text("utf-8")
    found = []
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            short, _, longs = line.partition(" ")
            for long in longs.split("|"):
                other = long.strip().startswith("~")
                found.append((Definition(short, long.strip().removeprefix("~").strip()), other))
    return tuple(found)


@dataclass(frozen=True)
class Glossary:
    """What the short forms of a day mean: the curated list and the day's own definitions."""

    meanings: Mapping[str, LongForm]  # short -> the long form it has, when one dominates
    short_forms: Mapping[LongForm, tuple[str, ...]]  # long form -> the short forms meaning it
    written: Mapping[LongForm, str]  # long form -> as the curated list or a text wrote it
    longest: int  # tokens of the longest long form
    readings: Mapping[str, tuple[LongForm, ...]] = field(default_factory=dict)  # short -> every
    # long form known for it (curated, other meanings, the day's), when there are several

    @classmethod
    def learn(cls, defined: Iterable[Sequence[Definition]]) -> Glossary:
        """The curated list, with every definition of `defined` (each text's) counted once per
        text; a curated long form counts as one definition."""
        counts: dict[str, Counter[LongForm]] = defaultdict(Counter)
        written: dict[LongForm, str] = {}
        known: dict[str, set[LongForm]] = defaultdict(set)
        for definition in also_meant():
            known[definition.short].add(definition.tokens)
            written.setdefault(definition.tokens, " ".join(definition.long.lower().split()))
        for found in [curated(), *defined]:
            for definition in found:
                written.setdefault(definition.tokens, " ".join(definition.long.lower().split()))
            for short, long in {(d.short, d.tokens) for d in found}:
                counts[short][long] += 1
        meanings = {}
        for short, longs in sorted(counts.items()):
            long, count = max(longs.items(), key=lambda item: (item[1], item[0]))
            if count >= DOMINANT * sum(longs.values()):
                meanings[short] = long
        for short, longs in counts.items():
            known[short].update(longs)
        readings = {short: tuple(sorted(longs)) for short, longs in known.items() if len(longs) > 1}
        return cls.of(meanings, written, readings)

    @classmethod
    def of(
        cls,
        meanings: Mapping[str, LongForm],
        written: Mapping[LongForm, str],
        readings: Mapping[str, tuple[LongForm, ...]],
    ) -> Glossary:
        """The glossary that reads short forms as `meanings` says."""
        short_forms: dict[LongForm, list[str]] = defaultdict(list)
        for short, long in meanings.items():
            short_forms[long].append(short)
        longest = max(map(len, short_forms), default=0)
        short_forms_of = {k: tuple(v) for k, v in short_forms.items()}
        return cls(meanings, short_forms_of, written, longest, readings)

    def read_by(self, context: str) -> Glossary:
        """This glossary as a reader whose keywords and description are `context` reads it: a
        short form with several meanings written there takes the one whose words the context
        uses most, over the day's (the day's when the context does not tell, or on a tie).
        Itself when that changes nothing."""
        written = [short for short in self.readings if short in context]
        if not written:
            return self
        words = set(tokens(self.expand(context)))
        chosen = {
            short: long
            for short in written
            if (long := _most_used(self.readings[short], words)) is not None
            and long != self.meanings.get(short)
        }
        if not chosen:
            return self
        return Glossary.of({**self.meanings, **chosen}, self.written, self.readings)

    def reads(self, short: str, words: set[str]) -> LongForm | None:
        """What a text that uses `short` without defining it means by it, from its `words`
        (`words.tokens`): of the several meanings known, the one whose words it uses most;
        None when `short` has one meaning, or on a tie."""
        readings = self.readings.get(short)
        return None if readings is None else _most_used(readings, words)

    def meaning(self, short: str, own: Mapping[str, LongForm] | None = None) -> LongForm | None:
        """What `short` stands for in a text that defines `own`: its own definition, else the
        day's dominant one; None when the day does not say."""
        if own and short in own:
            return own[short]
        return self.meanings.get(short)

    def expand(self, text: str, own: Mapping[str, LongForm] | None = None) -> str:
        """`text` with every short form written out as its long form (`LLMs` -> `large
        language model`), for similarity: the long form shares words with related terms. A
        short form with several meanings that `text` does not define is read as its words say
        (`reads`), else as the day reads it."""

        words: set[str] | None = None

        def written_out(match: re.Match[str]) -> str:
            nonlocal words
            word = match.group()
            short = word[:-1] if word.endswith("s") and is_acronym(word[:-1]) else word
            if not is_acronym(short):
                return word
            long = self.meaning(short, own)
            if short in self.readings and not (own and short in own):  # as the text reads it
                words = set(tokens(text)) if words is None else words
                long = self.reads(short, words) or long
            return word if long is None else " ".join(long)

        return _ACRONYM.sub(written_out, text)


def _most_used(readings: Sequence[LongForm], words: set[str]) -> LongForm | None:
    """Of `readings`, the one with the most of its content words in `words`; None on a tie
    (or when none is used)."""
    used = sorted(
        ((len((set(long) - _FUNCTION_WORDS) & words), long) for long in readings), reverse=True
    )
    if not used or used[0][0] == 0 or (len(used) > 1 and used[1][0] == used[0][0]):
        return None
    return used[0][1]


def own_definitions(found: Sequence[Definition]) -> dict[str, LongForm]:
    """A text's definitions, short form -> long form (the first definition of each wins)."""
    own: dict[str, LongForm] = {}
    for definition in found:
        own.setdefault(definition.short, definition.tokens)
    return own


@dataclass(frozen=True)
class Form:
    """Another way to write a reader's phrase: `large language model agents` for `LLM agents`."""

    tokens: tuple[str, ...]  # as `words.tokens` gives them, for the index
    written: str  # for the reasons
    means: tuple[tuple[str, LongForm], ...]  # the short forms it reads, with their meaning


MAX_FORMS = 8  # other ways to write one phrase

Reading = tuple[tuple[str, LongForm], ...]  # short forms, each with the long form it reads as
_Option = tuple[int, tuple[str, ...], str, Reading]  # words replaced, by tokens, written, read
_Span = tuple[int, int, str]  # a word of the phrase: start, end, as written


def forms(phrase: str, glossary: Glossary) -> tuple[Reading, list[Form]]:
    """What the short forms written in `phrase` mean, and the other ways to write it (at most
    MAX_FORMS): each short form written in capitals spelt out, each long form abbreviated. The
    phrase as written is not among them."""
    spans = [(m.start(), m.end(), m.group()) for m in TOKEN.finditer(phrase)]
    words = [singular(fold(word)) for _, _, word in spans]
    if words != tokens(phrase):  # folding moved the token bounds: no other forms
        return (), []
    means, options = _options(spans, words, glossary)
    found: list[Form] = []

    def walk(at: int, done: tuple[str, ...], text: str, end: int, read: Reading) -> None:
        """Every way on from word `at`, written as `text` up to character `end`."""
        if len(found) >= MAX_FORMS:
            return
        if at == len(spans):
            if read:
                found.append(Form(done, text + phrase[end:], read))
            return
        walk(at + 1, (*done, words[at]), text + phrase[end : spans[at][1]], spans[at][1], read)
        for size, other, written, meant in options[at]:
            last = spans[at + size - 1][1]
            walk(at + size, done + other, text + phrase[end : spans[at][0]] + written, last,
                 read + meant)  # fmt: skip

    walk(0, (), "", 0, ())
    return means, found


def _options(
    spans: list[_Span], words: list[str], glossary: Glossary
) -> tuple[Reading, list[list[_Option]]]:
    """Per word of a phrase, what may replace it and the words after it: its long form, if it
    is a short form the glossary reads; a short form, if a long form starts there (`multimodal
    LLM` and `MLLM` for `multimodal large language model`)."""
    means: list[tuple[str, LongForm]] = []
    options: list[list[_Option]] = []
    for _, _, word in spans:
        short = word[:-1] if word.endswith("s") and is_acronym(word[:-1]) else word
        long = glossary.meaning(short) if is_acronym(short) else None
        if long is not None:
            means.append((short, long))
        options.append([] if long is None else [(1, long, glossary.written[long], (means[-1],))])
    for n in range(len(words)):
        for size in range(min(glossary.longest, len(words) - n), 1, -1):
            long = tuple(words[n : n + size])
            for other in glossary.short_forms.get(long, ()):
                options[n].append((size, tuple(tokens(other)), other, ((other, long),)))
    return tuple(means), options
