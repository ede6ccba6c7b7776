"""Selection speed: N subscribers over P papers, one run of `newsletter.select.select`.

Usage: python benchmarks/select_speed.py [--subscribers 10000] [--papers 2000] [--runs 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from synthetic import papers, profiles

from newsletter.select import select


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", type=int, default=10_000)
    parser.add_argument("--papers", type=int, default=2_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    day_papers, readers = papers(args.papers), profiles(args.subscribers)
    started = time.perf_counter()
    import numpy  # noqa: F401  (import cost reported apart; selection needs nothing else)

    imported = time.perf_counter() - started
    times = []
    for _ in range(args.runs):
        started = time.perf_counter()
        selections = select(day_papers, readers, date(2026, 7, 27))
        times.append(time.perf_counter() - started)
    picked = sum(len(s.papers) for s in selections)
    median = statistics.median(times)
    print(
        f"{args.subscribers} subscribers x {args.papers} papers: median {median:.2f} s of "
        f"{args.runs} runs ({median / args.subscribers * 1000:.3f} ms per subscriber; "
        f"NumPy import {imported:.2f} s)"
    )
    print(f"papers picked: {picked} ({picked / args.subscribers:.1f} per subscriber)")


if __name__ == "__main__":
    main()
