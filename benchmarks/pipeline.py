"""End-to-end speed of one day's send: the real design against the straightforward one.

Writes a benchmark day (`pipeline_data.py`: an arXiv listing of P papers, N subscribers),
starts an SMTP sink in another process (`sink.py`) and times, median of R runs:

- shared by both designs: config load, fetch+parse (local listing into a fresh SQLite state),
  selection (`newsletter.select.select` over every profile);
- per design, for every reader with papers: rendering, message building, SMTP to the sink.
  Real: `IssueRenderer.render` (cards shared), `mail.build`, one `SmtpBackend` connection.
  Straightforward (`straightforward.py`): the issue in one piece, `EmailMessage`, a new
  connection per message;
- end to end. Real: the CLI, `newsletter send -c DATA/subscribers.yaml --date DAY` in a
  subprocess on a fresh state database (it picks up any option given with --cli-args, e.g.
  `--cli-args="--workers 2"`). Straightforward: the sum of its stages and the shared ones,
  measured in one run;
- `newsletter --help` start-up time and peak RSS (this process, and the largest child);
- a relay far away (`--rtt 0,20,50`): for each round trip, a sink that answers that late
  (`sink.py --rtt`), and, on the same data, both designs end to end as commands: `newsletter
  send` (smtp limits `RELAY`) and `straightforward.py` (one process, a connection per message).
  Per run: messages/s, wall time, CPU seconds per 1,000 messages of the whole command with its
  children (fixed costs included: `os.wait4`), its peak RSS, connections, the sink's CPU.

Prints one table and writes the numbers to --out (JSON). The sink must receive exactly one
message per reader with papers, per design and per run, or the benchmark fails.

    python benchmarks/pipeline.py [--subscribers 10000] [--papers 2000] [--runs 3] [--quick]
        [--out benchmarks/results.json] [--data DIR] [--cli-args ARGS]
        [--rtt 0,20,50] [--rtt-designs real,straightforward] [--rtt-only]
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import re
import resource
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

sys.path.insert(0, str(Path(__file__).resolve().parent))

import pipeline_data
import straightforward
from pipeline_data import DataSet
from sink import Sink

from newsletter import mail
from newsletter.config import Config, load_config
from newsletter.delivery.base import Outcome
from newsletter.delivery.smtp import SmtpBackend
from newsletter.fetching import fetch_day
from newsletter.models import Paper, Selection
from newsletter.render.issue import RenderedIssue
from newsletter.render.renderer import renderer_for
from newsletter.select import select
from newsletter.sources.http import Fetcher, make_client
from newsletter.store import Store

HERE = Path(__file__).resolve().parent
BATCH = 500  # readers rendered, built and sent per batch: bounded memory, stages timed apart
SHARED = ("config load", "fetch+parse", "selection")
PER_DESIGN = ("rendering", "message building", "SMTP")
STAGES = (*SHARED, *PER_DESIGN, "in-process total", "end to end")
GENERATION = ("selection", "rendering", "message building")
CHECKED = 3  # readers whose HTML must be the same in both designs before anything is timed
RELAY = {"max_connections": 20}  # `newsletter send`'s smtp limits against a far relay (the
# concurrency Postfix's own client allows one destination by default)


class BenchmarkError(RuntimeError):
    """A design did not deliver what it should have."""


# ---------------------------------------------------------------------------- timing


@dataclass
class Stopwatch:
    """Seconds per stage, summed over the batches of one run."""

    seconds: dict[str, float] = field(default_factory=lambda: defaultdict(float))

    @contextmanager
    def __call__(self, stage: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[stage] += time.perf_counter() - started


def peak_rss_mb(who: int = resource.RUSAGE_SELF) -> float:
    """Peak resident set size in MB (ru_maxrss is in KB on Linux, bytes on macOS)."""
    peak = resource.getrusage(who).ru_maxrss
    return peak / (1024 * 1024 if sys.platform == "darwin" else 1024)


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


# ---------------------------------------------------------------------------- the designs


class Design(Protocol):
    """Per reader: render the issue, build the message; send it once open."""

    name: str

    def render(self, selection: Selection) -> RenderedIssue: ...

    def build(self, selection: Selection, issue: RenderedIssue) -> mail.Message: ...

    def open(self) -> None: ...

    def send(self, message: mail.Message) -> None: ...

    def close(self) -> None: ...


class RealDesign:
    """What `newsletter send` does per reader: shared cards, bytes written directly, one
    connection reused (the state bookkeeping is left to the CLI's end-to-end run)."""

    name = "real"

    def __init__(self, config: Config, letterhead: straightforward.Letterhead) -> None:
        assert config.newsletter.smtp is not None, "the benchmark config has an smtp block"
        self.renderer = renderer_for(config)
        self.letterhead = letterhead
        one = {"max_messages_per_connection": 1_000_000}  # this stage: one connection
        self.backend = SmtpBackend(config.newsletter.smtp.model_copy(update=one))

    def render(self, selection: Selection) -> RenderedIssue:
        profile = selection.profile
        return self.renderer.render(selection, profile.email, profile.name)

    def build(self, selection: Selection, issue: RenderedIssue) -> mail.Message:
        profile, letterhead = selection.profile, self.letterhead
        mailto, https = _unsubscribe_links(letterhead, profile.email)
        return mail.build(
            issue,
            to_name=profile.name,
            to_email=profile.email,
            day=letterhead.day,
            headers=letterhead.headers,
            unsubscribe_mailto=mailto,
            unsubscribe_https=https,
            now=letterhead.now,
        )

    def open(self) -> None:
        self.backend.open()

    def send(self, message: mail.Message) -> None:
        result = self.backend.send(message)
        if result.outcome is not Outcome.SENT:
            raise BenchmarkError(f"{message.envelope.recipient}: {result.detail}")

    def close(self) -> None:
        self.backend.close()


def _unsubscribe_links(
    letterhead: straightforward.Letterhead, email: str
) -> tuple[str, str | None]:
    return (
        letterhead.links.mailto(email, letterhead.day),
        letterhead.links.unsubscribe(email, letterhead.day),
    )


class StraightforwardDesign:
    """Per reader: the issue in one piece, `EmailMessage`, a new connection per message."""

    name = "straightforward"

    def __init__(self, config: Config, letterhead: straightforward.Letterhead, port: int) -> None:
        self.renderer = straightforward.OnePieceRenderer.of(config)
        self.letterhead = letterhead
        self.sender = straightforward.ConnectionPerMessage("127.0.0.1", port)

    def render(self, selection: Selection) -> RenderedIssue:
        return self.renderer.issue(selection)

    def build(self, selection: Selection, issue: RenderedIssue) -> mail.Message:
        return straightforward.message_bytes(issue, selection, self.letterhead)

    def open(self) -> None:
        """Nothing: every message opens its own connection."""

    def send(self, message: mail.Message) -> None:
        self.sender.send(message)

    def close(self) -> None:
        """Nothing stays open."""


def designs(config: Config, data: DataSet) -> tuple[Design, Design]:
    letterhead = straightforward.Letterhead.of(config, data.day, datetime.now(UTC))
    return RealDesign(config, letterhead), StraightforwardDesign(config, letterhead, data.port)


def check_same_html(selections: Sequence[Selection], real: Design, other: Design) -> None:
    """Both designs must produce the same issue, or comparing their speed means nothing."""
    for selection in selections[:CHECKED]:
        if real.render(selection) != other.render(selection):
            raise BenchmarkError(f"{selection.profile.email}: the two designs' issues differ")


# ---------------------------------------------------------------------------- the stages


@dataclass
class SharedDay:
    """What both designs start from: the config and every reader's selection."""

    config: Config
    papers: list[Paper]
    selections: list[Selection]  # readers with an issue to send

    @property
    def mean_papers(self) -> float:
        return statistics.fmean(len(s.papers) for s in self.selections) if self.selections else 0


def fresh_state(path: Path) -> None:
    """Remove a SQLite state database with its WAL and shared-memory files."""
    for suffix in ("", "-wal", "-shm", "-journal"):
        path.with_name(path.name + suffix).unlink(missing_ok=True)


def shared_stages(data: DataSet, watch: Stopwatch) -> SharedDay:
    """Config load, fetch+parse into a fresh state database, selection over every profile."""
    with watch("config load"):
        config = load_config(data.config)
    state = data.folder / "stages.db"
    fresh_state(state)
    with watch("fetch+parse"), Store(state) as store, make_client(None) as client:
        report = fetch_day(config, data.day, store, Fetcher(client, store))
        papers = store.papers_for_day(data.day)
    if report.problems or not papers:
        raise BenchmarkError(f"fetching the listing failed: {report.outcomes}")
    with watch("one-off imports"):  # NumPy, imported by the first selection
        select(papers[:2], [config.readers[0].profile], data.day)
    with watch("selection"):
        profiles = [reader.profile for reader in config.readers]
        selections = select(papers, profiles, data.day)
    return SharedDay(config, papers, [s for s in selections if s.should_send])


def design_stages(design: Design, selections: Sequence[Selection], watch: Stopwatch) -> None:
    """Render, build and send every reader's issue, in batches; each stage timed apart."""
    with watch("SMTP"):
        design.open()
    try:
        for start in range(0, len(selections), BATCH):
            batch = selections[start : start + BATCH]
            with watch("rendering"):
                issues = [design.render(selection) for selection in batch]
            with watch("message building"):
                messages = [design.build(s, issue) for s, issue in zip(batch, issues, strict=True)]
            del issues
            with watch("SMTP"):
                for message in messages:
                    design.send(message)
            del messages
    finally:
        with watch("SMTP"):
            design.close()


# ---------------------------------------------------------------------------- one run


@dataclass
class Results:
    """Every run's seconds per stage and design, what the sink got, and the sizes."""

    seconds: dict[str, dict[str, list[float]]] = field(
        default_factory=lambda: {"real": defaultdict(list), "straightforward": defaultdict(list)}
    )
    received: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))
    rss_mb: dict[str, float] = field(default_factory=dict)
    sizes: dict[str, Any] = field(default_factory=dict)
    startup: list[float] = field(default_factory=list)
    imports: list[float] = field(default_factory=list)  # before the first selection of a run
    cli_output: str = ""
    relay: list[dict[str, Any]] = field(default_factory=list)  # one row per design and rtt

    def add(self, design: str, stage: str, seconds: float) -> None:
        self.seconds[design][stage].append(seconds)

    def median(self, design: str, stage: str) -> float:
        return median(self.seconds[design].get(stage, []))


