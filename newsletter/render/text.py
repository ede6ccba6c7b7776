"""Plain-text helpers for headers, cards and the text part: standard library only.

Feed text is untrusted: `one_line` removes every control and separator character (so nothing
can start a new header or line), and `safe_url` lets only absolute http(s) URLs with a plain
host through (no user info, no backslash).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from datetime import date
from typing import TYPE_CHECKING

from newsletter.checks import safe_url as safe_url  # one rule for parsers and templates

if TYPE_CHECKING:
    from newsletter.models import SelectedPaper
    from newsletter.render.issue import Layout

SUBJECT_MAX = 140  # characters; mail clients show far fewer (mail.py folds the header)
PREHEADER_MAX = 150
TEXT_WIDTH = 78
SIGNATURE = "-- "  # RFC 3676: dash, dash, space, alone on its line
SUMMARY_MAX = 420  # characters of abstract shown on a card
SUMMARY_SENTENCES = 3
AUTHORS_SHOWN = 3
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u200b-\u200f\u202a-\u202e\u2066-\u2069]")
_HTTP_URL = re.compile(r"https?://[^\s/]", re.IGNORECASE)
_SPACE = re.compile(r"\s")
_AUTHORITY = re.compile(r"(?:[^\W_][\w.-]*|\[[0-9a-fA-F:.]+\])(?::[0-9]{0,5})?")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9(\[$\"'“])")


def one_line(text: str) -> str:
    """Text safe for a header or a single line: no control or separator characters."""
    if text.isprintable() and "  " not in text and text.strip(" ") == text:
        return text  # the common case, as it is: no character `_CONTROL` or `split` finds
    return " ".join(_CONTROL.sub(" ", text).split())


def shorten(text: str, limit: int) -> str:
    """Cut on a word boundary with an ellipsis when longer than `limit` characters."""
    if len(text) <= limit:
        return text
    cut = text[: max(limit - 1, 1)]
    if " " in cut[limit // 2 :]:
        cut = cut.rsplit(" ", 1)[0]
    return cut.rstrip(" ,;:.-") + "…"


def subject(title: str, day: date, papers: Sequence[SelectedPaper]) -> str:
    """`<top paper title> and N more - <title>, <27 Jul>`, one line, at most SUBJECT_MAX chars.

    The top paper comes first: a phone shows the first 35-40 characters of a subject, and a
    prefix such as `ML Paper Digest - 2026-07-27: ` would fill them. The newsletter's name and
    the day follow, so that no two issues share a subject (Gmail threads equal subjects)."""
    tail = f" - {one_line(title)}, {day.day} {day:%b}"
    if not papers:
        return shorten(f"No new papers matched your interests{tail}", SUBJECT_MAX)
    more = len(papers) - 1
    tail = (f" and {more} more" if more else "") + tail
    room = max(SUBJECT_MAX - len(tail), 20)
    return f"{shorten(one_line(papers[0].paper.title), room)}{tail}"


def preheader(papers: Sequence[SelectedPaper]) -> str:
    """The hidden preview line under the subject: the top papers' titles."""
    if not papers:
        return "No new paper matched your interests today."
    titles = " · ".join(one_line(p.paper.title) for p in papers[:3])
    return shorten(f"Today: {titles}", PREHEADER_MAX)


def long_date(day: date) -> str:
    return f"{day:%A} {day.day} {day:%B %Y}"


def short_authors(authors: Sequence[str]) -> str:
    """`A, B, C … Z (12 authors)` for long lists; every name for short ones."""
    names = [one_line(a) for a in authors if a.strip()]
    if len(names) <= AUTHORS_SHOWN + 1:
        return ", ".join(names)
    return f"{', '.join(names[:AUTHORS_SHOWN])} … {names[-1]} ({len(names)} authors)"


def summary(text: str, limit: int = SUMMARY_MAX) -> str:
    """The first two or three sentences, cut on a sentence boundary within `limit` characters,
    and before a run of long words (see `without_long_runs`)."""
    text = one_line(text)
    kept = ""
    for sentence in _SENTENCE_END.split(text)[:SUMMARY_SENTENCES]:
        candidate = f"{kept} {sentence}".strip()
        if len(candidate) > limit:
            break
        kept = candidate
    return without_long_runs(kept or shorten(text, limit))


