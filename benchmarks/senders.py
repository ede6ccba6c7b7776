"""Send rate of 1, 2 and 4 concurrent sender processes on one shared state: PostgreSQL and SQLite.

Writes a benchmark day (`pipeline_data.py`: an arXiv listing of P papers, N subscribers) and,
for each round trip (`--rtt`), starts an SMTP sink in another process that answers that late
(`sink.py --rtt`). Then, for each engine and each number of senders S (1, 2, 4), on a fresh
state (SQLite: a new file; PostgreSQL: a new database), it starts S processes at once:

    python -m newsletter send -c CONFIG --date DAY --shard k/S --workers 1     (k = 1..S)

each with `smtp.max_connections: 10` (a per-process limit: S senders open up to 10 S
connections together) and the other smtp limits at their defaults. One of them reads the day's
sources (the lease `fetch:DAY`), the others wait for it; every issue is claimed in the shared
delivery ledger before it is sent.

- SQLite: the S processes share one file on this machine (the only way SQLite can be shared);
- PostgreSQL: the S processes stand for S hosts (`NEWSLETTER_HOSTNAME=bench-host-k`), on a
  cluster the benchmark starts (`tests/pgserver.py`, fsync and synchronous commit on, as on a
  real server) or on an existing server given with `--pg-url` (the password in $PGPASSWORD;
  the user must be allowed to create databases: one per run, dropped after it).

Per run: wall time from the start until the last process exits; messages = what the sink
received; CPU = user + system time of the S processes and their children (`os.wait4`), fixed
costs included (start-up, config load, reading the listing, selection); for the cluster it
starts, the PostgreSQL server's CPU during the run (/proc: the postmaster, its live processes,
and the ones it reaped). Every process must exit 0, and the sink must receive exactly one
message per reader with papers - the count of the first (single-process SQLite) run, which
must match what the processes report sending - or the benchmark fails.

Prints one table and writes the numbers to --out (JSON). The machine's other load shows in
the figures: on a 2-core machine four senders, the server and the sink share two cores.

    python benchmarks/senders.py [--subscribers 2000] [--papers 2000] [--rtt 0,20] [--quick]
        [--senders 1,2,4] [--engines sqlite,postgresql] [--pg-url URL] [--out PATH] [--data DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shlex
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from itertools import count
from pathlib import Path
from typing import IO
from urllib.parse import urlsplit, urlunsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tests.pgserver

import pipeline_data
from pipeline import BenchmarkError, Progress, cli_env, progress_printer, relay_config
from pipeline_data import DataSet
from sink import Sink

from tests import pgserver

ENGINES = ("sqlite", "postgresql")
SMTP_LIMITS = {"max_connections": 10}  # per sending process
DEFAULT_SUBSCRIBERS, DEFAULT_PAPERS = 2_000, 2_000
QUICK_SUBSCRIBERS, QUICK_PAPERS = 200, 300


# ---------------------------------------------------------------------------- the states


class PgDatabases:
    """New databases on one PostgreSQL server, each dropped when its run is over."""

    def __init__(self, admin_url: str, env: dict[str, str], postmaster: int | None) -> None:
        self.admin_url = admin_url  # a database to connect to while creating the others
        self.env = env  # with the PGPASSWORD the senders need
        self.postmaster = postmaster  # known only for the cluster started here
        self._numbers = count(1)

    @contextmanager
    def database(self) -> Iterator[str]:
        name = f"bench_senders_{os.getpid()}_{next(self._numbers)}"
        self._execute(f"CREATE DATABASE {name}")
        try:
            yield urlunsplit(urlsplit(self.admin_url)._replace(path=f"/{name}"))
        finally:
            self._execute(f"DROP DATABASE IF EXISTS {name}")

    def _execute(self, statement: str) -> None:
        import psycopg

        password = self.env.get("PGPASSWORD")
        with psycopg.connect(self.admin_url, password=password, autocommit=True) as db:
            db.execute(statement)

    def server_cpu(self) -> float | None:
        return server_cpu_seconds(self.postmaster) if self.postmaster else None


@contextmanager
def postgres(pg_url: str | None, progress: Progress) -> Iterator[PgDatabases]:
    """The server given with --pg-url, or a durable throwaway cluster started here."""
    if pg_url:
        yield PgDatabases(pg_url, dict(os.environ), None)
        return
    progress("starting a PostgreSQL cluster (fsync on)")
    with pgserver.postgres_server(durable=True) as server:
        pid_file = server.folder / "data" / "postmaster.pid"
        postmaster = int(pid_file.read_text().split()[0])
        yield PgDatabases(server.url(), server.env, postmaster)


def server_cpu_seconds(postmaster: int) -> float:
    """CPU seconds of a PostgreSQL server so far: the postmaster, the processes it runs now,
    and the ones it has reaped (its children's times)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue  # gone meanwhile
        pid, ppid = int(stat.parent.name), int(fields[1])
        utime, stime, cutime, cstime = (int(value) for value in fields[11:15])
        if pid == postmaster:
            total += utime + stime + cutime + cstime
        elif ppid == postmaster:
            total += utime + stime
    return total / ticks


def sqlite_state(folder: Path, name: str) -> Path:
    for suffix in ("", "-wal", "-shm", "-journal"):
        (folder / f"{name}{suffix}").unlink(missing_ok=True)
    return folder / name


def with_state(config: Path, state: str) -> Path:
    """`config` with its state database at `state` instead of the data's default."""
    text = config.read_text(encoding="utf-8")
    old = f"  state: {pipeline_data.STATE}\n"
    if old not in text:
        raise BenchmarkError(f"{config}: no `state: {pipeline_data.STATE}`")
    config.write_text(text.replace(old, f"  state: {state}\n", 1), encoding="utf-8")
    return config


# ---------------------------------------------------------------------------- one run


@dataclass
class Run:
    """S senders on one fresh state against one sink."""

    engine: str
    senders: int
    rtt_ms: int
    seconds: float
    messages: int  # received by the sink
    cpu_seconds: float  # the S processes and their children
    cpu_per_process: list[float]
    server_cpu_seconds: float | None  # PostgreSQL's, when this benchmark started it
    sink_cpu_seconds: float
    connections: int  # SMTP connections the sink saw
    outputs: list[str]  # each process's summary line(s)

    @property
    def messages_per_second(self) -> float:
        return self.messages / self.seconds

    @property
    def cpu_ms_per_message(self) -> float:
        return 1000 * self.cpu_seconds / max(self.messages, 1)


def send_command(config: Path, data: DataSet, shard: int, senders: int) -> list[str]:
    return [sys.executable, "-m", "newsletter", "send", "-c", str(config),
            "--date", str(data.day), "--shard", f"{shard}/{senders}", "--workers", "1"]  # fmt: skip


def run_senders(
    commands: Sequence[Sequence[str]], envs: Sequence[dict[str, str]]
) -> tuple[float, list[float], list[str]]:
    """Start every command at once; wall seconds until the last exits, each one's CPU (with
    its children) and output. Fails unless every one exits 0."""
    with ExitStack() as stack:
        outs: list[IO[bytes]] = [stack.enter_context(tempfile.TemporaryFile()) for _ in commands]
        processes: list[subprocess.Popen[bytes]] = []
        started = time.perf_counter()
        try:
            for command, env, out in zip(commands, envs, outs, strict=True):
                processes.append(
                    subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env)
                )
            cpu = []
            for process in processes:
                _, status, usage = os.wait4(process.pid, 0)
                process.returncode = os.waitstatus_to_exitcode(status)
                cpu.append(usage.ru_utime + usage.ru_stime)
            seconds = time.perf_counter() - started
        finally:
            for process in processes:
                if process.returncode is None:
                    process.kill()
                    process.wait()
        outputs = []
        for out in outs:
            out.seek(0)
            outputs.append(out.read().decode(errors="replace").strip())
    failed = [
        f"{shlex.join(command)} exited {process.returncode}:\n{output}"
        for command, process, output in zip(commands, processes, outputs, strict=True)
        if process.returncode != 0
    ]
    if failed:
        raise BenchmarkError("\n\n".join(failed))
    return seconds, cpu, outputs


