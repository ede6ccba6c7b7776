"""Messages kept in a list: for tests and for trying a config."""

from __future__ import annotations

from typing import TYPE_CHECKING, Self

from newsletter.delivery.base import Backend, Handover, Outcome, Result, claim_lost, nothing
from newsletter.errors import ClaimLost

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
        try:
            handing_over()
        except ClaimLost as exc:
            return claim_lost(exc)
        self.sent.append(message)
        return Result(Outcome.SENT, "kept in memory")