# SpamAssassin's LONGWORDS (20_body_tests.cf, +2.2 points) fires when two of these three runs
# of long lower-case words, each followed by spaces or dots, occur anywhere in a message: word
# salad, but scholarly prose has them too, and two abstracts of one issue are enough.
_LONG_RUNS = tuple(
    re.compile(rf"(?<![A-Za-z0-9_])(?:[a-z]{{{length},}}(?:[\s.]+|$)){{{count}}}")
    for length, count in ((8, 6), (6, 9), (5, 10))
)
_LOWER_WORD = re.compile(r"[a-z]+")


def long_run(text: str) -> re.Match[str] | None:
    """The first run of long words that SpamAssassin's LONGWORDS counts, if any."""
    found = [match for pattern in _LONG_RUNS if (match := pattern.search(text))]
    return min(found, key=lambda match: match.end(), default=None)


def without_long_runs(text: str) -> str:
    """A summary cut, with an ellipsis, before the word that would complete a run of long words:
    no card then adds to LONGWORDS, however many cards an issue has. Rare (about 2% of real
    abstracts' first sentences); the whole abstract is one link away."""
    while (match := long_run(text)) is not None:
        *_, last = _LOWER_WORD.finditer(match.group(0))
        text = text[: match.start() + last.start()].rstrip(" ,;:.-…") + "…"
    return text


def wrap(text: str, indent: str = "   ", first: str | None = None, width: int = TEXT_WIDTH) -> str:
    """Wrap at `width` columns; URLs and long words are never broken.

    The same lines as `textwrap.fill(..., break_long_words=False, break_on_hyphens=False)`
    (a property test holds it to that), but a regular expression does the greedy filling:
    every reader's text part wraps its reasons, and textwrap was a third of rendering.
    """
    words = one_line(str(text))
    if not words:
        return ""
    prefix = indent if first is None else first
    if len(prefix) + len(words) <= width:
        return prefix + words
    room_first, room = width - len(prefix), width - len(indent)
    if min(room_first, room) < 1 or _longer_word(min(room_first, room)).search(words):
        return _wrap_words(words.split(" "), prefix, indent, width)
    head = _filler(room_first).match(words)
    assert head is not None  # every word fits in the room
    rest = _filler(room).findall(words, head.end())
    return "\n".join([prefix + head.group(1), *(indent + line for line in rest)])


@functools.lru_cache(maxsize=64)
def _longer_word(room: int) -> re.Pattern[str]:
    """A word (a run without spaces) longer than `room` characters."""
    return re.compile(rf"[^ ]{{{room + 1}}}")


@functools.lru_cache(maxsize=64)
def _filler(room: int) -> re.Pattern[str]:
    """The longest run of at most `room` characters that ends at a space or the end."""
    return re.compile(rf"(.{{1,{room}}})(?: |$)")


def _wrap_words(words: list[str], prefix: str, indent: str, width: int) -> str:
    """Greedy filling word by word, for lines with a word longer than the room."""
    lines: list[str] = []
    line: list[str] = []
    used = 0
    for word in words:
        if line and used + 1 + len(word) > width - len(prefix):
            lines.append(prefix + " ".join(line))
            prefix, line, used = indent, [word], len(word)
        else:
            used += len(word) + (1 if line else 0)
            line.append(word)
    if line:
        lines.append(prefix + " ".join(line))
    return "\n".join(lines)


def intro(count: int, layout: Layout) -> str:
    """The sentence under the greeting: how many papers, and how they are shown."""
    if count == 0:
        return "No new paper matched your interests today."
    if count == 1:
        return "One paper matched your interests today."
    if not layout.compact:
        shown = ""
    elif layout.full == 0:
        shown = "; here they are as a list"
    elif layout.full == 1:
        shown = "; the first paper in full, the rest as a list"
    else:
        shown = f"; the first {layout.full} in full, the rest as a list"
    return f"{count} papers matched your interests today{shown}."


def number_width(cards: int) -> int:
    """Columns of the widest card number (`12. `), the indent of every card's text."""
    return len(f"{max(cards, 1)}. ")


def numbered(text: str, number: int, width: int) -> str:
    """A card's text block with its number, right-aligned, written over the first indent."""
    return f"{number}.".rjust(width - 1) + " " + text[width:]


def tidy_text(text: str) -> str:
    """No trailing spaces (but the signature separator's), at most one blank line in a row,
    one final newline."""
    lines = [line if line == SIGNATURE else line.rstrip() for line in text.splitlines()]
    tidy: list[str] = []
    for line in lines:
        if line or (tidy and tidy[-1]):
            tidy.append(line)
    return "\n".join(tidy).strip("\n") + "\n"
