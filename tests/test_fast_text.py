"""The fast ways of small text functions give what the plain ways give, for any input: folding,
acronyms, one-line text, printable text, shown reasons, base64 bodies, sizes, and the config's
address and text checks. Each plain way is written out here as it was before the fast one."""

from __future__ import annotations

import base64
import sys
import unicodedata
from collections import defaultdict

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from newsletter import emails, fields
from newsletter.checks import _CONTROL as CONFIG_CONTROL
from newsletter.checks import no_control, shown
from newsletter.mail import base64_lines
from newsletter.matching import PaperIndex
from newsletter.models import Paper
from newsletter.render.issue import canonical, canonical_bytes, sent_size
from newsletter.render.skeleton import _NOT_XML, printable
from newsletter.render.text import _CONTROL, one_line
from newsletter.render.views import _SCORE, shown_reasons
from newsletter.words import TOKEN, fold, is_acronym, singular

# Characters that exercise the fast ways: marks, ł, sigma, ß, Hangul, controls, separators.
TRICKY = (
    "aZé\u0301łŁΣσςßİ가\u1100\u0300 \t\n\r\x00\x1f\x7f\x85\xa0\u2028\u200b\u202e\ufeff\\_-.,()0123"
)
tricky_text = st.text(alphabet=st.sampled_from(TRICKY) | st.characters(), max_size=60)


def folded_whole(text: str) -> str:
    """`fold` as it was: the whole text decomposed, marks dropped, case folded."""
    if text.isascii():
        return text.lower()
    decomposed = unicodedata.normalize("NFKD", text.replace("ł", "l").replace("Ł", "L"))
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()


@settings(max_examples=500)
@given(tricky_text)
def test_folding_character_by_character_equals_folding_the_whole(text: str) -> None:
    assert fold(text) == folded_whole(text)


def test_folding_every_character_equals_folding_it_alone() -> None:
    text = "".join(chr(c) for c in range(0x80, 0x30000) if not 0xD800 <= c <= 0xDFFF)
    assert fold(text) == folded_whole(text)


@settings(max_examples=300)
@given(st.lists(tricky_text | st.sampled_from(["MoE", "LLMs", "RL", "gRPC", "ÉTÉ", "ΑΣ"])))
def test_the_index_finds_the_acronyms_the_plain_loop_finds(words: list[str]) -> None:
    text = " ".join(words)
    index = PaperIndex([Paper(id="1", title=text)])
    expected: dict[str, set[int]] = defaultdict(set)
    for word in TOKEN.findall(text):
        if is_acronym(word.removesuffix("s")):
            expected[word.removesuffix("s")].add(0)
    assert dict(index.titles.acronyms) == dict(expected)
    assert index.titles.words[0] == [singular(t) for t in TOKEN.findall(folded_whole(text))]


@settings(max_examples=500)
@given(tricky_text)
def test_one_line_and_printable_take_their_fast_way_only_when_it_changes_nothing(
    text: str,
) -> None:
    assert one_line(text) == " ".join(_CONTROL.sub(" ", text).split())
    assert printable(text) == _NOT_XML.sub("", text)


@settings(max_examples=500)
@given(
    st.lists(
        st.lists(st.sampled_from([" (0.31)", "(.5)", "(1.0)", "\n", ")", "x", "é", " "]))
        .map("".join)
        .filter(bool),
        max_size=5,
    ).map(tuple)
)
def test_shown_reasons_drop_exactly_the_scores(reasons: tuple[str, ...]) -> None:
    assert shown_reasons(reasons) == tuple(_SCORE.sub("", reason) for reason in reasons)


def encoded_the_plain_way(body: str) -> str:
    encoded = base64.encodebytes(canonical(body).encode("utf-8")).decode("ascii")
    return encoded.replace("\n", "\r\n").rstrip()