def in_process_run(data: DataSet, sink: Sink, results: Results, progress: Progress) -> None:
    """One run of the shared stages and both designs' per-reader stages."""
    shared = Stopwatch()
    progress("shared stages")
    day = shared_stages(data, shared)
    results.imports.append(shared.seconds.pop("one-off imports"))
    record_sizes(results, data, day)
    real, other = designs(day.config, data)
    check_same_html(day.selections, real, other)
    for design in (real, other):
        progress(f"{design.name}: render, build, send {len(day.selections)} issues")
        gc.collect()
        watch = Stopwatch()
        sink.reset()
        design_stages(design, day.selections, watch)
        received = sink.count()
        expect_messages(design.name, received.messages, len(day.selections))
        results.received[design.name].append(vars(received))
        mean_bytes = received.bytes // max(received.messages, 1)
        results.sizes[f"mean_message_bytes_{design.name}"] = mean_bytes
        total = sum(shared.seconds.values()) + sum(watch.seconds.values())
        for stage, seconds in (*shared.seconds.items(), *watch.seconds.items()):
            results.add(design.name, stage, seconds)
        results.add(design.name, "in-process total", total)
        results.rss_mb[f"self after {design.name}"] = peak_rss_mb()


def expect_messages(who: str, received: int, expected: int) -> None:
    if received != expected:
        raise BenchmarkError(f"{who}: the sink received {received} messages, not {expected}")


