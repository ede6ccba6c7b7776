"""What MJML makes of an issue: `compile_mjml`, each card re-serialised as MJML writes it
(`Normaliser`), and an issue's HTML compiled once per shape with each reader's strings filled in
afterwards (`Skeletons`).

Every reader's issue compiles the same MJML but for a few strings (their name, address, links,
reasons, the subject) and its shape (how many cards, which parts are there). MJML copies such
text into the HTML as it is, so the built-in `issue.mjml.j2` is rendered and compiled once per
shape with a token in place of every string (`Skeletons.fill`), and a reader's issue is the
compiled skeleton with the tokens replaced by the strings as the template would print them
(escaped, `printable`). A list joined in the template (`interests | join("; ")`) is one token;
the `join` filter of `environment()` (`join_tokens`) records the separator the template uses.

Only strings that MJML certainly copies as they are take this way (`plain`: printable, single
spaces, none at either end); for any other the caller compiles the issue in one piece. The tests
hold both ways to the same bytes (`IssueRenderer.render_direct`).
"""

from __future__ import annotations

import itertools
import re
import secrets
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import jinja2
from jinja2.filters import sync_do_join
from markupsafe import Markup, escape

from newsletter.errors import RenderError
from newsletter.render.cards import MAX_KEPT
from newsletter.render.text import one_line

_normalised: dict[str, str] = {}  # fragment -> as MJML writes it, for the process
_ESCAPED = frozenset("\u115f\u1160\u3164\uff9e\uff9f\uffa0")  # not marks, escaped as marks are
_JUST_TEXT = {str}  # the types of a list of plain strings
MAX_SHAPES = 512  # skeletons kept; a day has a few dozen shapes
_NOT_XML = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff\ufffe\uffff]")


def compile_mjml(source: str) -> str:
    """MJML to HTML, no web fonts; an MJML error names what failed."""
    from mjml import mjml2html

    try:
        html: str = mjml2html(source, fonts={})
    except Exception as error:  # mjml-python raises a bare exception type from Rust
        raise RenderError(f"MJML did not compile: {one_line(str(error))[:300]}") from error
    return html


class Normaliser:
    """Re-serialise an HTML fragment exactly as MJML does inside `mj-text`, with a cache kept
    for the process (as the cards are, `cards.py`)."""

    def __init__(self) -> None:
        self._marker = secrets.token_hex(8)
        self._cache = _normalised

    def __call__(self, fragment: str) -> str:
        if fragment not in self._cache:
            if len(self._cache) >= 2 * MAX_KEPT:  # a card and a compact line per card kept
                self._cache.clear()
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


def printable(value: Any) -> Any:
    """Every value a template prints: characters XML (and so MJML) cannot carry are dropped."""
    if isinstance(value, str) and not isinstance(value, Markup) and not value.isprintable():
        return _NOT_XML.sub("", value)  # (every character it finds is not printable)
    return value


def printed(value: Any) -> str:
    """`value` as `{{ value }}` prints it in an autoescaped template."""
    return str(escape(printable(value)))


def plain(html: str) -> bool:
    """Text MJML copies into the HTML as it is, wherever it stands: printable characters, single
    spaces, none at either end, no backslash and no combining mark (in an attribute, such as
    the title's copy in `aria-label`, MJML escapes a backslash and writes a combining mark as
    an escape sequence; a test checks every printable character)."""
    if not (html.isprintable() and html.strip(" ") == html and "  " not in html and html):
        return False
    if "\\" in html:
        return False
    return max(html) < "\u0300" or _marks().search(html) is None  # below U+0300: no mark


@lru_cache(maxsize=1)
def _marks() -> re.Pattern[str]:
    """A combining mark, or one of `_ESCAPED` (marks lie in U+0300-U+1FFFF and U+E0100-U+E01EF;
    the test of `plain` checks every printable character)."""
    found = [
        c
        for c in (*range(0x300, 0x20000), *range(0xE0000, 0xE1000))
        if unicodedata.category(chr(c))[0] == "M" or chr(c) in _ESCAPED
    ]
    ranges, start = [], found[0]
    for before, after in itertools.pairwise([*found, -1]):
        if after != before + 1:
            ranges.append(f"{re.escape(chr(start))}-{re.escape(chr(before))}")
            start = after
    return re.compile(f"[{''.join(ranges)}]")


class Tokens(tuple[str, ...]):
    """A list the template only joins: one token stands for it, whatever its length."""

    separator: str | None = None  # set by `join_tokens` when the template joins it

    def __new__(cls, token: str) -> Tokens:
        return super().__new__(cls, (token,))


@jinja2.pass_eval_context
def join_tokens(
    eval_ctx: jinja2.nodes.EvalContext, value: Any, d: str = "", attribute: Any = None
) -> Any:
    """Jinja's `join`; a `Tokens` list joins to its token, and the separator is recorded."""
    if isinstance(value, Tokens) and attribute is None and not hasattr(d, "__html__"):
        value.separator = str(d)
        return value[0]
    return sync_do_join(eval_ctx, value, d, attribute)


