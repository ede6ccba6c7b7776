"""What each route does: find the reader from the link's token, read or change the state, and
render the page. Plain functions of a `Visit`, run in a worker thread, each with its own
connection to the state database (SQLite connections belong to the thread that opened them).

No GET changes anything: every change is the POST of a page's button (or a mail provider's
RFC 8058 one-click POST). Every link a page shows is built by `ReaderLinks`, as the email's are.
A link that leads nowhere answers 404, whatever the reason, so tokens cannot be probed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from email.utils import parseaddr
from typing import Literal

import jinja2
from markupsafe import Markup

from newsletter.config import Config
from newsletter.links import VOTE_VALUES, ReaderLinks
from newsletter.render.renderer import IssueRenderer
from newsletter.render.text import long_date, one_line
from newsletter.render.views import Newsletter, PaperView
from newsletter.status import ReaderStatus
from newsletter.store import Store
from newsletter.tokens import Purpose
from newsletter.web.directory import Refused, Reloading, Visitor
from newsletter.web.forms import is_one_click
from newsletter.web.issue import issue_of
from newsletter.web.pages import Page, Pages
from newsletter.web.settings import WebSettings

Vote = Literal["more", "less"]


@dataclass(frozen=True)
class Visit:
    """A request as the views see it: the path's token, the query, the POSTed fields."""

    token: str = ""
    query: Mapping[str, str] = field(default_factory=dict)
    fields: Mapping[str, str] = field(default_factory=dict)
    post: bool = False


class Views:
    """The routes' work, over one config, one directory of readers and the page templates."""

    def __init__(
        self, settings: WebSettings, directory: Reloading, pages: Pages, env: jinja2.Environment
    ) -> None:
        self.links: ReaderLinks = settings.links
        self.directory = directory
        self.pages = pages
        self.env = env

    @property
    def config(self) -> Config:
        return self.directory.config

    def _store(self) -> Store:
        return Store(self.config.state, pooled=True)

    def _refused(self, refused: Refused) -> Page:
        return self.pages.error(404, note=refused.reason)

    # -- unsubscribe: /u/TOKEN and the older /unsubscribe?t=HEX

    def unsubscribe(self, visit: Visit) -> Page:
        found = self.directory.find(visit.token, Purpose.UNSUBSCRIBE)
        return self._unsubscribe(found, visit, "issue of")

    def legacy(self, visit: Visit) -> Page:
        found = self.directory.find_legacy(visit.query.get("t", ""))
        return self._unsubscribe(found, visit, "older unsubscribe_url link,")

    def _unsubscribe(self, found: Visitor | Refused, visit: Visit, origin: str) -> Page:
        if isinstance(found, Refused):
            return self._refused(found)
        email, day = found.reader.email, found.day
        again = self.links.resubscribe(email, day)
        if not visit.post:
            with self._store() as store:
                suppression = store.suppression(found.reader.key)
            if suppression is not None:
                return self.pages.render(
                    "unsubscribe", state="already", why=suppression.status.value, resubscribe=again
                )
            action = self.links.unsubscribe(email, day)
            return self.pages.render("unsubscribe", state="confirm", action=action)
        if not is_one_click(visit.fields):
            return self.pages.error(400, note="unsubscribe POST without List-Unsubscribe")
        how = "unsubscribe page" if visit.fields.get("via") == "page" else "one-click link"
        reason = f"{how} ({origin} {day.isoformat()})"  # no address: the key says whose
        with self._store() as store:
            changed = store.suppress(found.reader.key, ReaderStatus.UNSUBSCRIBED, reason, "web")
        note = "unsubscribed" if changed else "unsubscribed already"
        return self.pages.render("unsubscribe", state="done", resubscribe=again, note=note)

    # -- resubscribe: /r/TOKEN

    def resubscribe(self, visit: Visit) -> Page:
        found = self.directory.find(visit.token, Purpose.RESUBSCRIBE)
        if isinstance(found, Refused):
            return self._refused(found)
        email, day = found.reader.email, found.day
        with self._store() as store:
            if visit.post:
                changed = store.resubscribe(found.reader.key)
                state, note = "done", "resubscribed" if changed else "subscribed already"
            else:
                suppressed = store.suppression(found.reader.key) is not None
                state, note = "confirm" if suppressed else "active", ""
        return self.pages.render(
            "resubscribe",
            note=note,
            state=state,
            action=self.links.resubscribe(email, day),
            unsubscribe=self.links.unsubscribe_link(email, day),
        )

    # -- feedback: /f/TOKEN?paper=ID&vote=more|less

    def feedback(self, visit: Visit) -> Page:
        paper_id = visit.fields.get("paper") or visit.query.get("paper", "")
        if not paper_id:
            return self.pages.error(404, note="feedback link without a paper")
        found = self.directory.find(visit.token, Purpose.FEEDBACK, subject=paper_id)
        if isinstance(found, Refused):
            return self._refused(found)
        asked: Vote = "less" if visit.query.get("vote") == "less" else "more"
        vote = visit.fields.get("vote", "")
        if visit.post and vote not in VOTE_VALUES:
            return self.pages.error(400, note="feedback POST without a vote")
        key = found.reader.key
        with self._store() as store:
            paper = store.paper(paper_id)
            if paper is None:
                return self.pages.error(404, note="feedback on a paper not stored")
            if visit.post:
                store.rate(key, paper_id, VOTE_VALUES[vote], day=found.day)
            current = store.rating(key, paper_id)
        return self.pages.render(
            "feedback",
            note=f"feedback: {vote}" if visit.post else "",
            paper=PaperView.of(paper),
            choices=[asked, "less" if asked == "more" else "more"],
            current={1: "more", -1: "less"}.get(current),
            recorded=vote if visit.post else None,
            action=self.links.feedback(found.reader.email, found.day, paper_id, asked),
        )

    # -- the issue on the web: /i/TOKEN

    def issue(self, visit: Visit) -> Page:
        found = self.directory.find(visit.token, Purpose.ISSUE)
        if isinstance(found, Refused):
            return self._refused(found)
        reader, day = found.reader, found.day
        with self._store() as store:
            issue = issue_of(store, self.config, reader, day)
            suppressed = store.suppression(reader.key) is not None
        renderer = self._renderer()
        newsletter = renderer.newsletter
        cards = [
            newsletter.slot(Markup(renderer.card(picked.paper).html), picked, reader.email, day)
            for picked in issue.papers
        ]
        return self.pages.render(
            "issue",
            note="issue selected now" if issue.live else "",
            day=day,
            day_long=long_date(day),
            count=len(cards),
            cards=cards,
            live=issue.live,
            suppressed=suppressed,
            resubscribe=self.links.resubscribe(reader.email, day),
            unsubscribe=self.links.unsubscribe_link(reader.email, day),
        )

    def _renderer(self) -> IssueRenderer:
        """A renderer for one page (its card cache lives as long as the request)."""
        settings = self.config.newsletter
        sender = parseaddr(settings.sender)[1] or None
        return IssueRenderer(Newsletter(one_line(settings.title), sender, self.links), self.env)