def expect_sent(cli_output: str, received: int) -> None:
    """The CLI's own count (`... sent N, ...`) must match what the sink received."""
    match = re.search(r"\bsent (\d+)", cli_output)
    if match is None or int(match.group(1)) != received:
        raise BenchmarkError(f"the CLI said {cli_output!r}; the sink received {received}")


def record_sizes(results: Results, data: DataSet, day: SharedDay) -> None:
    results.sizes.update(
        subscribers=data.subscribers,
        papers=data.papers,
        papers_parsed=len(day.papers),
        messages=len(day.selections),
        mean_papers_per_issue=round(day.mean_papers, 2),
        listing_bytes=data.listing.stat().st_size,
        config_bytes=data.config.stat().st_size,
        day=data.day.isoformat(),
    )


# ---------------------------------------------------------------------------- the CLI


def newsletter_command() -> list[str]:
    """The installed `newsletter` script next to this interpreter, else `python -m newsletter`."""
    script = Path(sys.executable).with_name("newsletter")
    return [str(script)] if script.exists() else [sys.executable, "-m", "newsletter"]


def cli_env() -> dict[str, str]:
    return {**os.environ, "COLUMNS": "200"}


def time_startup(runs: int, results: Results) -> None:
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run([*newsletter_command(), "--help"], check=True, capture_output=True)
        results.startup.append(time.perf_counter() - started)


