"""The one normalised form of an address, kept light (no third-party imports) so that the
message builder and the delivery backends can use it too."""

from __future__ import annotations


def reader_key(email: str) -> str:
    """The address lower-cased: the delivery ledger's key, the shard hash, the unsubscribe
    token's and the Message-ID's input. Every comparison of addresses goes through it."""
    return email.strip().lower()