def one_run(engine: str, senders: int, data: DataSet, sink: Sink, pg: PgDatabases | None) -> Run:
    """S senders on a fresh state of `engine`, against `sink`."""
    rtt_ms = round(sink.rtt * 1000)
    config = relay_config(data, sink.port, f"senders-{engine}-{senders}-{rtt_ms}.yaml", SMTP_LIMITS)
    base = cli_env()
    with ExitStack() as stack:
        if engine == "postgresql":
            assert pg is not None
            with_state(config, stack.enter_context(pg.database()))
            if "PGPASSWORD" in pg.env:  # else libpq finds it elsewhere (~/.pgpass)
                base = {**base, "PGPASSWORD": pg.env["PGPASSWORD"]}
            envs = [
                {**base, "NEWSLETTER_HOSTNAME": f"bench-host-{k}"} for k in range(1, senders + 1)
            ]
        else:
            with_state(config, str(sqlite_state(data.folder, f"senders-{senders}-{rtt_ms}.db")))
            envs = [base] * senders
        commands = [send_command(config, data, k, senders) for k in range(1, senders + 1)]
        server_before = pg.server_cpu() if pg and engine == "postgresql" else None
        sink.reset()
        seconds, cpu, outputs = run_senders(commands, envs)
        received = sink.count()
        server_after = pg.server_cpu() if pg and engine == "postgresql" else None
    server = None if server_before is None or server_after is None else server_after - server_before
    return Run(
        engine, senders, rtt_ms, seconds, received.messages, sum(cpu), cpu, server,
        received.cpu_seconds, received.connections, [summary_line(o) for o in outputs],
    )  # fmt: skip