def cli_send(data: DataSet, extra: Sequence[str]) -> tuple[float, str]:
    """`newsletter send` on a fresh state database: seconds and its output."""
    fresh_state(data.state)
    command = [*newsletter_command(), "send", "-c", str(data.config), "--date", str(data.day)]
    started = time.perf_counter()
    done = subprocess.run(
        [*command, *extra], capture_output=True, text=True, env=cli_env(), check=False
    )
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise BenchmarkError(f"{shlex.join(command)} failed:\n{done.stdout}{done.stderr}")
    return elapsed, done.stdout.strip()


def cli_run(data: DataSet, sink: Sink, extra: Sequence[str], results: Results) -> None:
    sink.reset()
    seconds, output = cli_send(data, extra)
    received = sink.count()
    results.add("real", "end to end", seconds)
    results.received["end to end (CLI)"].append(vars(received))
    results.cli_output = output
    expect_sent(output, received.messages)
    results.rss_mb["largest child"] = peak_rss_mb(resource.RUSAGE_CHILDREN)


# ---------------------------------------------------------------------------- a far relay


@dataclass(frozen=True)
class Measured:
    """One command's run: wall seconds, CPU of it and its children, its peak RSS, stdout."""

    seconds: float
    cpu: float
    rss_mb: float
    output: str


def measured(command: Sequence[str]) -> Measured:
    """Run `command`; its own resource usage (`os.wait4`), whatever else this process runs."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        process = subprocess.Popen(command, stdout=out, stderr=err, env=cli_env())
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        output, errors = out.read().decode(), err.read().decode()
    if process.returncode != 0:
        raise BenchmarkError(f"{shlex.join(command)} failed:\n{output}{errors}")
    rss = usage.ru_maxrss / (1024 * 1024 if sys.platform == "darwin" else 1024)
    return Measured(seconds, usage.ru_utime + usage.ru_stime, rss, output.strip())


def relay_config(data: DataSet, port: int, name: str, limits: dict[str, int]) -> Path:
    """The day's config sending to `port`, with these smtp limits, written beside it."""
    text = data.config.read_text(encoding="utf-8")
    old = f"    port: {data.port}\n"
    if old not in text:
        raise BenchmarkError(f"{data.config}: no smtp port {data.port}")
    lines = "".join(f"    {key}: {value}\n" for key, value in limits.items())
    path = data.folder / name
    path.write_text(text.replace(old, f"    port: {port}\n{lines}", 1), encoding="utf-8")
    return path


