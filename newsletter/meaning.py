"""The day's closeness in meaning, ready for `select`, when `ranking: {semantic: true}`.

`meaning_for(config, store, papers, corpus, profiles)` loads the model once per process
(`embedder.py`), reads the vectors of the papers, the day's listing and the readers' texts
from the state's cache, encoding only what is missing (`semantic.py`), and keeps the result
in this process: `plan.prepare` makes it before worker processes fork, so they find it made.
`Meaning.levels` gives a chunk of readers' closeness to the papers as levels measured against
the day's listing, the way the lexical similarity is (`similarity.relative`), for
`similarity.blend` to weigh in. Nothing here runs unless the config asks for it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from newsletter.similarity import Levels, relative

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

    from newsletter.config import Config
    from newsletter.models import Paper, Profile
    from newsletter.store import Store

log = logging.getLogger(__name__)

SPREAD = 0.08  # the prior spread of a sentence model's cosines (a small day's levels)

_made: dict[tuple[object, ...], tuple[Meaning, dict[str, int]]] = {}  # by day
_lock = threading.Lock()


@dataclass(frozen=True)
class Meaning:
    """Unit vectors of the papers scored, of the day's listing and of each reader's text
    (a zero row: a reader without text), and the weight of the semantic signal."""

    papers: NDArray[np.float32]
    listing: NDArray[np.float32]
    readers: NDArray[np.float32]
    weight: float

    def levels(self, start: int, stop: int) -> tuple[Levels, NDArray[np.bool_]]:
        """Readers start..stop: cosines to the papers and their levels among the listing's;
        and which of these readers have a text to compare."""
        import numpy as np

        rows = self.readers[start:stop].astype(np.float64)
        to_papers = rows @ self.papers.T.astype(np.float64)
        to_listing = rows @ self.listing.T.astype(np.float64)
        has_text = np.any(rows != 0, axis=1)
        return Levels(to_papers, relative(to_papers, to_listing, SPREAD)), has_text


def meaning_for(
    config: Config,
    store: Store,
    papers: Sequence[Paper],
    corpus: Sequence[Paper],
    profiles: Sequence[Profile],
) -> Meaning | None:
    """The semantic side of these readers' selection (None when the config does not ask for
    it); made once per process for the same model, papers and readers."""
    ranking = config.newsletter.ranking
    if not ranking.semantic or not papers:
        return None
    source = config.ranking_model
    key = (source, ranking.weight, tuple(p.id for p in papers), tuple(p.id for p in corpus))
    emails = [p.email for p in profiles]
    with _lock:
        made = _made.get(key)
        if made is None or not all(email in made[1] for email in emails):
            _made.clear()  # one day at a time
            meaning = _make(source, ranking.weight, store, papers, corpus, profiles)
            made = _made[key] = (meaning, {email: n for n, email in enumerate(emails)})
    meaning, rows = made
    wanted = [rows[email] for email in emails]
    if wanted == list(range(len(meaning.readers))):
        return meaning
    return replace(meaning, readers=meaning.readers[wanted])  # a worker's share of the readers


def _make(
    source: str,
    weight: float,
    store: Store,
    papers: Sequence[Paper],
    corpus: Sequence[Paper],
    profiles: Sequence[Profile],
) -> Meaning:
    from newsletter.embedder import Embedder
    from newsletter.semantic import day_embeddings, forget_unused, reader_embeddings

    embedder = Embedder.load(source)
    listing = day_embeddings(store, corpus, embedder)
    same = [p.id for p in papers] == [p.id for p in corpus]
    scored = listing if same else day_embeddings(store, papers, embedder)
    readers = reader_embeddings(store, profiles, embedder)
    forget_unused(store)
    log.info("semantic ranking: %d papers, %d readers (%s)", len(papers), len(profiles), source)
    return Meaning(scored, listing, readers, weight)
