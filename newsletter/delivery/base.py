"""The contract every delivery backend keeps.

A backend is opened once, sends many messages and is closed; used as a context manager it is
closed however the block ends, also when `open` itself fails. A backend that can send from
several threads at once (SMTP: several connections) says how many (`divide`, `window`) and
makes the copies (`copy`), one per thread; the others send from one. `send` answers with a `Result`
whose outcome is one of the delivery ledger's final or retryable states (`DeliveryStatus`):
SENT, DEFERRED, FAILED or IN_DOUBT, never SENDING.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Self

from newsletter.status import DeliveryStatus

if TYPE_CHECKING:
    from newsletter.config import Config
    from newsletter.delivery.relay import Share
    from newsletter.errors import ClaimLost
    from newsletter.mail import Message

Outcome = DeliveryStatus  # the name callers of the delivery stage know the answers by

Handover = Callable[[], None]


def nothing() -> None:
    """The default `handing_over`: nothing to record."""


def claim_lost(exc: ClaimLost) -> Result:
    """What a backend answers when the issue was taken over before its data left."""
    return Result(Outcome.DEFERRED, f"not sent: {exc}")


@dataclass(frozen=True)
class Result:
    outcome: DeliveryStatus
    detail: str = ""  # the server's reply, or what went wrong
    bounce: str | None = None  # a permanent refusal of the recipient: "5.1.1", or "550"

    def __post_init__(self) -> None:
        if self.outcome is DeliveryStatus.SENDING:
            raise ValueError("a backend answers sent, deferred, failed or in_doubt, not sending")


class Backend:
    """Open once, send many, close. Use as a context manager."""

    name = "base"

    @property
    def target(self) -> str:
        """Where messages go, as the delivery ledger records it (`smtp://host:port`, a folder's
        `file://` URL): an issue sent to one target is not taken as sent to another."""
        return self.name

    @classmethod
    def from_config(cls, config: Config) -> Self:
        """The backend as the config sets it up; DeliveryError when the config cannot."""
        raise NotImplementedError

    def open(self) -> None:
        """Connect; may raise DeliveryError when the backend cannot work at all."""

    def close(self) -> None:
        """Disconnect; never raises, also when never opened or already closed."""

    def divide(self, share: Share) -> int:
        """Take this process's share of the target's limits (`share`: when several processes
        send at once); how many copies of this backend (`copy`) may send at once here."""
        return 1

    def copy(self) -> Self:
        """Another backend to the same target, sharing this one's limits, for another thread;
        not yet connected (`ready` or the first `send` connects)."""
        raise NotImplementedError(f"the {self.name} backend sends from one thread")

    def window(self) -> int:
        """How many copies may send right now: fewer than `divide` said while the target asks
        for less."""
        return 1

    def ready(self) -> None:
        """Connect unless connected; DeliveryError when that fails."""

    def send(self, message: Message, handing_over: Handover = nothing) -> Result:
        """Deliver one message. `handing_over` is called just before the data leaves (the
        caller records that a crash from then on leaves the message in doubt); when it raises
        `ClaimLost`, nothing leaves and the result is `deferred` (`claim_lost`)."""
        raise NotImplementedError

    def __enter__(self) -> Self:
        try:
            self.open()
        except BaseException:
            self.close()  # a half-open connection is not left behind
            raise
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