def relay_command(design: str, config: Path, data: DataSet, extra: Sequence[str]) -> list[str]:
    if design == "real":
        fresh_state(data.state)
        return [*newsletter_command(), "send", "-c", str(config), "--date", str(data.day), *extra]
    return [sys.executable, str(HERE / "straightforward.py"), str(config), str(data.day)]


def relay_runs(data: DataSet, args: Arguments, results: Results, progress: Progress) -> None:
    """Both designs end to end against a sink `rtt` ms away, for each round trip."""
    for rtt in args.rtts:
        with Sink(rtt=rtt / 1000) as sink:
            for design in args.rtt_designs:
                limits = {**RELAY, **args.relay} if design == "real" else {}
                config = relay_config(data, sink.port, f"relay-{design}-{rtt}.yaml", limits)
                progress(f"{design}: end to end, the relay {rtt} ms away")
                sink.reset()
                run = measured(relay_command(design, config, data, args.cli_args))
                received = sink.count()
                expect_sent(run.output, received.messages)
                results.relay.append({
                    "design": design, "rtt_ms": rtt, "messages": received.messages,
                    "seconds": run.seconds, "messages_per_second": received.messages / run.seconds,
                    "cpu_seconds": run.cpu,
                    "cpu_seconds_per_1000": 1000 * run.cpu / max(received.messages, 1),
                    "peak_rss_mb": run.rss_mb, "connections": received.connections,
                    "sink_cpu_seconds": received.cpu_seconds,
                })  # fmt: skip
    counts = {row["messages"] for row in results.relay}
    if len(counts) > 1:
        raise BenchmarkError(f"the designs sent different numbers of messages: {counts}")


def relay_table(results: Results, relay: dict[str, int]) -> str:
    head = (f"{'design':<16}{'rtt':>6}{'messages':>10}{'wall s':>9}{'msg/s':>8}"
            f"{'CPU s/1000':>12}{'peak RSS MB':>13}{'conns':>7}{'sink CPU s':>12}")  # fmt: skip
    lines = [head, "-" * len(head)]
    for row in results.relay:
        lines.append(
            f"{row['design']:<16}{row['rtt_ms']:>4} ms{row['messages']:>10}"
            f"{row['seconds']:>9.1f}{row['messages_per_second']:>8.1f}"
            f"{row['cpu_seconds_per_1000']:>12.1f}{row['peak_rss_mb']:>13.0f}"
            f"{row['connections']:>7}{row['sink_cpu_seconds']:>12.1f}"
        )
    lines.append(
        f"real: `newsletter send` with smtp {relay}; straightforward: `straightforward.py`, one "
        "process, a new connection per message. CPU: the command and its children, end to end."
    )
    return "\n".join(lines)


# ---------------------------------------------------------------------------- report


def summary(results: Results) -> dict[str, Any]:
    """Medians per stage and design, end to end, rates and ratios."""
    messages = results.sizes["messages"]
    medians: dict[str, dict[str, float]] = {}
    for design in ("real", "straightforward"):
        stages = (*SHARED, *PER_DESIGN, "in-process total")
        medians[design] = {stage: results.median(design, stage) for stage in stages}
    medians["real"]["end to end"] = results.median("real", "end to end")
    medians["straightforward"]["end to end"] = medians["straightforward"]["in-process total"]
    rates = {
        design: {
            "generation": messages / sum(medians[design][stage] for stage in GENERATION),
            "end to end": messages / medians[design]["end to end"],
        }
        for design in medians
    }
    return {"seconds": medians, "messages_per_second": rates}


