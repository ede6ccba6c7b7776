"""A link's token back to the reader it was made for.

A token carries a keyed hash of the reader's address, never the address (`newsletter.tokens`):
the directory hashes every address of the config once per secret (the current one and each
previous one) and looks the reference up. Links of the older `unsubscribe_url?t=HEX` form are
mapped the same way through `links.legacy_token`. A reader removed from the config has no
entry, so their links lead nowhere.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date

from newsletter.links import legacy_token
from newsletter.models import Reader
from newsletter.tokens import Purpose, Signer

SHOWN = 6  # characters of a token a log line may show
LEGACY_LENGTH = 24  # hex characters of a `?t=` token


@dataclass(frozen=True)
class Visitor:
    """The reader a link was made for, and the issue date it was made for."""

    reader: Reader
    day: date


@dataclass(frozen=True)
class Refused:
    """Why a link leads nowhere, for the log (no address, no whole token)."""

    reason: str


class Directory:
    """Every reader of the config, found by the tokens of their links."""

    def __init__(self, readers: Sequence[Reader], signer: Signer, today: Callable[[], date]):
        self._signer = signer
        self._today = today
        self._readers = {reader.key: reader for reader in readers}
        self._refs = signer.refs(self._readers)  # per generation: reference -> reader key
        secrets = (signer.secret, *signer.previous)
        self._legacy = {
            legacy_token(reader.email, secret): reader.key
            for secret in reversed(secrets)  # the current secret's wins a (theoretical) clash
            for reader in readers
        }

    def find(self, token: str, purpose: Purpose, subject: str = "") -> Visitor | Refused:
        """The reader and day of a token made for `purpose` (and `subject`, the paper of a
        feedback link); `Refused` for a forged, altered, retired or foreign token."""
        verified = self._signer.verify(token, purpose, self._today(), subject)
        if verified is None:
            return Refused(f"/{purpose.value}/ link refused (not ours, altered or expired)")
        key = self._refs[verified.generation].get(verified.ref)
        reader = self._readers.get(key) if key else None
        if reader is None:
            return Refused(f"/{purpose.value}/ link of a reader no longer in the config")
        return Visitor(reader, verified.day)

    def find_legacy(self, token: str) -> Visitor | Refused:
        """The reader of an older `?t=HEX` unsubscribe link (made with any known secret); its
        day is today, as the link carries none."""
        key = self._legacy.get(token) if len(token) == LEGACY_LENGTH else None
        reader = self._readers.get(key) if key else None
        if reader is None:
            return Refused("legacy unsubscribe link refused (not ours)")
        return Visitor(reader, self._today())


def shortened(token: str) -> str:
    """A token as a log line may show it: its first characters."""
    return token[:SHOWN] + "…" if len(token) > SHOWN else token
