"""Sentence embeddings kept for the semantic ranking, by model: a day's papers are encoded once
(a transformer takes about a minute for 2,000 of them), each reader's text once until it
changes.

A row is keyed by the model (`Embedder.model_id`) and a key: a paper's id, or `text:HASH` for a
reader's text. `text_hash` is the hash of the text that was encoded, so a paper whose title or
abstract changed (a new version) is encoded again and its row replaced. Vectors are float32,
little-endian, as bytes: the store never needs numpy.

`used_on` is the day (UTC) a row was last read or written for a selection; `forget_embeddings`
lets go of the rows not used since a day: papers gone from the listings, readers' old texts,
the vectors of a model no longer configured.
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

    def embeddings(
        self, model: str, keys: Sequence[str], used_on: str | None = None
    ) -> dict[str, StoredVector]:
        """The vectors kept for `model` among `keys`, by key (a key without one is absent);
        with `used_on` (YYYY-MM-DD), those found are marked as used that day."""
        wanted = sorted(set(keys))
        found: dict[str, StoredVector] = {}
        for start in range(0, len(wanted), CHUNK):
            chunk = wanted[start : start + CHUNK]
            rows = self._read(
                "SELECT paper_id, text_hash, vector, dim, used_on FROM embeddings "
                f"WHERE model = ? AND paper_id IN ({','.join('?' * len(chunk))})",
                [model, *chunk],
            )
            stale = [key for key, _, _, _, day in rows if used_on is not None and day < used_on]
            for key, text_hash, vector, dim, _ in rows:
                found[key] = StoredVector(key, text_hash, bytes(vector), int(dim))
            if stale and used_on is not None:
                with self.transaction() as db:
                    db.execute(
                        "UPDATE embeddings SET used_on = ? WHERE model = ? AND used_on < ? "
                        f"AND paper_id IN ({','.join('?' * len(stale))})",
                        [used_on, model, used_on, *stale],
                    )
        return found

    def save_embeddings(
        self, model: str, vectors: Sequence[StoredVector], used_on: str = ""
    ) -> None:
        """Keep `vectors` for `model`, replacing what was kept for the same keys, as used on
        `used_on` (YYYY-MM-DD)."""
        if not vectors:
            return
        with self.transaction() as db:
            db.executemany(
                "INSERT INTO embeddings (model, paper_id, text_hash, vector, dim, used_on) "
                "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (model, paper_id) DO UPDATE SET "
                "text_hash = excluded.text_hash, vector = excluded.vector, dim = excluded.dim, "
                "used_on = excluded.used_on",
                [(model, v.key, v.text_hash, v.vector, v.dim, used_on) for v in vectors],
            )

    def forget_embeddings(self, unused_since: str) -> int:
        """Let go of the vectors, of any model, not used since `unused_since` (YYYY-MM-DD);
        how many."""
        with self.transaction() as db:
            cursor = db.execute("DELETE FROM embeddings WHERE used_on < ?", [unused_since])
            return max(int(cursor.rowcount), 0)
