"""Sentence embeddings kept for the semantic ranking, by model: a day's papers are encoded once
(a transformer takes about a minute for 2,000 of them), each reader's text once until it
changes.

A row is keyed by the model (`Embedder.model_id`) and a key: a paper's id, or `text:HASH` for a
reader's text. `text_hash` is the hash of the text that was encoded, so a paper whose title or
abstract changed (a new version) is encoded again and its row replaced. Vectors are float32,
little-endian, as bytes: the store never needs numpy.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from newsletter.store.database import CHUNK, Database


@dataclass(frozen=True)
class StoredVector:
    """One text's vector, as the state keeps it."""

    key: str  # a paper's id, or text:HASH
    text_hash: str
    vector: bytes  # dim float32 numbers, little-endian
    dim: int


class Embeddings(Database):
    """The `embeddings` table."""

    def embeddings(self, model: str, keys: Sequence[str]) -> dict[str, StoredVector]:
        """The vectors kept for `model` among `keys`, by key (a key without one is absent)."""
        wanted = sorted(set(keys))
        found: dict[str, StoredVector] = {}
        for start in range(0, len(wanted), CHUNK):
            chunk = wanted[start : start + CHUNK]
            rows = self._read(
                "SELECT paper_id, text_hash, vector, dim FROM embeddings WHERE model = ? "
                f"AND paper_id IN ({','.join('?' * len(chunk))})",
                [model, *chunk],
            )
            for key, text_hash, vector, dim in rows:
                found[key] = StoredVector(key, text_hash, bytes(vector), int(dim))
        return found

    def save_embeddings(self, model: str, vectors: Sequence[StoredVector]) -> None:
        """Keep `vectors` for `model`, replacing what was kept for the same keys."""
        if not vectors:
            return
        with self.transaction() as db:
            db.executemany(
                "INSERT INTO embeddings (model, paper_id, text_hash, vector, dim) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT (model, paper_id) DO UPDATE SET "
                "text_hash = excluded.text_hash, vector = excluded.vector, dim = excluded.dim",
                [(model, v.key, v.text_hash, v.vector, v.dim) for v in vectors],
            )
