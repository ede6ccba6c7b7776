"""Why each paper was picked for a reader: the reasons an issue shows, strongest first
(`keyword "diffusion" in title`, `author Ada Lovelace`, `matches your description (0.31)`,
`keyword "LLM agents" as "large language model agents" in abstract`).

Pure, like `select`, which builds one `Explainer` per reader; the look-ups are the day index's.
"""

from __future__ import annotations

from collections.abc import Sequence
from operator import itemgetter
from typing import TYPE_CHECKING

from newsletter.evidence import concepts
from newsletter.feedback import Taste
from newsletter.matching import PaperIndex, reading_of
from newsletter.models import Paper, Profile, SelectedPaper
from newsletter.similarity import LIKED_LEVEL, Levels, reason_weight

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

MATCH_LEVEL = 2.0  # similarity level (`similarity.py`) from which a paper matches the text
TRENDING_UPVOTES = 10


class Explainer:
    """Builds the reasons for one reader's picks; look-ups are done once per reader."""

    def __init__(
        self,
        profile: Profile,
        papers: Sequence[Paper],
        index: PaperIndex,
        description: Levels | None,
        row: int,
        liked: list[tuple[str, NDArray[np.float64]]],
        taste: Taste | None = None,
    ) -> None:
        """`papers`: the day's (the index may have been built from equal ones); `description`:
        the chunk's similarities to them, the reader's at `row` (None: no description or
        keywords); `liked`: each liked paper's levels of closeness to them."""
        self.papers = papers
        reading = reading_of(profile, index.glossary)
        self.concepts = [
            [(k, index.keyword(k, reading)) for k in group]
            for group in concepts(profile.keywords, index)
        ]
        self.authors = [(a, index.author(a)) for a in profile.authors]
        self.levels = None if description is None else description.level[row]
        self.cosines = None if description is None else description.cosine[row]
        self.meaning = None
        if description is not None and description.meaning is not None:
            self.meaning = description.meaning[row]
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
        """Each picked paper's authors and keyword concepts, in the profile's order: one reason
        per concept (`evidence.concepts`), from the keyword found in the title if one is, as
        written if one is, else the first; found with set intersections per phrase."""
        chosen = set(picked)
        found: dict[int, list[tuple[float, str]]] = {i: [] for i in picked}
        for author, papers in self.authors:
            for i in chosen & papers:
                found[i].append((0.7, f"author {author}"))
        for group in self.concepts:
            best: dict[int, tuple[tuple[int, bool, int], str]] = {}
            for order, (keyword, places) in enumerate(group):
                for i in chosen & (places.title | places.body):
                    in_title = i in places.title
                    forms = places.title_forms if in_title else places.body_forms
                    rank = (0 if in_title else 1, i in forms, order)
                    if i not in best or rank < best[i][0]:
                        where = "in title" if in_title else "in abstract"
                        best[i] = (rank, f"keyword {_as(keyword, forms.get(i))} {where}")
            for i, ((field, _, _), text) in best.items():
                found[i].append((0.6 if field == 0 else 0.3, text))
        return found

    def reasons(self, i: int, explicit: list[tuple[float, str]] | None = None) -> tuple[str, ...]:
        """Why paper `i` was picked, the strongest reason first (`explicit`: its authors and
        keywords, when `_explicit` found them already)."""
        reasons = self._explicit([i])[i] if explicit is None else explicit
        if self.levels is not None and self.cosines is not None:
            level = float(self.levels[i])
            if level >= MATCH_LEVEL and self.meaning is not None and self.meaning[i] >= MATCH_LEVEL:
                what = "your description" if "description" in self.label else "your keywords"
                reasons.append((reason_weight(level), f"close in meaning to {what}"))
            elif level >= MATCH_LEVEL:
                value = float(self.cosines[i])
                reasons.append((reason_weight(level), f"{self.label} ({value:.2f})"))
        if self.liked:
            level, liked_id = max(((float(row[i]), k) for k, row in self.liked), key=lambda t: t[0])
            if level >= LIKED_LEVEL:
                reasons.append((reason_weight(level), f"similar to your liked paper {liked_id}"))
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


def _as(keyword: str, other: str | None) -> str:
    """The keyword, quoted, and how the paper writes it when that is another way: `"LLM
    agents" as "large language model agents"`."""
    return f'"{keyword}"' if other is None else f'"{keyword}" as "{other}"'


def _category_reason(categories: Sequence[str], paper: Paper) -> str | None:
    if not categories or not paper.categories:
        return None
    if paper.categories[0] in categories:
        return f"category {paper.categories[0]}"
    shared = [c for c in paper.categories[1:] if c in categories]
    return f"cross-listed in {shared[0]}" if shared else None
