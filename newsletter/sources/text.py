"""Turn untrusted feed text into clean plain text, and feed links into safe URLs.

Feed fields are plain text that may carry stray HTML markup, HTML entities, control characters
and LaTeX. `clean_text` removes the markup (only what really looks like an HTML tag: `$a<b$`
and `x < y` are text), unescapes entities once, drops invisible and control characters,
converts the LaTeX it can to Unicode and collapses whitespace. Nothing here raises on odd input.
"""

from __future__ import annotations

import html
import logging
import re
from functools import lru_cache

from pylatexenc.latex2text import LatexNodes2Text, MacroTextSpec, get_default_latex_context_db

from newsletter.checks import safe_url as safe_url  # one rule for parsers and templates

logger = logging.getLogger(__name__)

TITLE_MAX_CHARS = 500
ABSTRACT_MAX_CHARS = 10_000

_ELLIPSIS = "…"

# --- HTML markup ----------------------------------------------------------------------------

_INLINE_TAGS = (
    "a|abbr|acronym|b|bdi|bdo|big|cite|code|del|dfn|em|font|i|img|ins|kbd|label|mark|math|q|s|"
    "samp|small|span|strike|strong|sub|sup|time|tt|u|var|wbr|mml:[a-z]+"
)
_BLOCK_TAGS = (
    "address|article|aside|blockquote|body|br|button|caption|center|col|colgroup|dd|details|"
    "dialog|div|dl|dt|embed|fieldset|figcaption|figure|footer|form|h[1-6]|head|header|hr|html|"
    "iframe|input|legend|li|link|main|meta|nav|noscript|object|ol|option|p|param|picture|pre|"
    "section|select|source|summary|svg|table|tbody|td|template|textarea|tfoot|th|thead|title|"
    "tr|ul|video|audio|script|style|jats:[a-z-]+"
)
_ATTRIBUTE = r"""\s+[^\s"'<>/=]+(?:\s*=\s*(?:"[^"]*"|'[^']*'|[^\s"'=<>`]+))?"""
_TAG = re.compile(
    rf"</?(?P<name>{_BLOCK_TAGS}|{_INLINE_TAGS})(?:{_ATTRIBUTE})*\s*/?>", re.IGNORECASE
)
_BLOCK_NAME = re.compile(rf"(?:{_BLOCK_TAGS})", re.IGNORECASE)
_DROPPED_ELEMENT = re.compile(
    r"<(script|style)\b[^>]*>.*?</\1\s*>|<!--.*?-->|<!doctype[^>]*>", re.IGNORECASE | re.DOTALL
)
_CDATA = re.compile(r"<!\[CDATA\[(.*?)\]\]>", re.DOTALL)

# Inline math as pandoc reads it: no space just inside the dollars, no digit right after.
_MATH = r"\$\$(?P<display>[^$]+?)\$\$|\$(?P<inline>[^\s$][^$]*?(?<=[^\s$\\]))\$(?!\d)"
_MATH_SPAN = re.compile(_MATH)

# --- characters -----------------------------------------------------------------------------

_SPACE_LIKE = "\t\n\r\x0b\x0c\x85\u2028\u2029"
_INVISIBLE = "\u00ad\u061c\u180e\u200b\u200c\u200d\u200e\u200f\u2060\u2061\u2062\u2063\u2064\ufeff"
_BIDI = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"


def _char_table() -> dict[int, str | None]:
    table: dict[int, str | None] = {code: None for code in range(0x20)}
    table.update({code: None for code in range(0x7F, 0xA0)})
    table.update({code: None for code in range(0xD800, 0xE000)})  # lone surrogates from JSON
    table.update({ord(char): None for char in _INVISIBLE + _BIDI + "\ufffe\uffff"})
    table.update({ord(char): " " for char in _SPACE_LIKE})
    return table


_CHAR_TABLE = _char_table()
_UNSAFE_IN_URL = re.compile(rf"[\s\x00-\x1f\x7f-\x9f{_INVISIBLE}{_BIDI}]")
_WHITESPACE = re.compile(r"\s+")

# --- LaTeX ----------------------------------------------------------------------------------

