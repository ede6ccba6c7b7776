"""Which readers a run is for: named ones, or a shard of all."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from newsletter.addresses import reader_key
from newsletter.config import Config
from newsletter.errors import NewsletterError
from newsletter.models import Reader


class UnknownReaders(NewsletterError):
    """Addresses asked for that are not subscribers."""

    def __init__(self, addresses: Sequence[str]) -> None:
        self.addresses = list(addresses)
        super().__init__(f"not a subscriber: {', '.join(self.addresses)}")


def choose_readers(
    config: Config,
    emails: Sequence[str] = (),
    *,
    shard: tuple[int, int] | None = None,
) -> list[Reader]:
    """The config's readers, in file order: only `emails` when given (any case), only shard
    K of N. Which of them an issue goes to now is `agenda.for_send`'s to say."""
    chosen = config.readers
    if emails:
        wanted = {reader_key(email) for email in emails}
        chosen = [r for r in chosen if r.key in wanted]
        unknown = wanted - {r.key for r in chosen}
        if unknown:
            raise UnknownReaders(sorted(unknown))
    return [r for r in chosen if in_shard(r, shard)]


def in_shard(reader: Reader, shard: tuple[int, int] | None) -> bool:
    """Whether `reader` belongs to shard K of N (1-based): a split by a hash of the address,
    the same on every machine and run."""
    if shard is None:
        return True
    number, count = shard
    digest = hashlib.sha256(reader.key.encode()).digest()
    return int.from_bytes(digest[:8], "big") % count == number - 1
