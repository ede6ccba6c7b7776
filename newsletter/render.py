"""Turning a Selection into what a reader sees. For now: the subject line."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date

from newsletter.models import SelectedPaper

SUBJECT_MAX = 140  # characters; mail clients show far fewer, headers stay short and unfolded
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u200b-\u200f\u202a-\u202e\u2066-\u2069]")


def one_line(text: str) -> str:
    """Text safe for a header or a single line: no control or separator characters."""
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
    """`<title> - <date>: <top paper title> and N more`, one line, at most SUBJECT_MAX chars."""
    head = f"{one_line(title)} - {day.isoformat()}"
    if not papers:
        return shorten(f"{head}: no new papers matched your interests", SUBJECT_MAX)
    more = len(papers) - 1
    tail = f" and {more} more" if more else ""
    room = max(SUBJECT_MAX - len(head) - 2 - len(tail), 20)
    return f"{head}: {shorten(one_line(papers[0].paper.title), room)}{tail}"