_COMMAND = (
    r"\\(?:[a-zA-Z]+\*?(?![a-zA-Z*])(?:\s*\{(?:[^{}]|\{[^{}]*\})*\})*(?!\s*\{)"
    r"|['\"`^~=.](?:\{[a-zA-Z]\}|[a-zA-Z])"
    r"|[%&$#_{}])"
)
_BRACED = r"\{\\(?:[a-zA-Z]+(?![a-zA-Z])|['\"`^~=.])[^{}]*\}"
_LATEX_SPAN = re.compile(
    rf"{_MATH}|\\\((?P<paren>(?:[^\\]|\\[^()])+?)\\\)"
    rf"|\\\[(?P<bracket>(?:[^\\]|\\[^\[\]])+?)\\\]|(?P<command>{_COMMAND})|"
    rf"(?P<braced>{_BRACED})",
    re.DOTALL,
)
_MACRO_NAME = re.compile(r"\\([a-zA-Z]+)")
_UNESCAPED_SPECIAL = re.compile(r"(?<!\\)([%&#])")
_GROUPED_SCRIPT = re.compile(r"([_^])\{([^{}]*[^{}\w\\\s][^{}]*)\}")
_MACRO_BEFORE_MACRO = re.compile(r"(\\[a-zA-Z]+)\s+(?=\\[a-zA-Z])")
_OPERATOR_AFTER_WORD = re.compile(
    r"(?<=[\w}])(\\(?:log|ln|exp|sin|cos|tan|min|max|sup|inf|lim|det|arg|dim|ker|Pr|gcd)"
    r"(?![a-zA-Z]))"
)
_TIE = re.compile(r"(?<=[\w).,:;\]])~(?=[\w(\\$\[])")
# Macros whose pylatexenc rendering loses information: such spans stay as written.
_VERBATIM_MACROS = frozenset({"cite", "citep", "citet", "ref", "eqref", "label", "href", "begin"})
# Macros pylatexenc does not know but renders right by dropping the name and keeping the text.
_STYLE_MACROS = frozenset(
    {
        *("em", "bf", "it", "sc", "sf", "rm", "tt", "sl", "up", "bfseries", "itshape", "scshape"),
        *("texttt", "textsc", "textsf", "textrm", "textup", "textnormal", "text", "mbox", "hbox"),
        *("operatorname", "mathsf", "mathtt", "mathit", "mathnormal", "boldsymbol", "bm"),
        *("underline", "overline", "displaystyle", "textstyle", "scriptstyle"),
        *("left", "right", "big", "Big", "bigl", "bigr"),
    }
)
_ESCAPED_CHARS = {f"\\{char}": char for char in "%&$#_{}"}
_MATH_GROUPS = ("display", "inline", "paren", "bracket")


def _latex_converter() -> LatexNodes2Text:
    context = get_default_latex_context_db().filter_context()
    context.add_context_category(
        "newsletter", macros=[MacroTextSpec("|", simplify_repl="‖")], prepend=True
    )
    return LatexNodes2Text(latex_context=context, math_mode="text")


_CONVERTER = _latex_converter()


def clean_text(value: str | None, *, max_chars: int | None = None) -> str:
    """Return `value` as clean one-line plain text, at most `max_chars` characters long."""
    if not value:
        return ""
    text = value
    if max_chars is not None and len(text) > 4 * max_chars + 1024:
        text = text[: 4 * max_chars + 1024]  # a 5 MB abstract is not read to the end
    if "<" in text:
        text = _strip_tags(text)
    if "&" in text:
        text = html.unescape(text)
    text = text.translate(_CHAR_TABLE)
    if "$" in text or "\\" in text:
        text = latex_to_unicode(text)
    text = _WHITESPACE.sub(" ", text).strip()
    if max_chars is not None:
        text = truncate(text, max_chars)
    return text


def truncate(text: str, max_chars: int) -> str:
    """Cut `text` to `max_chars` characters on a word boundary, marking the cut with `…`."""
    if len(text) <= max_chars:
        return text
    if max_chars <= len(_ELLIPSIS):
        return _ELLIPSIS[:max_chars]
    cut = text[: max_chars - len(_ELLIPSIS) + 1]
    space = cut.rfind(" ")
    cut = cut[:space] if space > len(cut) // 2 else cut[:-1]
    return cut.rstrip(" ,;:") + _ELLIPSIS


def _strip_tags(text: str) -> str:
    """Remove HTML elements and tags outside `$...$` math; math keeps its `<` and `>`."""
    parts: list[str] = []
    position = 0
    for match in _MATH_SPAN.finditer(text):
        parts.append(_strip_tags_outside_math(text[position : match.start()]))
        parts.append(match.group(0))
        position = match.end()
    parts.append(_strip_tags_outside_math(text[position:]))
    return "".join(parts)


def _strip_tags_outside_math(text: str) -> str:
    if "<" not in text:
        return text
    text = _CDATA.sub(r"\1", text)
    text = _DROPPED_ELEMENT.sub(" ", text)
    return _TAG.sub(_tag_replacement, text)


def _tag_replacement(match: re.Match[str]) -> str:
    return " " if _BLOCK_NAME.fullmatch(match.group("name")) else ""


def latex_to_unicode(text: str) -> str:
    """Convert the LaTeX spans of `text` that pylatexenc can read; leave everything else as is.

    Text with an unbalanced `$` or brace is returned unchanged: where its math starts and ends
    cannot be known.
    """
    if not _balanced(text):
        return text
    text = _TIE.sub(" ", text) if "~" in text else text
    parts: list[str] = []
    position = 0
    for match in _LATEX_SPAN.finditer(text):
        parts.append(text[position : match.start()])
        parts.append(_convert_span(match))
        position = match.end()
    parts.append(text[position:])
    return "".join(parts)


