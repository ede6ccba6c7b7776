"""One reader's issue as the exact bytes handed to the mail server.

The message is written directly (headers by hand, bodies with C base64), which is about ten
times faster than `email.message.EmailMessage`; the tests parse every message back with the
`email` package. Layout: `multipart/alternative`, text/plain first, then text/html, both UTF-8
and base64 (MJML writes the HTML as one very long line; base64 keeps every line short).

Every header value goes through `header_text` first: no CR, LF or other control or separator
character can start a new header, whatever a feed title or a reader's name contains. Text that
is not plain ASCII travels as RFC 2047 encoded words of at most 75 characters, and every header
is folded (CRLF and a space) so that no line passes 78 characters (RFC 5322 2.1.1) unless a
single word (a long URL) does.

Internationalised addresses: a domain is written with IDNA A-labels (`ada@bücher.de` travels as
`ada@xn--bcher-kva.de`), so an address whose local part is ASCII needs nothing special. A
non-ASCII local part (`用户@例子.广告`) cannot be written in ASCII at all: such a message carries
the address in UTF-8 in its headers (RFC 6532) and `Message.needs_smtputf8` tells the SMTP
backend to send it with the SMTPUTF8 extension (RFC 6531), or not at all. Messages with ASCII
addresses are byte for byte what they were.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import string
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime
from email.utils import format_datetime, parseaddr
from functools import cached_property, lru_cache
from pathlib import Path
from urllib.parse import quote

from newsletter.addresses import reader_key
from newsletter.errors import DeliveryError
from newsletter.files import read_small
from newsletter.render.issue import RenderedIssue, canonical_bytes
from newsletter.render.text import one_line

MAX_KEY_BYTES = 64 * 1024  # a DKIM private key is a few kB
DKIM_HEADERS = (
    b"from", b"to", b"subject", b"date", b"message-id", b"list-unsubscribe",
    b"list-unsubscribe-post", b"mime-version", b"content-type",
)  # fmt: skip
LINE_MAX = 78  # RFC 5322 2.1.1: a header line should not pass 78 characters
BASE64_LINE = 76  # characters of a base64 body line (RFC 2045 6.8)
WORD_MAX = LINE_MAX - len("Subject: ")  # a plain or encoded word fits any header's first line
_PLAIN_WORD = re.compile(r"[\x21-\x7e]+")
_SPECIALS = re.compile(r'[()<>\[\]:;@\\,."]')  # RFC 5322: a phrase with one is quoted
_Q_SAFE = frozenset((string.ascii_letters + string.digits + "!*+-/").encode())  # RFC 2047 5(3)
_ENCODED_OVERHEAD = len("=?utf-8?q??=")
_URI_SAFE = "".join(chr(c) for c in range(0x21, 0x7F) if chr(c) not in '%"<>\\^`{|}')


@dataclass(frozen=True)
class Envelope:
    """What the SMTP transaction needs besides the bytes."""

    sender: str  # the bare address of MAIL FROM
    recipient: str
    message_id: str


@dataclass(frozen=True)
class Message:
    envelope: Envelope
    data: bytes  # CRLF line endings, every line <= 998 octets; UTF-8 headers only if needed

    @property
    def needs_smtputf8(self) -> bool:
        """Whether an address (in the envelope or the headers) is not ASCII: SMTP must carry
        this message with the SMTPUTF8 extension (RFC 6531)."""
        envelope = self.envelope
        return not (envelope.sender.isascii() and envelope.recipient.isascii() and
                    self.data.isascii())  # fmt: skip

    @property
    def international_address(self) -> str:
        """The address that makes the message need SMTPUTF8 (the recipient first)."""
        envelope = self.envelope
        return envelope.sender if envelope.recipient.isascii() else envelope.recipient


def ascii_domain(domain: str) -> str:
    """The domain in IDNA A-labels (`bücher.de` -> `xn--bcher-kva.de`); an ASCII domain, or
    one no IDNA codec can write (left for the server to judge), as it is."""
    if domain.isascii():
        return domain
    try:
        import idna  # IDNA 2008 with UTS 46, as email-validator checks addresses

        return str(idna.encode(domain, uts46=True).decode("ascii"))
    except (ImportError, UnicodeError, ValueError):
        pass  # idna.IDNAError is a UnicodeError
    try:
        return domain.encode("idna").decode("ascii")  # IDNA 2003, Python's own codec
    except UnicodeError:
        return domain


def wire_address(email: str) -> str:
    """An address as it travels in SMTP and in headers. An ASCII local part: the domain in
    A-labels, the whole address ASCII. A UTF-8 local part needs SMTPUTF8 anyway: the address
    as written (U-labels, which RFC 6531 allows), as the reader knows it."""
    local, at, domain = email.rpartition("@")
    if not at or not local.isascii():
        return email
    return f"{local}@{ascii_domain(domain)}"


def uri_address(email: str) -> str:
    """An address for a `mailto:` URI, always ASCII: the domain in A-labels, a UTF-8 local part
    percent-encoded (RFC 6068), so that the List-Unsubscribe header holding it stays ASCII."""
    local, at, domain = email.rpartition("@")
    if not at or local.isascii():
        return wire_address(email)
    return f"{quote(local, safe=_URI_SAFE)}@{ascii_domain(domain)}"


def needs_smtputf8(email: str) -> bool:
    """Whether `email` can only be sent with SMTPUTF8: its local part is not ASCII."""
    return not email.rpartition("@")[0].isascii()


def header_text(value: str) -> str:
    """A header value on one line, no control or separator characters."""
    return one_line(value)


def encode_header(value: str) -> str:
    """Unstructured text (a subject) on one line: plain ASCII words as they are, every run of
    other words as encoded words (RFC 2047) of at most WORD_MAX characters. `fold` breaks it."""
    return _mixed(header_text(value), _plain)


def phrase(text: str) -> str:
    """A display name (or List-Id's description) as an RFC 5322 phrase: atoms as they are, a
    quoted string when plain ASCII has a special character, encoded words for the rest."""
    text = header_text(text)
    words = text.split(" ")
    if all(_plain(word, WORD_MAX - 2) for word in words) and not all(map(_atom, words)):
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return _mixed(text, _atom)


def _plain(word: str, longest: int = WORD_MAX) -> bool:
    """A word that can travel as it is: printable ASCII, short, not like an encoded word."""
    return len(word) <= longest and _PLAIN_WORD.fullmatch(word) is not None and "=?" not in word


def _atom(word: str) -> bool:
    """A word that can stand in a phrase as it is (RFC 5322 atom)."""
    return _plain(word) and _SPECIALS.search(word) is None


def _mixed(text: str, plain: Callable[[str], bool]) -> str:
    """The words for which `plain` holds as they are, each run of the others as encoded words.
    Fewer encoded words side by side: some parsers (Python's own, in a phrase) wrongly keep the
    space RFC 2047 6.2 drops between two of them."""
    if not text:
        return ""
    tokens: list[str] = []
    run: list[str] = []
    for word in text.split(" "):
        if plain(word):
            tokens += [*encoded_words(" ".join(run)), word] if run else [word]
            run = []
        else:
            run.append(word)
    return " ".join([*tokens, *encoded_words(" ".join(run))] if run else tokens)


def encoded_words(text: str) -> list[str]:
    """`text` as UTF-8 encoded words of at most WORD_MAX characters, each of whole characters:
    Q encoding (readable) or B (base64), whichever is shorter. Q writes only the characters
    RFC 2047 allows in a phrase, so the words fit a display name as well as a subject."""
    quoted = [_q(char) for char in text]
    sizes = [len(char.encode()) for char in text]
    use_b = 4 * -(-sum(sizes) // 3) < sum(map(len, quoted))
    room = WORD_MAX - _ENCODED_OVERHEAD
    words: list[str] = []
    start = 0
    while start < len(text):
        end, size = start, 0
        while end < len(text):
            grown = size + (sizes[end] if use_b else len(quoted[end]))
            if end > start and (4 * -(-grown // 3) if use_b else grown) > room:
                break
            size, end = grown, end + 1
        if use_b:
            words.append(f"=?utf-8?b?{base64.b64encode(text[start:end].encode()).decode()}?=")
        else:
            words.append(f"=?utf-8?q?{''.join(quoted[start:end])}?=")
        start = end
    return words


def _q(char: str) -> str:
    if char == " ":
        return "_"
    return "".join(chr(b) if b in _Q_SAFE else f"={b:02X}" for b in char.encode())


def fold(name: str, value: str | Iterable[str]) -> str:
    """The header line `Name: value`, folded (CRLF and a space) before every word that would
    pass LINE_MAX; a value given as a string is split at its spaces."""
    lines: list[str] = []
    line = f"{name}:"
    for n, word in enumerate(value.split(" ") if isinstance(value, str) else value):
        if n and len(line) + 1 + len(word) > LINE_MAX:
            lines.append(line)
            line = ""
        line += f" {word}"
    return "\r\n".join([*lines, line])


def address(name: str | None, email: str) -> str:
    """`Name <a@b>` on one line (`fold` breaks it), the name as a phrase (encoded words when it
    is not ASCII), the domain in A-labels; a local part that is not ASCII stays UTF-8 (RFC 6532).
    """
    name, email = header_text(name or ""), wire_address(header_text(email))
    return f"{phrase(name)} <{email}>" if name else email


@lru_cache(maxsize=64)  # one sender for every message of a run
def domain_of(sender: str) -> str:
    """The sender's domain in A-labels (Message-ID and List-Id are ASCII)."""
    return ascii_domain(parseaddr(sender)[1].rpartition("@")[2] or "localhost")


def message_id(email: str, day: date, sender: str) -> str:
    """Deterministic per reader and issue date, so a resend is recognisable as the same issue."""
    digest = hashlib.sha256(f"{reader_key(email)}|{day.isoformat()}".encode()).hexdigest()[:20]
    return f"<{day:%Y%m%d}.{digest}@{domain_of(sender)}>"


@dataclass(frozen=True)
class Headers:
    """The per-newsletter part of every message."""

    sender: str  # `Name <address>`, on one line
    list_id: str  # `Paper Digest <paper-digest.example.org>`, on one line
    unsubscribe_mailto: str

    @classmethod
    def of(cls, title: str, sender: str) -> Headers:
        name, mail = parseaddr(header_text(sender))
        if not mail:
            raise DeliveryError(f"newsletter.sender {sender!r} has no address")
        domain = domain_of(mail)
        slug = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-") or "digest"
        slug = slug[: max(WORD_MAX - len(domain) - 3, 8)].rstrip("-")  # `<slug.domain>` fits
        return cls(
            sender=address(name, mail),
            list_id=f"{phrase(title)} <{slug}.{domain}>",
            unsubscribe_mailto=uri_address(mail),
        )

    @cached_property
    def address(self) -> str:
        return parseaddr(self.sender)[1]


def build(
    issue: RenderedIssue,
    *,
    to_name: str | None,
    to_email: str,
    day: date,
    headers: Headers,
    unsubscribe_mailto: str | None = None,
    unsubscribe_https: str | None = None,
    return_path: str | None = None,
    now: datetime,
    dkim: DkimKey | None = None,
) -> Message:
    """The message for one reader, DKIM-signed when a key is given."""
    mid = message_id(to_email, day, headers.sender)
    boundary = "=_" + hashlib.sha256(mid.encode()).hexdigest()[:28]
    mailto = unsubscribe_mailto or f"mailto:{headers.unsubscribe_mailto}?subject=unsubscribe"
    unsubscribe = [f"<{header_text(mailto)}>"]
    if unsubscribe_https:
        unsubscribe.insert(0, f"<{header_text(unsubscribe_https)}>")
    lines = [
        *_head(headers, address(to_name, to_email), issue.subject, now, mid),
        fold("List-Id", headers.list_id),
        fold("List-Unsubscribe", [f"{link}," for link in unsubscribe[:-1]] + unsubscribe[-1:]),
    ]
    if unsubscribe_https:
        lines.append("List-Unsubscribe-Post: List-Unsubscribe=One-Click")
    lines += [
        f'Content-Type: multipart/alternative; boundary="{boundary}"',
        "",
        f"--{boundary}",
        _part("text/plain", issue.text),
        f"--{boundary}",
        _part("text/html", issue.html),
        f"--{boundary}--",
        "",
    ]
    data = "\r\n".join(lines).encode("utf-8")  # ASCII unless an address is not (RFC 6532)
    if dkim is not None:
        data = dkim.sign(data)
    sender = wire_address(return_path) if return_path else headers.address
    return Message(Envelope(sender, wire_address(to_email), mid), data)


def notice(subject: str, text: str, *, to_email: str, headers: Headers, now: datetime) -> Message:
    """A short plain-text message to the operator (an alert), not part of any issue."""
    stamp = f"{now:%Y%m%d%H%M%S}.{hashlib.sha256(text.encode()).hexdigest()[:12]}"
    mid = f"<alert.{stamp}@{domain_of(headers.sender)}>"
    lines = [
        *_head(headers, address(None, to_email), subject, now, mid),
        "Auto-Submitted: auto-generated",
        _part("text/plain", text),
        "",
    ]
    data = "\r\n".join(lines).encode("utf-8")
    return Message(Envelope(headers.address, wire_address(to_email), mid), data)


def _head(headers: Headers, to: str, subject: str, now: datetime, mid: str) -> list[str]:
    """The headers every message starts with, in this order."""
    return [
        fold("From", headers.sender),
        fold("To", to),
        fold("Subject", encode_header(subject)),
        f"Date: {format_datetime(now)}",
        f"Message-ID: {mid}",
        "MIME-Version: 1.0",
    ]


def _part(content_type: str, body: str) -> str:
    """A base64 part; text is put in canonical form first (CRLF line breaks, RFC 2046)."""
    return (
        f'Content-Type: {content_type}; charset="utf-8"\r\n'
        "Content-Transfer-Encoding: base64\r\n\r\n"
        f"{base64_lines(canonical_bytes(body)).decode('ascii')}"
    )


def base64_lines(data: bytes) -> bytes:
    """`base64.encodebytes(data)` with CRLF line breaks and none after the last line, encoded
    at once and cut into lines as one NumPy array (`encodebytes` loops per line: 1.7x slower)."""
    import numpy as np

    encoded = binascii.b2a_base64(data, newline=False)
    whole = len(encoded) - len(encoded) % BASE64_LINE
    block = np.empty((whole // BASE64_LINE, BASE64_LINE + 2), dtype=np.uint8)
    block[:, :BASE64_LINE] = np.frombuffer(encoded, np.uint8, whole).reshape(-1, BASE64_LINE)
    block[:, BASE64_LINE:] = (13, 10)  # CR LF
    cut = block.tobytes()
    return cut + encoded[whole:] if whole < len(encoded) else cut[:-2]


@dataclass(frozen=True)
class DkimKey:
    """A DKIM signing key (dkimpy), relaxed/relaxed over the headers EMAIL.md lists."""

    selector: str
    domain: str
    private_key: bytes

    @classmethod
    def load(cls, selector: str, domain: str, path: Path) -> DkimKey:
        try:
            return cls(selector, domain, read_small(path, MAX_KEY_BYTES))
        except OSError as exc:
            raise DeliveryError(f"DKIM key {path}: {exc.strerror}") from exc

    def sign(self, data: bytes) -> bytes:
        import dkim

        present = {
            line.split(b":", 1)[0].strip().lower()
            for line in data.split(b"\r\n\r\n", 1)[0].split(b"\r\n")
            if b":" in line and not line.startswith((b" ", b"\t"))
        }
        try:
            signature: bytes = dkim.sign(
                data,
                self.selector.encode(),
                self.domain.encode(),
                self.private_key,
                canonicalize=(b"relaxed", b"relaxed"),
                include_headers=[h for h in DKIM_HEADERS if h in present],
                linesep=b"\r\n",
            )
        except dkim.DKIMException as exc:
            raise DeliveryError(f"DKIM signing failed: {exc}") from exc
        return signature + data
