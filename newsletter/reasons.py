"""Why each paper was picked for a reader: the reasons an issue shows, strongest first
(`keyword "diffusion" in title`, `author Ada Lovelace`, `matches your description (0.31)`).

Pure, like `select`, which builds one `Explainer` per reader; the look-ups are the day index's.
"""

from __future__ import annotations

from collections.abc import Sequence
from operator import itemgetter
from typing import TYPE_CHECKING

from newsletter.feedback import LIKED_MIN, Taste
from newsletter.matching import PaperIndex
from newsletter.models import Paper, Profile, SelectedPaper

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

DESCRIPTION_MIN = 0.08  # cosine similarity below which a description match is noise
TRENDING_UPVOTES = 10


class Explainer:
    """Builds the reasons for one reader's picks; look-ups are done once per reader."""

    def __init__(
        self,
        profile: Profile,
        papers: Sequence[Paper],
        index: PaperIndex,
        description: NDArray[np.float64] | None,
        liked: list[tuple[str, NDArray[np.float32]]],
        taste: Taste | None = None,
    ) -> None:
        """`papers`: the day's (the index may have been built from equal ones); `description`:
        the reader's cosines to them (None: no description or keywords); `liked`: each liked
        paper's cosines to them."""
        self.papers = papers
        self.keywords = [(k, *index.keyword(k)) for k in profile.keywords]
        self.authors = [(a, index.author(a)) for a in profile.authors]
        self.description = description
        self.label = (
            "matches your description" if profile.description else "similar to your keywords"
        )
        self.liked = liked
        self.categories = profile.categories
        self.taste = taste

    def explain(self, picked: list[int], scores: NDArray[np.float64]) -> list[SelectedPaper]:
        explicit = self._explicit(picked)
        return [
            SelectedPaper(self.papers[i], float(scores[i]), self.reasons(i, explicit[i]))
            for i in picked
        ]

    def _explicit(self, picked: list[int]) -> dict[int, list[tuple[float, str]]]:
        """Each picked paper's authors and keywords, in the profile's order (a keyword in the
        title, else in the abstract), found with one set intersection per phrase."""
        chosen = set(picked)
        found: dict[int, list[tuple[float, str]]] = {i: [] for i in picked}
        for author, papers in self.authors:
            for i in chosen & papers:
                found[i].append((0.7, f"author {author}"))
        for keyword, title, body in self.keywords:
            in_title = chosen & title
            for i in in_title:
                found[i].append((0.6, f'keyword "{keyword}" in title'))
            for i in (chosen & body) - in_title:
                found[i].append((0.3, f'keyword "{keyword}" in abstract'))
        return found

    def reasons(self, i: int, explicit: list[tuple[float, str]] | None = None) -> tuple[str, ...]:
        """Why paper `i` was picked, the strongest reason first (`explicit`: its authors and
        keywords, when `_explicit` found them already)."""
        reasons = self._explicit([i])[i] if explicit is None else explicit
        if self.description is not None:
            value = float(self.description[i])
            if value >= DESCRIPTION_MIN:
                reasons.append((0.5 * value, f"{self.label} ({value:.2f})"))
        if self.liked:
            value, liked_id = max(((float(row[i]), k) for k, row in self.liked), key=lambda t: t[0])
            if value >= LIKED_MIN:
                reasons.append((0.5 * value, f"similar to your liked paper {liked_id}"))
        if self.taste is not None:
            reasons += self.taste.reasons(i)
        paper = self.papers[i]
        category = _category_reason(self.categories, paper)
        if category:
            reasons.append((0.1, category))
        upvotes = paper.extras.upvotes or 0
        if upvotes >= TRENDING_UPVOTES:
            reasons.append((0.0, f"trending on Hugging Face ({upvotes} upvotes)"))
        reasons.sort(key=itemgetter(0), reverse=True)  # stable: ties keep their order
        return tuple([text for _, text in reasons])


def _category_reason(categories: Sequence[str], paper: Paper) -> str | None:
    if not categories or not paper.categories:
        return None
    if paper.categories[0] in categories:
        return f"category {paper.categories[0]}"
    shared = [c for c in paper.categories[1:] if c in categories]
    return f"cross-listed in {shared[0]}" if shared else None
