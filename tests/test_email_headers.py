"""Message headers: encoded words of at most 75 characters (RFC 2047), lines of at most 78
(RFC 5322 2.1.1), folded with CRLF and a space, and read back as written by the `email` package,
whatever the subject, the reader's name or the newsletter's title."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from email import message_from_bytes, policy
from email.header import decode_header, make_header
from email.message import EmailMessage

from hypothesis import given, settings
from hypothesis import strategies as st

from newsletter.mail import Headers, build, encode_header, fold, header_text
from newsletter.render.issue import Layout, RenderedIssue

ENCODED_WORD = re.compile(r"=\?[^?\s]+\?[bBqQ]\?[^?\s]*\?=")
LONG = "Schrödinger-Brücken für große Sprachmodelle: 量子 emoji 🧪 und Überraschungen " * 3


def message(subject: str, name: str | None, title: str, sender: str = "Digest") -> bytes:
    issue = RenderedIssue(subject, "P", "<p>x</p>", "x\n", Layout(1, 0, 0))
    built = build(
        issue, to_name=name, to_email="ada@example.org", day=date(2026, 7, 27),
        headers=Headers.of(title, f'"{sender}" <digest@example.org>'),
        unsubscribe_https="https://digest.example.org/u?t=abcdef",
        now=datetime(2026, 7, 27, 7, tzinfo=UTC),
    )  # fmt: skip
    return built.data


def head_lines(data: bytes) -> list[str]:
    return data.split(b"\r\n\r\n", 1)[0].decode("utf-8").split("\r\n")


def display_name(data: bytes, name: str) -> str:
    """The display name of an address header, decoded as RFC 2047 6.2 says: the space between
    two encoded words is dropped (Python's header parser keeps it inside a phrase)."""
    head = data.split(b"\r\n\r\n", 1)[0].decode("utf-8").replace("\r\n ", " ")
    value = re.search(rf"^{name}: (.*)$", head, re.MULTILINE)
    assert value is not None
    shown = value[1].rpartition(" <")[0]
    if shown.startswith('"'):
        return re.sub(r"\\(.)", r"\1", shown[1:-1])
    return str(make_header(decode_header(shown)))


def check(data: bytes) -> EmailMessage:
    """Every line and encoded word within its limit; the message parses without a defect."""
    for line in head_lines(data):
        assert len(line) <= 78, line
        for word in ENCODED_WORD.findall(line):
            assert len(word) <= 75, word
    parsed = message_from_bytes(data, policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    assert parsed.defects == []
    for name in ("From", "To", "Subject", "List-Id", "List-Unsubscribe"):
        assert parsed[name].defects == (), name
    return parsed


def test_long_non_ascii_headers_are_folded_into_short_encoded_words() -> None:
    data = message(LONG, LONG[:90], LONG[:100], sender=LONG[:70])
    parsed = check(data)
    assert str(parsed["Subject"]) == header_text(LONG)
    assert display_name(data, "To") == header_text(LONG[:90])
    assert parsed["To"].addresses[0].addr_spec == "ada@example.org"
    assert display_name(data, "From") == header_text(LONG[:70])
    assert str(parsed["List-Id"]).startswith(header_text(LONG[:100]))
    folded = [line for line in head_lines(data) if line.startswith(" ")]
    assert len(folded) >= 6  # every long header was folded, none cut


def test_ascii_subjects_fold_at_spaces_and_stay_readable() -> None:
    subject = "Fine-Grained Mixture of Experts Scale Better Than Dense Models " * 2
    data = message(subject, "Ada Lovelace", "ML Paper Digest")
    parsed = check(data)
    assert str(parsed["Subject"]) == header_text(subject)
    assert b"=?" not in data.split(b"\r\n\r\n", 1)[0]  # plain ASCII is never encoded
    assert b"Subject: Fine-Grained Mixture" in data


def test_names_with_specials_are_quoted_and_encoded_word_lookalikes_encoded() -> None:
    data = message("=?utf-8?q?fake?= subject", 'Lovelace, Ada "Countess"', "Paper <Digest>")
    parsed = check(data)
    assert parsed["To"].addresses[0].display_name == 'Lovelace, Ada "Countess"'
    assert str(parsed["Subject"]) == "=?utf-8?q?fake?= subject"  # shown as typed, not decoded
    assert str(parsed["List-Id"]) == '"Paper <Digest>" <paper-digest.example.org>'


def test_an_unbreakable_word_is_split_into_encoded_words() -> None:
    word = "x" * 120
    line = fold("Subject", encode_header(word))
    assert all(len(part) <= 78 for part in line.split("\r\n"))
    parsed = message_from_bytes(f"{line}\r\n\r\n".encode(), policy=policy.default)
    assert str(parsed["Subject"]) == word


@settings(max_examples=150, deadline=None)
@given(
    subject=st.text(max_size=160),
    name=st.text(max_size=80),
    title=st.text(min_size=1, max_size=80),
)
def test_any_text_gives_short_lines_and_reads_back(subject: str, name: str, title: str) -> None:
    data = message(subject, name, title)
    parsed = check(data)
    assert str(parsed["Subject"]) == header_text(subject)
    if header_text(name):
        assert display_name(data, "To") == header_text(name)
    assert parsed["To"].addresses[0].addr_spec == "ada@example.org"