def _convert_span(match: re.Match[str]) -> str:
    group = match.lastgroup
    if group in _MATH_GROUPS:
        converted = _math_to_text(match.group(group))
    elif match.group(0) in _ESCAPED_CHARS:
        converted = _ESCAPED_CHARS[match.group(0)]
    else:
        converted = _command_to_text(match.group(0))
    return match.group(0) if converted is None else converted


@lru_cache(maxsize=8192)
def _math_to_text(content: str) -> str | None:
    if not _convertible(content):
        return None
    prepared = _UNESCAPED_SPECIAL.sub(r"\\\1", content)
    prepared = _GROUPED_SCRIPT.sub(r"\1(\2)", prepared)
    prepared = _MACRO_BEFORE_MACRO.sub(r"\1\\ ", prepared)
    prepared = _OPERATOR_AFTER_WORD.sub(r"\\ \1", prepared)
    return _run_converter(f"${prepared}$", content)


@lru_cache(maxsize=8192)
def _command_to_text(span: str) -> str | None:
    if not _convertible(span):
        return None
    return _run_converter(span, span)


def _run_converter(latex: str, original: str) -> str | None:
    try:
        converted: str = _CONVERTER.latex_to_text(latex, tolerant_parsing=False)
    except Exception as exc:  # pylatexenc raises many kinds of errors on odd input
        logger.debug("keeping LaTeX %r as written: %s", original[:80], exc)
        return None
    if "$" in converted or (not converted.strip() and original.strip("\\, ")):
        return None
    return converted.strip()


def _balanced(latex: str) -> bool:
    """True when the unescaped `$` signs pair up and the unescaped braces nest properly."""
    plain = latex.replace("\\\\", "").replace("\\$", "").replace("\\{", "").replace("\\}", "")
    if plain.count("$") % 2:
        return False
    depth = 0
    for char in plain:
        if char in "{}":
            depth += 1 if char == "{" else -1
            if depth < 0:
                return False
    return depth == 0


def _convertible(latex: str) -> bool:
    """True when `latex` is balanced and has only macros pylatexenc renders faithfully."""
    if not _balanced(latex):
        return False
    for name in _MACRO_NAME.findall(latex):
        if name in _VERBATIM_MACROS:
            return False
        if name not in _STYLE_MACROS and _CONVERTER.latex_context.get_macro_spec(name) is None:
            return False
    return True


# --- authors --------------------------------------------------------------------------------

_ANCHOR = re.compile(r"<a\b[^<>]*>([^<]*)</a\s*>", re.IGNORECASE)
_AUTHORS_MAX_INPUT = 200_000  # the longest real author lists (~3,000 names) are ~60,000 chars
_AUTHOR_SEPARATOR = re.compile(r"\s*[,;]\s*(?:and\s+|&\s*)?|\s+(?:and|&)\s+")
_INITIALS = re.compile(r"(?:[^\W\d_]{1,2}\.[\s-]*)+")
_NAME_SUFFIX = re.compile(r"(?:Jr|Sr)\.?|I{2,3}|IV", re.IGNORECASE)


def split_authors(value: str) -> tuple[str, ...]:
    """Split an author string ("A. Smith, B. Jones and C. D. Lee") into names."""
    if not value:
        return ()
    value = value[:_AUTHORS_MAX_INPUT]
    anchors = _ANCHOR.findall(value)
    if anchors:  # legacy arXiv RDF: one <a href=".../find/...">Name</a> link per author
        names = [clean_text(anchor) for anchor in anchors]
    else:
        text = _drop_parenthesized(clean_text(value))
        pieces = [piece.strip() for piece in _AUTHOR_SEPARATOR.split(text)]
        names = _join_name_pieces([piece for piece in pieces if piece])
    return tuple(dict.fromkeys(name for name in names if name))


def _drop_parenthesized(text: str) -> str:
    """Remove parenthesized parts (affiliations), nested ones too; unbalanced text is kept."""
    kept: list[str] = []
    depth = 0
    for char in text:
        if char == "(":
            depth += 1
        elif char == ")" and depth:
            depth -= 1
        elif not depth:
            kept.append(char)
    return "".join(kept) if depth == 0 else text


def _join_name_pieces(pieces: list[str]) -> list[str]:
    """Undo the splitting of "Surname, I." pairs and of "Jr." suffixes."""
    names: list[str] = []
    for piece in pieces:
        if names and _NAME_SUFFIX.fullmatch(piece):
            names[-1] = f"{names[-1]} {piece}"
        else:
            names.append(piece)
    surnames, initials = names[0::2], names[1::2]
    if (
        len(names) % 2 == 0
        and all(_INITIALS.fullmatch(piece) for piece in initials)
        and not any(_INITIALS.fullmatch(piece) for piece in surnames)
    ):  # bioRxiv style: "LAPALU, N., SIMON, A., Dallery, J.-F."
        return [f"{given} {surname}" for surname, given in zip(surnames, initials, strict=True)]
    return names
