"""Rendering speed and size: every reader's issue of one day, cards shared vs rendered in place.

Usage: python benchmarks/render_speed.py [--subscribers 2000] [--papers 2000] [--per-issue 15]
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from synthetic import papers

from newsletter.models import Profile, SelectedPaper, Selection
from newsletter.render.renderer import IssueRenderer, Newsletter

REASONS = ('keyword "mixture of experts" in title', "matches your description (0.31)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", type=int, default=2_000)
    parser.add_argument("--papers", type=int, default=2_000)
    parser.add_argument("--per-issue", type=int, default=15)
    args = parser.parse_args()
    pool = papers(args.papers)
    rng = random.Random(3)
    selections = [
        Selection(
            Profile(f"reader{n}@example.org", keywords=("x",)),
            date(2026, 7, 27),
            tuple(SelectedPaper(p, 0.9, REASONS) for p in rng.sample(pool, args.per_issue)),
        )
        for n in range(args.subscribers)
    ]

    def run(shared: bool) -> tuple[float, int]:
        renderer = IssueRenderer(Newsletter("Paper Digest", "digest@example.org"))
        started, size = time.perf_counter(), 0
        for s in selections:
            render = renderer.render if shared else renderer.render_direct
            size += render(s, s.profile.email, "Reader").html_bytes
        return time.perf_counter() - started, size // len(selections)

    fast, size = run(shared=True)
    direct, _ = run(shared=False)
    empty = IssueRenderer(Newsletter("Paper Digest", "digest@example.org")).render(
        Selection(Profile("a@example.org"), date(2026, 7, 27), ()), "a@example.org", "Reader"
    )
    per_card = (size - empty.html_bytes) / args.per_issue
    n = args.subscribers
    print(f"{n} issues of {args.per_issue} papers (pool of {args.papers}):")
    print(f"  cards shared: {fast:.2f} s ({fast / n * 1000:.2f} ms per issue)")
    print(f"  in one piece: {direct:.2f} s ({direct / n * 1000:.2f} ms per issue)")
    print(f"  HTML: {size} bytes per issue, {per_card:.0f} bytes per card")


if __name__ == "__main__":
    main()
