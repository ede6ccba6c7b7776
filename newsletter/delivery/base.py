"""The contract every delivery backend keeps."""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING

from newsletter.mail import Message

if TYPE_CHECKING:
    from newsletter.config import Config

BACKENDS = ("smtp", "file", "console", "memory")


class Outcome(enum.Enum):
    SENT = "sent"  # the server answered 250 to the data (or the file is written)
    DEFERRED = "deferred"  # temporary: try again on the next run
    FAILED = "failed"  # permanent: the server refused this recipient or message
    IN_DOUBT = "in_doubt"  # the connection broke after the data, before the reply


Handover = Callable[[], None]


def nothing() -> None:
    """The default `handing_over`: nothing to record."""


@dataclass(frozen=True)
class Result:
    outcome: Outcome
    detail: str = ""  # the server's reply, or what went wrong


class Backend:
    """Open once, send many, close. Use as a context manager."""

    name = "base"

    def open(self) -> None:
        """Connect; may raise DeliveryError when the backend cannot work at all."""

    def close(self) -> None:
        """Disconnect; never raises."""

    def send(self, message: Message, handing_over: Handover = nothing) -> Result:
        """Deliver one message. `handing_over` is called just before the data leaves (the
        caller records that a crash from then on leaves the message in doubt)."""
        raise NotImplementedError

    def __enter__(self) -> Backend:
        self.open()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


def backend_for(config: Config, name: str | None = None) -> Backend:
    """The backend `name`, or the config's: smtp when an smtp block exists, else file."""
    chosen = name or ("smtp" if config.newsletter.smtp else "file")
    if chosen == "smtp":
        from newsletter.delivery.smtp import SmtpBackend
        from newsletter.errors import DeliveryError

        if config.newsletter.smtp is None:
            raise DeliveryError(f"{config.path}: the smtp backend needs a newsletter.smtp block")
        return SmtpBackend(config.newsletter.smtp)
    if chosen == "file":
        from newsletter.delivery.file import MaildirBackend

        return MaildirBackend(config.base_dir / "outbox")
    if chosen == "console":
        from newsletter.delivery.console import ConsoleBackend

        return ConsoleBackend()
    if chosen == "memory":
        from newsletter.delivery.memory import MemoryBackend

        return MemoryBackend()
    raise ValueError(f"unknown backend {chosen!r}; one of {', '.join(BACKENDS)}")
