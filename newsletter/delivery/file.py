"""Messages as .eml files in a Maildir (tmp/, new/, cur/): written in tmp/, renamed into new/,
so a reader of the folder never sees half a message. The default without an smtp block."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Self

from newsletter.delivery.base import Backend, Handover, Outcome, Result, claim_lost, nothing
from newsletter.errors import ClaimLost, DeliveryError

if TYPE_CHECKING:
    from newsletter.config import Config
    from newsletter.mail import Message


class MaildirBackend(Backend):
    name = "file"

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    @property
    def target(self) -> str:
        return self.folder.resolve().as_uri()

    @classmethod
    def from_config(cls, config: Config) -> Self:
        return cls(config.base_dir / "outbox")

    def open(self) -> None:
        try:
            for sub in ("tmp", "new", "cur"):
                (self.folder / sub).mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise DeliveryError(f"outbox {self.folder}: {exc.strerror}") from exc

    def send(self, message: Message, handing_over: Handover = nothing) -> Result:
        stem = re.sub(r"[^A-Za-z0-9.@-]+", "_", message.envelope.message_id.strip("<>"))
        name = f"{stem}.eml"
        temporary = self.folder / "tmp" / name
        try:
            with temporary.open("wb") as stream:
                stream.write(message.data)
                stream.flush()
                os.fsync(stream.fileno())
            handing_over()
            temporary.replace(self.folder / "new" / name)
        except ClaimLost as exc:
            temporary.unlink(missing_ok=True)
            return claim_lost(exc)
        except OSError as exc:
            return Result(Outcome.DEFERRED, f"cannot write {temporary}: {exc.strerror}")
        return Result(Outcome.SENT, f"written to {self.folder / 'new' / name}")
