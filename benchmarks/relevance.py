"""Relevance benchmark: how well is one day's listing ranked for each subscriber?

Data, in benchmarks/data/relevance/ (all papers invented, none copied from arXiv):

    listing.xml    one day's arXiv listing in the rss.arxiv.org RSS 2.0 format
    liked.xml      older papers that some profiles liked, as an arXiv API Atom response
    profiles.yaml  subscriber profiles; each `interests` block is shaped like subscribers.yaml
    labels.tsv     graded judgements `profile<TAB>paper_id<TAB>grade`, grade 0-3

Metrics, per profile and averaged over profiles:

    P@5      share of the first five papers graded >= 2
    nDCG@10  gain 2**grade - 1, log2 discount, normalised by the best ordering of all labels

Methods: two baselines (keyword substring count, TF-IDF cosine) and the digest's own ranking
(`newsletter.select`, see `rank_newsletter`).

Usage: python benchmarks/relevance.py [--json]   (--json also writes relevance_results.json)
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, TypedDict

import feedparser
import yaml

DATA_DIR = Path(__file__).resolve().parent / "data" / "relevance"
RESULTS_PATH = Path(__file__).resolve().parent / "relevance_results.json"
RELEVANT_GRADE = 2
PRECISION_CUTOFF = 5
NDCG_CUTOFF = 10

_ARXIV_ID = re.compile(r"([a-z-]+(?:\.[A-Z]{2})?/\d{7}|\d{4}\.\d{4,5})(?:v\d+)?$")


class BenchPaper(TypedDict):
    """What a ranking sees of a paper: plain text fields, categories primary first."""

    id: str
    title: str
    abstract: str
    authors: list[str]
    categories: list[str]


Interests = dict[str, Any]
Ranker = Callable[[Interests, list[BenchPaper], list[BenchPaper]], list[str]]


@dataclass(frozen=True)
class Profile:
    name: str
    interests: Interests


@dataclass(frozen=True)
class Dataset:
    papers: list[BenchPaper]  # listing order
    profiles: list[Profile]
    labels: dict[str, dict[str, int]]  # profile name -> paper id -> grade
    liked: dict[str, list[BenchPaper]]  # profile name -> its liked papers
    parser: str  # which parser read listing.xml


@dataclass(frozen=True)
class Scores:
    p_at_5: float
    ndcg_at_10: float


@dataclass(frozen=True)
class MethodResult:
    name: str
    mean: Scores
    per_profile: dict[str, Scores]


# ---------------------------------------------------------------------------- loading


def arxiv_id(text: str) -> str:
    """The arXiv id without version at the end of a guid, link or Atom id."""
    match = _ARXIV_ID.search(text.strip())
    if match is None:
        raise ValueError(f"no arXiv id in {text!r}")
    return match.group(1)


def _parse_feed(data: bytes) -> Any:
    return feedparser.parse(data, sanitize_html=False, resolve_relative_uris=False)


def parse_listing(data: bytes) -> list[BenchPaper]:
    """Read an rss.arxiv.org listing with feedparser; the fallback for the project's parser."""
    papers = []
    for entry in _parse_feed(data).entries:
        description = entry.get("summary", "")
        _, marker, abstract = description.partition("Abstract:")
        papers.append(
            BenchPaper(
                id=arxiv_id(entry.get("id") or entry.link),
                title=" ".join(entry.title.split()),
                abstract=" ".join((abstract if marker else description).split()),
                authors=[
                    name.strip() for name in entry.get("author", "").split(",") if name.strip()
                ],
                categories=[tag.term for tag in entry.get("tags", [])],
            )
        )
    return papers


def parse_atom(data: bytes) -> list[BenchPaper]:
    """Read an arXiv API Atom response (liked.xml)."""
    papers = []
    for entry in _parse_feed(data).entries:
        categories = [tag.term for tag in entry.get("tags", [])]
        primary = entry.get("arxiv_primary_category", {}).get("term")
        if primary in categories:
            categories.remove(primary)
            categories.insert(0, primary)
        papers.append(
            BenchPaper(
                id=arxiv_id(entry.id),
                title=" ".join(entry.title.split()),
                abstract=" ".join(entry.get("summary", "").split()),
                authors=[author.name for author in entry.get("authors", [])],
                categories=categories,
            )
        )
    return papers


def load_listing(path: Path) -> tuple[list[BenchPaper], str]:
    """The day's papers, read by the project's arXiv parser when it exists, else by `parse_listing`.

    Replaced papers are kept: the labels judge every item of the listing.
    """
    data = path.read_bytes()
    try:
        from newsletter.sources.arxiv import parse_rss
    except ImportError:
        return parse_listing(data), "local feedparser reader"
    papers = [
        BenchPaper(
            id=paper.id,
            title=paper.title,
            abstract=paper.abstract,
            authors=list(paper.authors),
            categories=list(paper.categories),
        )
        for paper in parse_rss(data, source="relevance benchmark", include_replacements=True).papers
    ]
    return papers, "newsletter.sources.arxiv.parse_rss"


