"""Feedback benchmark: do readers' "more / less like this" ratings raise precision day after day?

Simulated readers with hidden interests receive an issue every day and rate part of it:

    readers   the profiles of benchmarks/data/relevance/profiles.yaml; their hidden interests
              are the graded labels of labels.tsv (0-3)
    start     what the readers configured: `full` (default) their interests as in profiles.yaml;
              a cold start keeps `description` or `categories` alone
    stream    the 150 labelled papers of listing.xml, shuffled (seeded) and dealt into DAYS days,
              with the papers of the real listings in ../shared/fixtures/real (when present;
              never judged, so grade 0) dealt among them as the rest of each day's listing
    issue     `newsletter.select.select` over the day's papers, the first ISSUE papers
    rating    each paper of the issue is rated with probability RATE (seeded): grade >= 2 is
              "more like this" (+1), grade 0 "less like this" (-1), grade 1 is left unrated, and
              so is a paper without a judgement (with --rate-unlabelled: -1); ratings
              accumulate and are passed to the next days' selections
    metrics   P@5, the share of the issue's first five papers graded >= 2 ("ceiling": the best
              the day's papers allow), and nDCG@10 against the best order of the day's papers
              (grades 1-3 count there); averaged over readers and over SEEDS shuffles

The same stream is run twice: with the ratings, and without them (as if nobody rated anything).
The gain of the later half of the days is given per reader, and over seeds with its standard
error.

`--speed SHARE` measures instead what ratings cost: `select` for the synthetic day of
benchmarks/select_speed.py (10,000 readers, 2,000 papers), SHARE of the readers with 20 ratings
each (of another synthetic day's papers, half up), against none rated.

Usage: python benchmarks/feedback.py [--days 10] [--seeds 10] [--rate 0.4] [--issue 10]
       [--start full|description|categories] [--no-real] [--rate-unlabelled] [--json]
       python benchmarks/feedback.py --speed 0.1
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the checkout, for `newsletter`

from relevance import RELEVANT_GRADE, BenchPaper, Dataset, load_dataset, ndcg_at, precision_at

from newsletter.config import Interests
from newsletter.models import Paper, Profile
from newsletter.select import select

REAL = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "real"
REAL_LISTINGS = {  # file -> parser
    "arxiv_rss_2026-07-27_cs.AI_full.xml": "rss",
    "arxiv_api_atom_2026_cs_lg_or_ai.xml": "atom",
    "hf_daily_papers_2026-05-12.json": "huggingface",
    "hf_daily_papers_2026-06-02.json": "huggingface",
}
STARTS = {"full": None, "description": ("description",), "categories": ("categories",)}
FIRST_DAY = date(2026, 11, 2)

Ratings = dict[str, list[tuple[Paper, int]]]


@dataclass(frozen=True)
class Options:
    days: int = 10
    seeds: int = 10
    rate: float = 0.4
    issue: int = 10
    start: str = "full"
    real: bool = True
    rate_unlabelled: bool = False


@dataclass(frozen=True)
class Reader:
    name: str
    profile: Profile
    grades: dict[str, int]  # hidden: paper id -> grade


@dataclass(frozen=True)
class Day:
    """One reader's issue of one day, judged."""

    p_at_5: float
    ndcg_at_10: float


def to_paper(item: BenchPaper) -> Paper:
    return Paper(
        id=item["id"],
        title=item["title"],
        abstract=item["abstract"],
        authors=tuple(item["authors"]),
        categories=tuple(item["categories"]),
    )


def real_papers(folder: Path = REAL) -> list[Paper]:
    """The papers of the real listings (unjudged); none when the folder is absent."""
    from newsletter.sources.arxiv import parse_atom, parse_rss
    from newsletter.sources.huggingface import parse_daily_papers

    found: dict[str, Paper] = {}
    for name, kind in REAL_LISTINGS.items():
        path = folder / name
        if not path.is_file():
            continue
        data = path.read_bytes()
        if kind == "rss":
            result = parse_rss(data, source=name, include_replacements=True)
        elif kind == "atom":
            result = parse_atom(data, source=name)
        else:
            result = parse_daily_papers(data, source=name)
        found.update((paper.id, paper) for paper in result.papers if paper.id not in found)
    return list(found.values())


def readers(dataset: Dataset, options: Options) -> list[Reader]:
    """The simulated readers, configured as `options.start` says (a profile without any
    interest of that kind is left out)."""
    kept = STARTS[options.start]
    group = []
    for profile in dataset.profiles:
        interests = {k: v for k, v in profile.interests.items() if kept is None or k in kept}
        if not interests:  # nothing of that kind configured: not a reader of this start
            continue
        checked = Interests.model_validate(interests)
        email = f"{profile.name}@example.org"
        group.append(
            Reader(
                profile.name,
                checked.profile(email, max_papers=options.issue),
                dataset.labels.get(profile.name, {}),
            )
        )
    return group


