"""A real SMTP server on 127.0.0.1 (aiosmtpd) whose answers a test can script.

Besides scripted replies it can misbehave the way real servers do: drop the connection at a
given recipient or right after a message's data (before its reply), answer slowly, or call the
test back at a given point so the test can kill the client there.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from aiosmtpd.controller import Controller


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
    logins: list[str] = field(default_factory=list)
    rcpts: int = 0
    datas: int = 0
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


def free_port() -> int:
    with socket.socket() as probe:  # aiosmtpd cannot start on port 0: find a free port first
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def smtp_server(
    script: Script | None = None, *, tls: ssl.SSLContext | None = None
) -> Iterator[tuple[int, Script]]:
    """Serve `script` on a free port; with `tls`, offer STARTTLS with that context."""
    script = script or Script()
    port = free_port()
    options: dict[str, Any] = {"auth_require_tls": tls is not None}
    if tls is not None:
        options["tls_context"] = tls
    controller = Controller(
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
