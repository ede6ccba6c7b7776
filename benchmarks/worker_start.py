"""Worker processes started by fork against a fork server: what `newsletter run` pays for
sending from workers while its scheduler threads run.

The demo day with N readers (the bundled listing, `.eml` files in a scratch Maildir) is sent
through `pipeline.run_once` with 2 workers, once from a process without other threads (fork)
and once with an idle thread running (fork server). Run each under /usr/bin/time for CPU:

    /usr/bin/time -v python benchmarks/worker_start.py --readers 400 --method fork
    /usr/bin/time -v python benchmarks/worker_start.py --readers 400 --method forkserver
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import threading
import time
from pathlib import Path

from newsletter.config import load_config
from newsletter.demo import DEMO_DAY, DEMO_DIR
from newsletter.pipeline import run_once
from newsletter.sending import SendOptions
from newsletter.session import Session


def write_config(folder: Path, readers: int) -> Path:
    for name in ("listing.xml", "daily_papers.json"):
        shutil.copy(DEMO_DIR / name, folder / name)
    text = (DEMO_DIR / "subscribers.yaml").read_text(encoding="utf-8")
    text += "".join(
        f"  - email: reader{n:04d}@example.org\n    interests:\n"
        '      keywords: ["mixture of experts", "diffusion model", "agents"]\n'
        for n in range(readers)
    )
    path = folder / "subscribers.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--readers", type=int, default=400)
    parser.add_argument("--method", choices=("fork", "forkserver"), default="fork")
    args = parser.parse_args()
    idle = threading.Event()
    if args.method == "forkserver":  # a thread running, as in the scheduler
        threading.Thread(target=idle.wait, daemon=True).start()
    with tempfile.TemporaryDirectory() as scratch:
        config = load_config(write_config(Path(scratch), args.readers))
        started = time.perf_counter()
        with Session.open(config, backend="file") as session:
            report = run_once(session, DEMO_DAY, config.readers, SendOptions(workers=2))
        elapsed = time.perf_counter() - started
    idle.set()
    print(
        f"{args.method}: {len(report.sent)} sent by {report.workers} workers in {elapsed:.2f} s "
        f"({elapsed / max(len(report.sent), 1) * 1000:.1f} ms per message, wall)"
    )


if __name__ == "__main__":
    main()
