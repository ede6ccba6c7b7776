"""Relevance benchmark: how well are a day's papers ranked for each subscriber?

The labelled set, 490 papers x 29 profiles:

    data/relevance/listing.xml     150 invented papers: one day's arXiv listing in the
                                   rss.arxiv.org RSS 2.0 format
    ../shared/fixtures/real/       340 real papers, read at run time and never copied into the
                                   project (the path is relative to the repository root;
                                   `--shared DIR` reads another folder):
        arxiv_rss_2026-07-27_cs.AI_full.xml   223  arXiv RSS 2.0, replacements included
        arxiv_api_atom_2026_cs_lg_or_ai.xml    20  arXiv API Atom
        hf_daily_papers_2026-05-12.json        50  Hugging Face Daily Papers
        hf_daily_papers_2026-06-02.json        47  Hugging Face Daily Papers
    data/relevance/liked.xml       older papers that some profiles liked (arXiv API Atom)
    data/relevance/profiles.yaml   29 subscriber profiles, each `interests` block shaped like
                                   subscribers.yaml: keywords, descriptions, authors,
                                   categories, liked papers and excludes as readers write them;
                                   12 are `held_out` (a batch number): written and labelled
                                   after the ranking was built, never used to tune it
    data/relevance/labels.tsv      graded labels `profile<TAB>paper_id<TAB>grade`: 2 core (the
                                   reader wants it), 1 related, 0 not relevant; only grades 1 and
                                   2 are listed, every other pair is 0. Written by reading title
                                   and abstract, before any ranking was looked at.

Papers are keyed by arXiv id without version; a paper in several files counts once (the first
file wins). Without the shared folder (or some of its files) the benchmark runs on the papers it
has, says so on stderr, and leaves out of the means any profile left without a grade-2 paper.

Metrics, per profile and averaged over profiles:

    P@5      grade-2 papers among the first five, divided by min(5, the profile's grade-2 papers)
    nDCG@10  gain 2**grade - 1, log2 discount, normalised by the best ordering of all labels

Methods: keyword substring count; TF-IDF cosine (scikit-learn); BM25 (Okapi, k1=1.5, b=0.75,
with the `bm25s` package, skipped when it is not installed); the digest's own ranking
(`newsletter.select`, see `rank_newsletter`). The TF-IDF and BM25 query is the profile's
keywords, description and the titles of its liked papers; a document is title + abstract.
Means are given over all profiles and apart for those the ranking was built on and each
held-out batch; then, for the digest's ranking, each profile's difference to TF-IDF and how
much of it is chance (`differences`: a bootstrap over the papers).

Usage: python benchmarks/relevance.py [--shared DIR] [--json] [--semantic MODEL [--weight W]]
(--json also writes relevance_results.json next to this file)
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
import tempfile
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypedDict

import feedparser
import yaml

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

REPO = Path(__file__).resolve().parents[1]
DATA_DIR = REPO / "benchmarks" / "data" / "relevance"
SHARED_DIR = REPO.parent / "shared" / "fixtures" / "real"
RESULTS_PATH = Path(__file__).resolve().parent / "relevance_results.json"
LISTING = "listing.xml"
REAL_FILES = (  # (file name, format), read in this order after listing.xml
    ("arxiv_rss_2026-07-27_cs.AI_full.xml", "rss"),
    ("arxiv_api_atom_2026_cs_lg_or_ai.xml", "atom"),
    ("hf_daily_papers_2026-05-12.json", "hf"),
    ("hf_daily_papers_2026-06-02.json", "hf"),
)
GRADES = (0, 1, 2)
RELEVANT_GRADE = 2
PRECISION_CUTOFF = 5
NDCG_CUTOFF = 10
DRAWS = 2000  # bootstrap draws of the papers, for how much a per-profile difference is chance
BM25_K1 = 1.5
BM25_B = 0.75

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
    held_out: int = 0  # its batch, when written and labelled after the ranking was built


@dataclass(frozen=True)
class Source:
    """One file of the set and what it added."""

    file: str
    papers: int  # papers added to the set
    duplicates: int  # papers left out because an earlier file had them
    parser: str


@dataclass(frozen=True)
class Dataset:
    papers: list[BenchPaper]  # listing.xml first, then the real files, each in file order
    profiles: list[Profile]
    labels: dict[str, dict[str, int]]  # profile name -> paper id -> grade, for every paper
    liked: dict[str, list[BenchPaper]]  # profile name -> its liked papers
    sources: list[Source]
    missing: list[str]  # real files that were not found

    @property
    def invented(self) -> int:
        return self.sources[0].papers

    def core(self, profile: str) -> int:
        """The profile's grade-2 papers among the loaded ones."""
        return sum(grade >= RELEVANT_GRADE for grade in self.labels[profile].values())


