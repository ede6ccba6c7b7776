"""The bounds of every read of a source: a deadline, a size cap, regular files only.

- `Deadline`: the time left for one source, all attempts, waits and redirects included, and
  `Watchdog`: the deadline of one HTTP request, enforced by cutting its connection;
- `BodyDecoder`: an HTTP body decoded here (identity, gzip, deflate), one bounded step at a time,
  so that it never grows past the cap: a gzip bomb (1 MiB expanding to 1 GiB) is stopped after
  the cap's worth of output, never inflated in memory;
- `read_file`: a local source, read only when it is a regular file (never `/dev/zero`, a FIFO,
  a socket or a directory), under the same cap and deadline.

Every failure is a `FetchError` with a one-line reason.
"""

from __future__ import annotations

import contextlib
import math
import os
import socket
import stat
import threading
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import httpx

from newsletter.errors import FetchError

MAX_BODY = 64 * 1024 * 1024  # bytes of a source's document, decoded
DEADLINE = 120.0  # seconds for one source: every attempt, wait and redirect included
STEP = 1024 * 1024  # bytes decoded, or read from a file, at a time
MAX_RETRY_AFTER = 120.0  # seconds: the longest Retry-After honoured


@dataclass
class Deadline:
    """The time left for one source, on the fetcher's clock."""

    clock: Callable[[], float]
    seconds: float
    end: float = field(init=False)

    def __post_init__(self) -> None:
        self.end = self.clock() + self.seconds

    def left(self) -> float:
        return self.end - self.clock()

    def passed(self, source: str, what: str) -> FetchError:
        return FetchError(source, f"timed out: not read within {self.seconds:g} s ({what})")


class Watchdog:
    """Cuts the connection of one request when its time is up.

    httpx's timeouts are per read: a server sending a byte a second never trips them. The
    connection's socket is learned from httpcore's `trace` events and kept as a duplicate
    descriptor (the same socket, also under TLS); at the deadline it is shut down, so the read
    in progress ends at once. Without such events (another transport) the per-read timeout,
    bounded by the time left, and the clock checked between chunks still apply.
    """

    def __init__(self, seconds: float) -> None:
        self.fired = False
        self.answered = False
        self._lock = threading.Lock()
        self._socket: socket.socket | None = None
        self._timer = threading.Timer(max(seconds, 0.0), self._fire)
        self._timer.daemon = True

    def trace(self, event: str, info: dict[str, Any]) -> None:
        if event.endswith(".receive_response_headers.complete"):
            self.answered = True  # the status line and headers are in
        if event != "connection.connect_tcp.complete":
            return
        stream = info.get("return_value")
        sock = stream.get_extra_info("socket") if stream is not None else None
        if isinstance(sock, socket.socket):
            with self._lock:
                self._close()
                self._socket = sock.dup()
                if self.fired:
                    self._cut()

    def __enter__(self) -> Watchdog:
        self._timer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._timer.cancel()
        with self._lock:
            self._close()

    def _fire(self) -> None:
        with self._lock:
            self.fired = True
            self._cut()

    def _cut(self) -> None:
        if self._socket is not None:
            with contextlib.suppress(OSError):
                self._socket.shutdown(socket.SHUT_RDWR)

    def _close(self) -> None:
        if self._socket is not None:
            self._socket.close()
            self._socket = None


