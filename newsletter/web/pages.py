"""The web app's HTML pages, rendered from `templates/web/*.html.j2`.

The templates live beside the issue's and are found the same way: a reader's `templates/`
folder first (a `web/issue.html.j2` there replaces the built-in one), the built-in ones last.
Autoescape is on (they are not `.txt.j2`); feed text is never marked safe, and the issue page
shows each paper through the email's own `card.html.j2`. Every template is loaded when the app
is created, so a missing or broken one stops `newsletter serve` at once with its file and line.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import jinja2

from newsletter.errors import RenderError

TEMPLATES = ("base", "macros", "unsubscribe", "resubscribe", "feedback", "issue", "error")
VOTE_LABELS = {"more": "More like this", "less": "Less like this", "undo": "Undo"}

# status: (heading, what to do)
ERRORS: Mapping[int, tuple[str, str]] = {
    400: ("This request was not understood", "Use the buttons of the page the link opened."),
    404: (
        "This link does not work",
        "It may be mistyped, cut short by your mail program, or too old. The links in your "
        "latest issue work.",
    ),
    405: ("This page cannot do that", "Open the link from your issue and use its button."),
    413: ("That was too much", "This form takes a button press and a field or two, no more."),
    429: ("Too many requests", "Please wait a minute, then try again."),
    500: ("Something went wrong on our side", "Nothing was changed. Please try again later."),
}


@dataclass(frozen=True)
class Page:
    """A response of the app: its status, HTML, extra headers, and a note for the log line."""

    status: int
    html: str
    headers: Mapping[str, str] = field(default_factory=dict)
    note: str = ""


class Pages:
    """The loaded page templates and what every page shows: the newsletter's title, a mailto
    to write to its sender (`contact`) and one to ask it to unsubscribe (`mailto`)."""

    def __init__(self, env: jinja2.Environment, title: str, contact: str, mailto: str) -> None:
        self.env = env
        self.title = title
        self.contact = contact
        self.mailto = mailto
        self._templates = {name: _load(env, f"web/{name}.html.j2") for name in TEMPLATES}

    def render(
        self,
        name: str,
        *,
        status: int = 200,
        note: str = "",
        headers: Mapping[str, str] | None = None,
        **context: Any,
    ) -> Page:
        template = self._templates[name]
        try:
            html = template.render(
                title=self.title,
                contact=self.contact,
                mailto=self.mailto,
                labels=VOTE_LABELS,
                **context,
            )
        except jinja2.TemplateError as exc:
            raise RenderError(f"{template.filename or template.name}: {exc}") from exc
        return Page(status, html, headers or {}, note)

    def error(
        self, status: int, *, note: str = "", headers: Mapping[str, str] | None = None
    ) -> Page:
        """The friendly page of an error status (404 for every link that leads nowhere)."""
        heading, advice = ERRORS.get(status, ERRORS[500])
        return self.render(
            "error",
            status=status,
            note=note,
            headers=headers,
            status_code=status,
            heading=heading,
            advice=advice,
            link_help=status in (404, 405),
        )


def _load(env: jinja2.Environment, name: str) -> jinja2.Template:
    try:
        return env.get_template(name)
    except jinja2.TemplateNotFound as exc:
        searched = ", ".join(env.globals.get("search_path", [])) or "nowhere"  # type: ignore[arg-type]
        raise RenderError(f"template {name} not found; searched: {searched}") from exc
    except jinja2.TemplateSyntaxError as error:
        raise RenderError(f"{error.filename or name}:{error.lineno}: {error.message}") from error
