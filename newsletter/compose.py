"""From a reader's selection to the exact message `send` hands over, in one place, so that the
preview's .eml and the sent message are built by the same code."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from newsletter import mail, unsubscribe
from newsletter.config import Config, Subscriber
from newsletter.models import Selection
from newsletter.render import IssueRenderer, RenderedIssue, renderer_for


@dataclass
class Composer:
    """The per-day pieces (templates with the day's cards, headers, DKIM key) built once."""

    config: Config
    renderer: IssueRenderer
    headers: mail.Headers
    dkim: mail.DkimKey | None
    people: dict[str, Subscriber]

    @classmethod
    def of(cls, config: Config) -> Composer:
        settings = config.newsletter
        dkim = None
        if settings.dkim is not None:
            dkim = mail.DkimKey.load(
                settings.dkim.selector,
                settings.dkim.domain,
                config.base_dir / settings.dkim.private_key_path,
            )
        return cls(
            config,
            renderer_for(config),
            mail.Headers.of(settings.title, settings.sender),
            dkim,
            {s.email: s for s in config.subscribers},
        )

    def issue(self, selection: Selection) -> RenderedIssue:
        subscriber = self.people[selection.profile.email]
        return self.renderer.render(selection, subscriber.email, subscriber.name)

    def message(
        self, selection: Selection, issue: RenderedIssue, day: date, now: datetime
    ) -> mail.Message:
        subscriber = self.people[selection.profile.email]
        settings = self.config.newsletter
        return mail.build(
            issue,
            to_name=subscriber.name,
            to_email=subscriber.email,
            day=day,
            headers=self.headers,
            unsubscribe_mailto=unsubscribe.mailto(settings.sender, subscriber.email),
            unsubscribe_https=unsubscribe.https(subscriber.email, settings.unsubscribe_url),
            now=now,
            dkim=self.dkim,
        )