@dataclass(frozen=True)
class Scores:
    p_at_5: float
    ndcg_at_10: float


@dataclass(frozen=True)
class MethodResult:
    name: str
    mean: Scores
    per_profile: dict[str, Scores]
    rankings: dict[str, list[str]]  # profile name -> the ranking's paper ids


@dataclass(frozen=True)
class Difference:
    """One profile's nDCG@10 of a method minus the baseline's: on the set, and over bootstrap
    draws of its papers (`differences`), how low and how high it goes (5th and 95th
    percentile) and how often it is >= 0."""

    observed: float
    low: float
    high: float
    at_least: float


# ---------------------------------------------------------------------------- reading papers


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
    """Read an arXiv API Atom response (liked.xml; the fallback for the project's parser)."""
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


def parse_daily_papers(data: bytes) -> list[BenchPaper]:
    """Read a Hugging Face Daily Papers response; the fallback for the project's parser."""
    papers = []
    for item in json.loads(data):
        paper = item["paper"]
        papers.append(
            BenchPaper(
                id=str(paper["id"]),
                title=" ".join(paper["title"].split()),
                abstract=" ".join(paper.get("summary", "").split()),
                authors=[author["name"] for author in paper.get("authors", [])],
                categories=[],  # Hugging Face gives none
            )
        )
    return papers


_LOCAL_PARSERS: dict[str, Callable[[bytes], list[BenchPaper]]] = {
    "rss": parse_listing,
    "atom": parse_atom,
    "hf": parse_daily_papers,
}


def read_papers(path: Path, kind: str) -> tuple[list[BenchPaper], str]:
    """A file's papers, read by the project's parser for its format when the project is
    importable, else by the local feedparser/json reader. Replaced papers are kept."""
    data = path.read_bytes()
    try:
        from newsletter.sources import arxiv, huggingface
    except ImportError:
        return _LOCAL_PARSERS[kind](data), f"local {_LOCAL_PARSERS[kind].__name__}"
    source = f"relevance benchmark {path.name}"
    if kind == "rss":
        parsed = arxiv.parse_rss(data, source=source, include_replacements=True)
    elif kind == "atom":
        parsed = arxiv.parse_atom(data, source=source)
    else:
        parsed = huggingface.parse_daily_papers(data, source=source)
    parser = {
        "rss": "newsletter.sources.arxiv.parse_rss",
        "atom": "newsletter.sources.arxiv.parse_atom",
        "hf": "newsletter.sources.huggingface.parse_daily_papers",
    }[kind]
    papers = [
        BenchPaper(
            id=paper.id,
            title=paper.title,
            abstract=paper.abstract,
            authors=list(paper.authors),
            categories=list(paper.categories),
        )
        for paper in parsed.papers
    ]
    return papers, parser


def load_papers(
    data_dir: Path, shared_dir: Path | None
) -> tuple[list[BenchPaper], list[Source], list[str]]:
    """listing.xml, then every real file found in shared_dir, without repeated ids;
    also the names of the real files that were not found."""
    papers: list[BenchPaper] = []
    seen: set[str] = set()
    sources: list[Source] = []
    missing: list[str] = []
    files = [(data_dir / LISTING, "rss")]
    for name, kind in REAL_FILES:
        if shared_dir is not None and (shared_dir / name).is_file():
            files.append((shared_dir / name, kind))
        else:
            missing.append(name)
    for path, kind in files:
        read, parser = read_papers(path, kind)
        new = [paper for paper in read if paper["id"] not in seen]
        seen.update(paper["id"] for paper in new)
        papers += new
        sources.append(Source(path.name, len(new), len(read) - len(new), parser))
    return papers, sources, missing


# ---------------------------------------------------------------------------- profiles, labels


