"""Messages printed to standard output, for a look at the raw bytes."""

from __future__ import annotations

import sys

from newsletter.delivery.base import Backend, Handover, Outcome, Result, nothing
from newsletter.mail import Message


class ConsoleBackend(Backend):
    name = "console"

    def send(self, message: Message, handing_over: Handover = nothing) -> Result:
        handing_over()
        sys.stdout.write(message.data.decode("ascii").replace("\r\n", "\n"))
        sys.stdout.write("\n")
        sys.stdout.flush()
        return Result(Outcome.SENT, "printed")
