"""A real HTTP server on 127.0.0.1 for tests: each path answers from a script of replies, and
the replies can misbehave on purpose (a fault-injection toolkit).

    with serve() as server:
        url = server.route("/feed", Reply(body=LISTING))               # a well-behaved answer
        server.route("/bomb", gzip_bomb())                             # 1 MiB expanding to 1 GiB
        server.route("/loop", redirect("/loop"))                       # a redirect loop
        server.route("/drip", drip_body(LISTING, every=0.2))           # one byte per 0.2 s
        server.route("/slowloris", slowloris(every=0.2))               # headers that never end

Every answer is bounded: at most `ANSWER_SECONDS` of sending, and drips stop at once when the
server shuts down (the `release` event), so no test can hang on the server. `HostMap` lets a
client reach the server under another name (`public.test`), to test what a fetcher does with
addresses it believes public.
"""

from __future__ import annotations

import contextlib
import struct
import threading
import time
import zlib
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx

ANSWER_SECONDS = 20.0  # no answer is sent for longer than this, whatever its script says
MIB = 1024 * 1024


@dataclass
class Reply:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    stall: threading.Event | None = None  # wait for this event before answering (timeouts)
    raw: bytes | None = None  # the whole answer, status line and headers included, as is
    chunks: Callable[[], Iterable[bytes]] | None = None  # a body made while it is sent
    length: int | None = None  # the Content-Length to declare (default: the body's)
    declare_length: bool = True  # False: no Content-Length, the body ends when the server closes
    head_every: float = 0.0  # seconds between two bytes of the status line and headers
    body_every: float = 0.0  # seconds between two bytes of the body
    endless_head: bool = False  # slowloris: after the status line, header bytes never end


@dataclass
class Request:
    path: str
    headers: dict[str, str]


class _Stop(Exception):
    """The answer's time is up, or the server is shutting down."""


