"""Which readers a run is for: named ones, a shard of all, those whose send time has come."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import datetime

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
    due_at: datetime | None = None,
) -> list[Reader]:
    """The config's readers, in file order: only `emails` when given (any case), only shard
    K of N, only those whose send time came within the grace period before `due_at`."""
    chosen = config.readers
    if emails:
        wanted = {reader_key(email) for email in emails}
        chosen = [r for r in chosen if r.key in wanted]
        unknown = wanted - {r.key for r in chosen}
        if unknown:
            raise UnknownReaders(sorted(unknown))
    chosen = [r for r in chosen if in_shard(r, shard)]
    if due_at is not None:
        from newsletter.schedule import due_groups, group_of

        due = set(due_groups(config, due_at))
        chosen = [r for r in chosen if group_of(r).key in due]
    return chosen


def in_shard(reader: Reader, shard: tuple[int, int] | None) -> bool:
    """Whether `reader` belongs to shard K of N (1-based): a split by a hash of the address,
    the same on every machine and run."""
    if shard is None:
        return True
    number, count = shard
    digest = hashlib.sha256(reader.key.encode()).digest()
    return int.from_bytes(digest[:8], "big") % count == number - 1
