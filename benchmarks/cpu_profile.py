"""Where the sender's CPU goes, stage by stage, in one process: what `newsletter send` does
before the SMTP transaction, each stage timed in CPU seconds (`time.process_time`).

Stages: importing the CLI, loading the config, reading the listing into a fresh state database
(`plan.prepare`), selecting every reader's papers (`plan.select_day`), rendering every issue
(`Composer.render`) and building every message (`Composer.message`). Nothing is sent: the
end-to-end figure is `/usr/bin/time -v newsletter send` against `sink.py` (see README).

    python benchmarks/pipeline_data.py DATA --subscribers 2000 --papers 2000
    python benchmarks/cpu_profile.py DATA [--profile STAGE] [--top 30] [--readers N]

`--profile STAGE` runs that stage under cProfile with the thread's CPU clock (not the wall
clock, which counts the time other threads hold the GIL) and prints the costliest functions.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import pstats
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

started = time.process_time()
from newsletter import cli  # noqa: E402, F401  (the import is a stage: timed)

IMPORT_SECONDS = time.process_time() - started

from newsletter.compose import Composer  # noqa: E402
from newsletter.config import load_config  # noqa: E402
from newsletter.plan import prepare, select_day  # noqa: E402
from newsletter.session import Session  # noqa: E402

STAGES = ("config load", "prepare (fetch+parse)", "selection", "rendering", "message building")
DAY = date(2026, 7, 27)


@dataclass
class Clock:
    """CPU seconds per stage; one stage may run under cProfile."""

    profiled: str | None = None
    seconds: dict[str, float] = field(default_factory=dict)
    profile: cProfile.Profile | None = None

    @contextmanager
    def __call__(self, stage: str) -> Iterator[None]:
        gc.collect()
        profile = None
        if stage == self.profiled:
            profile = cProfile.Profile(time.thread_time)
            profile.enable()
        begun = time.process_time()
        try:
            yield
        finally:
            self.seconds[stage] = time.process_time() - begun
            if profile is not None:
                profile.disable()
                self.profile = profile


def fresh_state(path: Path) -> None:
    for suffix in ("", "-wal", "-shm", "-journal"):
        path.with_name(path.name + suffix).unlink(missing_ok=True)


def run(folder: Path, clock: Clock, readers: int | None) -> int:
    """Every stage once; the number of messages built."""
    with clock("config load"):
        config = load_config(folder / "subscribers.yaml")
    chosen = config.readers[:readers] if readers else config.readers
    fresh_state(config.state_path)
    now = datetime.now(UTC)
    with Session.open(config) as session:
        with clock("prepare (fetch+parse)"):
            prepared = prepare(session, DAY, chosen)
        with clock("selection"):
            plan = select_day(session, DAY, chosen, prepared)
        picks = [pick for pick in plan.picks if pick.selection.should_send]
        composer = Composer.of(config)
        issues: list[Any] = []
        with clock("rendering"):
            issues = [composer.render(pick.reader, pick.selection) for pick in picks]
        with clock("message building"):
            for pick, issue in zip(picks, issues, strict=True):
                composer.message(pick.reader, pick.selection, issue, now)
    return len(picks)


def report(clock: Clock, messages: int, show: Callable[[str], None] = print) -> None:
    show(f"{messages} messages; CPU seconds (ms per message):")
    show(
        f"  {'import newsletter.cli':<26}{IMPORT_SECONDS:8.2f} s ({_per(IMPORT_SECONDS, messages)})"
    )
    total = IMPORT_SECONDS
    for stage in STAGES:
        seconds = clock.seconds.get(stage, 0.0)
        total += seconds
        show(f"  {stage:<26}{seconds:8.2f} s ({_per(seconds, messages)})")
    show(f"  {'total (no SMTP)':<26}{total:8.2f} s ({_per(total, messages)})")


def _per(seconds: float, messages: int) -> str:
    return f"{1000 * seconds / max(messages, 1):.2f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", type=Path, help="a folder written by pipeline_data.py")
    parser.add_argument("--profile", choices=STAGES, help="run this stage under cProfile")
    parser.add_argument("--top", type=int, default=30, help="functions shown (default 30)")
    parser.add_argument("--sort", default="tottime", help="pstats sort key (default tottime)")
    parser.add_argument("--readers", type=int, help="only the first N readers")
    args = parser.parse_args()
    clock = Clock(args.profile)
    messages = run(args.data, clock, args.readers)
    report(clock, messages)
    if clock.profile is not None:
        stats = pstats.Stats(clock.profile, stream=sys.stdout)
        stats.sort_stats(args.sort).print_stats(args.top)


if __name__ == "__main__":
    main()