class FeedServer:
    """Serve scripted replies; the last reply of a path repeats."""

    def __init__(self) -> None:
        self.routes: dict[str, list[Reply]] = {}
        self.requests: list[Request] = []
        self.release = threading.Event()  # set on shutdown to free stalled handlers
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.requests.append(
                    Request(self.path, {k.lower(): v for k, v in self.headers.items()})
                )
                replies = server.routes.get(self.path)
                if not replies:
                    self.send_error(404, "Not Found")
                    return
                reply = replies.pop(0) if len(replies) > 1 else replies[0]
                if reply.stall is not None:
                    reply.stall.wait(30)
                    if server.release.is_set():
                        return
                # out of time, shutting down, or the client hung up (often the point of a test)
                with contextlib.suppress(_Stop, ConnectionError):
                    _Answer(self.wfile.write, reply, server.release).send()

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True

    @property
    def port(self) -> int:
        return int(self.httpd.server_address[1])

    @property
    def base(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def url(self, path: str) -> str:
        return self.base + path

    def route(self, path: str, *replies: Reply) -> str:
        self.routes[path] = list(replies)
        return self.url(path)

    def hits(self, path: str) -> list[Request]:
        return [request for request in self.requests if request.path == path]


class _Answer:
    """Writes one reply, dripping where asked, never past ANSWER_SECONDS."""

    def __init__(self, write: Callable[[bytes], object], reply: Reply, stop: threading.Event):
        self.write_socket = write
        self.reply = reply
        self.stop = stop
        self.until = time.monotonic() + ANSWER_SECONDS

    def send(self) -> None:
        reply = self.reply
        if reply.raw is not None:
            self.write(reply.raw, reply.head_every)
            return
        if reply.endless_head:
            self.write(f"HTTP/1.1 {reply.status} OK\r\nX-Slow: ".encode(), 0.0)
            self.write(b"a" * 1_000_000, reply.head_every or 0.5)  # ends with the time limit
            return
        self.write(self.head(), reply.head_every)
        for chunk in reply.chunks() if reply.chunks is not None else [reply.body]:
            self.write(chunk, reply.body_every)

    def head(self) -> bytes:
        reply = self.reply
        try:
            phrase = HTTPStatus(reply.status).phrase
        except ValueError:
            phrase = "Unknown"
        lines = [f"HTTP/1.1 {reply.status} {phrase}", "Connection: close"]
        lines += [f"{name}: {value}" for name, value in reply.headers.items()]
        length = reply.length if reply.length is not None else len(reply.body)
        if reply.declare_length and (reply.chunks is None or reply.length is not None):
            lines.append(f"Content-Length: {length}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    def write(self, data: bytes, every: float) -> None:
        if self.stop.is_set() or time.monotonic() > self.until:
            raise _Stop
        if not every:
            self.write_socket(data)
            return
        for index in range(len(data)):
            if self.stop.wait(every) or time.monotonic() > self.until:
                raise _Stop
            self.write_socket(data[index : index + 1])


@contextmanager
def serve() -> Iterator[FeedServer]:
    server = FeedServer()
    thread = threading.Thread(target=server.httpd.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.release.set()
        server.httpd.shutdown()
        server.httpd.server_close()
        thread.join(5)


# --- misbehaving replies ----------------------------------------------------------------------


@cache
def gzip_bomb_bytes(expanded_mib: int = 1024) -> bytes:
    """A valid gzip stream of about 1 KiB per MiB of zeros it expands to (1 GiB: ~1 MiB).

    Built from full-flushed blocks, which repeat byte for byte, so it takes a fraction of a
    second; the trailer carries the real CRC and size.
    """
    zeros = bytes(MIB)
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)
    first = compressor.compress(zeros) + compressor.flush(zlib.Z_FULL_FLUSH)
    middle = compressor.compress(zeros) + compressor.flush(zlib.Z_FULL_FLUSH)
    last = compressor.compress(zeros) + compressor.flush()
    crc = 0
    for _ in range(expanded_mib):
        crc = zlib.crc32(zeros, crc)
    trailer = struct.pack("<II", crc, (expanded_mib * MIB) & 0xFFFFFFFF)
    return first + middle * (expanded_mib - 2) + last[:-8] + trailer


def gzip_bomb(expanded_mib: int = 1024, *, encoding: str = "gzip") -> Reply:
    return Reply(body=gzip_bomb_bytes(expanded_mib), headers={"Content-Encoding": encoding})


def not_gzip(body: bytes = b"<rss>this is not gzip at all</rss>") -> Reply:
    """`Content-Encoding: gzip` over bytes that are not gzip."""
    return Reply(body=body, headers={"Content-Encoding": "gzip"})


def huge_body(size: int, *, declare: bool = True, piece: bytes = b"<!-- padding -->") -> Reply:
    """`size` bytes made while they are sent (never held); declared in Content-Length or not."""

    def chunks() -> Iterator[bytes]:
        block = piece * (MIB // len(piece))
        sent = 0
        while sent < size:
            part = block[: size - sent]
            sent += len(part)
            yield part

    return Reply(chunks=chunks, length=size if declare else None, declare_length=declare)


def redirect(location: str, status: int = 302) -> Reply:
    return Reply(status, headers={"Location": location})


def drip_head(every: float, body: bytes = b"") -> Reply:
    """The status line and headers one byte every `every` seconds."""
    return Reply(body=body, head_every=every)


def drip_body(body: bytes, every: float) -> Reply:
    """Prompt headers, then the body one byte every `every` seconds."""
    return Reply(body=body, body_every=every)


def slowloris(every: float) -> Reply:
    """A status line, then one header that never ends, a byte every `every` seconds."""
    return Reply(endless_head=True, head_every=every)


# --- reaching the server under other names ------------------------------------------------


class HostMap(httpx.BaseTransport):
    """An httpx transport that connects to 127.0.0.1 for the names given (keeping the Host
    header), so that `http://public.test:PORT/` reaches a local server."""

    def __init__(self, *names: str) -> None:
        self.names = frozenset(names)
        self.inner = httpx.HTTPTransport()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.host in self.names:
            request.url = request.url.copy_with(host="127.0.0.1")
        return self.inner.handle_request(request)

    def close(self) -> None:
        self.inner.close()
