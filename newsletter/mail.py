"""One reader's issue as the exact bytes handed to the mail server.

The message is written directly (headers by hand, bodies with C base64), which is about ten
times faster than `email.message.EmailMessage`; the tests parse every message back with the
`email` package. Layout: `multipart/alternative`, text/plain first, then text/html, both UTF-8
and base64 (MJML writes the HTML as one very long line; base64 keeps every line short).

Every header value goes through `header_text` first: no CR, LF or other control or separator
character can start a new header, whatever a feed title or a reader's name contains.

Internationalised addresses: a domain is written with IDNA A-labels (`ada@bücher.de` travels as
`ada@xn--bcher-kva.de`), so an address whose local part is ASCII needs nothing special. A
non-ASCII local part (`用户@例子.广告`) cannot be written in ASCII at all: such a message carries
the address in UTF-8 in its headers (RFC 6532) and `Message.needs_smtputf8` tells the SMTP
backend to send it with the SMTPUTF8 extension (RFC 6531), or not at all. Messages with ASCII
addresses are byte for byte what they were.
"""

from __future__ import annotations

import base64
import hashlib
import re
from dataclasses import dataclass
from datetime import date, datetime
from email.header import Header
from email.utils import format_datetime, formataddr, parseaddr
from pathlib import Path
from urllib.parse import quote

from newsletter.addresses import reader_key
from newsletter.errors import DeliveryError
from newsletter.render.issue import RenderedIssue
from newsletter.render.text import one_line

DKIM_HEADERS = (
    b"from", b"to", b"subject", b"date", b"message-id", b"list-unsubscribe",
    b"list-unsubscribe-post", b"mime-version", b"content-type",
)  # fmt: skip
_ASCII_PRINTABLE = re.compile(r"^[\x20-\x7e]*$")
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
    """ASCII as is, anything else as RFC 2047 encoded words (folded with CRLF SP)."""
    value = header_text(value)
    if _ASCII_PRINTABLE.match(value):
        return value
    return Header(value, "utf-8", maxlinelen=76).encode(linesep="\r\n")


def address(name: str | None, email: str) -> str:
    """`Name <a@b>`, the name RFC 2047-encoded when it is not ASCII, the domain in A-labels;
    a local part that is not ASCII stays UTF-8 (RFC 6532)."""
    name, email = header_text(name or ""), wire_address(header_text(email))
    if email.isascii():
        return formataddr((name, email), charset="utf-8")
    if not name:
        return email
    placeholder = "<placeholder@invalid>"  # formataddr quotes or encodes the name; it only
    shown = formataddr((name, placeholder[1:-1]), charset="utf-8")  # takes ASCII addresses
    return f"{shown.removesuffix(placeholder)}<{email}>"


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

    sender: str  # `Name <address>`
    list_id: str  # `Paper Digest <paper-digest.example.org>`
    unsubscribe_mailto: str

    @classmethod
    def of(cls, title: str, sender: str) -> Headers:
        name, mail = parseaddr(header_text(sender))
        if not mail:
            raise DeliveryError(f"newsletter.sender {sender!r} has no address")
        slug = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-") or "digest"
        return cls(
            sender=address(name, mail),
            list_id=f"{encode_header(title)} <{slug}.{domain_of(mail)}>",
            unsubscribe_mailto=uri_address(mail),
        )

    @property
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
        f"List-Id: {headers.list_id}",
        f"List-Unsubscribe: {', '.join(unsubscribe)}",
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
    return Message(Envelope(headers.address, wire_address(to_email), mid), data)


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
        f"From: {headers.sender}",
        f"To: {to}",
        f"Subject: {encode_header(subject)}",
        f"Date: {format_datetime(now)}",
        f"Message-ID: {mid}",
        "MIME-Version: 1.0",
    ]


def _part(content_type: str, body: str) -> str:
    """A base64 part; text is put in canonical form first (CRLF line breaks, RFC 2046)."""
    canonical = (body.replace("\r\n", "\n") if "\r" in body else body).replace("\n", "\r\n")
    encoded = base64.encodebytes(canonical.encode("utf-8")).decode("ascii").replace("\n", "\r\n")
    return (
        f'Content-Type: {content_type}; charset="utf-8"\r\n'
        "Content-Transfer-Encoding: base64\r\n\r\n"
        f"{encoded.rstrip()}"
    )


@dataclass(frozen=True)
class DkimKey:
    """A DKIM signing key (dkimpy), relaxed/relaxed over the headers EMAIL.md lists."""

    selector: str
    domain: str
    private_key: bytes

    @classmethod
    def load(cls, selector: str, domain: str, path: Path) -> DkimKey:
        try:
            return cls(selector, domain, path.read_bytes())
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
