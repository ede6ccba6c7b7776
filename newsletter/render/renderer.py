"""Jinja and MJML: every reader's issue of a day, its cards rendered once and shared.

Jinja renders `issue.mjml.j2` into MJML, mjml-python compiles it to HTML; `issue.txt.j2` is the
plain-text part. A user's `templates/` folder (next to the config, or `newsletter.templates:`)
is searched before the built-in templates, so any template can be replaced by name.

Per day, each paper's card (`card.html.j2`, `card.txt.j2`, `compact.html.j2`) is rendered once
(the text once for each indent the card numbers need) and shared by every reader who gets it.
Per reader, the issue is rendered with a placeholder element where each card goes, compiled,
and the cards are joined in. MJML passes the HTML inside `mj-text` through, only re-serialised,
so each card is re-serialised the same way once (see `skeleton.Normaliser`) and the joined issue
is byte for byte what rendering the whole issue in one piece gives (`IssueRenderer.render_direct`,
which the tests and the benchmarks compare against; `mjml_source` gives that piece's MJML). With
the built-in `issue.mjml.j2`, that placeholder issue is compiled once per shape and each reader's
strings are filled in (`skeleton.Skeletons`); the text part is rendered per reader.

Feed text is untrusted: autoescape is on for every template but the `.txt.j2` ones, nothing from
a feed is marked safe, and only http(s) links reach a template.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from email.utils import parseaddr
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jinja2
from markupsafe import Markup

from newsletter.errors import RenderError
from newsletter.paths import builtin_templates
from newsletter.render.cards import Card, Cards
from newsletter.render.issue import Layout, RenderedIssue, sent_size
from newsletter.render.skeleton import Normaliser, Skeletons, compile_mjml, join_tokens, printable
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
    CardSlot,
    ListItem,
    PaperView,
    interests_summary,
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
    env.filters["join"] = join_tokens  # Jinja's, which also serves `Skeletons`
    env.finalize = printable
    env.globals["search_path"] = search
    return env


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


def _source_of(env: jinja2.Environment, template: _Template) -> tuple[str, str]:
    """A loaded template's file name and source, as the environment finds it."""
    assert env.loader is not None
    source, filename, _ = env.loader.get_source(env, template.name)
    return filename or template.name, source


def _template(env: jinja2.Environment, name: str) -> _Template:
    try:
        return _Template(env.get_template(name), name)
    except jinja2.TemplateNotFound as exc:
        searched = ", ".join(env.globals.get("search_path", [])) or "nowhere"  # type: ignore[arg-type]
        raise RenderError(f"template {name} not found; searched: {searched}") from exc
    except jinja2.TemplateSyntaxError as error:
        raise RenderError(f"{error.filename or name}:{error.lineno}: {error.message}") from error


# ---------------------------------------------------------------------------- the renderer


