"""A link's token back to the reader it was made for.

A token carries a keyed hash of the reader's address, never the address (`newsletter.tokens`):
the directory hashes every address of the config once per secret (the current one and each
previous one) and looks the reference up. Links of the older `unsubscribe_url?t=HEX` form are
mapped the same way through `links.legacy_token`. A reader removed from the config has no
entry, so their links lead nowhere.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date

from newsletter.config import Config, load_config
from newsletter.errors import NewsletterError
from newsletter.links import legacy_token
from newsletter.models import Reader
from newsletter.tokens import Purpose, Signer

log = logging.getLogger(__name__)

RELOAD_EVERY = 30.0  # seconds between two looks at the config file
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


class Reloading:
    """The readers of the config file as it is now: the file is looked at (its size and time)
    at most every `every` seconds and loaded again when it changed, so that a reader added
    while the app runs is found; an edit that does not load is logged and the previous
    config kept, as `newsletter run` does. The web_url and the secret stay as started."""

    def __init__(
        self, config: Config, signer: Signer, today: Callable[[], date], every: float
    ) -> None:
        self._config = config
        self._signer, self._today, self._every = signer, today, every
        self._directory = Directory(config.readers, signer, today)
        self._stamp = _stamp(config)
        self._next = time.monotonic() + every
        self._lock = threading.Lock()

    @property
    def config(self) -> Config:
        self._refresh()
        return self._config

    def find(self, token: str, purpose: Purpose, subject: str = "") -> Visitor | Refused:
        self._refresh()
        return self._directory.find(token, purpose, subject)

    def find_legacy(self, token: str) -> Visitor | Refused:
        self._refresh()
        return self._directory.find_legacy(token)

    def _refresh(self) -> None:
        if time.monotonic() < self._next:
            return
        with self._lock:
            self._next = time.monotonic() + self._every
            stamp = _stamp(self._config)
            if stamp == self._stamp:
                return
            self._stamp = stamp
            try:
                config = load_config(self._config.path)
            except NewsletterError as exc:
                first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
                log.error("%s changed but does not load; the web app keeps the previous "
                          "config: %s", self._config.path, first)  # fmt: skip
                return
            self._config = config
            self._directory = Directory(config.readers, self._signer, self._today)
            log.info("%s reloaded: %d readers", config.path, len(config.readers))


def _stamp(config: Config) -> tuple[int, int] | None:
    try:
        found = config.path.stat()
    except OSError:
        return None
    return found.st_size, found.st_mtime_ns


def shortened(token: str) -> str:
    """A token as a log line may show it: its first characters."""
    return token[:SHOWN] + "…" if len(token) > SHOWN else token
