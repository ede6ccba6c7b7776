"""The mail that comes back: bounces, complaint reports and unsubscribes by mail, read from the
IMAP mailbox of `newsletter.inbox` by `newsletter inbox` (and a job of `newsletter run`).

    __init__.py  the reports, one small type per kind (`Report` is their union)
    reports.py   one message -> one report; the standard library's `email` package, no I/O
    imap.py      the mailbox: imaplib over verified TLS, UID-based, read without marking seen,
                 handled messages moved to `done_folder`
    process.py   reports applied to the state (bounce counts, suppressions), each message moved
                 only after its effect is committed; `InboxReport` counts what happened

Nothing here ever sends mail: no reply, no acknowledgement, so no loop with an auto-responder.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date


@dataclass(frozen=True)
class Bounce:
    """A delivery report tied to one reader by the VERP token of the issue that bounced."""

    reader: str  # the reader's key
    day: date  # the issue date the token was made for
    hard: bool
    status: str  # "5.1.1"; "" when the report gave none
    detail: str  # the diagnostic, one line
    reporter: str  # the reporting MTA


@dataclass(frozen=True)
class Complaint:
    """A spam complaint (RFC 5965 `abuse`) tied to one reader by a token in the reported issue."""

    reader: str
    reporter: str  # the reporting MTA, or the domain the report came from


@dataclass(frozen=True)
class Unsubscribe:
    reader: str
    how: str  # "token": `unsubscribe TOKEN`; "address": a plain unsubscribe from the reader


@dataclass(frozen=True)
class Unverified:
    """A report or request that could not be tied to exactly one reader: left alone."""

    kind: str  # bounce | complaint | unsubscribe
    reason: str


@dataclass(frozen=True)
class Unrecognised:
    """Anything else (auto-replies, success notices, replies, spam): left alone."""

    reason: str


@dataclass(frozen=True)
class TooBig:
    size: int  # octets: skipped unread


Report = Bounce | Complaint | Unsubscribe | Unverified | Unrecognised | TooBig