def load_profiles(path: Path) -> list[Profile]:
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    return [
        Profile(
            name=item["name"],
            interests=dict(item["interests"]),
            held_out=int(item.get("held_out", 0)),
        )
        for item in document["profiles"]
    ]


def load_labels(path: Path) -> dict[str, dict[str, int]]:
    """The listed grades by profile and paper id (absent pairs are 0); comment lines (#) and
    the header row are skipped."""
    labels: dict[str, dict[str, int]] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip() or line.startswith("#") or line.startswith("profile\t"):
            continue
        profile, paper_id, grade = line.split("\t")
        if int(grade) not in GRADES:
            raise ValueError(f"{path.name}:{number}: grade {grade} is not one of {GRADES}")
        if paper_id in labels.setdefault(profile, {}):
            raise ValueError(f"{path.name}:{number}: {profile} {paper_id} judged twice")
        labels[profile][paper_id] = int(grade)
    return labels


def load_dataset(data_dir: Path = DATA_DIR, shared_dir: Path | None = SHARED_DIR) -> Dataset:
    """The labelled set; the real papers come from shared_dir, as far as it has them."""
    papers, sources, missing = load_papers(data_dir, shared_dir)
    profiles = load_profiles(data_dir / "profiles.yaml")
    pool = {paper["id"]: paper for paper in parse_atom((data_dir / "liked.xml").read_bytes())}
    pool.update((paper["id"], paper) for paper in papers)
    liked: dict[str, list[BenchPaper]] = {}
    for profile in profiles:
        ids = [str(paper_id) for paper_id in profile.interests.get("liked", [])]
        absent = [paper_id for paper_id in ids if paper_id not in pool]
        if absent:
            raise ValueError(f"profile {profile.name}: liked ids not in the data: {absent}")
        liked[profile.name] = [pool[paper_id] for paper_id in ids]
    listed = load_labels(data_dir / "labels.tsv")
    names = {profile.name for profile in profiles}
    if set(listed) - names:
        raise ValueError(f"labels.tsv: unknown profiles {sorted(set(listed) - names)}")
    ids = {paper["id"] for paper in papers}
    unknown = sorted({paper_id for grades in listed.values() for paper_id in grades} - ids)
    if unknown and not missing:  # with every file read, a label must name a paper of the set
        raise ValueError(f"labels.tsv: papers not in the set: {', '.join(unknown[:5])}")
    labels = {
        profile.name: {
            paper["id"]: listed.get(profile.name, {}).get(paper["id"], 0) for paper in papers
        }
        for profile in profiles
    }
    return Dataset(papers, profiles, labels, liked, sources, missing)


# ---------------------------------------------------------------------------- metrics


def precision_at(
    ranking: Sequence[str], grades: Mapping[str, int], k: int = PRECISION_CUTOFF
) -> float:
    """Papers graded >= RELEVANT_GRADE among the first k, divided by min(k, the number of such
    papers): 1.0 when the top holds as many relevant papers as there are to hold.

    A ranking shorter than k counts its empty positions as misses; without relevant papers the
    precision is 0.
    """
    relevant = sum(grade >= RELEVANT_GRADE for grade in grades.values())
    if relevant == 0:
        return 0.0
    hits = sum(grades.get(paper_id, 0) >= RELEVANT_GRADE for paper_id in ranking[:k])
    return hits / min(k, relevant)


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


def query_text(interests: Interests, liked: Sequence[BenchPaper]) -> str:
    """What TF-IDF and BM25 search with: keywords, description and the liked papers' titles."""
    parts = [*interests.get("keywords", []), interests.get("description") or ""]
    return " ".join([*parts, *(paper["title"] for paper in liked)])


def _order(papers: Sequence[BenchPaper], scores: Sequence[float]) -> list[str]:
    """Paper ids by descending score; ties keep listing order."""
    positions = sorted(range(len(papers)), key=lambda i: (-scores[i], i))
    return [papers[i]["id"] for i in positions]


def rank_by_keyword_count(
    interests: Interests, papers: list[BenchPaper], liked: list[BenchPaper]
) -> list[str]:
    """Baseline: case-insensitive substring counts of the keywords in title + abstract."""
    keywords = [keyword.lower() for keyword in interests.get("keywords", [])]
    scores = [
        sum(paper_text(paper).lower().count(keyword) for keyword in keywords) for paper in papers
    ]
    return _order(papers, scores)


