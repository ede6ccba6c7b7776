"""SMTP servers on 127.0.0.1 whose answers a test can script.

`smtp_server`: a real SMTP server (aiosmtpd). Besides scripted replies it can misbehave the way
real servers do: drop the connection at a given recipient or right after a message's data
(before its reply), answer slowly, or call the test back at a given point so the test can kill
the client there; with `smtputf8` it offers SMTPUTF8. It counts what a relay counts:
connections open at once (`most_connections`), messages per connection, when each MAIL FROM
arrived and whether RCPT TO came with it in one write (PIPELINING, offered with
`Script.pipelining`); with `connection_limit` it answers 421 to connections beyond it.

`hostile_server`: a small raw-socket server (threads) for what aiosmtpd will not do: drip a
reply one byte every N seconds, answer garbage or binary, hang up or reset the connection at a
chosen command, refuse at the greeting, echo the AUTH credentials in its error, offer SMTPUTF8
or not. Every loop in it is bounded (connections, commands, lines, seconds) and its threads
stop when the block ends.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import socket
import ssl
import struct
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP


@dataclass
class Script:
    """What the server answers and how it misbehaves. Counts are 1-based and cover the
    whole life of the server (every connection)."""

    rcpt: dict[str, str] = field(default_factory=dict)  # address -> reply, e.g. "550 no"
    data: list[str] = field(default_factory=list)  # replies to the next DATA ends, in order
    drop_at_rcpt: set[int] = field(default_factory=set)  # hang up at these RCPT commands
    drop_after_data: set[int] = field(default_factory=set)  # keep the message, hang up unanswered
    delay: float = 0.0  # seconds before answering each DATA (a slow server)
    on_rcpt: Callable[[int], None] | None = None  # called with the RCPT count
    on_data: Callable[[int], None] | None = None  # called with the DATA count, before the reply
    received: list[tuple[str, list[str], bytes]] = field(default_factory=list)
    mail_options: list[list[str]] = field(default_factory=list)  # per message received
    logins: list[str] = field(default_factory=list)
    rcpts: int = 0
    datas: int = 0
    pipelining: bool = False  # offer PIPELINING (RFC 2920)
    connection_limit: int | None = None  # answer "421" at the greeting beyond this many open
    refused_connections: int = 0
    open_connections: int = 0  # from the greeting to QUIT or the connection's end
    most_connections: int = 0
    per_connection: dict[int, int] = field(default_factory=dict)  # connection -> messages
    mail_times: list[float] = field(default_factory=list)  # time.monotonic() at each MAIL FROM
    pipelined: list[bool] = field(default_factory=list)  # per MAIL FROM: RCPT TO already read
    lock: threading.Lock = field(default_factory=threading.Lock)
    changed: threading.Condition = field(init=False)

    def __post_init__(self) -> None:
        self.changed = threading.Condition(self.lock)

    def wait_for(self, count: int, timeout: float = 60) -> bool:
        """Block until `count` messages were received (no polling, no sleeping)."""
        with self.changed:
            return self.changed.wait_for(lambda: len(self.received) >= count, timeout)

    def recipients(self) -> list[str]:
        return [rcpt for _, rcpts, _ in self.received for rcpt in rcpts]


def _hang_up(server: Any) -> None:
    server.transport.close()


class _Handler:
    def __init__(self, script: Script) -> None:
        self.script = script

    async def handle_EHLO(
        self, server: Any, session: Any, envelope: Any, hostname: str, responses: list[str]
    ) -> list[str]:
        session.host_name = hostname
        if self.script.pipelining:
            responses.insert(-1, "250-PIPELINING")
        return responses

    async def handle_MAIL(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        waiting = bytes(server._reader._buffer)  # what the client sent with MAIL FROM
        with self.script.lock:
            self.script.mail_times.append(time.monotonic())
            self.script.pipelined.append(b"RCPT" in waiting.upper())
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        script = self.script
        with script.lock:
            script.rcpts += 1
            count = script.rcpts
        if script.on_rcpt is not None:
            script.on_rcpt(count)
        if count in script.drop_at_rcpt:
            _hang_up(server)
            return "421 closing"  # never reaches the client: the connection is gone
        reply = script.rcpt.get(address)
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        script = self.script
        if script.delay:
            await asyncio.sleep(script.delay)  # the server being slow, not test synchronisation
        with script.lock:
            script.datas += 1
            count = script.datas
            scripted = script.data.pop(0) if script.data else None
        if scripted is not None:
            return scripted
        if script.on_data is not None:
            script.on_data(count)
        with script.changed:
            script.received.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
            script.mail_options.append(list(envelope.mail_options))
            number = server.connection_number
            script.per_connection[number] = script.per_connection.get(number, 0) + 1
            script.changed.notify_all()
        if count in script.drop_after_data:
            _hang_up(server)
            return "421 closing"  # kept the message, but the client never hears so
        return "250 Message accepted"


def _authenticator(script: Script) -> Callable[..., Any]:
    def accept_any_login(
        server: Any, session: Any, envelope: Any, mechanism: str, auth: Any
    ) -> Any:
        from aiosmtpd.smtp import AuthResult

        with script.lock:
            script.logins.append(getattr(auth, "login", b"").decode())
        return AuthResult(success=True)

    return accept_any_login


_NUMBERS = itertools.count(1)


class _CountingSMTP(SMTP):  # type: ignore[misc]
    """aiosmtpd's server, counting its connections as a relay does and refusing those beyond
    `Script.connection_limit` with 421 at the greeting."""

    def __init__(self, handler: _Handler, **options: Any) -> None:
        super().__init__(handler, **options)
        self.script = handler.script
        self.connection_number = next(_NUMBERS)
        self._counted = False
        self._greeted = False

    def connection_made(self, transport: Any) -> None:
        if self.transport is None:  # not the restart after STARTTLS
            with self.script.lock:
                self.script.open_connections += 1
                self._counted = True
        super().connection_made(transport)

    def _uncount(self) -> None:
        with self.script.lock:
            if self._counted:
                self._counted = False
                self.script.open_connections -= 1

    async def push(self, status: Any) -> None:
        if not self._greeted:  # the greeting: within the limit, or 421
            self._greeted = True
            script = self.script
            with script.lock:
                limit = script.connection_limit
                over = limit is not None and script.open_connections > limit
                script.refused_connections += over
                if not over:
                    script.most_connections = max(script.most_connections, script.open_connections)
            if over:
                self._uncount()
                await super().push("421 4.7.0 too many connections, try again later")
                self.transport.close()
                return
        await super().push(status)

    async def smtp_QUIT(self, arg: str) -> None:
        self._uncount()  # the client is done with it
        await super().smtp_QUIT(arg)

    def connection_lost(self, error: Exception | None) -> None:
        self._uncount()
        super().connection_lost(error)


class _Controller(Controller):  # type: ignore[misc]
    def factory(self) -> SMTP:
        return _CountingSMTP(self.handler, **self.SMTP_kwargs)


def free_port() -> int:
    with socket.socket() as probe:  # aiosmtpd cannot start on port 0: find a free port first
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def smtp_server(
    script: Script | None = None, *, tls: ssl.SSLContext | None = None, smtputf8: bool = False
) -> Iterator[tuple[int, Script]]:
    """Serve `script` on a free port; with `tls`, offer STARTTLS with that context; with
    `smtputf8`, offer SMTPUTF8 (RFC 6531)."""
    script = script or Script()
    port = free_port()
    options: dict[str, Any] = {"auth_require_tls": tls is not None, "enable_SMTPUTF8": smtputf8}
    if tls is not None:
        options["tls_context"] = tls
    controller = _Controller(
        _Handler(script),
        hostname="127.0.0.1",
        port=port,
        authenticator=_authenticator(script),
        **options,
    )
    controller.start()
    try:
        yield port, script
    finally:
        controller.stop()


# --- a hostile server: raw sockets, misbehaving on purpose ------------------------------------

STAGES = ("GREETING", "EHLO", "HELO", "STARTTLS", "TLS", "AUTH", "MAIL", "RCPT", "DATA", "DOT",
          "RSET", "QUIT", "NOOP")  # fmt: skip  # DOT: the reply after the message's final "."
MAX_CONNECTIONS = 40
MAX_COMMANDS = 200  # per connection
MAX_MESSAGE_LINES = 100_000
IDLE_LIMIT = 30.0  # seconds the server waits for a client's next line


@dataclass
class Hostile:
    """How the hostile server misbehaves. A stage key is a name from STAGES (every time) or
    `NAME#n` (only the n-th time over the server's life, 1-based): `"RCPT#2"`."""

    drip: set[str] = field(default_factory=set)  # these replies come one byte every `every` s
    every: float = 0.25
    padding: int = 80  # characters added to a dripped reply, so that it lasts
    garbage: dict[str, bytes] = field(default_factory=dict)  # raw bytes instead of the reply
    replies: dict[str, str] = field(default_factory=dict)  # another reply, e.g. "421 busy"
    close_at: set[str] = field(default_factory=set)  # hang up instead of replying
    reset_at: set[str] = field(default_factory=set)  # reset (TCP RST) instead of replying
    smtputf8: bool = False  # offer SMTPUTF8 (and 8BITMIME)
    starttls: bool = False  # offer STARTTLS (the server cannot do TLS: see the TLS stage)
    auth: bool = True  # offer AUTH PLAIN LOGIN, accept any login
    echo_credentials: bool = False  # answer AUTH with a 535 that repeats what the client sent
    commands: list[str] = field(default_factory=list)  # every line received outside DATA
    received: list[tuple[str, list[str], bytes]] = field(default_factory=list)
    connections: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    changed: threading.Condition = field(init=False)

    def __post_init__(self) -> None:
        self.changed = threading.Condition(self.lock)

    def count(self, stage: str) -> int:
        with self.lock:
            self.counts[stage] = self.counts.get(stage, 0) + 1
            return self.counts[stage]

    def recipients(self) -> list[str]:
        return [rcpt for _, rcpts, _ in self.received for rcpt in rcpts]

    def wait_for(self, count: int, timeout: float = 30) -> bool:
        """Block until `count` messages were received (no polling, no sleeping)."""
        with self.changed:
            return self.changed.wait_for(lambda: len(self.received) >= count, timeout)


def _chosen(keys: set[str] | dict[str, Any], stage: str, n: int) -> str | None:
    for key in (f"{stage}#{n}", stage):
        if key in keys:
            return key
    return None


class _Session:
    """One client connection of the hostile server; every loop bounded."""

    def __init__(self, script: Hostile, conn: socket.socket, stop: threading.Event) -> None:
        self.script, self.conn, self.stop = script, conn, stop
        self.reader = conn.makefile("rb")
        self.mail_from, self.rcpts = "", list[str]()

    def answer(self, stage: str, reply: bytes) -> bool:
        """Send the reply to `stage` as scripted; False when the connection is over."""
        script, n = self.script, self.script.count(stage)
        if _chosen(script.close_at, stage, n):
            self.conn.shutdown(socket.SHUT_RDWR)
            return False
        if _chosen(script.reset_at, stage, n):
            self.conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.conn.close()
            return False
        key = _chosen(script.garbage, stage, n)
        other = _chosen(script.replies, stage, n)
        if key is not None:
            reply = script.garbage[key]
        elif other is not None:
            reply = script.replies[other].encode() + b"\r\n"
        try:
            if _chosen(script.drip, stage, n):
                return self._drip(reply)
            self.conn.sendall(reply)
        except OSError:
            return False
        return not (other is not None and script.replies[other][:3] in ("421", "221"))

    def _drip(self, reply: bytes) -> bool:
        body = reply.removesuffix(b"\r\n")
        reply = body + b" " + b"z" * self.script.padding + b"\r\n" if body else reply
        for byte in reply:
            if self.stop.wait(self.script.every):  # the server misbehaving, not synchronisation
                return False
            self.conn.sendall(bytes([byte]))
        return True

    def line(self) -> bytes:
        return self.reader.readline(65536)

    def serve(self) -> None:
        if not self.answer("GREETING", b"220 hostile.test ESMTP\r\n"):
            return
        for _ in range(MAX_COMMANDS):
            line = self.line()
            if not line or self.stop.is_set():
                return
            with self.script.lock:
                self.script.commands.append(line.decode("utf-8", "replace").rstrip("\r\n"))
            verb = (
                line.split(b" ", 1)[0].split(b":", 1)[0].strip().upper().decode("ascii", "replace")
            )
            if not self.command(verb, line):
                return

    def command(self, verb: str, line: bytes) -> bool:
        if verb == "EHLO":
            return self.answer("EHLO", self._features())
        if verb == "STARTTLS":
            return self.answer("STARTTLS", b"220 go ahead\r\n") and self.answer("TLS", b"")
        if verb == "AUTH":
            return self._auth(line)
        if verb == "MAIL":
            self.mail_from, self.rcpts = _path(line), []
            return self.answer("MAIL", b"250 sender ok\r\n")
        if verb == "RCPT":
            self.rcpts.append(_path(line))
            return self.answer("RCPT", b"250 recipient ok\r\n")
        if verb == "DATA":
            return self.answer("DATA", b"354 go ahead\r\n") and self._data()
        if verb == "QUIT":
            self.answer("QUIT", b"221 bye\r\n")
            return False
        known = {"HELO": b"250 hostile.test\r\n", "RSET": b"250 reset\r\n", "NOOP": b"250 ok\r\n"}
        if verb in known:
            return self.answer(verb, known[verb])
        return self.answer(verb, b"502 unknown command\r\n")

    def _features(self) -> bytes:
        script = self.script
        lines = ["hostile.test", "8BITMIME", "SIZE 10000000"]
        lines += ["SMTPUTF8"] if script.smtputf8 else []
        lines += ["STARTTLS"] if script.starttls else []
        lines += ["AUTH PLAIN LOGIN"] if script.auth else []
        return "".join(
            f"250{' ' if n == len(lines) - 1 else '-'}{text}\r\n" for n, text in enumerate(lines)
        ).encode()

    def _auth(self, line: bytes) -> bool:
        words = line.decode("utf-8", "replace").split()
        sent = words[2:]  # the initial response, if any
        if len(words) > 1 and words[1].upper() == "LOGIN":
            for prompt in ([] if sent else [b"334 VXNlcm5hbWU6\r\n"]) + [b"334 UGFzc3dvcmQ6\r\n"]:
                if not self.answer("AUTH", prompt):
                    return False
                sent.append(self.line().decode("utf-8", "replace").strip())
        elif not sent:
            if not self.answer("AUTH", b"334 \r\n"):
                return False
            sent.append(self.line().decode("utf-8", "replace").strip())
        if not self.script.echo_credentials:
            return self.answer("AUTH", b"235 2.7.0 accepted\r\n")
        decoded = [base64.b64decode(blob + "==").decode("utf-8", "replace") for blob in sent]
        echo = f"535 5.7.8 bad credentials {' '.join(sent)} decoded {' '.join(decoded)}"
        return self.answer("AUTH", echo.replace("\r", " ").replace("\n", " ").encode() + b"\r\n")

    def _data(self) -> bool:
        lines = []
        for _ in range(MAX_MESSAGE_LINES):
            line = self.line()
            if not line:
                return False
            if line == b".\r\n":
                break
            lines.append(line[1:] if line.startswith(b"..") else line)
        with self.script.changed:
            self.script.received.append((self.mail_from, list(self.rcpts), b"".join(lines)))
            self.script.changed.notify_all()
        return self.answer("DOT", b"250 2.0.0 accepted\r\n")


def _path(line: bytes) -> str:
    text = line.decode("utf-8", "replace")
    return text[text.find("<") + 1 : text.find(">")] if "<" in text else ""


@contextmanager
def hostile_server(script: Hostile | None = None) -> Iterator[tuple[int, Hostile]]:
    """Serve `script` on a free port of 127.0.0.1 until the block ends."""
    script = script or Hostile()
    stop = threading.Event()
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(IDLE_LIMIT)
    clients: list[socket.socket] = []
    threads: list[threading.Thread] = []

    def session(conn: socket.socket) -> None:
        try:
            _Session(script, conn, stop).serve()
        except OSError:
            pass  # the client went away: nothing more to serve
        finally:
            conn.close()

    def accept() -> None:
        for _ in range(MAX_CONNECTIONS):
            try:
                conn, _ = listener.accept()
            except OSError:
                return  # closed at the end of the block, or nobody came for IDLE_LIMIT
            conn.settimeout(IDLE_LIMIT)
            with script.lock:
                script.connections += 1
            clients.append(conn)
            thread = threading.Thread(target=session, args=(conn,), daemon=True)
            threads.append(thread)
            thread.start()

    acceptor = threading.Thread(target=accept, daemon=True)
    acceptor.start()
    try:
        yield listener.getsockname()[1], script
    finally:
        stop.set()
        with suppress(OSError):
            listener.shutdown(socket.SHUT_RDWR)  # wakes the accept() waiting in the thread
        listener.close()
        for conn in clients:
            with suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        for thread in [acceptor, *threads]:
            thread.join(timeout=5)


@contextmanager
def unanswered_port() -> Iterator[int]:
    """A port on 127.0.0.1 whose listener never answers a new connection: its accept queue is
    full (filled here, each filler bounded by a short connect timeout), so the kernel drops
    further SYNs and a client's connect waits."""
    listener = socket.create_server(("127.0.0.1", 0), backlog=0)
    port = listener.getsockname()[1]
    fillers: list[socket.socket] = []
    try:
        for _ in range(8):
            filler = socket.socket()
            fillers.append(filler)
            filler.settimeout(0.5)
            try:
                filler.connect(("127.0.0.1", port))
            except TimeoutError:
                break  # this one was not answered: the queue is full
        else:
            raise RuntimeError("the accept queue never filled")
        yield port
    finally:
        for filler in fillers:
            filler.close()
        listener.close()
