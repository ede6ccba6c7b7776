"""What a renderer hands to the message builder: standard library only, so that building and
sending messages never imports the template engine."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Layout:
    """How many papers get a full card, how many a line in the compact list, how many neither."""

    full: int
    compact: int
    hidden: int


@dataclass(frozen=True)
class RenderedIssue:
    """One reader's issue, ready to be put in a message."""

    subject: str
    preheader: str
    html: str
    text: str
    layout: Layout

    @property
    def html_bytes(self) -> int:
        return len(self.html.encode())