def load_profiles(path: Path) -> list[Profile]:
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    return [
        Profile(name=item["name"], interests=dict(item["interests"]))
        for item in document["profiles"]
    ]


def load_labels(path: Path) -> dict[str, dict[str, int]]:
    """Grades by profile and paper id; comment lines (#) and the header row are skipped."""
    labels: dict[str, dict[str, int]] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip() or line.startswith("#") or line.startswith("profile\t"):
            continue
        profile, paper_id, grade = line.split("\t")
        if paper_id in labels.setdefault(profile, {}):
            raise ValueError(f"{path.name}:{number}: {profile} {paper_id} judged twice")
        labels[profile][paper_id] = int(grade)
    return labels


def load_dataset(data_dir: Path = DATA_DIR) -> Dataset:
    papers, parser = load_listing(data_dir / "listing.xml")
    profiles = load_profiles(data_dir / "profiles.yaml")
    pool = {paper["id"]: paper for paper in parse_atom((data_dir / "liked.xml").read_bytes())}
    pool.update((paper["id"], paper) for paper in papers)
    liked: dict[str, list[BenchPaper]] = {}
    for profile in profiles:
        ids = [str(paper_id) for paper_id in profile.interests.get("liked", [])]
        missing = [paper_id for paper_id in ids if paper_id not in pool]
        if missing:
            raise ValueError(
                f"profile {profile.name}: liked ids not in the data: {', '.join(missing)}"
            )
        liked[profile.name] = [pool[paper_id] for paper_id in ids]
    labels = load_labels(data_dir / "labels.tsv")
    return Dataset(papers=papers, profiles=profiles, labels=labels, liked=liked, parser=parser)


# ---------------------------------------------------------------------------- metrics


def precision_at(
    ranking: Sequence[str], grades: Mapping[str, int], k: int = PRECISION_CUTOFF
) -> float:
    """Share of the first k positions holding a paper graded >= RELEVANT_GRADE.

    A ranking shorter than k counts its empty positions as misses.
    """
    return sum(grades.get(paper_id, 0) >= RELEVANT_GRADE for paper_id in ranking[:k]) / k


def dcg(gains: Iterable[float]) -> float:
    return sum(gain / math.log2(position + 2) for position, gain in enumerate(gains))


def ndcg_at(ranking: Sequence[str], grades: Mapping[str, int], k: int = NDCG_CUTOFF) -> float:
    """nDCG@k, gain 2**grade - 1; the ideal ordering is built from all of the profile's grades."""
    ideal = dcg(sorted((2**grade - 1 for grade in grades.values()), reverse=True)[:k])
    if ideal == 0:
        return 0.0
    return dcg(2 ** grades.get(paper_id, 0) - 1 for paper_id in ranking[:k]) / ideal


# ---------------------------------------------------------------------------- rankings


def paper_text(paper: BenchPaper) -> str:
    return f"{paper['title']}\n{paper['abstract']}"


def _order(papers: Sequence[BenchPaper], scores: Sequence[float]) -> list[str]:
    """Paper ids by descending score; ties keep listing order."""
    positions = sorted(range(len(papers)), key=lambda i: (-scores[i], i))
    return [papers[i]["id"] for i in positions]


def rank_by_keyword_count(
    interests: Interests, papers: list[BenchPaper], liked: list[BenchPaper]
) -> list[str]:
    """Baseline A: case-insensitive substring counts of the keywords in title + abstract."""
    keywords = [keyword.lower() for keyword in interests.get("keywords", [])]
    scores = [
        sum(paper_text(paper).lower().count(keyword) for keyword in keywords) for paper in papers
    ]
    return _order(papers, scores)


def rank_by_tfidf(
    interests: Interests, papers: list[BenchPaper], liked: list[BenchPaper]
) -> list[str]:
    """Baseline B: cosine similarity of TF-IDF vectors fitted on the day's papers.

    The query is the profile's keywords and description joined.
    """
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.metrics.pairwise import linear_kernel

    vectorizer = TfidfVectorizer(stop_words="english", sublinear_tf=True)
    documents = vectorizer.fit_transform([paper_text(paper) for paper in papers])
    query = " ".join([*interests.get("keywords", []), interests.get("description", "")])
    # rows are L2-normalised, so the dot product is the cosine
    scores = linear_kernel(vectorizer.transform([query]), documents).ravel()
    return _order(papers, scores.tolist())