def stream(labelled: list[Paper], unjudged: list[Paper], days: int, seed: int) -> list[list[Paper]]:
    """The labelled and the unjudged papers, each shuffled and dealt in turn into `days` days."""
    rng = random.Random(seed)
    judged = {p.id for p in labelled}
    dealt: list[list[Paper]] = [[] for _ in range(days)]
    for group in (list(labelled), [p for p in unjudged if p.id not in judged]):
        rng.shuffle(group)
        for n, paper in enumerate(group):
            dealt[n % days].append(paper)
    return dealt


def run(
    days: list[list[Paper]],
    group: list[Reader],
    liked: dict[str, Paper],
    options: Options,
    seed: int,
    feedback: bool,
) -> list[list[Day]]:
    """Every reader's judged issue of every day of one stream, with or without their ratings."""
    rng = random.Random(seed * 7919 + 1)
    ratings: Ratings = {reader.profile.email: [] for reader in group}
    judged = []
    for n, papers in enumerate(days):
        selections = select(
            papers,
            [reader.profile for reader in group],
            FIRST_DAY + timedelta(days=n),
            liked=liked,
            corpus=papers,
            ratings=ratings if feedback else None,
        )
        issues = []
        for reader, selection in zip(group, selections, strict=True):
            shown = [picked.paper for picked in selection.papers[: options.issue]]
            ids = [paper.id for paper in shown]
            today = {paper.id: reader.grades.get(paper.id, 0) for paper in papers}
            issues.append(Day(precision_at(ids, reader.grades), ndcg_at(ids, today)))
            for paper in shown:  # a draw for every paper: both runs see the same draws
                vote = _vote(reader.grades.get(paper.id), options.rate_unlabelled)
                if rng.random() < options.rate and vote:
                    ratings[reader.profile.email].append((paper, vote))
        judged.append(issues)
    return judged


def _vote(grade: int | None, rate_unlabelled: bool) -> int:
    if grade is None:
        return -1 if rate_unlabelled else 0
    return 1 if grade >= RELEVANT_GRADE else -1 if grade == 0 else 0


def ceiling(days: list[list[Paper]], group: list[Reader]) -> list[float]:
    """Per day, the best P@5 any ranking could reach, averaged over readers."""
    return [
        statistics.mean(
            min(5, sum(r.grades.get(p.id, 0) >= RELEVANT_GRADE for p in papers)) / 5 for r in group
        )
        for papers in days
    ]


