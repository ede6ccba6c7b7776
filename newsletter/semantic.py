"""Closeness in meaning between readers and papers, for the optional semantic ranking
(`ranking: {semantic: true}`; the model and why it was chosen: `embedder.py`).

    paper_text(paper), reader_text(profile)         what is encoded
    day_embeddings(store, papers, embedder)         papers x dim, cached in the state
    reader_embeddings(store, profiles, embedder)    readers x dim, cached by text
    liked_embeddings(store, liked, embedder)        each liked paper's vector, cached
    similarities(papers, readers, profiles, liked)  readers x papers cosines, with the words
                                                    that explain them (pure)
    relative(cosines)                               each reader's cosines as 0..1 strengths

Encoding is the slow part (a transformer encodes some 40 papers a second on two cores), so
every vector is kept in the state (`store.Embeddings`): a paper's under its id, with the hash
of its text (a new version with another abstract is encoded again); a reader's text's under the
hash of the text. Only what is missing is encoded, in batches, each batch kept as soon as it is
made. Everything after the vectors is pure numpy, and cheap enough to run per chunk of readers
inside `select`: 512 readers x 2,000 papers take some 30 ms.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
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
FLOOR_PERCENTILE, TOP_PERCENTILE = 50, 99  # `relative`: a reader's typical and best cosines


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


def liked_embeddings(
    store: Embeddings, liked: Mapping[str, Paper], embedder: Embedder
) -> dict[str, NDArray[np.float32]]:
    """The vector of each liked paper (`liked` as `select` takes it: id -> paper), cached like
    the day's papers."""
    ids = sorted(liked)
    vectors = day_embeddings(store, [liked[paper_id] for paper_id in ids], embedder)
    return {paper_id: vectors[n] for n, paper_id in enumerate(ids)}


def _cached(
    store: Embeddings, embedder: Embedder, keyed: Sequence[tuple[str, str]], what: str
) -> NDArray[np.float32]:
    """The vectors of `keyed` (key, text) in order: from the state when kept for this text and
    model, otherwise encoded in batches and kept."""
    import numpy as np

    hashes = [text_hash(text) for _, text in keyed]
    kept = store.embeddings(embedder.model_id, [key for key, _ in keyed])
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
        ])  # fmt: skip
        for n, vector in zip(batch, vectors, strict=True):
            found[missing[keyed[n][0]]] = vector
    log.info("%s: %d vectors kept, %d encoded", what, len(keyed) - len(todo), len(todo))
    return found


def _fits(stored: StoredVector, dim: int) -> bool:
    return stored.dim == dim and len(stored.vector) == 4 * dim


@dataclass(frozen=True)
class Similarities:
    """Cosines of readers (rows) to the day's papers (columns), and what each reader's are
    to: their own text or one of their liked papers."""

    text: NDArray[np.float32]  # to the reader's description and keywords; 0 without either
    liked: NDArray[np.float32]  # to the closest of the reader's liked papers; 0 without any
    closest: NDArray[np.int32]  # that liked paper: an index into liked_ids[reader], -1: none
    liked_ids: tuple[tuple[str, ...], ...]  # each reader's liked papers that have a vector
    described: tuple[bool, ...]  # whether each reader wrote a description (or only keywords)

    @property
    def best(self) -> NDArray[np.float32]:
        """Readers x papers: the closer of the two."""
        import numpy as np

        return np.maximum(self.text, self.liked)

    def reason(self, reader: int, paper: int) -> str:
        """What the paper is close in meaning to, in words a reader reads in the issue."""
        if self.liked[reader, paper] > self.text[reader, paper]:
            liked_id = self.liked_ids[reader][int(self.closest[reader, paper])]
            return f"close in meaning to your liked paper {liked_id}"
        mine = "description" if self.described[reader] else "keywords"
        return f"close in meaning to your {mine}"


def similarities(
    paper_vectors: NDArray[np.float32],
    reader_vectors: NDArray[np.float32],
    profiles: Sequence[Profile],
    liked: Mapping[str, NDArray[np.float32]],
) -> Similarities:
    """The cosines of `profiles` (rows of `reader_vectors`, from `reader_embeddings`) to the
    papers (rows of `paper_vectors`, from `day_embeddings`), and to each reader's closest
    liked paper (`liked`: id -> vector, from `liked_embeddings`; a liked paper without one is
    left out). Vectors are unit vectors, so a product is a cosine."""
    import numpy as np

    text = (reader_vectors @ paper_vectors.T).astype(np.float32)
    liked_ids = tuple(tuple(i for i in profile.liked if i in liked) for profile in profiles)
    near = np.zeros_like(text)
    closest = np.full(text.shape, -1, dtype=np.int32)
    every = sorted({i for ids in liked_ids for i in ids})
    if every and len(paper_vectors):
        row = {paper_id: n for n, paper_id in enumerate(every)}
        to_liked = np.stack([liked[i] for i in every]) @ paper_vectors.T
        for reader, ids in enumerate(liked_ids):
            if ids:
                mine = to_liked[[row[i] for i in ids]]
                closest[reader] = mine.argmax(axis=0)
                near[reader] = mine.max(axis=0)
    described = tuple(bool(profile.description and profile.description.strip())
                      for profile in profiles)  # fmt: skip
    return Similarities(text, near, closest, liked_ids, described)


def relative(cosines: NDArray[np.float32]) -> NDArray[np.float64]:
    """Each row's cosines as strengths in 0..1: 0 up to the row's median, 1 from its 99th
    percentile. Models differ in what a cosine means (all-MiniLM-L6-v2 gives unrelated papers
    about 0.2, a static model about 0.55); measured against the reader's own cosines to the day's
    papers, a strength means the same for any model and depends on no other reader. A row
    that does not vary (no text, no liked paper) is 0."""
    import numpy as np

    if cosines.size == 0:
        return np.zeros(cosines.shape)
    values = cosines.astype(np.float64)
    floor, top = np.percentile(values, [FLOOR_PERCENTILE, TOP_PERCENTILE], axis=1, keepdims=True)
    spread = top - floor
    safe = np.where(spread > 1e-6, spread, 1.0)
    return np.where(spread > 1e-6, np.clip((values - floor) / safe, 0.0, 1.0), 0.0)
