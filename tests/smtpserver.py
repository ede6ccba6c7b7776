"""A real SMTP server on 127.0.0.1 (aiosmtpd) whose answers a test can script."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from aiosmtpd.controller import Controller


@dataclass
class Script:
    """What the server answers: per recipient at RCPT, and to the next DATA commands."""

    rcpt: dict[str, str] = field(default_factory=dict)  # address -> reply, e.g. "550 no"
    data: list[str] = field(default_factory=list)  # replies to the next DATA ends, in order
    received: list[tuple[str, list[str], bytes]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


class _Handler:
    def __init__(self, script: Script) -> None:
        self.script = script

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        reply = self.script.rcpt.get(address)
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.script.lock:
            if self.script.data:
                return self.script.data.pop(0)
            message = (envelope.mail_from, list(envelope.rcpt_tos), envelope.content)
            self.script.received.append(message)
        return "250 Message accepted"


def _accept_any_login(server: Any, session: Any, envelope: Any, mechanism: str, auth: Any) -> Any:
    from aiosmtpd.smtp import AuthResult

    return AuthResult(success=True)


@contextmanager
def smtp_server(script: Script | None = None) -> Iterator[tuple[int, Script]]:
    script = script or Script()
    with socket.socket() as probe:  # aiosmtpd cannot start on port 0: find a free port first
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(
        _Handler(script),
        hostname="127.0.0.1",
        port=port,
        authenticator=_accept_any_login,
        auth_require_tls=False,  # the tests log in over plain text only with security: none
    )
    controller.start()
    try:
        yield port, script
    finally:
        controller.stop()