def summary_line(output: str) -> str:
    """The `DATE: sent N, ...` line of a process's output (all of it if there is none)."""
    lines = [line for line in output.splitlines() if re.search(r"\bsent \d+", line)]
    return lines[-1] if lines else output


def reported(run: Run, what: str) -> int:
    """`what N` summed over the processes' summary lines (0 where it is not printed)."""
    total = 0
    for line in run.outputs:
        match = re.search(rf"\b{what} (\d+)", line)
        if match is None and what == "sent":
            raise BenchmarkError(f"no summary line in {line!r}")
        total += int(match.group(1)) if match else 0
    return total


def check(run: Run, expected: int | None, readers: int) -> int:
    """Exactly one message per reader with papers: what the sink got, what the processes
    report, and the first run's count agree. Returns that count."""
    who = f"{run.engine}, {run.senders} sender(s), {run.rtt_ms} ms"
    sent, no_papers = reported(run, "sent"), reported(run, "no matching papers")
    if sent != run.messages:
        raise BenchmarkError(f"{who}: the senders report {sent} sent; the sink got {run.messages}")
    if sent + no_papers != readers:
        raise BenchmarkError(
            f"{who}: {sent} sent + {no_papers} without papers != {readers} readers: {run.outputs}"
        )
    if expected is not None and run.messages != expected:
        raise BenchmarkError(f"{who}: the sink got {run.messages} messages, not {expected}")
    return run.messages


# ---------------------------------------------------------------------------- report


def table(runs: Sequence[Run], args: Arguments) -> str:
    head = (f"{'engine':<12}{'senders':>8}{'rtt':>8}{'wall s':>9}{'messages':>10}{'msg/s':>8}"
            f"{'CPU ms/msg':>12}{'server CPU s':>14}")  # fmt: skip
    lines = [head, "-" * len(head)]
    for run in runs:
        server = f"{run.server_cpu_seconds:.1f}" if run.server_cpu_seconds is not None else "-"
        lines.append(
            f"{run.engine:<12}{run.senders:>8}{run.rtt_ms:>5} ms{run.seconds:>9.1f}"
            f"{run.messages:>10}{run.messages_per_second:>8.1f}{run.cpu_ms_per_message:>12.2f}"
            f"{server:>14}"
        )
    lines.append("-" * len(head))
    limits = ", ".join(f"{key}: {value}" for key, value in SMTP_LIMITS.items())
    lines += [
        f"{args.subscribers} readers, {args.papers} papers. Each sender: `newsletter send --shard "
        f"k/S --workers 1`, smtp {limits}",
        "per process (S senders open up to S times as many connections), other smtp limits at "
        "their defaults.",
        "SQLite: one file shared by the S processes of this machine; PostgreSQL: one host per "
        "sender.",
        "CPU ms/msg: the S senders and their children, end to end, fixed costs included.",
        "server CPU s: PostgreSQL's during the run (only for the cluster started here).",
    ]
    return "\n".join(lines)


