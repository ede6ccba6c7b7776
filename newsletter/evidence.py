"""What a chunk of readers' keywords, authors and categories find in the day's papers, as
readers x papers arrays for `select`'s scoring, and which of a reader's keywords say the same
thing (`concepts`, for the reasons).

Each keyword is found where it is most central in a paper: in the title, in the abstract's
first sentences or more than once (`central`), or in passing. Each of a reader's keywords
counts, also when several say the same thing: a reader who writes a topic three ways
(`mixture of experts`, `mixture-of-experts`, `MoE`) cares about it more than about the topics
written once (counting them once measured worse on the labelled set). The reasons name each
concept once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from newsletter.matching import PaperIndex, reading_of
from newsletter.models import Profile

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

Counts = tuple[
    "NDArray[np.int64]", "NDArray[np.int64]", "NDArray[np.int64]", "NDArray[np.int64]"
]  # keywords in the title, centrally in the abstract, in passing; followed authors


def concepts(keywords: Sequence[str], index: PaperIndex) -> list[list[str]]:
    """The reader's keywords grouped by what they say, for the reasons: with short forms
    written out, a keyword whose words are within another's (`RL` in `RLHF`, `GNN` and `graph
    neural network`) says the same."""
    if len(keywords) < 2:
        return [list(keywords)]
    keys = [f" {' '.join(index.concept(keyword))} " for keyword in keywords]
    group = list(range(len(keywords)))

    def root(n: int) -> int:
        while group[n] != n:
            n = group[n]
        return n

    for a, b in ((a, b) for a in range(len(keys)) for b in range(len(keys)) if a != b):
        if keys[a] in keys[b]:  # the words of one within the other's
            group[root(a)] = root(b)
    found: dict[int, list[str]] = {}
    for n, keyword in enumerate(keywords):
        found.setdefault(root(n), []).append(keyword)
    return list(found.values())


def hit_counts(chunk: Sequence[Profile], index: PaperIndex, size: int) -> Counts:
    """Readers x papers: the reader's keywords found in the title, only centrally in the
    abstract, only in passing (`PaperIndex.keyword_positions`); followed authors."""
    import numpy as np

    places: list[tuple[NDArray[np.int64], ...]] = []
    keyword_rows: list[int] = []
    authors: list[NDArray[np.int64]] = []
    author_rows: list[int] = []
    for row, profile in enumerate(chunk):
        reading = reading_of(profile, index.glossary)
        places += [index.keyword_positions(keyword, reading) for keyword in profile.keywords]
        keyword_rows += [row] * len(profile.keywords)
        authors += map(index.author_positions, profile.authors)
        author_rows += [row] * len(profile.authors)

    def counts(parts: Sequence[NDArray[np.int64]], of_rows: list[int]) -> NDArray[np.int64]:
        """Papers by row, counted: each part's papers in the row it was found for."""
        lengths = np.fromiter(map(len, parts), dtype=np.int64, count=len(parts))
        offsets = np.repeat(np.asarray(of_rows, dtype=np.int64) * size, lengths)
        flat = np.concatenate(parts) + offsets if parts else np.zeros(0, dtype=np.int64)
        return np.bincount(flat, minlength=len(chunk) * size).reshape(len(chunk), size)

    title, central, passing = ([found[n] for found in places] for n in range(3))
    return (
        counts(title, keyword_rows),
        counts(central, keyword_rows),
        counts(passing, keyword_rows),
        counts(authors, author_rows),
    )


def category_hits(
    chunk: Sequence[Profile],
    columns: Mapping[str, int],
    categories: NDArray[np.int64],
) -> tuple[NDArray[np.bool_], NDArray[np.bool_]]:
    """Readers x papers: one of the reader's categories is primary; the paper is listed in one
    (`columns`: category -> column, the last one none; `categories`: k x papers columns)."""
    import numpy as np

    wanted = np.zeros((len(chunk), len(columns) + 1), dtype=bool)  # the last: no category
    for row, profile in enumerate(chunk):
        for category in profile.categories:
            if category in columns:
                wanted[row, columns[category]] = True
    primary = wanted[:, categories[0]]  # column -1 is the last: never wanted
    listed = primary.copy()
    for others in categories[1:]:
        listed |= wanted[:, others]
    return primary, listed