ROWS = (
    ("config load (shared)", "config load"),
    ("fetch+parse (shared)", "fetch+parse"),
    ("selection (shared)", "selection"),
    ("rendering", "rendering"),
    ("message building", "message building"),
    ("SMTP to the local sink", "SMTP"),
    ("in-process total", "in-process total"),
    ("end to end", "end to end"),
)


def per_message(seconds: dict[str, dict[str, float]], messages: int) -> dict[str, Any]:
    return {
        design: {stage: 1000 * value / messages for stage, value in stages.items()}
        for design, stages in seconds.items()
    }


def table(results: Results, numbers: dict[str, Any]) -> str:
    """The one table: stage | real | straightforward | ratio."""
    seconds, rates = numbers["seconds"], numbers["messages_per_second"]
    lines = [f"{'stage':<30}{'real':>14}{'straightforward':>18}{'ratio':>9}", "-" * 71]

    def row(label: str, real: float, other: float | None, unit: str, ratio: float | None) -> None:
        right = f"{other:.2f} {unit}" if other is not None else "-"
        ratio_text = f"{ratio:.2f}x" if ratio is not None else ""
        lines.append(f"{label:<30}{f'{real:.2f} {unit}':>14}{right:>18}{ratio_text:>9}")

    row("start-up (newsletter --help)", median(results.startup), None, "s", None)
    for label, stage in ROWS:
        real, other = seconds["real"][stage], seconds["straightforward"][stage]
        if label == "end to end":
            label = "end to end (real: CLI)"
        row(label, real, other, "s", other / real if real else None)
    for kind in ("generation", "end to end"):
        real, other = rates["real"][kind], rates["straightforward"][kind]
        row(f"msg/s, {kind}", real, other, "", real / other if other else None)
    rss = results.rss_mb
    row("peak RSS (MB)", rss["largest child"], rss["self after straightforward"], "", None)
    lines.append("-" * 71)
    lines.append(
        "ratio: straightforward / real for seconds, real / straightforward for msg/s "
        "(> 1: the real design is faster)"
    )
    lines.append(
        "generation = selection + rendering + message building; peak RSS: real = the CLI "
        "process, straightforward = this process (both designs in batches of "
        f"{BATCH})"
    )
    return "\n".join(lines)


def write_json(path: Path, results: Results, numbers: dict[str, Any], args: Arguments) -> None:
    document = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "runs": args.runs,
        "cli_args": list(args.cli_args),
        "sizes": results.sizes,
        "startup_seconds": median(results.startup),
        "selection_imports_seconds": results.imports[0] if results.imports else None,
        "ms_per_message": per_message(numbers["seconds"], results.sizes["messages"]),
        "seconds": numbers["seconds"],
        "messages_per_second": numbers["messages_per_second"],
        "every_run": {design: dict(stages) for design, stages in results.seconds.items()},
        "sink": {design: runs for design, runs in results.received.items()},
        "peak_rss_mb": results.rss_mb,
        "cli_output": results.cli_output,
        "relay": results.relay,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")


# ---------------------------------------------------------------------------- main


Progress = Callable[[str], None]


@dataclass(frozen=True)
class Arguments:
    subscribers: int
    papers: int
    runs: int
    out: Path
    data: Path | None
    cli_args: tuple[str, ...]
    quiet: bool
    rtts: tuple[int, ...] = (0, 20, 50)  # ms
    rtt_designs: tuple[str, ...] = ("real", "straightforward")
    rtt_only: bool = False
    relay: dict[str, int] = field(default_factory=dict)  # smtp limits instead of RELAY's


