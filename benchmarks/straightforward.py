"""The straightforward design, for comparison: what peer newsletter tools do per subscriber.

On the same selections as the real design:

1. render the whole issue in one piece: Jinja with every card in place, then `mjml2html`
   (the project's own templates and `IssueRenderer.render_direct`, without the byte-budget
   search, which only the real design needs: every paper gets a full card);
2. build the message with `email.message.EmailMessage(policy=email.policy.SMTP)`: the same
   headers, `set_content(text)` and `add_alternative(html)`, transfer encodings left to the
   `email` package, flattened with `as_bytes()`;
3. send it over a new `smtplib.SMTP` connection (connect, EHLO, MAIL, RCPT, DATA, QUIT).

End to end, as one command (what `pipeline.py` times beside `newsletter send`): load the
config, read the day's listing into a fresh state database, select, then the three steps above
for every reader with papers, one after another; prints `sent N`.

    python benchmarks/straightforward.py CONFIG DAY
"""

from __future__ import annotations

import argparse
import email.policy
import smtplib
from dataclasses import dataclass
from datetime import date, datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path
from types import TracebackType

from newsletter import mail
from newsletter.config import Config
from newsletter.links import ReaderLinks
from newsletter.models import Selection
from newsletter.render.issue import Layout, RenderedIssue
from newsletter.render.renderer import IssueRenderer, renderer_for

if not callable(getattr(IssueRenderer, "_fit", None)):
    raise ImportError("IssueRenderer._fit is gone: update OnePieceRenderer to the new API")


class OnePieceRenderer(IssueRenderer):
    """`render_direct` with every paper as a full card: no search for a layout that fits the
    HTML budget (that search renders the issue the fast way first). For an issue within the
    budget the result equals `IssueRenderer.render` byte for byte."""

    def _fit(self, selection: Selection, email: str, name: str | None) -> tuple[Layout, str]:
        return Layout(len(selection.papers), 0, 0), ""

    @classmethod
    def of(cls, config: Config) -> OnePieceRenderer:
        """The renderer of a config (its templates, title, sender, unsubscribe links)."""
        base = renderer_for(config)
        return cls(base.newsletter, base.env)

    def issue(self, selection: Selection) -> RenderedIssue:
        profile = selection.profile
        return self.render_direct(selection, profile.email, profile.name)


@dataclass(frozen=True)
class Letterhead:
    """What every message of the day shares: sender, list headers, date, unsubscribe links."""

    headers: mail.Headers
    links: ReaderLinks
    day: date
    now: datetime

    @classmethod
    def of(cls, config: Config, day: date, now: datetime) -> Letterhead:
        settings = config.newsletter
        headers = mail.Headers.of(settings.title, settings.sender)
        return cls(headers, ReaderLinks.of(settings), day, now)

    def list_unsubscribe(self, email: str) -> tuple[str, bool]:
        """The List-Unsubscribe value, and whether one-click (List-Unsubscribe-Post) applies."""
        links = [f"<{self.links.mailto(email, self.day)}>"]
        https = self.links.unsubscribe(email, self.day)
        if https:
            links.insert(0, f"<{https}>")
        return ", ".join(links), https is not None


def build_message(
    issue: RenderedIssue, selection: Selection, letterhead: Letterhead
) -> EmailMessage:
    """The reader's message as the `email` package builds it."""
    profile = selection.profile
    message = EmailMessage(policy=email.policy.SMTP)
    message["From"] = letterhead.headers.sender
    message["To"] = Address(display_name=profile.name or "", addr_spec=profile.email)
    message["Subject"] = issue.subject
    message["Date"] = format_datetime(letterhead.now)
    message["Message-ID"] = mail.message_id(
        profile.email, letterhead.day, letterhead.headers.sender
    )
    message["List-Id"] = letterhead.headers.list_id
    value, one_click = letterhead.list_unsubscribe(profile.email)
    message["List-Unsubscribe"] = value
    if one_click:
        message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message.set_content(issue.text)
    message.add_alternative(issue.html, subtype="html")
    return message


def message_bytes(
    issue: RenderedIssue, selection: Selection, letterhead: Letterhead
) -> mail.Message:
    """`build_message` flattened for SMTP, with the envelope the real design uses."""
    message = build_message(issue, selection, letterhead)
    envelope = mail.Envelope(
        sender=letterhead.headers.address,
        recipient=selection.profile.email,
        message_id=str(message["Message-ID"]),
    )
    return mail.Message(envelope, message.as_bytes())


class ConnectionPerMessage:
    """Sends each message over a connection of its own, as `smtplib` makes simplest."""

    def __init__(self, host: str, port: int, timeout: float = 60.0) -> None:
        self.host, self.port, self.timeout = host, port, timeout
        self.sent = 0

    def send(self, message: mail.Message) -> None:
        """Connect, send, quit; an SMTP error propagates."""
        envelope = message.envelope
        with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as connection:
            connection.sendmail(envelope.sender, [envelope.recipient], message.data)
        self.sent += 1

    def __enter__(self) -> ConnectionPerMessage:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        """Nothing stays open between messages."""


def send_day(config: Config, day: date, state: Path) -> int:
    """The whole day the straightforward way, into a fresh `state`; the messages sent."""
    from newsletter.fetching import fetch_day
    from newsletter.select import select
    from newsletter.sources.http import Fetcher, make_client
    from newsletter.store import Store

    for suffix in ("", "-wal", "-shm"):
        state.with_name(state.name + suffix).unlink(missing_ok=True)
    with Store(state) as store, make_client(None) as client:
        fetch_day(config, day, store, Fetcher(client, store))
        papers = store.papers_for_day(day)
    selections = select(papers, [reader.profile for reader in config.readers], day)
    renderer = OnePieceRenderer.of(config)
    letterhead = Letterhead.of(config, day, datetime.now().astimezone())
    smtp = config.newsletter.smtp
    assert smtp is not None, "the benchmark config has an smtp block"
    sender = ConnectionPerMessage(smtp.host, smtp.effective_port)
    for selection in selections:
        if selection.should_send:
            sender.send(message_bytes(renderer.issue(selection), selection, letterhead))
    return sender.sent


def main() -> None:
    from newsletter.config import load_config

    parser = argparse.ArgumentParser(description="the straightforward design, end to end")
    parser.add_argument("config", type=Path)
    parser.add_argument("day", type=date.fromisoformat)
    args = parser.parse_args()
    config = load_config(args.config)
    sent = send_day(config, args.day, args.config.with_name("straightforward.db"))
    print(f"{args.day}: sent {sent}")


if __name__ == "__main__":
    main()
