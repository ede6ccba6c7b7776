"""From a reader's selection to the exact message `send` hands over, in one place, so that the
preview's .eml and the sent message are built by the same code."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from newsletter import mail
from newsletter.config import Config
from newsletter.links import ReaderLinks
from newsletter.models import Reader, Selection
from newsletter.render.issue import RenderedIssue
from newsletter.render.renderer import IssueRenderer, renderer_for


@dataclass
class Composer:
    """The per-day pieces (templates with the day's cards, headers, DKIM key) built once."""

    config: Config
    renderer: IssueRenderer
    headers: mail.Headers
    dkim: mail.DkimKey | None
    links: ReaderLinks

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
        renderer = renderer_for(config)
        headers = mail.Headers.of(settings.title, settings.sender)
        return cls(
            config, renderer, headers, dkim, renderer.newsletter.links or ReaderLinks.of(settings)
        )

    def render(self, reader: Reader, selection: Selection) -> RenderedIssue:
        return self.renderer.render(selection, reader.email, reader.name)

    def message(
        self, reader: Reader, selection: Selection, issue: RenderedIssue, now: datetime
    ) -> mail.Message:
        day = selection.day
        return mail.build(
            issue,
            to_name=reader.name,
            to_email=reader.email,
            day=selection.day,
            headers=self.headers,
            unsubscribe_mailto=self.links.mailto(reader.email, day),
            unsubscribe_https=self.links.unsubscribe(reader.email, day),
            return_path=self.links.return_path(reader.email, day),
            now=now,
            dkim=self.dkim,
        )
