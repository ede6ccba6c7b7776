"""Closeness in meaning between readers and papers, for the optional semantic ranking
(`ranking: {semantic: true}`; the model and why it was chosen: `embedder.py`).

    paper_text(paper), reader_text(profile)         what is encoded
    day_embeddings(store, papers, embedder)         papers x dim, cached in the state
    reader_embeddings(store, profiles, embedder)    readers x dim, cached by text

`meaning.py` turns these vectors into the levels `select` weighs in.

Encoding is the slow part (a transformer encodes some 40 papers a second on two cores), so
every vector is kept in the state (`store.Embeddings`): a paper's under its id, with the hash
of its text (a new version with another abstract is encoded again); a reader's text's under the
hash of the text. Only what is missing is encoded, in batches, each batch kept as soon as it is
made. Each vector read or written is marked with the day (UTC) it was used; `forget_unused`
lets go of those not used for KEPT_DAYS days.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING

from newsletter.embedder import Embedder
from newsletter.models import Paper, Profile
from newsletter.store.embeddings import Embeddings, StoredVector

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

log = logging.getLogger(__name__)

ENCODE_BATCH = 256  # texts encoded, then kept, at a time: an interrupted run keeps its work
TEXT_KEY = "text:"  # the cache key of a reader's text: TEXT_KEY + its hash
KEPT_DAYS = 30  # a vector not used for this long is let go (a paper listed again is re-encoded)


def paper_text(paper: Paper) -> str:
    """Title, then abstract. Unlike `day_index.document` the title is not repeated: a model
    reads meaning, not word counts, and a transformer reads only its first 256 word pieces."""
    return f"{paper.title}. {paper.abstract}".strip()


def reader_text(profile: Profile) -> str | None:
    """The reader's description, then keywords; None when there is neither. Acronyms stay:
    a model knows `MoE`."""
    keywords = ", ".join(k.strip() for k in profile.keywords if k.strip())
    parts = [part for part in ((profile.description or "").strip(), keywords) if part]
    return ". ".join(parts) or None


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def day_embeddings(
    store: Embeddings, papers: Sequence[Paper], embedder: Embedder
) -> NDArray[np.float32]:
    """The papers' unit vectors, one row each in their order: kept ones read from the state,
    the others (new, or whose text changed) encoded and kept."""
    return _cached(store, embedder, [(paper.id, paper_text(paper)) for paper in papers], "papers")


def reader_embeddings(
    store: Embeddings, profiles: Sequence[Profile], embedder: Embedder
) -> NDArray[np.float32]:
    """Each reader's text's unit vector, one row per profile in their order; zeros for a reader
    with neither description nor keywords. Kept by the text's hash: 10,000 readers' texts take
    a transformer minutes, and change rarely."""
    import numpy as np

    texts = [reader_text(profile) for profile in profiles]
    keyed = sorted({(TEXT_KEY + text_hash(text), text) for text in texts if text is not None})
    vectors = _cached(store, embedder, keyed, "reader texts")
    row = {key: n for n, (key, _) in enumerate(keyed)}
    found = np.zeros((len(profiles), embedder.dim), dtype=np.float32)
    for n, text in enumerate(texts):
        if text is not None:
            found[n] = vectors[row[TEXT_KEY + text_hash(text)]]
    return found


def _cached(
    store: Embeddings, embedder: Embedder, keyed: Sequence[tuple[str, str]], what: str
) -> NDArray[np.float32]:
    """The vectors of `keyed` (key, text) in order: from the state when kept for this text and
    model, otherwise encoded in batches and kept."""
    import numpy as np

    hashes = [text_hash(text) for _, text in keyed]
    today = _today().isoformat()
    kept = store.embeddings(embedder.model_id, [key for key, _ in keyed], used_on=today)
    found = np.zeros((len(keyed), embedder.dim), dtype=np.float32)
    missing: dict[str, list[int]] = {}  # key -> rows (a key given twice is encoded once)
    for n, ((key, _), digest) in enumerate(zip(keyed, hashes, strict=True)):
        stored = kept.get(key)
        if stored is not None and stored.text_hash == digest and _fits(stored, embedder.dim):
            found[n] = np.frombuffer(stored.vector, dtype="<f4")
        else:
            missing.setdefault(key, []).append(n)
    todo = [rows[-1] for rows in missing.values()]  # the last text given for a key wins
    for start in range(0, len(todo), ENCODE_BATCH):
        batch = todo[start : start + ENCODE_BATCH]
        vectors = embedder.encode([keyed[n][1] for n in batch])
        store.save_embeddings(embedder.model_id, [
            StoredVector(keyed[n][0], hashes[n], vector.astype("<f4").tobytes(), embedder.dim)
            for n, vector in zip(batch, vectors, strict=True)
        ], used_on=today)  # fmt: skip
        for n, vector in zip(batch, vectors, strict=True):
            found[missing[keyed[n][0]]] = vector
    log.info("%s: %d vectors kept, %d encoded", what, len(keyed) - len(todo), len(todo))
    return found


def forget_unused(store: Embeddings, today: date | None = None) -> int:
    """Let go of the vectors not used for KEPT_DAYS days before `today` (UTC); how many."""
    since = (today or _today()) - timedelta(days=KEPT_DAYS)
    forgotten = store.forget_embeddings(since.isoformat())
    if forgotten:
        log.info("semantic ranking: %d vectors unused since %s let go", forgotten, since)
    return forgotten


def _today() -> date:
    return datetime.now(UTC).date()


def _fits(stored: StoredVector, dim: int) -> bool:
    return stored.dim == dim and len(stored.vector) == 4 * dim
