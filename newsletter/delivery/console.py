"""Messages printed to a text stream (standard output by default), for a look at the raw bytes."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Self, TextIO

from newsletter.delivery.base import Backend, Handover, Outcome, Result, claim_lost, nothing
from newsletter.errors import ClaimLost

if TYPE_CHECKING:
    from newsletter.config import Config
    from newsletter.mail import Message


class ConsoleBackend(Backend):
    name = "console"

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream  # None: whatever sys.stdout is when a message is sent

    @classmethod
    def from_config(cls, config: Config) -> Self:
        return cls()

    def send(self, message: Message, handing_over: Handover = nothing) -> Result:
        stream = self.stream if self.stream is not None else sys.stdout
        try:
            handing_over()
        except ClaimLost as exc:
            return claim_lost(exc)
        text = message.data.decode("utf-8", "replace")  # ASCII, or UTF-8 headers (RFC 6532)
        stream.write(text.replace("\r\n", "\n"))
        stream.write("\n")
        stream.flush()
        return Result(Outcome.SENT, "printed")