def benchmark(options: Options) -> dict[str, Any]:
    """Both runs over `options.seeds` streams, averaged."""
    dataset = load_dataset()
    group = readers(dataset, options)
    labelled = [to_paper(item) for item in dataset.papers]
    unjudged = real_papers() if options.real else []
    liked = {item["id"]: to_paper(item) for items in dataset.liked.values() for item in items}
    curves: dict[str, list[list[float]]] = {"with": [], "without": [], "ndcg_with": []}
    curves.update(ndcg_without=[], ceiling=[])
    later = range(options.days // 2, options.days)
    gains: list[float] = []
    per_reader: dict[str, list[float]] = {reader.name: [] for reader in group}
    for seed in range(options.seeds):
        days = stream(labelled, unjudged, options.days, seed)
        on = run(days, group, liked, options, seed, feedback=True)
        off = run(days, group, liked, options, seed, feedback=False)
        for name, judged in (("", on), ("out", off)):
            curves[f"with{name}"].append([statistics.mean(d.p_at_5 for d in day) for day in judged])
            ndcg = [statistics.mean(d.ndcg_at_10 for d in day) for day in judged]
            curves[f"ndcg_with{name}"].append(ndcg)
        curves["ceiling"].append(ceiling(days, group))
        mine, theirs = curves["with"][-1], curves["without"][-1]
        gains.append(statistics.mean(mine[d] - theirs[d] for d in later))
        for i, reader in enumerate(group):
            gain = statistics.mean(on[d][i].p_at_5 - off[d][i].p_at_5 for d in later)
            per_reader[reader.name].append(gain)

    def mean(values: list[list[float]]) -> list[float]:
        return [round(statistics.mean(day), 4) for day in zip(*values, strict=True)]

    spread = statistics.stdev(gains) / len(gains) ** 0.5 if len(gains) > 1 else 0.0
    return {
        "options": asdict(options),
        "papers": {"labelled": len(labelled), "unjudged": len(unjudged)},
        "readers": len(group),
        "p_at_5": {
            "with_feedback": mean(curves["with"]),
            "without_feedback": mean(curves["without"]),
            "ceiling": mean(curves["ceiling"]),
        },
        "ndcg_at_10": {
            "with_feedback": mean(curves["ndcg_with"]),
            "without_feedback": mean(curves["ndcg_without"]),
        },
        "later_days_gain": {"p_at_5": round(statistics.mean(gains), 4), "stderr": round(spread, 4)},
        "later_days_gain_per_reader": {
            name: round(statistics.mean(values), 4) for name, values in per_reader.items()
        },
    }


def report(result: dict[str, Any]) -> str:
    """The per-day table, then day 1, the last day and the later days, and the gain by reader."""
    p5, ndcg = result["p_at_5"], result["ndcg_at_10"]
    on, off, top = p5["with_feedback"], p5["without_feedback"], p5["ceiling"]
    papers, options = result["papers"], result["options"]
    lines = [
        f"{result['readers']} readers ({options['start']} interests), {papers['labelled']} "
        f"labelled + {papers['unjudged']} unjudged papers over {len(on)} days, "
        f"{options['seeds']} seeds, {options['rate']:.0%} of each issue rated",
        "",
        "day | P@5 with | without |   gain | ceiling | nDCG@10 with | without",
    ]
    rows = zip(on, off, top, ndcg["with_feedback"], ndcg["without_feedback"], strict=True)
    for n, (a, b, c, d, e) in enumerate(rows, start=1):
        lines.append(f"{n:>3} | {a:>8.3f} | {b:>7.3f} | {a - b:>+6.3f} | {c:>7.3f} | "
                     f"{d:>12.3f} | {e:>7.3f}")  # fmt: skip
    half, last = len(on) // 2, len(on)
    gain = result["later_days_gain"]
    lines += [
        "",
        f"P@5 day 1:  {on[0]:.3f} with feedback, {off[0]:.3f} without",
        f"P@5 day {last}: {on[-1]:.3f} with feedback, {off[-1]:.3f} without",
        f"P@5 days {half + 1}-{last}: {statistics.mean(on[half:]):.3f} with feedback, "
        f"{statistics.mean(off[half:]):.3f} without (gain {gain['p_at_5']:+.3f} "
        f"± {gain['stderr']:.3f}), ceiling {statistics.mean(top[half:]):.3f}",
        "",
        f"P@5 gain on days {half + 1}-{last}, per reader:",
    ]
    for name, value in result["later_days_gain_per_reader"].items():
        lines.append(f"  {name:<22} {value:+.3f}")
    return "\n".join(lines)


def speed(share: float, rated: int = 20, runs: int = 2) -> str:
    """Median seconds of `select` over the synthetic day, with `share` of the readers rating."""
    import time

    from synthetic import papers, profiles

    day, group = papers(2000), profiles(10_000)
    earlier = [p.model_copy(update={"id": f"2606.{p.id[5:]}"}) for p in papers(2000, seed=8)]
    rng = random.Random(1)
    ratings = {
        profile.email: [(paper, rng.choice((1, -1))) for paper in rng.sample(earlier, rated)]
        for profile in group
        if rng.random() < share
    }
    lines = []
    for label, given in (("no ratings", None), (f"{len(ratings)} readers rated", ratings)):
        times = []
        for _ in range(runs):
            started = time.perf_counter()
            select(day, group, date(2026, 7, 27), ratings=given)
            times.append(time.perf_counter() - started)
        lines.append(f"{label:>22}: median {statistics.median(times):.2f} s of {runs} runs")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    defaults = Options()
    parser.add_argument("--days", type=int, default=defaults.days)
    parser.add_argument("--seeds", type=int, default=defaults.seeds, help="streams averaged")
    parser.add_argument("--rate", type=float, default=defaults.rate, help="share rated")
    parser.add_argument("--issue", type=int, default=defaults.issue, help="papers per issue")
    parser.add_argument("--start", choices=sorted(STARTS), default=defaults.start)
    parser.add_argument("--no-real", action="store_true", help="labelled papers only")
    parser.add_argument("--rate-unlabelled", action="store_true", help="rate unjudged as -1")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument("--speed", type=float, metavar="SHARE", help="time SHARE rated instead")
    args = parser.parse_args(argv)
    if args.speed is not None:
        print(speed(args.speed))
        return 0
    options = Options(
        args.days,
        args.seeds,
        args.rate,
        args.issue,
        args.start,
        not args.no_real,
        args.rate_unlabelled,
    )
    result = benchmark(options)
    print(json.dumps(result, indent=2) if args.json else report(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
