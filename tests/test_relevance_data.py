"""The relevance benchmark: its labelled data is consistent and its metrics are right.

The data lives in benchmarks/data/relevance (see benchmarks/relevance.py for what each file is).
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from pathlib import Path
from typing import Any

import feedparser
import pytest
import yaml

from tests.relevance_harness import relevance

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "benchmarks" / "data" / "relevance"
FEED_CATEGORIES = ("cs.LG", "cs.AI", "cs.CL", "cs.CV", "cs.RO", "stat.ML")  # the listing's feed
INTEREST_KEYS = {"categories", "keywords", "authors", "exclude", "description", "liked"}
_DESCRIPTION = re.compile(
    r"arXiv:(?P<id>\d{4}\.\d{5})v(?P<version>\d+) "
    r"Announce Type: (?P<type>new|cross|replace|replace-cross) \nAbstract: \S"
)
_TOPIC = re.compile(r"<!-- topic: ([a-z0-9-]+) -->\s*<item>")
_SENTENCE_END = re.compile(r"(?<=[.?!])\s+(?=[A-Z0-9$])")


@pytest.fixture(scope="module")
def listing_text() -> str:
    return (DATA / "listing.xml").read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def listing(listing_text: str) -> Any:
    return feedparser.parse(
        listing_text.encode("utf-8"), sanitize_html=False, resolve_relative_uris=False
    )


@pytest.fixture(scope="module")
def dataset() -> Any:
    return relevance.load_dataset()


@pytest.fixture(scope="module")
def profiles() -> list[dict[str, Any]]:
    document = yaml.safe_load((DATA / "profiles.yaml").read_text(encoding="utf-8"))
    return list(document["profiles"])


def _text(paper: Any) -> str:
    return f"{paper['title']}\n{paper['abstract']}"


# ---------------------------------------------------------------------------- listing.xml


def test_listing_parses_with_feedparser_to_every_item(listing: Any, listing_text: str) -> None:
    assert not listing.bozo, listing.get("bozo_exception")
    assert listing.version == "rss20"
    assert listing.feed.title == f"{', '.join(FEED_CATEGORIES)} updates on arXiv.org"
    assert len(listing.entries) == listing_text.count("<item>") >= 90


def test_items_follow_the_current_rss_format(listing: Any) -> None:
    ids = []
    for entry in listing.entries:
        head = _DESCRIPTION.match(entry.summary)
        assert head, entry.summary[:80]
        arxiv_id, version, kind = head["id"], head["version"], head["type"]
        ids.append(arxiv_id)
        assert entry.link == f"https://arxiv.org/abs/{arxiv_id}"
        assert entry.id == f"oai:arXiv.org:{arxiv_id}v{version}"
        assert entry.arxiv_announce_type == kind
        categories = [tag.term for tag in entry.tags]
        assert categories and set(FEED_CATEGORIES) & set(categories)
        assert (categories[0] in FEED_CATEGORIES) == (kind in ("new", "replace")), arxiv_id
        assert entry.rights.startswith("http")
        assert len(entry.authors) == 1  # one dc:creator, authors comma-separated inside
    assert len(ids) == len(set(ids))
    kinds = Counter(entry.arxiv_announce_type for entry in listing.entries)
    assert kinds["new"] > kinds["cross"] > 0


def test_papers_read_like_real_submissions(listing_text: str) -> None:
    papers = relevance.parse_listing(listing_text.encode("utf-8"))  # raw text, LaTeX kept
    assert all(2 <= len(paper["authors"]) <= 12 for paper in papers)
    sentences = [len(_SENTENCE_END.split(paper["abstract"])) for paper in papers]
    assert min(sentences) >= 5 and max(sentences) <= 9
    assert sum("$" in paper["abstract"] for paper in papers) >= 20  # LaTeX math
    names = [name for paper in papers for name in paper["authors"]]
    assert sum(not name.isascii() for name in names) >= 30  # accented names
    assert sum("survey" in paper["title"].lower() for paper in papers) >= 3


def test_listing_records_at_least_seven_topics(listing_text: str) -> None:
    topics = Counter(_TOPIC.findall(listing_text))
    assert sum(topics.values()) == listing_text.count("<item>")
    themed = {topic: count for topic, count in topics.items() if topic != "other"}
    assert len(themed) >= 7
    assert min(themed.values()) >= 5


def _read_locally(files: list[tuple[Path, str]]) -> list[Any]:
    """The files' papers by the benchmark's own feedparser/json readers, first id wins."""
    papers: list[Any] = []
    seen: set[str] = set()
    for path, kind in files:
        for paper in relevance._LOCAL_PARSERS[kind](path.read_bytes()):
            if paper["id"] not in seen:
                seen.add(paper["id"])
                papers.append(paper)
    return papers


def test_harness_reads_the_listing_like_feedparser(dataset: Any, listing_text: str) -> None:
    """The project's parser (when present) and the local fallback see the same papers: the
    listing first, then every real file of ../shared that is there, in REAL_FILES order."""
    local = relevance.parse_listing(listing_text.encode("utf-8"))
    assert dataset.invented == len(local)
    assert [paper["id"] for paper in dataset.papers[: len(local)]] == [p["id"] for p in local]
    found = [
        (relevance.SHARED_DIR / name, kind)
        for name, kind in relevance.REAL_FILES
        if (relevance.SHARED_DIR / name).is_file()
    ]
    assert len(found) + len(dataset.missing) == len(relevance.REAL_FILES)
    assert [source.file for source in dataset.sources[1:]] == [path.name for path, _ in found]
    every = _read_locally([(DATA / "listing.xml", "rss"), *found])
    assert [paper["id"] for paper in dataset.papers] == [paper["id"] for paper in every]
    assert [paper["categories"] for paper in dataset.papers] == [p["categories"] for p in every]
    if relevance.SHARED_DIR.is_dir():  # the real papers are read when ../shared has them
        assert not dataset.missing
        assert len(dataset.papers) - dataset.invented >= 300


# ---------------------------------------------------------------------------- profiles and liked


def test_profiles_have_the_shape_of_subscriber_interests(profiles: list[dict[str, Any]]) -> None:
    assert len(profiles) >= 6
    assert len({profile["name"] for profile in profiles}) == len(profiles)
    for profile in profiles:
        interests = profile["interests"]
        assert set(interests) <= INTEREST_KEYS, profile["name"]
        for key in INTEREST_KEYS - {"description"}:
            values = interests.get(key, [])
            assert isinstance(values, list) and all(isinstance(v, str) for v in values)
        assert isinstance(interests.get("description", ""), str)


def test_profiles_cover_the_kinds_of_subscriber(profiles: list[dict[str, Any]]) -> None:
    kinds = [profile["interests"] for profile in profiles]
    assert any(set(i) == {"description"} for i in kinds)  # description only
    assert any(i.get("authors") and not i.get("keywords") for i in kinds)  # follows people
    assert any(i.get("liked") for i in kinds)
    assert any(i.get("exclude") for i in kinds)
    keywords = [k for i in kinds for k in i.get("keywords", [])]
    assert any(not k.isascii() for k in keywords)
    assert any(not re.fullmatch(r"[\w -]+", k) for k in keywords)  # "C++"


def test_liked_papers_resolve_and_liked_xml_holds_older_papers(
    dataset: Any, profiles: list[dict[str, Any]]
) -> None:
    liked_xml = feedparser.parse((DATA / "liked.xml").read_bytes())
    assert liked_xml.version.startswith("atom") and not liked_xml.bozo
    older = relevance.parse_atom((DATA / "liked.xml").read_bytes())
    listed = {paper["id"] for paper in dataset.papers}
    assert 3 <= len(older) <= 6
    assert not listed & {paper["id"] for paper in older}
    known = listed | {paper["id"] for paper in older}
    for profile in profiles:
        liked = profile["interests"].get("liked", [])
        assert set(liked) <= known, profile["name"]
        assert [paper["id"] for paper in dataset.liked[profile["name"]]] == liked


# ---------------------------------------------------------------------------- labels


def test_every_paper_is_judged_once_for_every_profile(dataset: Any) -> None:
    ids = {paper["id"] for paper in dataset.papers}
    assert set(dataset.labels) == {profile.name for profile in dataset.profiles}
    for grades in dataset.labels.values():
        assert set(grades) == ids
        assert set(grades.values()) <= {0, 1, 2, 3}


MAX_CORE_SHARE = 0.06  # of the papers: a profile whose core is larger is too broad to rank


def test_every_profile_has_relevant_papers_and_keyword_traps(dataset: Any) -> None:
    """Every profile has a core to find (4 or more grade-2 papers, at most MAX_CORE_SHARE of the
    set) and every keyword profile the ranking was built on has keyword traps: papers that
    contain one of its keywords but were judged 0. Most have two or more; a narrow one may have
    a single trap. Held-out profiles were labelled as they came, traps or not."""
    if dataset.missing:
        pytest.skip("the profiles added with the real papers need ../shared/fixtures/real")
    papers = {paper["id"]: paper for paper in dataset.papers}
    trapped = []
    for profile in dataset.profiles:
        grades = dataset.labels[profile.name]
        core = sum(grade >= 2 for grade in grades.values())
        assert 4 <= core <= MAX_CORE_SHARE * len(papers), profile.name
        keywords = [k.lower() for k in profile.interests.get("keywords", [])]
        if keywords and not profile.held_out:
            traps = [
                paper_id
                for paper_id, grade in grades.items()
                if grade == 0 and any(k in _text(papers[paper_id]).lower() for k in keywords)
            ]
            assert traps, profile.name
            trapped.append(len(traps))
    assert sum(count >= 2 for count in trapped) >= 0.75 * len(trapped)


def test_excluded_papers_are_graded_zero(dataset: Any) -> None:
    excluding = [p for p in dataset.profiles if p.interests.get("exclude")]
    assert excluding
    for profile in excluding:
        terms = [re.compile(rf"\b{re.escape(t)}s?\b", re.I) for t in profile.interests["exclude"]]
        hits = [
            paper["id"]
            for paper in dataset.papers
            if any(term.search(_text(paper)) for term in terms)
        ]
        assert hits, profile.name  # every exclusion is exercised
        assert all(dataset.labels[profile.name][paper_id] == 0 for paper_id in hits)


# ---------------------------------------------------------------------------- metrics

GRADES = {"a": 3, "b": 2, "c": 1, "d": 0}


def test_precision_counts_grades_of_two_and_above() -> None:
    assert relevance.precision_at(["a", "b", "c", "d"], GRADES, k=2) == 1.0
    assert relevance.precision_at(["d", "c", "b", "a"], GRADES, k=2) == 0.0
    assert relevance.precision_at(["c", "a", "d"], GRADES, k=2) == pytest.approx(0.5)
    assert relevance.precision_at(["a"], GRADES, k=5) == pytest.approx(0.5)  # short list
    assert relevance.precision_at(["a", "b"], {"a": 1, "b": 0}) == 0.0  # nothing to find


def test_precision_is_out_of_the_relevant_papers_there_are() -> None:
    """Divided by min(k, grade-2 papers): two of two relevant in the top five is perfect."""
    assert relevance.precision_at(["a", "c", "b", "d", "x"], GRADES, k=5) == 1.0
    many = {str(n): 2 for n in range(7)} | {"x": 0, "y": 1}
    assert relevance.precision_at(["0", "x", "1", "y", "z"], many, k=5) == pytest.approx(0.4)
    assert relevance.precision_at(["0", "1", "2", "3", "4", "5"], many, k=5) == 1.0


def test_ndcg_of_perfect_and_reversed_rankings() -> None:
    assert relevance.ndcg_at(["a", "b", "c", "d"], GRADES) == pytest.approx(1.0)
    reversed_dcg = 0 / 1 + 1 / math.log2(3) + 3 / math.log2(4) + 7 / math.log2(5)
    ideal_dcg = 7 / 1 + 3 / math.log2(3) + 1 / math.log2(4)
    expected = reversed_dcg / ideal_dcg
    assert expected == pytest.approx(0.5478, abs=1e-4)
    assert relevance.ndcg_at(["d", "c", "b", "a"], GRADES) == pytest.approx(expected)


def test_ndcg_ideal_uses_all_labels_and_the_cutoff() -> None:
    # "a" is left out of the ranking: the ideal still contains it
    assert relevance.ndcg_at(["b", "c"], GRADES) == pytest.approx(
        (3 + 1 / math.log2(3)) / (7 + 3 / math.log2(3) + 1 / 2)
    )
    assert relevance.ndcg_at(["d", "a"], GRADES, k=1) == 0.0
    assert relevance.ndcg_at(["a", "b"], {"a": 0, "b": 0}) == 0.0


def _result(name: str, rankings: dict[str, list[str]], labels: Any) -> Any:
    scores = {
        profile: relevance.Scores(
            relevance.precision_at(ranking, labels[profile]),
            relevance.ndcg_at(ranking, labels[profile]),
        )
        for profile, ranking in rankings.items()
    }
    mean = relevance.Scores(
        sum(s.p_at_5 for s in scores.values()) / len(scores),
        sum(s.ndcg_at_10 for s in scores.values()) / len(scores),
    )
    return relevance.MethodResult(name, mean, scores, rankings)


def test_the_bootstrap_of_a_difference_brackets_it() -> None:
    """Per profile, the difference of two rankings' nDCG@10 over draws of the papers: none
    between a ranking and itself; for a ranking that puts the core papers first against one
    that puts them last, above 0 in every draw that holds a core paper."""
    papers = [_paper(f"p{n}", f"Paper {n}") for n in range(40)]
    grades = {f"p{n}": (2 if n < 4 else 1 if n < 8 else 0) for n in range(40)}
    dataset = relevance.Dataset(papers, [], {"a": grades, "b": grades}, {}, [], [])
    best = [f"p{n}" for n in range(40)]
    worst = best[::-1]
    good = _result("good", {"a": best, "b": best}, dataset.labels)
    poor = _result("poor", {"a": worst, "b": best}, dataset.labels)
    same = relevance.differences(good, good, dataset, draws=200)
    assert all((d.observed, d.low, d.high, d.at_least) == (0, 0, 0, 1) for d in same.values())
    found = relevance.differences(good, poor, dataset, draws=200)
    assert found["a"].observed == pytest.approx(1.0) and found["b"].observed == 0.0
    assert 0.9 < found["a"].low <= found["a"].high <= 1.0 and found["a"].at_least == 1.0
    assert found["mean"].observed == pytest.approx(0.5) and found["b"].high == 0.0
    table = relevance.format_differences("good", "poor", found)
    low, high = f"{found['a'].low:+.3f}", f"{found['a'].high:+.3f}"
    assert table.splitlines()[2].split() == ["a", "|", "+1.000", "|", low, "|", high, "|", "100%"]


# ---------------------------------------------------------------------------- baselines and harness


def _paper(paper_id: str, title: str, abstract: str = "") -> Any:
    return {"id": paper_id, "title": title, "abstract": abstract, "authors": [], "categories": []}


def test_keyword_baseline_counts_substrings_and_keeps_listing_order_on_ties() -> None:
    papers = [
        _paper("1", "Nothing relevant"),
        _paper("2", "Moebius nets", "No experts here."),
        _paper("3", "MoE", "A mixture of experts (MoE) model."),
        _paper("4", "Also nothing"),
    ]
    interests = {"keywords": ["MoE", "mixture of experts"]}
    assert relevance.rank_by_keyword_count(interests, papers, []) == ["3", "2", "1", "4"]
    assert relevance.rank_by_keyword_count({}, papers, []) == ["1", "2", "3", "4"]


def test_tfidf_baseline_ranks_the_matching_paper_first() -> None:
    papers = [
        _paper("1", "Speech recognition", "Streaming speech recognition with chunked attention."),
        _paper("2", "Federated learning", "Client drift in federated learning with privacy."),
        _paper("3", "Robot grasping", "Grasping unseen objects with tactile sensing."),
    ]
    interests = {"keywords": ["federated"], "description": "privacy of clients"}
    assert relevance.rank_by_tfidf(interests, papers, [])[0] == "2"


def test_harness_reports_both_baselines(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    profiles: list[dict[str, Any]],
) -> None:
    results_path = tmp_path / "relevance_results.json"
    monkeypatch.setattr(relevance, "RESULTS_PATH", results_path)
    assert relevance.main(["--json"]) == 0
    out = capsys.readouterr().out
    assert "keyword substring count" in out and "TF-IDF cosine" in out
    assert "newsletter minus TF-IDF cosine" in out
    document = json.loads(results_path.read_text(encoding="utf-8"))
    assert document["dataset"]["papers"] >= 90
    for method in document["methods"]:
        assert 0.0 <= method["p_at_5"] <= 1.0 and 0.0 <= method["ndcg_at_10"] <= 1.0
        assert set(method["per_profile"]) == {profile["name"] for profile in profiles}
    held_out = {p["name"] for p in profiles if p.get("held_out")}
    assert set(document["dataset"]["held_out"]) == held_out and len(held_out) >= 12
    for method in document["methods"]:  # the groups' means make up the mean
        groups = method["groups"]
        assert set(groups) == {"built on", "held out 1", "held out 2"}
        sizes = {"built on": len(profiles) - len(held_out), "held out 1": 7, "held out 2": 5}
        total = sum(groups[g]["ndcg_at_10"] * sizes[g] for g in groups) / len(profiles)
        assert total == pytest.approx(method["ndcg_at_10"])
    against = document["against_tfidf"]["newsletter"]
    assert set(against) == {profile["name"] for profile in profiles} | {"mean"}
    assert all(d["low"] <= d["high"] and 0 <= d["at_least"] <= 1 for d in against.values())