@dataclass
class IssueRenderer:
    """Renders every reader's issue of one day; cards are rendered once and shared."""

    newsletter: Newsletter
    env: jinja2.Environment = field(default_factory=environment)
    budget: int = HTML_BUDGET
    _normalise: Normaliser = field(default_factory=Normaliser)
    _token: str = field(default_factory=lambda: secrets.token_hex(6))

    def __post_init__(self) -> None:
        self._issue = _template(self.env, "issue.mjml.j2")
        self._text = _template(self.env, "issue.txt.j2")
        self._card_html = _template(self.env, "card.html.j2")
        self._card_text = _template(self.env, "card.txt.j2")
        self._compact = _template(self.env, "compact.html.j2")
        templates = (self._card_html, self._compact, self._card_text)
        self.cards = Cards(
            self._card_html.render, self._compact.render, self._card_text.render,
            Cards.fingerprint_of(_source_of(self.env, t) for t in templates),
        )  # fmt: skip
        builtin = str(builtin_templates() / "issue.mjml.j2")
        self._skeletons = (  # only the built-in template is known to print strings as they are
            Skeletons(self._issue.render, compile_mjml, self._token)
            if self._issue.template.filename == builtin
            else None
        )

    # -- per paper, once a day

    def view(self, paper: Paper) -> PaperView:
        return self.cards.card(paper).view

    def card(self, paper: Paper) -> Card:
        """The paper's card HTML (as the template writes it) and compact-list line."""
        return self.cards.card(paper)

    def card_text(self, paper: Paper, indent: int) -> str:
        """The paper's text block, every line indented by `indent` columns."""
        return self.cards.text(paper, indent)

    def render_cards(self, papers: Iterable[Paper]) -> None:
        """Render these papers' cards now, as every issue shows them (HTML as MJML writes it,
        text with the indents of one to 99 cards): the once-a-day work of `render`, done ahead,
        kept for every renderer of the process (worker processes forked after this share them)."""
        papers = list(papers)
        self.cards.render_all(papers, {number_width(1), number_width(99)})
        for paper in papers:
            card = self.cards.card(paper)
            self._normalise(card.html)
            self._normalise(card.compact)

    # -- per reader

    def render(self, selection: Selection, email: str, name: str | None) -> RenderedIssue:
        """The reader's issue, cards joined into a compiled skeleton."""
        reader = self._reader(selection, email, name)
        layout, html = self._fit_reader(reader)
        return self._issue_of(reader, layout, html)

    def render_direct(self, selection: Selection, email: str, name: str | None) -> RenderedIssue:
        """The same issue rendered in one piece, cards in place.

        The reference design: the tests (byte for byte) and the benchmarks (for speed) compare
        `render`, which joins shared cards into a compiled skeleton, against it."""
        layout, _ = self._fit(selection, email, name)
        reader = self._reader(selection, email, name)
        return self._issue_of(reader, layout, compile_mjml(self._source(reader, layout)))

    def mjml_source(self, selection: Selection, email: str, name: str | None) -> str:
        """The MJML the reader's issue is compiled from, cards in place (for other compilers:
        the tests compare what official MJML makes of it)."""
        reader = self._reader(selection, email, name)
        layout, _ = self._fit_reader(reader)
        return self._source(reader, layout)

    def _issue_of(self, reader: _Reader, layout: Layout, html: str) -> RenderedIssue:
        return RenderedIssue(
            subject=reader.context["subject"],
            preheader=reader.context["preheader"],
            html=html,
            text=self._render_text(reader, layout),
            layout=layout,
        )

    def _reader(self, selection: Selection, email: str, name: str | None) -> _Reader:
        """What the reader's issue shows whatever its layout: the context, each card's slot."""
        papers, day, newsletter = selection.papers, selection.day, self.newsletter
        context = {
            "title": one_line(newsletter.title),
            "subject": subject(newsletter.title, day, papers),
            "preheader": preheader(papers),
            "day": day,
            "day_long": long_date(day),
            "name": one_line(name) if name else None,
            "email": email,
            "count": len(papers),
            "interests": interests_summary(selection.profile),
            "sender": newsletter.sender,
            "unsubscribe": newsletter.unsubscribe(email, day),
            "issue_url": newsletter.issue_url(email, day),
        }
        slots = [newsletter.slot(_EMPTY, picked, email, day) for picked in papers]
        return _Reader(selection, context, slots)

    def _source(self, reader: _Reader, layout: Layout) -> str:
        papers = reader.selection.papers
        full, listed = papers[: layout.full], papers[layout.full : layout.full + layout.compact]
        cards = [
            slot.with_html(Markup(self.card(p.paper).html))
            for slot, p in zip(reader.slots, full, strict=False)
        ]
        compact = [Markup(self.card(p.paper).compact) for p in listed]
        return self._issue.render(**_context(reader, layout), cards=cards, compact=compact)

    def _fit(self, selection: Selection, email: str, name: str | None) -> tuple[Layout, str]:
        """The layout of the reader's issue and its HTML, each attempt compiled in one piece
        (`render_direct`'s: the reference for `_fit_reader`)."""
        return self._fit_reader(self._reader(selection, email, name), skeletons=False)

    def _fit_reader(self, reader: _Reader, *, skeletons: bool = True) -> tuple[Layout, str]:
        """The most full cards that keep the HTML within the budget, the rest as a compact list;
        if even the list is too long, the most list lines that fit."""
        count = len(reader.selection.papers)

        def attempt(layout: Layout) -> str | None:
            html = self._join(reader, layout, skeletons)
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
        return layout, self._join(reader, layout, skeletons)

    def _join(self, reader: _Reader, layout: Layout, skeletons: bool = True) -> str:
        """The issue's HTML for `layout`: a compiled skeleton with the cards put in its marks."""
        papers = reader.selection.papers
        slots = [f'<i id="c{self._token}-{n}"></i>' for n in range(layout.full)]
        items = [f'<i id="l{self._token}-{n}"></i>' for n in range(layout.compact)]
        cards = [
            slot.with_html(Markup(mark)) for mark, slot in zip(slots, reader.slots, strict=False)
        ]
        context = _context(reader, layout)
        compact = [Markup(i) for i in items]
        pieces: dict[str, str] = {}
        for slot, picked in zip(slots, papers, strict=False):
            pieces[slot] = self._normalise(self.card(picked.paper).html)
        for item, picked in zip(items, papers[layout.full :], strict=False):
            pieces[item] = self._normalise(self.card(picked.paper).compact)
        if skeletons and self._skeletons is not None:
            joined = self._skeletons.fill(context, cards, compact, pieces)
            if joined is not None:
                return joined
        html = compile_mjml(self._issue.render(**context, cards=cards, compact=compact))
        if not pieces:
            return html
        pattern = re.compile("|".join(re.escape(key) for key in pieces))
        return pattern.sub(lambda match: pieces[match.group(0)], html)

    def _render_text(self, reader: _Reader, layout: Layout) -> str:
        papers = reader.selection.papers
        width = number_width(layout.full)
        cards = [
            slot.with_text(numbered(self.card_text(p.paper, width), n, width))
            for n, (slot, p) in enumerate(zip(reader.slots, papers[: layout.full], strict=False), 1)
        ]
        compact = [
            ListItem(self.view(p.paper), slot.reasons)
            for slot, p in zip(
                reader.slots[layout.full :],
                papers[layout.full : layout.full + layout.compact],
                strict=False,
            )
        ]
        text = self._text.render(**_context(reader, layout), cards=cards, compact=compact)
        return tidy_text(text)


_EMPTY = Markup("")


@dataclass(frozen=True)
class _Reader:
    """One reader's issue before its layout: the template context and each paper's slot."""

    selection: Selection
    context: dict[str, Any]
    slots: list[CardSlot]


def _context(reader: _Reader, layout: Layout) -> dict[str, Any]:
    """The template context of the reader's issue in `layout`."""
    count = reader.context["count"]
    return {
        **reader.context,
        "intro": intro(count, layout),
        "indent": " " * number_width(layout.full),
        "hidden": layout.hidden,
    }


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