class BodyDecoder:
    """A body decoded piece by piece (identity, gzip or deflate), never past `limit` bytes."""

    def __init__(self, encoding: str, limit: int, source: str) -> None:
        codings = [c.strip().lower() for c in encoding.split(",")]
        codings = [c for c in codings if c not in ("", "identity")]
        if len(codings) > 1 or (codings and codings[0] not in ("gzip", "x-gzip", "deflate")):
            raise FetchError(source, f"unsupported Content-Encoding {encoding[:60]!r}")
        self.coding = codings[0] if codings else None
        self.limit = limit
        self.source = source
        self.size = 0
        self.parts: list[bytes] = []
        self._head = b""  # deflate: the first bytes, until the wrapping can be told
        self._inflater: Any = None

    def feed(self, data: bytes) -> None:
        if self.coding is None:
            self._keep(data)
        elif self._inflater is not None:
            self._inflate(data)
        else:
            self._head += data
            if self.coding != "deflate" or len(self._head) >= 2:
                self._start()

    def finish(self) -> bytes:
        if self._head and self._inflater is None:
            self._start()
        return b"".join(self.parts)

    def _start(self) -> None:
        head, self._head = self._head, b""
        zlib_wrapped = len(head) >= 2 and head[0] & 0x0F == 8 and (head[0] << 8 | head[1]) % 31 == 0
        wbits = 31 if self.coding != "deflate" else 15 if zlib_wrapped else -15
        self._inflater = zlib.decompressobj(wbits)
        self._inflate(head)

    def _inflate(self, data: bytes) -> None:
        """Decompress `data`, at most `STEP` bytes of output at a time, stopping at the cap."""
        inflater = self._inflater
        while not inflater.eof:
            step = min(self.limit - self.size + 1, STEP)
            try:
                out = inflater.decompress(data, step)
            except zlib.error as exc:
                reason = f"the body is not valid {self.coding} data ({exc})"
                raise FetchError(self.source, reason) from exc
            self._keep(out)
            data = inflater.unconsumed_tail
            if not data and len(out) < step:  # all input used and no output pending
                return

    def _keep(self, data: bytes) -> None:
        self.size += len(data)
        if self.size > self.limit:
            raise FetchError(
                self.source, f"the answer is larger than {size_text(self.limit)} decoded"
            )
        if data:
            self.parts.append(data)


def read_file(path: Path, source: str, limit: int, deadline: Deadline) -> bytes:
    """A local regular file, at most `limit` bytes, within the deadline.

    Devices (`/dev/zero`), FIFOs, sockets and directories are refused before they are read:
    the kind is checked before opening, and again on the open descriptor (opened without
    blocking, so a FIFO swapped in meanwhile cannot hang the run).
    """
    try:
        _check_regular(path, path.stat(), source, limit)
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        with os.fdopen(fd, "rb", buffering=0) as stream:
            _check_regular(path, os.fstat(stream.fileno()), source, limit)
            parts: list[bytes] = []
            size = 0
            while chunk := stream.read(STEP):
                size += len(chunk)
                if size > limit:
                    raise FetchError(source, f"{path} is larger than {size_text(limit)}")
                parts.append(chunk)
                if deadline.left() <= 0:
                    raise deadline.passed(source, f"reading {path}")
            return b"".join(parts)
    except FileNotFoundError as exc:
        raise FetchError(source, f"file not found: {path}") from exc
    except OSError as exc:
        raise FetchError(source, f"cannot read {path}: {exc.strerror or exc}") from exc
    except ValueError as exc:  # a NUL byte in the path
        raise FetchError(source, f"cannot read {path!r}: {exc}") from exc


_FILE_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISFIFO, "a FIFO"),
    (stat.S_ISSOCK, "a socket"),
)


def _check_regular(path: Path, info: os.stat_result, source: str, limit: int) -> None:
    if not stat.S_ISREG(info.st_mode):
        kind = next((name for test, name in _FILE_KINDS if test(info.st_mode)), "not a file")
        raise FetchError(source, f"not a regular file ({kind}): {path}")
    if info.st_size > limit:
        raise FetchError(source, f"{path} is larger than {size_text(limit)}")


def size_text(limit: int) -> str:
    """`64 MiB`, or `1000 bytes`."""
    mib = 1024 * 1024
    return f"{limit // mib} MiB" if limit >= mib and limit % mib == 0 else f"{limit} bytes"


def bounded_timeout(timeout: httpx.Timeout, left: float) -> httpx.Timeout:
    """The client's timeouts, none longer than the time left."""

    def bound(value: float | None) -> float:
        return min(value, left) if value is not None else left

    return httpx.Timeout(
        connect=bound(timeout.connect),
        read=bound(timeout.read),
        write=bound(timeout.write),
        pool=bound(timeout.pool),
    )


def retry_after_seconds(value: str | None) -> float | None:
    """A `Retry-After` header (seconds or an HTTP date) as seconds from now, at most
    `MAX_RETRY_AFTER`; None when there is none or it makes no sense."""
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            seconds = parsedate_to_datetime(value).timestamp() - time.time()
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
    if math.isnan(seconds):
        return None
    return min(max(seconds, 0.0), MAX_RETRY_AFTER)
