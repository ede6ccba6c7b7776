"""Messages kept in a list: for tests and for trying a config."""

from __future__ import annotations

from typing import TYPE_CHECKING, Self

from newsletter.delivery.base import Backend, Handover, Outcome, Result, nothing

if TYPE_CHECKING:
    from newsletter.config import Config
    from newsletter.mail import Message


class MemoryBackend(Backend):
    name = "memory"

    def __init__(self) -> None:
        self.sent: list[Message] = []

    @classmethod
    def from_config(cls, config: Config) -> Self:
        return cls()

    def send(self, message: Message, handing_over: Handover = nothing) -> Result:
        handing_over()
        self.sent.append(message)
        return Result(Outcome.SENT, "kept in memory")