def write_json(path: Path, runs: Sequence[Run], args: Arguments, seconds: float) -> None:
    document = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "subscribers": args.subscribers,
        "papers": args.papers,
        "smtp_limits_per_process": SMTP_LIMITS,
        "postgresql": "--pg-url" if args.pg_url else "a cluster started by the benchmark, fsync on",
        "benchmark_seconds": seconds,
        "runs": [
            {**asdict(run), "messages_per_second": run.messages_per_second,
             "cpu_ms_per_message": run.cpu_ms_per_message}
            for run in runs
        ],
    }  # fmt: skip
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")


# ---------------------------------------------------------------------------- main


@dataclass(frozen=True)
class Arguments:
    subscribers: int
    papers: int
    rtts: tuple[int, ...]  # ms
    senders: tuple[int, ...]
    engines: tuple[str, ...]
    pg_url: str | None
    out: Path | None
    data: Path | None
    quiet: bool


def numbers(text: str) -> tuple[int, ...]:
    return tuple(int(value) for value in text.split(","))


def parse_arguments(argv: Sequence[str] | None = None) -> Arguments:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", type=int, help="default 2,000 (200 with --quick)")
    parser.add_argument("--papers", type=int, help="default 2,000 (300 with --quick)")
    parser.add_argument("--rtt", help="round trips to the sink, ms (default 0,20; quick: 0)")
    parser.add_argument("--senders", default="1,2,4", help="numbers of processes (default 1,2,4)")
    parser.add_argument("--engines", default=",".join(ENGINES), help="default sqlite,postgresql")
    parser.add_argument("--pg-url", help="an existing server (password in $PGPASSWORD)")
    parser.add_argument("--quick", action="store_true", help="200 readers, 300 papers, rtt 0")
    parser.add_argument("--out", type=Path, help="write the numbers here (JSON)")
    parser.add_argument("--data", type=Path, help="write the day here and keep it")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress lines")
    args = parser.parse_args(argv)
    engines = tuple(args.engines.split(","))
    if unknown := set(engines) - set(ENGINES):
        parser.error(f"unknown engine(s): {', '.join(sorted(unknown))}")
    return Arguments(
        subscribers=args.subscribers or (QUICK_SUBSCRIBERS if args.quick else DEFAULT_SUBSCRIBERS),
        papers=args.papers or (QUICK_PAPERS if args.quick else DEFAULT_PAPERS),
        rtts=numbers(args.rtt or ("0" if args.quick else "0,20")),
        senders=numbers(args.senders),
        engines=engines,
        pg_url=args.pg_url,
        out=args.out,
        data=args.data,
        quiet=args.quiet,
    )


def benchmark(args: Arguments, folder: Path, progress: Progress) -> list[Run]:
    progress(f"writing {args.subscribers} subscribers and {args.papers} papers to {folder}")
    data = pipeline_data.write(folder, subscribers=args.subscribers, papers=args.papers, port=0)
    runs: list[Run] = []
    expected: int | None = None
    with ExitStack() as stack:
        pg = None
        if "postgresql" in args.engines:
            pg = stack.enter_context(postgres(args.pg_url, progress))
        for rtt in args.rtts:
            with Sink(rtt=rtt / 1000) as sink:
                for engine in args.engines:
                    for senders in args.senders:
                        progress(f"{engine}: {senders} sender(s), the relay {rtt} ms away")
                        run = one_run(engine, senders, data, sink, pg)
                        expected = check(run, expected, args.subscribers)
                        runs.append(run)
                        progress(
                            f"  {run.seconds:.1f} s, {run.messages_per_second:.1f} msg/s, "
                            f"{run.cpu_ms_per_message:.2f} ms CPU/msg"
                        )
    return runs


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_arguments(argv)
    progress = progress_printer(args.quiet)
    started = time.perf_counter()
    if args.data is not None:
        runs = benchmark(args, args.data, progress)
    else:
        with tempfile.TemporaryDirectory(prefix="newsletter-senders-") as scratch:
            runs = benchmark(args, Path(scratch), progress)
    seconds = time.perf_counter() - started
    print(table(runs, args))
    print(f"benchmark: {seconds:.0f} s in all")
    if args.out is not None:
        write_json(args.out, runs, args, seconds)
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
