"""Words as matching and TF-IDF see them: lower case without accents (`fold`), a crude
singular in American spelling, tokens, and acronyms written in capitals.

Normalisation makes the variants readers expect match: case, accents (`Schrödinger` =
`Schrodinger`), plural/singular (`diffusion models` = `Diffusion Model`), hyphen/space
(`diffusion-model`) and British/American spelling (`preference optimisation` = `preference
optimization`, `neighbour` = `neighbor`, `modelling` = `modeling`).
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

TOKEN = re.compile(r"[^\W_]+", re.UNICODE)  # a run of letters and digits
_INVARIANT = ("ss", "us", "is", "ics", "sis", "ous")
MAX_FOLDED = 65_536  # characters whose folding is kept


def fold(text: str) -> str:
    """Lower case without accents: `Łochowski` -> `lochowski`.

    Character by character (`str.translate` with each character's folding worked out once,
    `_fold_char`): NFKD decomposes each character on its own and only reorders the combining
    marks that are dropped, and case folding has no context, so folding the characters one
    by one gives the same text as folding the whole (a property test holds it to that)."""
    if text.isascii():
        return text.lower()
    if len(_FOLDED) > MAX_FOLDED:  # bounded memory, whatever scripts the feeds use
        _FOLDED.clear()
    return text.translate(_FOLDED)


def _fold_char(char: str) -> str:
    """One character lower case without accents (`ł` as `l`), as `fold` folds it."""
    decomposed = unicodedata.normalize("NFKD", char.replace("ł", "l").replace("Ł", "L"))
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()


class _FoldTable(dict[int, str]):
    """Code point -> folded text, filled as characters are met (for `str.translate`)."""

    def __missing__(self, code: int) -> str:
        folded = self[code] = _fold_char(chr(code))
        return folded


_FOLDED = _FoldTable()


_AMERICAN_ENDINGS = (  # British ending -> American, for words of at least 7 letters
    ("isations", "izations"), ("isation", "ization"), ("ised", "ized"), ("ising", "izing"),
    ("isers", "izers"), ("iser", "izer"), ("ises", "izes"), ("ise", "ize"), ("ysed", "yzed"),
    ("ysing", "yzing"), ("yse", "yze"), ("elled", "eled"), ("elling", "eling"),
)  # fmt: skip
_NOT_BRITISH = "wise"  # `otherwise` is a stop word
_AMERICAN_STEMS = {  # British stem -> American, at the start of a word (`neighbourhood`)
    "behaviour": "behavior", "neighbour": "neighbor", "colour": "color", "favour": "favor",
    "labour": "labor", "honour": "honor", "rumour": "rumor", "flavour": "flavor",
    "vapour": "vapor", "humour": "humor", "harbour": "harbor", "endeavour": "endeavor",
    "tumour": "tumor", "odour": "odor", "centre": "center", "fibre": "fiber",
    "defence": "defense", "offence": "offense", "licence": "license", "analys": "analyz",
}  # fmt: skip


def american(token: str) -> str:
    """A folded token in American spelling (`optimisation` -> `optimization`), by endings and a
    few stems; applied to keywords and text alike, so a stray match (`excelled`) is harmless."""
    if len(token) >= 7 and not token.endswith(_NOT_BRITISH):
        for british, us in _AMERICAN_ENDINGS:
            if token.endswith(british):
                return token[: -len(british)] + us
    if len(token) >= 5:
        for british, us in _AMERICAN_STEMS.items():
            if token.startswith(british):
                return us + token[len(british) :]
    return token


@lru_cache(maxsize=65536)
def singular(token: str) -> str:
    """A crude, consistent singular in American spelling: the same rule is applied to keywords
    and to text."""
    return american(_singular(token))


def _singular(token: str) -> str:
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
    return [singular(token) for token in TOKEN.findall(fold(text))]


def is_acronym(word: str) -> bool:
    """`MoE`, `RL`, `LLM`, `RAG`: short, with at least two capitals."""
    return 2 <= len(word) <= 6 and sum(ch.isupper() for ch in word) >= 2 and word.isalnum()


_GERMAN = str.maketrans(
    {"ä": "ae", "ö": "oe", "ü": "ue", "Ä": "Ae", "Ö": "Oe", "Ü": "Ue", "ß": "ss"}
)
_UMLAUTED = re.compile(r"[^\W_]*[äöüÄÖÜß][^\W_]*")


def without_umlauts(text: str) -> str:
    """`text` as written without umlauts (`Schrödinger` -> `Schroedinger`): folding makes
    `Schrödinger` `schrodinger`, and papers write both."""
    return text.translate(_GERMAN)


def transliterated(text: str) -> list[str]:
    """The words of `text` with an umlaut, as written without it (`without_umlauts`)."""
    return [without_umlauts(word) for word in _UMLAUTED.findall(text)]
