"""The links in a reader's issue: unsubscribe (link, List-Unsubscribe header, mailto), "more /
less like this" per paper, and the issue on the web.

With `newsletter.web_url` and a secret (`$NEWSLETTER_SECRET`), every link points at the web app
(`newsletter serve`) and carries a signed token (see `newsletter.tokens`): `/u/TOKEN` to
unsubscribe, `/f/TOKEN?paper=ID&vote=more` to rate a paper, `/i/TOKEN` for the issue. Without
`web_url`, an older `unsubscribe_url` still gets `?t=TOKEN` (the token of `legacy_token`), and
without either the link is a mailto to the sender, which every mail client understands.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from email.utils import parseaddr
from functools import cached_property
from typing import TYPE_CHECKING, Literal
from urllib.parse import quote, urlencode

from newsletter.addresses import reader_key
from newsletter.mail import uri_address
from newsletter.tokens import Purpose, Signer

if TYPE_CHECKING:
    from newsletter.config import NewsletterConfig

Vote = Literal["more", "less"]
VOTE_VALUES: Mapping[str, int] = {"more": 1, "less": -1, "undo": 0}


def legacy_token(email: str, secret: str) -> str:
    """The token of `unsubscribe_url?t=...` links: 24 hex characters from address and secret."""
    key = hashlib.sha256(secret.encode()).digest()
    return hashlib.blake2b(reader_key(email).encode(), key=key, digest_size=12).hexdigest()


@dataclass(frozen=True)
class ReaderLinks:
    """Builds every link of one newsletter for any reader and issue date."""

    sender: str  # the newsletter's From: mailbox
    web_url: str | None = None  # the web app's public base URL, no trailing slash
    unsubscribe_url: str | None = None  # an older one-click endpoint (`?t=` is appended)
    signer: Signer | None = None
    bounce_address: str | None = None  # `bounces@domain`: each reader's Return-Path under it

    @classmethod
    def of(
        cls, settings: NewsletterConfig, environ: Mapping[str, str] | None = None
    ) -> ReaderLinks:
        web = settings.web_url.rstrip("/") if settings.web_url else None
        signer = Signer.from_env(environ)
        return cls(settings.sender, web, settings.unsubscribe_url, signer, settings.bounce_address)

    @cached_property
    def _sender_uri(self) -> str:
        """The sender's address as a mailto URI carries it (parsed once, not per reader)."""
        return uri_address(parseaddr(self.sender)[1])

    @property
    def on_web(self) -> bool:
        """Whether links lead to the web app (a base URL and a secret to sign with)."""
        return bool(self.web_url and self.signer)

    def _web(self, path: str, key: str, purpose: Purpose, day: date, subject: str = "") -> str:
        assert self.web_url is not None and self.signer is not None
        return f"{self.web_url}/{path}/{self.signer.token(key, purpose, day, subject)}"

    def unsubscribe(self, email: str, day: date) -> str | None:
        """The https one-click link (RFC 8058), when the web app or an endpoint is set up."""
        if self.on_web:
            return self._web("u", reader_key(email), Purpose.UNSUBSCRIBE, day)
        if self.unsubscribe_url and self.signer:
            separator = "&" if "?" in self.unsubscribe_url else "?"
            return f"{self.unsubscribe_url}{separator}t={legacy_token(email, self.signer.secret)}"
        return None

    def mailto(self, email: str | None = None, day: date | None = None) -> str:
        """`mailto:SENDER?subject=unsubscribe TOKEN` (the token only with a secret)."""
        address = self._sender_uri
        subject = "unsubscribe"
        if email and day and self.signer:
            subject += " " + self.signer.token(reader_key(email), Purpose.UNSUBSCRIBE, day)
        return f"mailto:{address}?subject={quote(subject)}"

    def unsubscribe_link(self, email: str, day: date) -> str:
        """The footer's link: the https endpoint when one is set up, else the mailto."""
        return self.unsubscribe(email, day) or self.mailto(email, day)

    def resubscribe(self, email: str, day: date) -> str | None:
        if not self.on_web:
            return None
        return self._web("r", reader_key(email), Purpose.RESUBSCRIBE, day)

    def feedback(self, email: str, day: date, paper_id: str, vote: Vote) -> str | None:
        """ "More like this" / "less like this" for one paper of the issue of `day`."""
        if not self.on_web:
            return None
        link = self._web("f", reader_key(email), Purpose.FEEDBACK, day, paper_id)
        return f"{link}?{urlencode({'paper': paper_id, 'vote': vote})}"

    def issue(self, email: str, day: date) -> str | None:
        """The reader's issue of `day` on the web, every pick included."""
        if not self.on_web:
            return None
        return self._web("i", reader_key(email), Purpose.ISSUE, day)

    def return_path(self, email: str, day: date) -> str | None:
        """The envelope sender of the reader's issue of `day`: `LOCAL+TOKEN@domain` under
        `bounce_address` (VERP), so that a bounce names its reader and issue without guessing;
        None without a bounce address or a secret (the From address is used)."""
        if not (self.bounce_address and self.signer):
            return None
        local, _, domain = self.bounce_address.rpartition("@")
        return f"{local}+{self.signer.bounce_token(reader_key(email), day)}@{domain}"
