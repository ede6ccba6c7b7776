"""Text cleaning: markup, entities, control characters, LaTeX, truncation, URLs and authors."""

from __future__ import annotations

import time
import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from newsletter.sources.text import clean_text, safe_url, split_authors, truncate

# --- markup ---------------------------------------------------------------------------------


def test_latex_comparisons_are_not_tags() -> None:
    assert clean_text("Bound $a<b$ and $c>d$ hold") == "Bound a<b and c>d hold"


def test_plain_comparisons_are_not_tags() -> None:
    assert clean_text("x < y and y > z, so x<y") == "x < y and y > z, so x<y"


def test_unknown_angle_words_are_kept() -> None:
    assert clean_text("the <Name> method and a<b>c") == "the <Name> method and ac"


def test_real_tags_are_dropped_and_text_kept() -> None:
    html = "<p>Hello <a href=\"https://x.org\" class='k'>world</a><br/>again <i>now</i></p>"
    assert clean_text(html) == "Hello world again now"


def test_block_tags_separate_words() -> None:
    assert clean_text("<p>one</p><p>two</p><li>three</li>") == "one two three"


def test_script_and_style_are_dropped_with_their_content() -> None:
    text = "A<script type='text/javascript'>alert(1)</script> B<style>p{x:y}</style> C"
    assert clean_text(text) == "A B C"


def test_unclosed_script_tag_is_dropped() -> None:
    assert clean_text("Title <script>") == "Title"


def test_comments_and_cdata() -> None:
    assert clean_text("a<!-- hidden --> b <![CDATA[c]]>") == "a b c"


def test_entities_are_unescaped_once() -> None:
    assert clean_text("P&amp;R &lt;3 caf&eacute; &#x2013; &#8212;") == "P&R <3 café – —"
    assert clean_text("&amp;lt;b&amp;gt;") == "&lt;b&gt;"


def test_escaped_markup_becomes_text_not_tags() -> None:
    assert clean_text("&lt;script&gt;alert(1)&lt;/script&gt;") == "<script>alert(1)</script>"


# --- characters -----------------------------------------------------------------------------


def test_control_characters_are_removed() -> None:
    raw = "a" + "".join(chr(code) for code in range(0x20) if chr(code) not in "\t\n\r\x0b\x0c")
    assert clean_text(raw + "b\x7f\x80\x9fc") == "abc"


def test_line_breaks_and_separators_become_spaces() -> None:
    assert clean_text("a\r\nb\tc\x0bd\x0ce\x85f\u2028g\u2029h") == "a b c d e f g h"


def test_invisible_and_bidi_characters_are_removed() -> None:
    text = "ev\u202eil\u202c \u2066x\u2069 zero\u200bwidth\ufeff \u200fend"
    assert clean_text(text) == "evil x zerowidth end"


def test_lone_surrogates_are_removed() -> None:
    assert clean_text("a\ud800b") == "ab"


def test_whitespace_collapses() -> None:
    assert clean_text("  Title\n    continued\u00a0here  ") == "Title continued here"


def test_none_and_empty() -> None:
    assert clean_text(None) == ""
    assert clean_text("") == ""
    assert clean_text(" \n\t ") == ""


# --- LaTeX ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("latex", "expected"),
    [
        (r"$\alpha$-stable", "α-stable"),
        (r"\emph{x} and \textbf{y}", "x and y"),
        (r"95\% of runs", "95% of runs"),
        (r"$a~b$", "a b"),
        (r"$O(n^2)$ time", "O(n^2) time"),
        (r"$x_{t+1}$", "x_(t+1)"),
        (r"$p\!<\!10^{-16}$", "p<10^(-16)"),
        (r"$\mathbb{R}^d$", "ℝ^d"),
        (r"$\mathrm{KL}(p \,\|\, q)$", "KL(p ‖ q)"),
        (r"$\log\log n$", "log log n"),
        (r"$\approx$$30\%$ less", "≈30% less"),
        (r"Erd\H{o}s and G\"odel", "Erdős and Gödel"),
        (r"{\em emphasis}", "emphasis"),
        (r"Fig.~3 and (1)~first \%", "Fig. 3 and (1) first %"),
        (r"costs \$5 \& more", "costs $5 & more"),
    ],
)
def test_latex_is_converted(latex: str, expected: str) -> None:
    assert clean_text(latex) == expected


def test_double_dash_is_kept() -> None:
    assert clean_text(r"workflow--skill with 5\% gain, pages 1--2") == (
        "workflow--skill with 5% gain, pages 1--2"
    )


@pytest.mark.parametrize(
    "text",
    [
        "costs $5 and $10",
        r"unbalanced $x^2 here",
        r"\emph{never closed",
        r"{oops $\alpha",
        r"$\frac{a}{b$",
        r"$\undefinedmacro{x}$ stays",
        r"see \cite{smith}",
        r"$\href{a}{b}$",
    ],
)
def test_unconvertible_latex_is_kept_as_written(text: str) -> None:
    assert clean_text(text) == text


def test_plain_text_stays_fast() -> None:
    text = "A plain abstract without any markup at all. " * 30
    start = time.perf_counter()
    for _ in range(2000):
        clean_text(text)
    assert time.perf_counter() - start < 2.0


@pytest.mark.parametrize(
    "text",
    ["\\(" * 20_000, "\\[" * 20_000, "(" * 20_000 + ")" * 20_000, "<a " * 20_000, "{" * 40_000],
)
def test_pathological_input_is_fast(text: str) -> None:
    start = time.perf_counter()
    clean_text(text, max_chars=10_000)
    split_authors(text)
    assert time.perf_counter() - start < 1.0


