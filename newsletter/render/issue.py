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
        """The size of the HTML part as sent (CRLF line breaks), before transfer encoding."""
        return sent_size(self.html)


def canonical(text: str) -> str:
    """Text in the canonical form of a MIME text part: CRLF line breaks (RFC 2046)."""
    return (text.replace("\r\n", "\n") if "\r" in text else text).replace("\n", "\r\n")


def canonical_bytes(text: str) -> bytes:
    """`canonical(text)` in UTF-8, made on the bytes (faster): UTF-8 writes CR and LF as
    themselves, and never inside another character."""
    data = text.encode("utf-8")
    return (data.replace(b"\r\n", b"\n") if b"\r" in data else data).replace(b"\n", b"\r\n")


def sent_size(text: str) -> int:
    """The bytes of `canonical(text)` in UTF-8, without building it."""
    size = (len(text) if text.isascii() else len(text.encode("utf-8"))) + text.count("\n")
    return size - text.count("\r\n") if "\r" in text else size