@settings(max_examples=500)
@given(st.lists(tricky_text | st.sampled_from(["\r\n", "\r", "\n", "é\r"])).map("".join))
def test_a_body_in_base64_is_what_encodebytes_gives(body: str) -> None:
    body = body.encode("utf-8", "replace").decode("utf-8")  # no lone surrogates: not text
    assert base64_lines(canonical_bytes(body)).decode("ascii") == encoded_the_plain_way(body)
    assert sent_size(body) == len(canonical(body).encode("utf-8"))


@pytest.mark.parametrize("size", [0, 1, 56, 57, 58, 113, 114, 115, 171, 5700, 5701])
def test_every_length_of_body_is_cut_into_lines_as_encodebytes_cuts_it(size: int) -> None:
    body = ("ab€" * size)[:size]
    assert base64_lines(canonical_bytes(body)).decode("ascii") == encoded_the_plain_way(body)


# --- the config's checks ---------------------------------------------------------------------

LOCAL = st.text(alphabet="abcXYZ09._%+-!#'\"\\ é用", min_size=0, max_size=12) | st.sampled_from(
    ["Postmaster", "info", "a" * 64, "a" * 65, "a..b", ".a", "a.", "ada.l+x"]
)
DOMAIN = st.text(alphabet="abcXY09.-é", min_size=0, max_size=14) | st.sampled_from(
    [
        "example.org", "Example.ORG", "localhost", "a.local", "x.test", "1.2.3.4", "a.b.123",
        "xn--bcher-kva.de", "ab--cd.org", "-a.org", "a-.org", "a." + "b" * 63 + ".org",
        "a." + "b" * 64 + ".org", ("c" * 60 + ".") * 4 + "org", "bücher.de", "[1.2.3.4]",
    ]
)  # fmt: skip


def checked(check: object, value: str) -> tuple[str, str]:
    try:
        return "ok", check(value)  # type: ignore[operator]
    except ValueError as exc:
        return "error", str(exc)


@settings(max_examples=2000)
@given(LOCAL, DOMAIN)
def test_a_plain_address_is_normalised_as_email_validator_normalises_it(
    local: str, domain: str
) -> None:
    address = f"{local}@{domain}"
    fast = emails._plain_address(address)
    if fast is not None:  # the fast way answers only what the whole check would accept
        assert checked(emails._validated_email, address) == ("ok", fast)
    assert checked(emails._normalized_email.__wrapped__, address) == checked(
        emails._validated_email, address
    )


def test_the_benchmark_addresses_take_the_fast_way() -> None:
    assert emails._plain_address("reader00001@example.org") == "reader00001@example.org"
    assert emails._plain_address("Ada.L+news@Example.ORG") == "Ada.L+news@example.org"
    assert emails._plain_address("Postmaster@example.org") is None  # lower-cased: not plain


def not_blank_the_plain_way(value: str) -> str:
    text = " ".join(value.split())
    if not text:
        raise ValueError("must not be empty")
    return no_control(text)


@settings(max_examples=1000)
@given(tricky_text)
def test_text_and_phrase_checks_answer_as_before(value: str) -> None:
    assert checked(fields._not_blank, value) == checked(not_blank_the_plain_way, value)

    def phrase(text: str) -> str:
        text = not_blank_the_plain_way(text)
        if not any(ch.isalnum() for ch in text):
            raise ValueError(f"{shown(text)} has no letter or digit: it would match anything")
        return text

    assert checked(fields._phrase, value) == checked(phrase, value)


def test_the_letter_or_digit_pattern_is_isalnum_for_every_character() -> None:
    found = [
        c
        for c in range(sys.maxunicode + 1)
        if chr(c).isalnum() != bool(fields._LETTER_OR_DIGIT.match(chr(c)))
    ]
    assert found == []


def test_every_character_printable_has_no_control_character() -> None:
    """`one_line`, `printable` and `_not_blank` skip their regular expressions for printable
    text: each of those expressions finds only characters that are not printable."""
    for pattern in (_CONTROL, _NOT_XML, CONFIG_CONTROL):
        assert not any(pattern.match(chr(c)) and chr(c).isprintable() for c in range(0x110000))