def rank_newsletter() -> Ranker | None:
    """The digest's own ranking: `newsletter.select.select` on the profile's interests, as
    `newsletter preview` runs it, with no cap on the number of papers."""
    try:
        from newsletter.config import Interests as InterestsModel
        from newsletter.models import Paper
        from newsletter.select import select
    except ImportError:
        return None
    from datetime import date

    def to_paper(item: BenchPaper) -> Paper:
        return Paper(
            id=item["id"],
            title=item["title"],
            abstract=item["abstract"],
            authors=tuple(item["authors"]),
            categories=tuple(item["categories"]),
        )

    def rank(interests: Interests, papers: list[BenchPaper], liked: list[BenchPaper]) -> list[str]:
        checked = InterestsModel.model_validate(interests)  # the same validation as the config
        profile = checked.profile("reader@example.org", max_papers=len(papers))
        liked_papers = {item["id"]: to_paper(item) for item in liked}
        day = date(2026, 11, 10)
        (selection,) = select([to_paper(p) for p in papers], [profile], day, liked=liked_papers)
        return [picked.paper.id for picked in selection.papers]

    return rank


# ---------------------------------------------------------------------------- evaluation


def evaluate(name: str, ranker: Ranker, dataset: Dataset) -> MethodResult:
    known = {paper["id"] for paper in dataset.papers}
    per_profile = {}
    for profile in dataset.profiles:
        ranking = ranker(dict(profile.interests), list(dataset.papers), dataset.liked[profile.name])
        unknown = [paper_id for paper_id in ranking if paper_id not in known]
        if unknown or len(set(ranking)) != len(ranking):
            raise ValueError(f"{name} for {profile.name}: unknown or repeated ids in the ranking")
        grades = dataset.labels.get(profile.name, {})
        per_profile[profile.name] = Scores(precision_at(ranking, grades), ndcg_at(ranking, grades))
    count = len(per_profile)
    mean = Scores(
        p_at_5=sum(scores.p_at_5 for scores in per_profile.values()) / count,
        ndcg_at_10=sum(scores.ndcg_at_10 for scores in per_profile.values()) / count,
    )
    return MethodResult(name=name, mean=mean, per_profile=per_profile)


def methods() -> tuple[list[tuple[str, Ranker]], bool]:
    """The rankings to compare, and whether the digest's own ranking is among them."""
    chosen: list[tuple[str, Ranker]] = [
        ("keyword substring count", rank_by_keyword_count),
        ("TF-IDF cosine", rank_by_tfidf),
    ]
    newsletter_rank = rank_newsletter()
    if newsletter_rank is not None:
        chosen.append(("newsletter", newsletter_rank))
    return chosen, newsletter_rank is not None


def format_report(dataset: Dataset, results: list[MethodResult]) -> str:
    """One table of means (method | P@5 | nDCG@10), then the numbers of every profile."""
    width = max(len(result.name) for result in results)
    lines = [f"{'method':<{width}} | {'P@5':>5} | {'nDCG@10':>7}"]
    for result in results:
        mean = result.mean
        lines.append(f"{result.name:<{width}} | {mean.p_at_5:>5.3f} | {mean.ndcg_at_10:>7.3f}")
    names = [profile.name for profile in dataset.profiles]
    first = max(len(name) for name in names)
    lines += ["", "per profile, P@5 / nDCG@10:"]
    lines.append(" | ".join([f"{'profile':<{first}}", *(result.name for result in results)]))
    for name in names:
        cells = [f"{name:<{first}}"]
        for result in results:
            scores = result.per_profile[name]
            cells.append(f"{scores.p_at_5:.2f} / {scores.ndcg_at_10:.2f}".rjust(len(result.name)))
        lines.append(" | ".join(cells))
    return "\n".join(lines)


def results_document(
    dataset: Dataset, results: list[MethodResult], newsletter_available: bool
) -> dict[str, Any]:
    return {
        "dataset": {
            "papers": len(dataset.papers),
            "profiles": len(dataset.profiles),
            "judgements": sum(len(grades) for grades in dataset.labels.values()),
            "parser": dataset.parser,
        },
        "metrics": {
            "relevant_grade": RELEVANT_GRADE,
            "p_at": PRECISION_CUTOFF,
            "ndcg_at": NDCG_CUTOFF,
        },
        "newsletter_available": newsletter_available,
        "methods": [
            {
                "name": result.name,
                **asdict(result.mean),
                "per_profile": {
                    name: asdict(scores) for name, scores in result.per_profile.items()
                },
            }
            for result in results
        ],
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help=f"also write {RESULTS_PATH.name}")
    args = parser.parse_args(argv)

    dataset = load_dataset()
    chosen, newsletter_available = methods()
    print(f"{len(dataset.papers)} papers, {len(dataset.profiles)} profiles")
    print(f"listing read by {dataset.parser}")
    if not newsletter_available:
        print("newsletter ranking: not available")
    print()
    results = [evaluate(name, ranker, dataset) for name, ranker in chosen]
    print(format_report(dataset, results))
    if args.json:
        document = results_document(dataset, results, newsletter_available)
        RESULTS_PATH.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
        print(f"\nwrote {RESULTS_PATH}")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the checkout, for `newsletter`
    sys.exit(main())
