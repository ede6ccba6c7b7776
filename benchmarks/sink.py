"""An SMTP sink in a process of its own: accepts every message on 127.0.0.1, keeps only counts.

The server (aiosmtpd) runs in a child process, so the sender being measured does not share a
core's interpreter with it. The child answers one-line commands on stdin:

    ready PORT             written once, after the server accepts connections
    count -> "M B C S"     messages, bytes, connections (EHLO/HELO) and the sink's CPU seconds
                           since the last reset
    reset -> "0 0 0 0.0"
    stop  -> "M B C S"     the final counts; the child then exits

As a library:

    with Sink() as sink:
        ...send to 127.0.0.1:sink.port...
        received = sink.count()

Standalone (prints `ready PORT`, then reads the commands above):

    python benchmarks/sink.py [--rtt MS] [--no-pipelining]

`--rtt MS` (`Sink(rtt=0.05)`): a relay that far away. Every reply but the 221 to QUIT (the
greeting, EHLO, MAIL, RCPT, DATA, the end of the data) leaves MS milliseconds after the command
it answers arrived, as over a network with that round trip: the sink goes on reading while a
reply waits (asyncio, so it stays concurrent), and commands that arrive together (PIPELINING)
are answered together, one round trip for the group. (A sleep before each reply would make a
pipelined group cost one round trip per command, which no network does.) The sink offers
PIPELINING unless `--no-pipelining`.
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import socket
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO, Any

START_ATTEMPTS = 5  # a free port found by probing can be taken before the server binds it
TIMEOUT = 30.0


@dataclass(frozen=True)
class Received:
    """What the sink accepted."""

    messages: int
    bytes: int
    connections: int
    cpu_seconds: float  # the sink's own CPU time: how close it came to being the bottleneck

    @classmethod
    def parse(cls, line: str) -> Received:
        messages, size, connections, cpu = line.split()
        return cls(int(messages), int(size), int(connections), float(cpu))


class SinkError(RuntimeError):
    """The sink did not start or did not answer."""


# ---------------------------------------------------------------------------- the child


class _Counter:
    """Counts shared by the server's thread and the command loop."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._messages = self._bytes = self._connections = 0
        self._cpu = _cpu_seconds()

    def message(self, size: int) -> None:
        with self._lock:
            self._messages += 1
            self._bytes += size

    def connection(self) -> None:
        with self._lock:
            self._connections += 1

    def line(self, *, reset: bool = False) -> str:
        with self._lock:
            cpu = _cpu_seconds() - self._cpu
            line = f"{self._messages} {self._bytes} {self._connections} {cpu:.3f}"
            if reset:
                self._messages = self._bytes = self._connections = 0
                self._cpu += cpu
        return line


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class _Handler:
    """aiosmtpd handler: accept every recipient and message, count, keep nothing."""

    def __init__(self, counter: _Counter, pipelining: bool = True) -> None:
        self.counter = counter
        self.pipelining = pipelining

    async def handle_EHLO(
        self, server: Any, session: Any, envelope: Any, hostname: str, responses: list[str]
    ) -> list[str]:
        session.host_name = hostname
        self.counter.connection()
        if self.pipelining:
            responses.insert(-1, "250-PIPELINING")
        return responses

    async def handle_HELO(self, server: Any, session: Any, envelope: Any, hostname: str) -> str:
        session.host_name = hostname
        self.counter.connection()
        return "250 sink"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.counter.message(len(envelope.content))
        return "250 OK discarded"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def _latent_server(rtt: float) -> Any:
    """aiosmtpd's server class, its replies delayed by `rtt` seconds (see the docstring)."""
    from aiosmtpd.smtp import SMTP

    class LatentSMTP(SMTP):  # type: ignore[misc]
        _due = 0.0

        async def push(self, status: Any) -> None:
            text = status if isinstance(status, str) else status.decode()
            if not rtt or text.startswith("221"):
                await super().push(status)
                return
            data = text.encode("utf-8" if self.enable_SMTPUTF8 else "ascii") + b"\r\n"
            loop = asyncio.get_running_loop()
            self._due = max(loop.time() + rtt, self._due + 1e-6)  # replies stay in order
            loop.call_at(self._due, self._write, data)

        def _write(self, data: bytes) -> None:
            if self.transport is not None and not self.transport.is_closing():
                self._writer.write(data)

    return LatentSMTP


