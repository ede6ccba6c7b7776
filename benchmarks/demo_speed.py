"""`newsletter preview --demo` end to end, cold: a new process per run, as a user starts it.

Each run is `/usr/bin/time -f ... newsletter preview --demo --out SCRATCH` (interpreter start,
imports, the demo config, selection, rendering, writing the files); the median of the runs is
what README states. `--imports` adds the slowest imports of one run (`python -X importtime`).

Usage: python benchmarks/demo_speed.py [--runs 7] [--imports 15] [--tree DIR]

`--tree DIR` runs `python -m newsletter` from another source tree (a copy with a change undone)
instead of the installed command, to compare the two under the same load.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

TIME = "/usr/bin/time"
FORMAT = "@@time %e %U %S %M"  # wall s, user s, system s, max RSS KiB


def command(tree: Path | None) -> tuple[list[str], dict[str, str]]:
    """The installed `newsletter` script next to this interpreter (else `python -m newsletter`),
    or `python -m newsletter` from `tree`; and its environment."""
    env = {**os.environ, "COLUMNS": "100"}
    if tree is not None:
        return [sys.executable, "-m", "newsletter"], {**env, "PYTHONPATH": str(tree)}
    script = Path(sys.executable).with_name("newsletter")
    return ([str(script)] if script.is_file() else [sys.executable, "-m", "newsletter"]), env


def one_run(out: Path, tree: Path | None) -> tuple[float, float, float, int]:
    """(wall, user, system, max RSS KiB) of one cold `preview --demo`."""
    shutil.rmtree(out, ignore_errors=True)
    argv, env = command(tree)
    result = subprocess.run(
        [TIME, "-f", FORMAT, *argv, "preview", "--demo", "--out", str(out)],
        capture_output=True, text=True, timeout=600, env=env, cwd=tree,
    )  # fmt: skip
    if result.returncode != 0:
        sys.exit(f"preview --demo failed:\n{result.stderr}")
    if not (out / "index.html").is_file():
        sys.exit("preview --demo wrote no index.html")
    match = re.search(r"^@@time (\S+) (\S+) (\S+) (\d+)$", result.stderr, re.M)
    assert match, result.stderr
    wall, user, system, rss = match.groups()
    return float(wall), float(user), float(system), int(rss)


def slowest_imports(out: Path, count: int, tree: Path | None) -> list[tuple[float, str]]:
    """The `count` largest import times of one run, in seconds: top-level imports, each with
    what it imports."""
    _, env = command(tree)
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "newsletter", "preview", "--demo",
         "--out", str(out)],
        capture_output=True, text=True, timeout=600, env=env, cwd=tree,
    )  # fmt: skip
    found = []
    for line in result.stderr.splitlines():
        match = re.match(r"import time:\s+\d+ \|\s+(\d+) \| ( *)(\S+)", line)
        if match and not match.group(2):  # top level only: each counts what it imports
            found.append((int(match.group(1)) / 1e6, match.group(3)))
    return sorted(found, reverse=True)[:count]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--imports", type=int, default=0, help="show the N slowest imports")
    parser.add_argument("--tree", type=Path, help="run the package from this source tree")
    args = parser.parse_args()
    if not Path(TIME).is_file():
        sys.exit(f"{TIME} is needed (Debian: apt-get install time)")
    with tempfile.TemporaryDirectory() as scratch:
        out = Path(scratch) / "preview"
        one_run(out, args.tree)  # warm the disk cache; every measured run is a new interpreter
        runs = [one_run(out, args.tree) for _ in range(args.runs)]
        walls = sorted(r[0] for r in runs)
        print(f"load average (1 min): {os.getloadavg()[0]:.1f}")
        print(
            f"preview --demo, {args.runs} runs: median {statistics.median(walls):.2f} s wall "
            f"(min {walls[0]:.2f}, max {walls[-1]:.2f}); median CPU "
            f"{statistics.median(r[1] + r[2] for r in runs):.2f} s; "
            f"max RSS {max(r[3] for r in runs) / 1024:.0f} MiB"
        )
        for seconds, module in slowest_imports(out, args.imports, args.tree):
            print(f"  import {module}: {seconds:.3f} s")


if __name__ == "__main__":
    main()
