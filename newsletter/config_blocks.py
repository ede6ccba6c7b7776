"""The service blocks of `newsletter:`: the SMTP server, DKIM, the web app, the inbox that
receives bounces, when a bouncing address stops being mailed, and the optional semantic
ranking. `newsletter.config` loads them with the rest of the file (and re-exports them)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator

from newsletter.embedder import DEFAULT_MODEL, EXTRA, installed_library
from newsletter.fields import (
    Count,
    Domain,
    EnvName,
    Host,
    Line,
    Listen,
    Number,
    OptionalLine,
    PathText,
    Selector,
)

Security = Literal["starttls", "tls", "none"]


class Strict(BaseModel):
    """Unknown keys are errors: a typo must never be silently ignored."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


# --- delivery --------------------------------------------------------------------------------


def _reject_password(value: object) -> None:
    raise ValueError(
        "passwords are not allowed in the config file: put it in an environment variable "
        "and name that variable with `password_env:`"
    )


class SmtpConfig(Strict):
    host: Host
    port: Count | None = Field(default=None, ge=1, le=65535)  # 587, 465 with tls, 25 with none
    security: Security = "starttls"
    username: OptionalLine = None
    password_env: EnvName = "NEWSLETTER_SMTP_PASSWORD"  # name of the environment variable
    timeout: Number = Field(default=120.0, ge=0.1, le=3600)  # seconds; "." may take minutes
    # the relay's limits, for all worker processes together: connections open at once (the
    # most an earlier release opened: one per worker, four workers), messages started per
    # second (0: no limit of our own; the relay's 4xx replies still slow us down), and
    # messages over one connection before it is closed and another opened
    max_connections: Count = Field(default=4, ge=1, le=100)
    max_rate: Number = Field(default=0.0, ge=0, le=10_000)
    max_messages_per_connection: Count = Field(default=100, ge=1, le=1_000_000)

    # never read: present only so that `password:` gets a message pointing to `password_env`
    password: Annotated[None, BeforeValidator(_reject_password)] = Field(default=None, exclude=True)

    @property
    def effective_port(self) -> int:
        return self.port or {"starttls": 587, "tls": 465, "none": 25}[self.security]


class WebConfig(Strict):
    """The readers' web app (`newsletter serve`; `newsletter run` starts it when `listen`)."""

    listen: Listen | None = None  # HOST:PORT, behind a reverse proxy that serves web_url
    rate_limit: Count = Field(default=30, ge=1, le=100_000)  # requests a minute per IP and token


class InboxConfig(Strict):
    """The IMAP mailbox that receives bounces, complaint reports and mailto unsubscribes."""

    host: Host
    port: Count | None = Field(default=None, ge=1, le=65535)  # 993 with tls, 143 otherwise
    security: Security = "tls"
    username: Line
    password_env: EnvName = "NEWSLETTER_IMAP_PASSWORD"  # name of the environment variable
    folder: Line = "INBOX"  # where reports arrive
    done_folder: Line = "Processed"  # where handled messages are moved (created if missing)
    plain_unsubscribe: bool = False  # also "unsubscribe" without a token, if DMARC/DKIM passed
    timeout: Number = Field(default=60.0, ge=0.1, le=3600)  # seconds per server reply

    password: Annotated[None, BeforeValidator(_reject_password)] = Field(default=None, exclude=True)

    @property
    def effective_port(self) -> int:
        return self.port or (993 if self.security == "tls" else 143)


class BouncesConfig(Strict):
    """When a reader whose address refuses mail stops being mailed."""

    after: Count = Field(default=3, ge=1, le=100)  # hard bounces on separate issue dates
    unknown_user_at_once: bool = False  # 5.1.1 "no such user": suppress on the first


class DkimConfig(Strict):
    selector: Selector
    domain: Domain
    private_key_path: Annotated[Path, PathText]


# --- ranking ---------------------------------------------------------------------------------


class RankingConfig(Strict):
    """The optional semantic ranking: closeness in meaning, from a sentence-embedding model,
    blended with the lexical score (`embedder.py`, `semantic.py`)."""

    semantic: bool = False  # needs `pip install "paper-digest-mail[semantic]"`
    model: Line = DEFAULT_MODEL  # a hub name (downloaded once) or a folder (from the config's)
    weight: Number = Field(default=0.3, ge=0, le=1)  # the semantic signal's share of the similarity

    @field_validator("semantic")
    @classmethod
    def _needs_its_extra(cls, semantic: bool) -> bool:
        if semantic and installed_library() is None:
            raise ValueError(f"needs its extra: {EXTRA}")
        return semantic
