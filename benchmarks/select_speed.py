"""Selection speed: N subscribers over P papers, one run of `newsletter.select.select`.

With `--semantic MODEL` (a folder or hub name, e.g. all-MiniLM-L6-v2's folder, see
`semantic_speed.py`) the papers and the readers' texts are first encoded with the model into a
scratch SQLite state kept for the run (`--state FOLDER` keeps it between runs), outside the
timed part: encoding is reported apart, cold (encoded and kept) and then read back from the
state. Then `select` is timed as without it, given `meaning=Meaning(...)` of these vectors.

Usage: python benchmarks/select_speed.py [--subscribers 10000] [--papers 2000] [--runs 3]
           [--semantic MODEL [--weight 0.3] [--state FOLDER]]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

sys.path.insert(0, str(Path(__file__).resolve().parent))

from synthetic import papers, profiles

from newsletter.config_blocks import RankingConfig
from newsletter.select import select

if TYPE_CHECKING:
    from newsletter.meaning import Meaning
    from newsletter.models import Paper, Profile


def encoded(
    model: str, folder: Path, day_papers: list[Paper], readers: list[Profile], weight: float
) -> Meaning:
    """The papers' and readers' vectors, encoded into (or read from) `folder`/state.db, once
    and then again from the state, each pass timed and reported."""
    from newsletter.embedder import Embedder
    from newsletter.meaning import Meaning
    from newsletter.semantic import day_embeddings, reader_embeddings
    from newsletter.store import Store

    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never reach for the hub unasked
    started = time.perf_counter()
    embedder = Embedder.load(model)
    print(f"{embedder.model_id}: loaded in {time.perf_counter() - started:.2f} s")
    with Store(folder / "state.db") as store:
        for state in ("first pass (cold unless --state kept it)", "from the state"):
            started = time.perf_counter()
            vectors = day_embeddings(store, day_papers, embedder)
            rate(f"{len(day_papers)} papers, {state}", len(day_papers), "papers", started)
            started = time.perf_counter()
            queries = reader_embeddings(store, readers, embedder)
            rate(f"{len(readers)} readers' texts, {state}", len(readers), "readers", started)
    return Meaning(vectors, vectors, queries, weight)  # the listing is the papers (no corpus)


def rate(what: str, count: int, unit: str, started: float) -> None:
    seconds = time.perf_counter() - started
    speed = f"{count / seconds:,.0f} {unit}/s" if seconds > 0 else "instant"
    print(f"  {what:<64} {seconds:8.2f} s  {speed}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", type=int, default=10_000)
    parser.add_argument("--papers", type=int, default=2_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--semantic", metavar="MODEL", help="rank with this model's vectors too")
    parser.add_argument("--weight", type=float, default=RankingConfig().weight)
    parser.add_argument("--state", type=Path, help="a folder for state.db (default: scratch)")
    args = parser.parse_args()
    day_papers, readers = papers(args.papers), profiles(args.subscribers)
    meaning = None
    if args.semantic:
        with tempfile.TemporaryDirectory() as scratch:
            folder = args.state or Path(scratch)
            folder.mkdir(parents=True, exist_ok=True)
            meaning = encoded(args.semantic, folder, day_papers, readers, args.weight)
    started = time.perf_counter()
    import numpy  # noqa: F401  (import cost reported apart; selection needs nothing else)

    imported = time.perf_counter() - started
    times = []
    for _ in range(args.runs):
        started = time.perf_counter()
        selections = select(day_papers, readers, date(2026, 7, 27), meaning=meaning)
        times.append(time.perf_counter() - started)
    picked = sum(len(s.papers) for s in selections)
    median = statistics.median(times)
    ranking = "" if meaning is None else f" with semantic ranking (weight {meaning.weight})"
    print(
        f"{args.subscribers} subscribers x {args.papers} papers{ranking}: median {median:.2f} s "
        f"of {args.runs} runs ({median / args.subscribers * 1000:.3f} ms per subscriber; "
        f"NumPy import {imported:.2f} s)"
    )
    print(f"papers picked: {picked} ({picked / args.subscribers:.1f} per subscriber)")


if __name__ == "__main__":
    main()
