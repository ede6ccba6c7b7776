"""Jinja and MJML: every reader's issue of a day, its cards rendered once and shared.

Jinja renders `issue.mjml.j2` into MJML, mjml-python compiles it to HTML; `issue.txt.j2` is the
plain-text part. A user's `templates/` folder (next to the config, or `newsletter.templates:`)
is searched before the built-in templates, so any template can be replaced by name.

Per day, each paper's card (`card.html.j2`, `card.txt.j2`, `compact.html.j2`) is rendered once
(the text once for each indent the card numbers need) and shared by every reader who gets it.
Per reader, the issue is rendered with a placeholder element where each card goes, compiled,
and the cards are joined in. MJML passes the HTML inside `mj-text` through, only re-serialised,
so each card is re-serialised the same way once (see `_Normaliser`) and the joined issue is
byte for byte what rendering the whole issue in one piece gives (`IssueRenderer.render_direct`,
which the tests and the benchmarks compare against; `mjml_source` gives that piece's MJML).

Feed text is untrusted: autoescape is on for every template but the `.txt.j2` ones, nothing from
a feed is marked safe, and only http(s) links reach a template.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from email.utils import parseaddr
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jinja2
from markupsafe import Markup

from newsletter.errors import RenderError
from newsletter.paths import builtin_templates
from newsletter.render.issue import Layout, RenderedIssue, sent_size
from newsletter.render.text import (
    intro,
    long_date,
    number_width,
    numbered,
    one_line,
    preheader,
    subject,
    tidy_text,
    wrap,
)
from newsletter.render.views import (
    ListItem,
    PaperView,
    interests_summary,
    shown_reasons,
)
from newsletter.render.views import (
    Newsletter as Newsletter,  # re-exported: the renderer is built from it
)

if TYPE_CHECKING:
    from newsletter.config import Config
    from newsletter.models import Paper, Selection

HTML_BUDGET = 95_000  # bytes of decoded HTML; Gmail clips a message at ~102 KB

# ---------------------------------------------------------------------------- environment


def environment(user_templates: Path | None = None) -> jinja2.Environment:
    """Jinja with the reader's templates first and the built-in ones last; autoescape is on for
    everything but the plain-text templates (`select_autoescape` would miss `.mjml`)."""
    search = [str(path) for path in (user_templates, builtin_templates()) if path and path.is_dir()]
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(search),
        autoescape=lambda name: not (name or "").endswith(".txt.j2"),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=False,
        auto_reload=False,
    )
    env.filters["wrap"] = wrap
    env.finalize = _printable
    env.globals["search_path"] = search
    return env


_NOT_XML = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff\ufffe\uffff]")


def _printable(value: Any) -> Any:
    """Every value a template prints: characters XML (and so MJML) cannot carry are dropped."""
    if isinstance(value, str) and not isinstance(value, Markup):
        return _NOT_XML.sub("", value)
    return value


@dataclass(frozen=True)
class _Template:
    """A loaded template whose render errors (a user template naming a value that is not
    there, a filter failing) become a `RenderError` naming the template, not a traceback."""

    template: jinja2.Template
    name: str

    def render(self, **context: Any) -> str:
        try:
            return self.template.render(**context)
        except jinja2.TemplateError as exc:
            line = _template_line(exc)
            where = f"{self.template.filename or self.name}{line}"
            raise RenderError(f"{where}: {exc}") from exc


def _template_line(exc: BaseException) -> str:
    """`:LINE` of the template frame an error came from, when the traceback shows one."""
    tb = exc.__traceback__
    found = ""
    while tb is not None:
        if tb.tb_frame.f_code.co_filename.endswith(".j2"):
            found = f":{tb.tb_lineno}"
        tb = tb.tb_next
    return found


def _template(env: jinja2.Environment, name: str) -> _Template:
    try:
        return _Template(env.get_template(name), name)
    except jinja2.TemplateNotFound as exc:
        searched = ", ".join(env.globals.get("search_path", [])) or "nowhere"  # type: ignore[arg-type]
        raise RenderError(f"template {name} not found; searched: {searched}") from exc
    except jinja2.TemplateSyntaxError as error:
        raise RenderError(f"{error.filename or name}:{error.lineno}: {error.message}") from error


def compile_mjml(source: str) -> str:
    """MJML to HTML, no web fonts; an MJML error names what failed."""
    from mjml import mjml2html

    try:
        html: str = mjml2html(source, fonts={})
    except Exception as error:  # mjml-python raises a bare exception type from Rust
        raise RenderError(f"MJML did not compile: {one_line(str(error))[:300]}") from error
    return html


class _Normaliser:
    """Re-serialise an HTML fragment exactly as MJML does inside `mj-text`, with a cache."""

    def __init__(self) -> None:
        self._marker = secrets.token_hex(8)
        self._cache: dict[str, str] = {}

    def __call__(self, fragment: str) -> str:
        if fragment not in self._cache:
            start, end = f'<i id="a{self._marker}"></i>', f'<i id="z{self._marker}"></i>'
            source = (
                "<mjml><mj-body><mj-section><mj-column><mj-text>"
                f"{start}{fragment}{end}</mj-text></mj-column></mj-section></mj-body></mjml>"
            )
            html = compile_mjml(source)
            _, found, rest = html.partition(start)
            body, found_end, _rest = rest.partition(end)
            if not (found and found_end):
                raise RenderError("MJML changed a card beyond recognition")
            self._cache[fragment] = body
        return self._cache[fragment]


# ---------------------------------------------------------------------------- the renderer


@dataclass
class Card:
    """A paper rendered once a day: its card HTML, its compact-list line and its text block,
    the latter once for each indent it is shown with (`texts`, by indent width)."""

    html: str
    compact: str
    texts: dict[int, str] = field(default_factory=dict)


@dataclass
class IssueRenderer:
    """Renders every reader's issue of one day; cards are rendered once and shared."""

    newsletter: Newsletter
    env: jinja2.Environment = field(default_factory=environment)
    budget: int = HTML_BUDGET
    _views: dict[str, PaperView] = field(default_factory=dict)
    _cards: dict[str, Card] = field(default_factory=dict)
    _normalise: _Normaliser = field(default_factory=_Normaliser)
    _token: str = field(default_factory=lambda: secrets.token_hex(6))

    def __post_init__(self) -> None:
        self._issue = _template(self.env, "issue.mjml.j2")
        self._text = _template(self.env, "issue.txt.j2")
        self._card_html = _template(self.env, "card.html.j2")
        self._card_text = _template(self.env, "card.txt.j2")
        self._compact = _template(self.env, "compact.html.j2")

    # -- per paper, once a day

    def view(self, paper: Paper) -> PaperView:
        if paper.id not in self._views:
            self._views[paper.id] = PaperView.of(paper)
        return self._views[paper.id]

    def card(self, paper: Paper) -> Card:
        """The paper's card HTML (as MJML will write it) and compact-list line."""
        if paper.id not in self._cards:
            view = self.view(paper)
            html = self._card_html.render(paper=view).strip()
            compact = self._compact.render(paper=view).strip()
            self._cards[paper.id] = Card(html, compact)
        return self._cards[paper.id]

    def card_text(self, paper: Paper, indent: int) -> str:
        """The paper's text block, every line indented by `indent` columns."""
        texts = self.card(paper).texts
        if indent not in texts:
            rendered = self._card_text.render(paper=self.view(paper), indent=" " * indent)
            texts[indent] = rendered.strip("\n")
        return texts[indent]

    # -- per reader

    def render(self, selection: Selection, email: str, name: str | None) -> RenderedIssue:
        """The reader's issue, cards joined into a compiled skeleton."""
        papers = selection.papers
        layout, html = self._fit(selection, email, name)
        text = self._render_text(selection, email, name, layout)
        return RenderedIssue(
            subject=subject(self.newsletter.title, selection.day, papers),
            preheader=preheader(papers),
            html=html,
            text=text,
            layout=layout,
        )

    def render_direct(self, selection: Selection, email: str, name: str | None) -> RenderedIssue:
        """The same issue rendered in one piece, cards in place.

        The reference design: the tests (byte for byte) and the benchmarks (for speed) compare
        `render`, which joins shared cards into a compiled skeleton, against it."""
        layout, _ = self._fit(selection, email, name)
        papers = selection.papers
        return RenderedIssue(
            subject=subject(self.newsletter.title, selection.day, papers),
            preheader=preheader(papers),
            html=compile_mjml(self._source(selection, email, name, layout)),
            text=self._render_text(selection, email, name, layout),
            layout=layout,
        )

    def mjml_source(self, selection: Selection, email: str, name: str | None) -> str:
        """The MJML the reader's issue is compiled from, cards in place (for other compilers:
        the tests compare what official MJML makes of it)."""
        layout, _ = self._fit(selection, email, name)
        return self._source(selection, email, name, layout)

    def _source(self, selection: Selection, email: str, name: str | None, layout: Layout) -> str:
        papers = selection.papers
        full, listed = papers[: layout.full], papers[layout.full : layout.full + layout.compact]
        day = selection.day
        cards = [self.newsletter.slot(Markup(self.card(p.paper).html), p, email, day) for p in full]
        compact = [Markup(self.card(p.paper).compact) for p in listed]
        return self._issue.render(
            **self._context(selection, email, name, layout), cards=cards, compact=compact
        )

    def _fit(self, selection: Selection, email: str, name: str | None) -> tuple[Layout, str]:
        """The most full cards that keep the HTML within the budget, the rest as a compact list;
        if even the list is too long, the most list lines that fit."""
        count = len(selection.papers)

        def attempt(layout: Layout) -> str | None:
            html = self._join(selection, email, name, layout)
            return html if sent_size(html) <= self.budget else None

        html = attempt(Layout(count, 0, 0))
        if html is not None:
            return Layout(count, 0, 0), html
        best = _largest(lambda n: attempt(Layout(n, count - n, 0)), count - 1)
        if best is not None:
            return Layout(best[0], count - best[0], 0), best[1]
        best = _largest(lambda n: attempt(Layout(0, n, count - n)), count - 1)
        if best is not None:
            return Layout(0, best[0], count - best[0]), best[1]
        layout = Layout(0, 0, count)
        return layout, self._join(selection, email, name, layout)

    def _join(self, selection: Selection, email: str, name: str | None, layout: Layout) -> str:
        papers = selection.papers
        slots = [f'<i id="c{self._token}-{n}"></i>' for n in range(layout.full)]
        items = [f'<i id="l{self._token}-{n}"></i>' for n in range(layout.compact)]
        cards = [
            self.newsletter.slot(Markup(s), p, email, selection.day)
            for s, p in zip(slots, papers, strict=False)
        ]
        source = self._issue.render(
            **self._context(selection, email, name, layout),
            cards=cards,
            compact=[Markup(i) for i in items],
        )
        html = compile_mjml(source)
        pieces: dict[str, str] = {}
        for slot, picked in zip(slots, papers, strict=False):
            pieces[slot] = self._normalise(self.card(picked.paper).html)
        for item, picked in zip(items, papers[layout.full :], strict=False):
            pieces[item] = self._normalise(self.card(picked.paper).compact)
        if not pieces:
            return html
        pattern = re.compile("|".join(re.escape(key) for key in pieces))
        return pattern.sub(lambda match: pieces[match.group(0)], html)

    def _context(
        self, selection: Selection, email: str, name: str | None, layout: Layout
    ) -> dict[str, Any]:
        papers = selection.papers
        return {
            "title": one_line(self.newsletter.title),
            "subject": subject(self.newsletter.title, selection.day, papers),
            "preheader": preheader(papers),
            "day": selection.day,
            "day_long": long_date(selection.day),
            "name": one_line(name) if name else None,
            "email": email,
            "count": len(papers),
            "intro": intro(len(papers), layout),
            "indent": " " * number_width(layout.full),
            "hidden": layout.hidden,
            "interests": interests_summary(selection.profile),
            "sender": self.newsletter.sender,
            "unsubscribe": self.newsletter.unsubscribe(email, selection.day),
            "issue_url": self.newsletter.issue_url(email, selection.day),
        }

    def _render_text(
        self, selection: Selection, email: str, name: str | None, layout: Layout
    ) -> str:
        papers = selection.papers
        width = number_width(layout.full)
        cards = [
            self.newsletter.slot(
                Markup(""),
                p,
                email,
                selection.day,
                numbered(self.card_text(p.paper, width), n, width),
            )
            for n, p in enumerate(papers[: layout.full], start=1)
        ]
        compact = [
            ListItem(self.view(p.paper), shown_reasons(p.reasons))
            for p in papers[layout.full : layout.full + layout.compact]
        ]
        text = self._text.render(
            **self._context(selection, email, name, layout), cards=cards, compact=compact
        )
        return tidy_text(text)


def _largest(fits: Callable[[int], str | None], high: int) -> tuple[int, str] | None:
    """The largest n in [0, high] for which `fits(n)` gives HTML; `fits` is monotone."""
    low, found = 0, None
    while low <= high:
        middle = (low + high) // 2
        html = fits(middle)
        if html is None:
            high = middle - 1
        else:
            found, low = (middle, html), middle + 1
    return found


def renderer_for(config: Config) -> IssueRenderer:
    """The renderer of a config: its templates folder first, its title, sender, links."""
    from newsletter.links import ReaderLinks

    settings = config.newsletter
    folder = config.templates_dir
    if settings.templates is not None and not folder.is_dir():
        raise RenderError(f"{config.path}: newsletter.templates: folder {folder} does not exist")
    return IssueRenderer(
        Newsletter(
            title=settings.title,
            sender=parseaddr(settings.sender)[1] or None,
            links=ReaderLinks.of(settings),
        ),
        environment(folder if folder.is_dir() else None),
    )