@dataclass(frozen=True)
class Skeleton:
    """Compiled HTML with `{}` at each place (its own braces doubled, for `str.format`), and
    what goes at each place, in order: the token of a reader's string, or a card's mark."""

    form: str
    places: tuple[str, ...]
    joins: Mapping[str, str]  # a joined list's token -> the separator the template joins it with

    @classmethod
    def cut(cls, html: str, places: Sequence[str], joins: Mapping[str, str]) -> Skeleton:
        pattern = re.compile("|".join(map(re.escape, sorted(places, key=len, reverse=True))))
        parts = pattern.split(html)
        form = "{}".join(part.replace("{", "{{").replace("}", "}}") for part in parts)
        return cls(form, tuple(pattern.findall(html)), dict(joins))

    def fill(self, values: Mapping[str, str]) -> str:
        return self.form.format(*map(values.__getitem__, self.places))


def kind(value: Any) -> Any:
    """How a value shapes the issue: "s" for a string or a number the template prints, "j" for
    a list of strings it joins (each a token in the skeleton); any other value (None, "", 0, a
    date) stands for itself: the template may test it."""
    if not value or value is True:
        return repr(value)
    of = type(value)
    if of is str or of is int:
        return "s"
    if (of is tuple or of is list) and set(map(type, value)) == _JUST_TEXT:
        return "j"
    return value


class Skeletons:
    """The compiled skeleton of each shape of a template, and a reader's issue from it."""

    def __init__(
        self, render: Callable[..., str], compile_mjml: Callable[[str], str], mark: str
    ) -> None:
        self._render = render
        self._compile = compile_mjml
        self._mark = mark  # no text outside this renderer's templates contains it
        self._cache: dict[tuple[Any, ...], tuple[Skeleton, frozenset[str]]] = {}
        self._names: dict[str | int, tuple[str, ...]] = {}

    def fill(
        self,
        context: Mapping[str, Any],
        cards: Sequence[Any],
        compact: Sequence[Markup],
        pieces: Mapping[str, str],
    ) -> str | None:
        """The issue of `context`, its `cards` (`CardSlot`s) and `compact` list, each card's
        mark replaced by its piece; None when a string the issue shows is not `plain`."""
        strings: dict[str, Any] = {}  # token -> value
        shape: list[Any] = [tuple(context), len(cards), len(compact)]
        for name, value in context.items():
            shape.append(self._kind(self._name(name)[0], value, strings))
        for n, card in enumerate(cards):
            reasons, more, less = self._name(n)
            shape.append(self._kind(reasons, card.reasons, strings))
            shape.append(self._kind(more, card.more, strings))
            shape.append(self._kind(less, card.less, strings))
        key = tuple(shape)
        cached = self._cache.get(key)
        if cached is None:
            cached = self._compiled(key, context, cards, compact, pieces)
        skeleton, shown = cached
        values = dict(pieces)
        for token, value in strings.items():
            if token not in shown:
                continue  # the template does not print it (the text part's indent)
            separator = skeleton.joins.get(token)
            if separator is not None:
                value = separator.join(value)
            elif type(value) is not str and type(value) is not int:
                return None  # a list printed otherwise than joined
            text = values[token] = printed(value)
            if not plain(text):
                return None
        return skeleton.fill(values)

    def _name(self, place: str | int) -> tuple[str, ...]:
        """The token of a context value (by name), or of a card's reasons, more, less link."""
        names = self._names.get(place)
        if names is None:
            stem = f"q{self._mark}{place}"
            names = (
                (f"{stem}q",) if isinstance(place, str) else (f"{stem}rq", f"{stem}mq", f"{stem}lq")
            )
            names = self._names[place] = names
        return names

    @staticmethod
    def _kind(token: str, value: Any, strings: dict[str, Any]) -> Any:
        found = kind(value)
        if found == "s" or found == "j":
            strings[token] = value
        return found

    def _compiled(
        self,
        key: tuple[Any, ...],
        context: Mapping[str, Any],
        cards: Sequence[Any],
        compact: Sequence[Markup],
        pieces: Mapping[str, str],
    ) -> tuple[Skeleton, frozenset[str]]:
        tokened = {name: self._tokened(self._name(name)[0], v) for name, v in context.items()}
        tokened["cards"] = [
            type(card)(
                card.html,
                self._tokened(self._name(n)[0], card.reasons),
                card.text,
                self._tokened(self._name(n)[1], card.more),
                self._tokened(self._name(n)[2], card.less),
            )
            for n, card in enumerate(cards)
        ]
        tokened["compact"] = list(compact)
        html = self._compile(self._render(**tokened))
        joins = {
            value[0]: value.separator
            for value in _values(tokened)
            if isinstance(value, Tokens) and value.separator is not None
        }
        tokens = [name for names in self._names.values() for name in names]
        skeleton = Skeleton.cut(html, [*tokens, *pieces], joins)
        if len(self._cache) >= MAX_SHAPES:
            self._cache.clear()
        cached = self._cache[key] = (skeleton, frozenset(skeleton.places))
        return cached

    @staticmethod
    def _tokened(token: str, value: Any) -> Any:
        """What the template gets for `value` in a skeleton: its token, or itself."""
        found = kind(value)
        return token if found == "s" else Tokens(token) if found == "j" else value


def _values(context: Mapping[str, Any]) -> list[Any]:
    """Every value of a tokened context, the cards' fields included."""
    found = [value for name, value in context.items() if name not in ("cards", "compact")]
    for card in context["cards"]:
        found += [card.reasons, card.more, card.less]
    return found