def _start(counter: _Counter, rtt: float = 0.0, pipelining: bool = True) -> Any:
    """A started aiosmtpd Controller (it cannot bind port 0: probe, retry if taken)."""
    from aiosmtpd.controller import Controller

    server = _latent_server(rtt)

    class LatentController(Controller):  # type: ignore[misc]
        def factory(self) -> Any:
            return server(self.handler, **self.SMTP_kwargs)

    problem: Exception | None = None
    for _ in range(START_ATTEMPTS):
        controller = LatentController(
            _Handler(counter, pipelining), hostname="127.0.0.1", port=_free_port(),
            data_size_limit=None,
        )  # fmt: skip
        try:
            controller.start()  # returns once the server answers a connection
        except (OSError, RuntimeError) as exc:
            problem = exc
            continue
        return controller
    raise SinkError(f"cannot start the SMTP sink: {problem}")


def serve(commands: IO[str], replies: IO[str], rtt: float = 0.0, pipelining: bool = True) -> None:
    """The child: start the server, announce its port, answer commands until stop or EOF."""
    counter = _Counter()
    controller = _start(counter, rtt, pipelining)
    print(f"ready {controller.port}", file=replies, flush=True)
    try:
        for raw in commands:
            command = raw.strip()
            if command == "stop":
                break
            if command in ("count", "reset"):
                print(counter.line(reset=command == "reset"), file=replies, flush=True)
    finally:
        controller.stop()
    print(counter.line(), file=replies, flush=True)


# ---------------------------------------------------------------------------- the parent


class Sink:
    """The sink's child process, seen from the sender."""

    def __init__(self, rtt: float = 0.0, pipelining: bool = True) -> None:
        self._process: subprocess.Popen[str] | None = None
        self.port = 0
        self.final: Received | None = None
        self.rtt = rtt  # seconds
        self.pipelining = pipelining

    def start(self) -> None:
        options = ["--rtt", f"{self.rtt * 1000:g}"]
        options += [] if self.pipelining else ["--no-pipelining"]
        self._process = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), *options],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            bufsize=1,
        )
        line = self._readline()
        if not line.startswith("ready "):
            self._process.kill()
            self._process.wait()
            raise SinkError(f"the SMTP sink did not start (it said {line!r})")
        self.port = int(line.split()[1])
        _check_accepting(self.port)

    def count(self) -> Received:
        return Received.parse(self._ask("count"))

    def reset(self) -> None:
        self._ask("reset")

    def stop(self) -> Received:
        """Stop the server and the child; the final counts (also kept in `final`)."""
        process = self._process
        if process is None:
            raise SinkError("the SMTP sink is not running")
        self.final = Received.parse(self._ask("stop"))
        assert process.stdin is not None and process.stdout is not None
        process.stdin.close()
        process.wait(timeout=TIMEOUT)
        process.stdout.close()
        self._process = None
        return self.final

    def _ask(self, command: str) -> str:
        process = self._process
        if process is None or process.stdin is None:
            raise SinkError("the SMTP sink is not running")
        process.stdin.write(command + "\n")
        process.stdin.flush()
        return self._readline()

    def _readline(self) -> str:
        assert self._process is not None and self._process.stdout is not None
        line = self._process.stdout.readline()
        if not line:
            raise SinkError(f"the SMTP sink exited (status {self._process.poll()})")
        return line.strip()

    def __enter__(self) -> Sink:
        self.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._process is None:
            return
        if kind is None:
            self.stop()
        else:
            self._process.kill()
            self._process.wait()
            self._process = None


def _check_accepting(port: int) -> None:
    """Connect once and read the greeting: the server is up, not merely announced."""
    with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as connection:
        with connection.makefile("rb") as reader:
            greeting = reader.readline()
        if not greeting.startswith(b"220"):
            raise SinkError(f"the SMTP sink greeted with {greeting!r}")
        connection.sendall(b"QUIT\r\n")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rtt", type=float, default=0.0, help="round trip in milliseconds")
    parser.add_argument("--no-pipelining", action="store_true", help="do not offer PIPELINING")
    arguments = parser.parse_args()
    serve(sys.stdin, sys.stdout, arguments.rtt / 1000, not arguments.no_pipelining)