def parse_arguments(argv: Sequence[str] | None = None) -> Arguments:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", type=int, help="default 10,000 (200 with --quick)")
    parser.add_argument("--papers", type=int, help="default 2,000 (200 with --quick)")
    parser.add_argument("--runs", type=int, help="median of this many runs (default 3; quick: 1)")
    parser.add_argument("--quick", action="store_true", help="small sizes, one run")
    parser.add_argument(
        "--out", type=Path, default=HERE / "results.json", help="default: benchmarks/results.json"
    )
    parser.add_argument("--data", type=Path, help="write the day here and keep it")
    parser.add_argument(
        "--cli-args", default="", help='added to `newsletter send`, e.g. --cli-args="--workers 2"'
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress lines")
    parser.add_argument("--rtt", help="round trips to the sink, ms (default 0,20,50; quick: 0)")
    parser.add_argument("--rtt-designs", default="real,straightforward", help="in those runs")
    parser.add_argument("--rtt-only", action="store_true", help="only the far-relay runs")
    parser.add_argument("--max-connections", type=int, help=f"in those runs (default {RELAY})")
    args = parser.parse_args(argv)
    quick = args.quick
    subscribers = pipeline_data.QUICK_SUBSCRIBERS if quick else pipeline_data.DEFAULT_SUBSCRIBERS
    papers = pipeline_data.QUICK_PAPERS if quick else pipeline_data.DEFAULT_PAPERS
    return Arguments(
        subscribers=args.subscribers or subscribers,
        papers=args.papers or papers,
        runs=args.runs or (1 if quick else 3),
        out=args.out,
        data=args.data,
        cli_args=tuple(shlex.split(args.cli_args)),
        quiet=args.quiet,
        rtts=tuple(int(ms) for ms in (args.rtt or ("0" if quick else "0,20,50")).split(",")),
        rtt_designs=tuple(args.rtt_designs.split(",")),
        rtt_only=args.rtt_only,
        relay={"max_connections": args.max_connections} if args.max_connections else {},
    )


def progress_printer(quiet: bool) -> Progress:
    started = time.perf_counter()

    def show(text: str) -> None:
        if not quiet:
            print(f"[{time.perf_counter() - started:6.1f} s] {text}", file=sys.stderr, flush=True)

    return show


def benchmark(args: Arguments, folder: Path, progress: Progress) -> Results:
    results = Results()
    with Sink() as sink:
        progress(f"writing {args.subscribers} subscribers and {args.papers} papers to {folder}")
        data = pipeline_data.write(
            folder, subscribers=args.subscribers, papers=args.papers, port=sink.port
        )
        if args.rtt_only:
            relay_runs(data, args, results, progress)
            return results
        time_startup(max(args.runs, 3), results)
        for run in range(args.runs):
            progress(f"run {run + 1}/{args.runs}: newsletter send (CLI)")
            cli_run(data, sink, args.cli_args, results)
        for run in range(args.runs):
            progress(f"run {run + 1}/{args.runs}: in-process stages")
            in_process_run(data, sink, results, progress)
    for received in results.received["end to end (CLI)"]:
        expect_messages("end to end (CLI)", received["messages"], results.sizes["messages"])
    relay_runs(data, args, results, progress)
    return results


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_arguments(argv)
    progress = progress_printer(args.quiet)
    if args.data is not None:
        results = benchmark(args, args.data, progress)
    else:
        with tempfile.TemporaryDirectory(prefix="newsletter-bench-") as scratch:
            results = benchmark(args, Path(scratch), progress)
    if args.rtt_only:
        print(relay_table(results, {**RELAY, **args.relay}))
        args.out.write_text(json.dumps({"relay": results.relay}, indent=2) + "\n")
        print(f"wrote {args.out}")
        return
    numbers = summary(results)
    sizes = results.sizes
    print(
        f"{sizes['subscribers']} subscribers, {sizes['papers']} papers, {sizes['messages']} "
        f"messages (mean {sizes['mean_papers_per_issue']} papers), median of {args.runs} run(s), "
        f"Python {platform.python_version()}, {os.cpu_count()} CPUs"
    )
    print(table(results, numbers))
    cli = results.received["end to end (CLI)"][-1]
    command = shlex.join(["newsletter", "send", *args.cli_args])
    print(f"{command}: {cli['connections']} SMTP connection(s)")
    print(relay_table(results, {**RELAY, **args.relay}))
    write_json(args.out, results, numbers, args)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