def rank_by_tfidf(
    interests: Interests, papers: list[BenchPaper], liked: list[BenchPaper]
) -> list[str]:
    """Baseline: cosine similarity of TF-IDF vectors fitted on the papers to the query."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.metrics.pairwise import linear_kernel

    vectorizer = TfidfVectorizer(stop_words="english", sublinear_tf=True)
    documents = vectorizer.fit_transform([paper_text(paper) for paper in papers])
    # rows are L2-normalised, so the dot product is the cosine
    scores = linear_kernel(vectorizer.transform([query_text(interests, liked)]), documents)
    return _order(papers, scores.ravel().tolist())


def bm25_version() -> str | None:
    """The installed bm25s version, or None when BM25 cannot run."""
    try:
        import bm25s
    except ImportError:
        return None
    return str(bm25s.__version__)


def rank_by_bm25(
    interests: Interests, papers: list[BenchPaper], liked: list[BenchPaper]
) -> list[str]:
    """Baseline: Okapi BM25 (bm25s, Lucene's idf, k1=1.5, b=0.75, English stop words, no
    stemming) of the query against the papers."""
    import bm25s

    def tokens(texts: list[str]) -> list[list[str]]:
        return bm25s.tokenize(texts, stopwords="en", return_ids=False, show_progress=False)

    index = bm25s.BM25(k1=BM25_K1, b=BM25_B)
    index.index(tokens([paper_text(paper) for paper in papers]), show_progress=False)
    (query,) = tokens([query_text(interests, liked)])
    scores = index.get_scores(query).tolist() if query else [0.0] * len(papers)
    return _order(papers, scores)


def rank_newsletter(model: str | None = None, weight: float = 0.3) -> Ranker | None:
    """The digest's own ranking: `newsletter.select.select` on the profile's interests, as
    `newsletter preview` runs it, with no cap on the number of papers; with `model` (a sentence
    model's folder or hub name), the optional semantic ranking blended in at `weight`, its
    vectors cached in a scratch state as `newsletter send` caches them."""
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
        items = [to_paper(p) for p in papers]
        meaning = None if model is None else semantic_inputs(model, weight, items, profile)
        (selection,) = select(items, [profile], day, liked=liked_papers, meaning=meaning)
        return [picked.paper.id for picked in selection.papers]

    return rank


def semantic_inputs(model: str, weight: float, papers: list[Any], profile: Any) -> Any:
    """The `Meaning` of these papers for one profile (`newsletter/meaning.py`), the model loaded
    once and every vector cached in a scratch state for the whole run."""
    from newsletter.embedder import Embedder
    from newsletter.meaning import Meaning
    from newsletter.semantic import day_embeddings, reader_embeddings
    from newsletter.store import Store

    if model not in _SEMANTIC:
        folder = Path(tempfile.mkdtemp(prefix="relevance-semantic-"))
        _SEMANTIC[model] = (Embedder.load(model), Store(folder / "state.db"))
    embedder, store = _SEMANTIC[model]
    vectors = day_embeddings(store, papers, embedder)
    return Meaning(vectors, vectors, reader_embeddings(store, [profile], embedder), weight)


_SEMANTIC: dict[str, tuple[Any, Any]] = {}


# ---------------------------------------------------------------------------- evaluation


def scored_profiles(dataset: Dataset) -> list[Profile]:
    """The profiles with at least one grade-2 paper among the loaded papers."""
    return [profile for profile in dataset.profiles if dataset.core(profile.name)]


def evaluate(name: str, ranker: Ranker, dataset: Dataset) -> MethodResult:
    known = {paper["id"] for paper in dataset.papers}
    per_profile = {}
    rankings: dict[str, list[str]] = {}
    profiles = scored_profiles(dataset)
    for profile in profiles:
        ranking = ranker(dict(profile.interests), list(dataset.papers), dataset.liked[profile.name])
        unknown = [paper_id for paper_id in ranking if paper_id not in known]
        if unknown or len(set(ranking)) != len(ranking):
            raise ValueError(f"{name} for {profile.name}: unknown or repeated ids in the ranking")
        grades = dataset.labels[profile.name]
        per_profile[profile.name] = Scores(precision_at(ranking, grades), ndcg_at(ranking, grades))
        rankings[profile.name] = ranking
    count = len(per_profile)
    mean = Scores(
        p_at_5=sum(scores.p_at_5 for scores in per_profile.values()) / count,
        ndcg_at_10=sum(scores.ndcg_at_10 for scores in per_profile.values()) / count,
    )
    return MethodResult(name=name, mean=mean, per_profile=per_profile, rankings=rankings)


def differences(
    method: MethodResult,
    baseline: MethodResult,
    dataset: Dataset,
    draws: int = DRAWS,
    seed: int = 20261110,
) -> dict[str, Difference]:
    """Per profile, how `method`'s nDCG@10 compares with `baseline`'s, and how much that
    depends on which papers happen to be in the set (`Difference`): the bootstrap, papers drawn
    with replacement as many as there are, each ranking keeping its order (a paper drawn twice
    fills two places), the ideal ordering made from the drawn papers' labels."""
    import numpy as np

    papers = [paper["id"] for paper in dataset.papers]
    column = {paper: n for n, paper in enumerate(papers)}
    counts = np.random.default_rng(seed).multinomial(
        len(papers), [1 / len(papers)] * len(papers), size=draws
    )
    discount = 1 / np.log2(np.arange(NDCG_CUTOFF) + 2)

    def dcg_of(order: list[int], gains: NDArray[np.float64]) -> NDArray[np.float64]:
        """Per draw, the DCG@10 of the papers in `order` (their gains), copies filling places."""
        filled = np.cumsum(counts[:, order], axis=1)
        places = np.arange(NDCG_CUTOFF)
        at = np.vstack([np.searchsorted(row, places, side="right") for row in filled])
        padded = np.append(gains, 0.0)  # past the ranking's end: no gain
        summed: NDArray[np.float64] = (padded[np.minimum(at, len(order))] * discount).sum(axis=1)
        return summed

    found = {}
    drawn = []
    for name, ranking in method.rankings.items():
        labels = dataset.labels[name]
        gain = np.array([2.0 ** labels.get(paper, 0) - 1 for paper in papers])
        best = sorted(range(len(papers)), key=lambda n: -gain[n])
        ideal = dcg_of(best, gain[best])
        scores = []
        for order in (ranking, baseline.rankings[name]):
            rows = [column[paper] for paper in order]
            scores.append(dcg_of(rows, gain[rows]) / np.where(ideal > 0, ideal, 1.0))
        spread = scores[0] - scores[1]
        drawn.append(spread)
        found[name] = _difference(
            method.per_profile[name].ndcg_at_10 - baseline.per_profile[name].ndcg_at_10, spread
        )
    if drawn:  # the same draws for every profile: the mean's spread is the mean of each draw
        found["mean"] = _difference(
            method.mean.ndcg_at_10 - baseline.mean.ndcg_at_10, np.mean(drawn, axis=0)
        )
    return found


def _difference(observed: float, drawn: NDArray[np.float64]) -> Difference:
    import numpy as np

    return Difference(
        observed=observed,
        low=float(np.percentile(drawn, 5)),
        high=float(np.percentile(drawn, 95)),
        at_least=float((drawn >= 0).mean()),
    )


def format_differences(name: str, baseline: str, found: Mapping[str, Difference]) -> str:
    """One row per profile: the observed difference, its 90% range over draws, share >= 0."""
    first = max(len(profile) for profile in [*found, "profile"])
    lines = [
        f"{name} minus {baseline}, nDCG@10, per profile: on the set, and over {DRAWS:,}"
        " bootstrap draws of its papers (5th and 95th percentile; share of draws >= 0):",
        f"{'profile':<{first}} | {'set':>6} | {'5th':>6} | {'95th':>6} | {'>= 0':>5}",
    ]
    for profile, d in found.items():
        lines.append(
            f"{profile:<{first}} | {d.observed:>+6.3f} | {d.low:>+6.3f} | {d.high:>+6.3f}"
            f" | {d.at_least:>5.0%}"
        )
    return "\n".join(lines)


def methods(model: str | None = None, weight: float = 0.3) -> tuple[list[tuple[str, Ranker]], bool]:
    """The rankings to compare, and whether the digest's own ranking is among them (with
    `model`, also with the semantic ranking)."""
    chosen: list[tuple[str, Ranker]] = [
        ("keyword substring count", rank_by_keyword_count),
        ("TF-IDF cosine", rank_by_tfidf),
    ]
    if bm25_version() is not None:
        chosen.append(("BM25", rank_by_bm25))
    newsletter_rank = rank_newsletter()
    if newsletter_rank is not None:
        chosen.append(("newsletter", newsletter_rank))
    semantic_rank = rank_newsletter(model, weight) if model is not None else None
    if semantic_rank is not None:
        chosen.append((f"newsletter + semantic ({weight:g})", semantic_rank))
    return chosen, newsletter_rank is not None


def describe(dataset: Dataset, shared_dir: Path | None) -> list[str]:
    """The lines that say what the set is."""
    real = len(dataset.papers) - dataset.invented
    lines = [
        f"{len(dataset.papers)} papers: {dataset.invented} invented + {real} real"
        f" from {shared_dir}" + (" (files missing)" if dataset.missing else "")
    ]
    width = max(len(source.file) for source in dataset.sources)
    for source in dataset.sources:
        repeated = f", {source.duplicates} repeated ids left out" if source.duplicates else ""
        lines.append(f"  {source.file:<{width}}  {source.papers:>3}  {source.parser}{repeated}")
    grades = [grade for labels in dataset.labels.values() for grade in labels.values()]
    lines.append(
        f"{len(dataset.profiles)} profiles, {len(grades)} (profile, paper) pairs:"
        f" {grades.count(2)} graded 2, {grades.count(1)} graded 1, the rest 0"
    )
    version = bm25_version()
    lines.append(
        f"BM25: bm25s {version}, k1={BM25_K1}, b={BM25_B}"
        if version
        else "BM25: not available (pip install bm25s)"
    )
    return lines


def group_means(result: MethodResult, dataset: Dataset) -> dict[str, Scores]:
    """The means over the profiles the ranking was built on and over each batch of held-out
    ones (`Profile.held_out`), each when there are such profiles among the scored ones."""
    group_of = {profile.name: _group(profile) for profile in dataset.profiles}
    groups: dict[str, list[Scores]] = {}
    for name, scores in result.per_profile.items():
        groups.setdefault(group_of[name], []).append(scores)
    return {
        group: Scores(
            sum(s.p_at_5 for s in members) / len(members),
            sum(s.ndcg_at_10 for s in members) / len(members),
        )
        for group, members in groups.items()
        if members
    }


def _group(profile: Profile) -> str:
    return f"held out {profile.held_out}" if profile.held_out else "built on"


def format_report(dataset: Dataset, results: list[MethodResult]) -> str:
    """The means (method | P@5 | nDCG@10, and by group: the profiles the ranking was built on,
    the held-out ones), then one row per profile with every method's P@5 / nDCG@10 and a last
    row of means."""
    width = max(len(result.name) for result in results)
    groups = {result.name: group_means(result, dataset) for result in results}
    counts = Counter(_group(p) for p in scored_profiles(dataset))
    split = len(counts) > 1
    extra = "".join(f" | {f'{group} ({counts[group]})':>15}" for group in counts) if split else ""
    lines = [f"{'method':<{width}} | {'P@5':>5} | {'nDCG@10':>7}{extra}"]
    for result in results:
        mean = result.mean
        row = f"{result.name:<{width}} | {mean.p_at_5:>5.3f} | {mean.ndcg_at_10:>7.3f}"
        if split:
            row += "".join(
                f" | {f'{s.p_at_5:.3f} / {s.ndcg_at_10:.3f}':>15}"
                for s in groups[result.name].values()
            )
        lines.append(row)
    if split:
        lines.append(
            "(by group: P@5 / nDCG@10; held out: written and labelled after the ranking was built)"
        )
    names = list(results[0].per_profile)
    first = max(len(name) for name in [*names, "profile"])
    columns = [max(len(result.name), len("0.00 / 0.00")) for result in results]
    lines += ["", "per profile, P@5 / nDCG@10 (core: grade-2 papers; P@5 is out of min(5, core)):"]
    header = [f"{'profile':<{first}}", "core"]
    header += [result.name.rjust(column) for result, column in zip(results, columns, strict=True)]
    lines.append(" | ".join(header))
    rows = [
        (name, str(dataset.core(name)), [r.per_profile[name] for r in results]) for name in names
    ]
    rows.append(("mean", "", [result.mean for result in results]))
    for name, core, scores in rows:
        cells = [f"{name:<{first}}", f"{core:>4}"]
        for score, column in zip(scores, columns, strict=True):
            cells.append(f"{score.p_at_5:.2f} / {score.ndcg_at_10:.2f}".rjust(column))
        lines.append(" | ".join(cells))
    return "\n".join(lines)


def results_document(
    dataset: Dataset, results: list[MethodResult], newsletter_available: bool
) -> dict[str, Any]:
    grades = [grade for labels in dataset.labels.values() for grade in labels.values()]
    return {
        "dataset": {
            "papers": len(dataset.papers),
            "invented": dataset.invented,
            "real": len(dataset.papers) - dataset.invented,
            "sources": [asdict(source) for source in dataset.sources],
            "missing_files": dataset.missing,
            "profiles": len(dataset.profiles),
            "held_out": {p.name: p.held_out for p in dataset.profiles if p.held_out},
            "pairs": len(grades),
            "graded_2": grades.count(2),
            "graded_1": grades.count(1),
            "core_per_profile": {p.name: dataset.core(p.name) for p in dataset.profiles},
        },
        "metrics": {
            "relevant_grade": RELEVANT_GRADE,
            "p_at": PRECISION_CUTOFF,
            "p_at_divisor": "min(5, grade-2 papers of the profile)",
            "ndcg_at": NDCG_CUTOFF,
            "ndcg_gain": "2**grade - 1",
        },
        "bm25": {"package": "bm25s", "version": bm25_version(), "k1": BM25_K1, "b": BM25_B},
        "newsletter_available": newsletter_available,
        "methods": [
            {
                "name": result.name,
                **asdict(result.mean),
                "per_profile": {
                    name: asdict(scores) for name, scores in result.per_profile.items()
                },
                "groups": {
                    group: asdict(scores) for group, scores in group_means(result, dataset).items()
                },
            }
            for result in results
        ],
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--shared",
        type=Path,
        default=SHARED_DIR,
        metavar="DIR",
        help=f"folder with the real listings (default: {SHARED_DIR})",
    )
    parser.add_argument("--json", action="store_true", help=f"also write {RESULTS_PATH.name}")
    parser.add_argument("--semantic", metavar="MODEL", help="also rank with the semantic "
                        "ranking, this sentence model (a folder or a hub name)")  # fmt: skip
    parser.add_argument("--weight", type=float, default=0.3, help="its weight (default 0.3)")
    args = parser.parse_args(argv)

    dataset = load_dataset(shared_dir=args.shared)
    if dataset.missing:
        print(
            f"relevance: not found in {args.shared}: {', '.join(dataset.missing)}; running on"
            f" {len(dataset.papers)} papers ({dataset.invented} invented) instead of all 490",
            file=sys.stderr,
        )
    left_out = [p.name for p in dataset.profiles if not dataset.core(p.name)]
    if left_out:
        print(
            f"relevance: no grade-2 paper among these papers for {', '.join(left_out)};"
            " left out of the means",
            file=sys.stderr,
        )
    chosen, newsletter_available = methods(args.semantic, args.weight)
    print("\n".join(describe(dataset, args.shared)))
    if not newsletter_available:
        print("newsletter ranking: not available")
    print()
    results = [evaluate(name, ranker, dataset) for name, ranker in chosen]
    print(format_report(dataset, results))
    named = {result.name: result for result in results}
    compared = {
        name: differences(named[name], named["TF-IDF cosine"], dataset)
        for name in named
        if name.startswith("newsletter")
    }
    for name, found in compared.items():
        print()
        print(format_differences(name, "TF-IDF cosine", found))
    if args.json:
        document = results_document(dataset, results, newsletter_available)
        document["against_tfidf"] = {
            name: {profile: asdict(d) for profile, d in found.items()}
            for name, found in compared.items()
        }
        RESULTS_PATH.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
        print(f"\nwrote {RESULTS_PATH}")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(REPO))  # the checkout, for `newsletter`
    sys.exit(main())