_FEED_ALPHABET = st.sampled_from(
    [*"ab $\\{}<>/&;#=~_^%()'\"\n\t\r\x00\x1b\u2028\u202e\u200b", "<p>", "&amp;", "\\alpha"]
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_FEED_ALPHABET | st.characters(), max_size=60).map("".join))
def test_clean_text_never_raises_and_leaves_no_control_characters(text: str) -> None:
    cleaned = clean_text(text, max_chars=40)
    assert len(cleaned) <= 40
    assert cleaned == cleaned.strip()
    assert "  " not in cleaned
    assert not any(unicodedata.category(char) in ("Cc", "Cs") for char in cleaned)
    assert not any(char in cleaned for char in "\u2028\u2029\u202e\u200b")


# --- truncation -----------------------------------------------------------------------------


def test_max_chars_cuts_on_a_word_boundary() -> None:
    assert clean_text("alpha beta gamma delta", max_chars=15) == "alpha beta…"


def test_max_chars_leaves_short_text_alone() -> None:
    assert clean_text("alpha beta", max_chars=10) == "alpha beta"


def test_truncate_without_spaces_cuts_hard() -> None:
    assert truncate("x" * 20, 10) == "x" * 9 + "…"


def test_five_megabyte_text_is_capped_quickly() -> None:
    huge = "word " * 1_000_000
    start = time.perf_counter()
    cleaned = clean_text(huge, max_chars=10_000)
    assert time.perf_counter() - start < 1.0
    assert len(cleaned) <= 10_000
    assert cleaned.endswith("word…")


# --- URLs -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://arxiv.org/abs/2401.01234", "https://arxiv.org/abs/2401.01234"),
        ("  http://example.org/a?b=c#d \n", "http://example.org/a?b=c#d"),
        ("HTTPS://EXAMPLE.ORG/", "HTTPS://EXAMPLE.ORG/"),
    ],
)
def test_safe_url_keeps_http_urls(url: str, expected: str) -> None:
    assert safe_url(url) == expected


@pytest.mark.parametrize(
    "url",
    [
        None,
        "",
        "javascript:alert(1)",
        " JavaScript:alert(1)",
        "data:text/html;base64,PHNjcmlwdD4=",
        "file:///etc/passwd",
        "ftp://example.org/x",
        "/relative/path",
        "//example.org/protocol-relative",
        "http://",
        "http:///path-only",
        "http://exa mple.org/",
        "http://example.org/\x00",
        "http://example.org/\u202etxt.exe",
        "http://[::1",
        "mailto:someone@example.org",
    ],
)
def test_safe_url_rejects_everything_else(url: str | None) -> None:
    assert safe_url(url) is None


# --- authors --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("A. Smith, B. Jones, C. D. Lee", ("A. Smith", "B. Jones", "C. D. Lee")),
        ("A. Smith, B. Jones and C. D. Lee", ("A. Smith", "B. Jones", "C. D. Lee")),
        ("A. Smith, B. Jones, and C. Lee", ("A. Smith", "B. Jones", "C. Lee")),
        ("A. Smith and B. Jones", ("A. Smith", "B. Jones")),
        ("Solo Author", ("Solo Author",)),
        ("Ann Lee (MIT, Cambridge), Bo Li (ETH (Zurich))", ("Ann Lee", "Bo Li")),
        ("John Smith, Jr., Ann Lee", ("John Smith Jr.", "Ann Lee")),
        (
            "LAPALU, N., Dallery, J.-F., O'Connell, R. J.",
            ("N. LAPALU", "J.-F. Dallery", "R. J. O'Connell"),
        ),
        (r"Paul Erd\H{o}s, Kurt G\"odel", ("Paul Erdős", "Kurt Gödel")),
        ("Alexander Anderson, Andrea Sand", ("Alexander Anderson", "Andrea Sand")),
        ("A. Smith, A. Smith", ("A. Smith",)),
        ("", ()),
    ],
)
def test_split_authors(value: str, expected: tuple[str, ...]) -> None:
    assert split_authors(value) == expected


def test_split_authors_legacy_linked_names() -> None:
    value = (
        ' <a href="http://arxiv.org/find/math/1/au:+Gerard_C/0/1/0/all/0/1">Christian'
        ' G&#xe9;rard</a> (LM-Orsay), <a href="http://arxiv.org/find/math/1/au:+Ammann_B">'
        "Bernd Ammann</a>"
    )
    assert split_authors(value) == ("Christian Gérard", "Bernd Ammann")


@settings(max_examples=300, deadline=None)
@given(
    text=st.text(alphabet=st.sampled_from("ab cdé-/:.\t\nhttps"), max_size=300),
    indent=st.sampled_from(["", " ", "   "]),
    first=st.sampled_from([None, "", "1. ", "Why: "]),
    width=st.integers(min_value=1, max_value=90),
)
def test_wrap_gives_the_lines_textwrap_gives(
    text: str, indent: str, first: str | None, width: int
) -> None:
    import textwrap

    from newsletter.render.text import one_line, wrap

    expected = textwrap.fill(
        one_line(text), width=width, initial_indent=indent if first is None else first,
        subsequent_indent=indent, break_long_words=False, break_on_hyphens=False,
    )  # fmt: skip
    assert wrap(text, indent, first, width) == expected
