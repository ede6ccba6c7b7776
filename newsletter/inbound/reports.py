"""One message from the inbox classified: a bounce, a complaint, an unsubscribe, or left alone.

Only a token of ours ties a message to a reader, never a bare address (but see plain ones):
- Bounce: RFC 3464 fields (`message/delivery-status` or its SMTPUTF8 `global` kind, in any
  multipart) in a message to one reader's VERP address, `LOCAL+TOKEN@domain` of `bounce_address`
  (Delivered-To, X-Original-To, Envelope-To or To), whose Final-Recipient (or Original-Recipient)
  is that reader. `failed` with 5.x.x is hard, except mailbox full (x.2.2) and policy refusals
  (x.7.x: spam blocks, DMARC), which say more about the sender than the address; those, 4.x.x
  and `delayed` are soft, as is a bounce without such fields (qmail's) from MAILER-DAEMON.
- Complaint: an RFC 5965 `abuse` report; the reader comes from the quoted issue's Return-Path
  or List-Unsubscribe token, never from an address (providers redact them).
- Unsubscribe: subject `unsubscribe TOKEN` (Re:/Fwd:, any case, RFC 2047) with a valid token.
  A plain "unsubscribe" (subject or first body line) only with `plain_unsubscribe`, from exactly
  one reader's address, when the topmost Authentication-Results shows dmarc=pass or dkim=pass
  for that domain. Residual risk: that header is taken to be the receiving server's; where the
  server adds none, a forger's is on top and anyone could unsubscribe anyone: off by default.
- Anything else `Unrecognised`, a report not tied to exactly one reader `Unverified`: left alone.
Hostile input (over `MAX_BYTES`, `MAX_PARTS` boundaries or `MAX_HEADER` characters in a header,
deep nesting, bad charsets, garbage) never raises and never names a reader.
"""

from __future__ import annotations

import email.errors
import re
from collections.abc import Iterable
from datetime import date
from email.message import EmailMessage, Message
from email.parser import BytesParser, Parser
from email.policy import EmailPolicy
from email.utils import getaddresses, parseaddr
from itertools import islice
from typing import TYPE_CHECKING, Any

from newsletter.addresses import reader_key
from newsletter.inbound import Bounce, Complaint, TooBig, Unrecognised, Unsubscribe, Unverified
from newsletter.tokens import Purpose, Signer, Verified

if TYPE_CHECKING:
    from newsletter.inbound import Report

MAX_BYTES = 2 * 1024 * 1024  # octets of one message; larger ones are skipped
MAX_PARTS = 1_000  # boundary-like lines: parsing 280,000 tiny parts takes 25 s
MAX_HEADER = 4_000  # characters of a header field: parsing a long one may take minutes
MAX_FIELDS = 20  # values of one header field read; parts of one multipart looked at
MAX_RECIPIENTS = 100  # per-recipient blocks of a delivery report read
ENVELOPE_HEADERS = ("Delivered-To", "X-Original-To", "Envelope-To", "X-Envelope-To", "To")
RECIPIENTS = ("Final-Recipient", "Original-Recipient")
_MALFORMED = (email.errors.MessageError, RecursionError, LookupError, ValueError, TypeError,
              AttributeError, AssertionError)  # the email package on hostile input  # fmt: skip
_STATUS = re.compile(r"\s*([245])\.(\d{1,3})\.(\d{1,3})(?!\d)")
_PREFIX = r"(?:(?:re|fwd?|aw|wg|tr|sv|vs|antw)\s*(?:\[\d+\])?\s*:\s*)*"
_SUBJECT = re.compile(rf"\s*{_PREFIX}unsubscribe(?:\s+(?P<token>[\w-]{{20,}}))?\s*\Z", re.I)
_LINK_TOKEN = re.compile(r"/u/([\w-]{42})|subject=unsubscribe(?:%20|\+|\s)+([\w-]{42})")
_AUTO_SUBJECT = re.compile(r"\s*(auto(matic)?[ -]?(reply|response)|out of (the )?office)", re.I)


class _Bounded(EmailPolicy):
    """`email.policy.default`, except that an overlong header field reads as empty."""

    def header_fetch_parse(self, name: str, value: str) -> Any:
        return super().header_fetch_parse(name, value if len(value) <= MAX_HEADER else "")


POLICY = _Bounded()


def classify(
    raw: bytes, *, signer: Signer, readers_by_key: Iterable[str], bounce_address: str | None,
    sender: str, today: date, plain_unsubscribe: bool = False,
) -> Report:  # fmt: skip
    """The report of one message (see the module's docstring); never raises on its content."""
    known = Classifier(signer, readers_by_key, bounce_address, sender, today, plain_unsubscribe)
    return known.classify(raw)


class Classifier:
    """Classifies messages for one config's readers, secret and addresses (hashed once)."""

    def __init__(
        self, signer: Signer, reader_keys: Iterable[str], bounce_address: str | None,
        sender: str, today: date, plain_unsubscribe: bool = False,
    ) -> None:  # fmt: skip
        self.signer, self.today, self.plain_unsubscribe = signer, today, plain_unsubscribe
        self.keys = frozenset(reader_keys)
        self._refs = signer.refs(self.keys)
        local, _, domain = reader_key(bounce_address or "").rpartition("@")
        self._bounce = (local, domain) if bounce_address else None
        self._sender = reader_key(parseaddr(sender)[1])

    def classify(self, raw: bytes) -> Report:
        if len(raw) > MAX_BYTES:
            return TooBig(len(raw))
        if raw.count(b"\n--") > MAX_PARTS:
            return Unrecognised(f"more than {MAX_PARTS:,} MIME boundaries")
        try:
            return self._classify(BytesParser(policy=POLICY).parsebytes(raw))
        except _MALFORMED as exc:
            return Unrecognised(f"unreadable ({type(exc).__name__})")

    def _classify(self, message: Message) -> Report:
        status, feedback = _part(message, "delivery-status"), _part(message, "feedback-report")
        if status is not None:
            return self._bounce_report(message, status)
        if feedback is not None:
            return self._complaint(message, feedback)
        if _automatic(message):
            return Unrecognised("an automatic reply")
        if _addresses(message, "From") == [self._sender]:
            return Unrecognised("from the newsletter's own address")
        return self._legacy_bounce(message) or self._unsubscribe(message)

    def _reader(self, verified: Verified | None) -> str:
        """The key of the reader a verified token was made for; "" for none or one not listed."""
        return self._refs[verified.generation].get(verified.ref, "") if verified else ""

    def _verp(self, message: Message) -> Verified | Unverified:
        """The one reader's token in the VERP addresses the message was delivered to."""
        if self._bounce is None:
            return Unverified("bounce", "no bounce_address is configured")
        tokens = {t for name in ENVELOPE_HEADERS for t in self._bounce_tokens(message, name)}
        if not tokens:
            return Unverified("bounce", "not sent to a bounce address of ours")
        verified = (self.signer.verify_bounce(t, self.today) for t in sorted(tokens))
        found = [v for v in verified if v is not None and self._reader(v)]
        if len({self._reader(v) for v in found}) != 1:
            reason = "tokens of several readers" if found else "no valid token"
            return Unverified("bounce", f"{reason} in its bounce address")
        return max(found, key=lambda v: v.day)

    def _bounce_tokens(self, message: Message, name: str) -> list[str]:
        """The tokens of our VERP addresses (`LOCAL+TOKEN@domain`) in a header field."""
        split = [(a.rpartition("@")[0].rpartition("+"), a.rpartition("@")[2])
                 for a in _addresses(message, name)]  # fmt: skip
        return [t for (base, plus, t), domain in split if plus and (base, domain) == self._bounce]

    def _unsubscriber(self, token: str) -> str:
        return self._reader(self.signer.verify(token, Purpose.UNSUBSCRIBE, self.today))

    def _bounce_report(self, message: Message, status: Message) -> Report:
        found = self._verp(message)
        if not isinstance(found, Verified):
            return found
        key, blocks = self._reader(found), _blocks(status)
        reporter = _after_type(_field(blocks[0], "Reporting-MTA")) if blocks else ""
        for block in blocks[1 : MAX_RECIPIENTS + 1]:
            named = {reader_key(_after_type(_field(block, f)).strip("<>")) for f in RECIPIENTS}
            if key in named:
                return _bounce(key, found.day, block, reporter)
        return Unverified("bounce", "the report does not name the address its token was made for")

    def _legacy_bounce(self, message: Message) -> Bounce | None:
        sender = next(iter(_addresses(message, "From")), "").partition("@")[0]
        found = self._verp(message) if sender in ("mailer-daemon", "postmaster") else None
        if not isinstance(found, Verified):
            return None
        subject = _line(_field(message, "Subject"))
        return Bounce(self._reader(found), found.day, False, "", subject, "")

    def _complaint(self, message: Message, feedback: Message) -> Report:
        fields = _inner(feedback) or feedback
        kind = _field(fields, "Feedback-Type").strip().lower()
        if kind != "abuse":
            return Unrecognised(f"a feedback report of type {kind or '(none)'}")
        original = _original(message)
        if original is None:
            return Unverified("complaint", "the report quotes no original message")
        tokens = self._bounce_tokens(original, "Return-Path")
        keys = {self._reader(self.signer.verify_bounce(t, self.today)) for t in tokens}
        links = _LINK_TOKEN.findall(" ".join(_raw(original, "List-Unsubscribe")))
        keys = {*keys, *(self._unsubscriber(path or mailto) for path, mailto in links)} - {""}
        if len(keys) != 1:
            reason = "tokens of several readers" if keys else "no token of ours"
            return Unverified("complaint", f"{reason} in the reported message")
        domain = next(iter(_addresses(message, "From")), "unknown").rpartition("@")[2]
        return Complaint(keys.pop(), _after_type(_field(fields, "Reporting-MTA")) or domain)

    def _unsubscribe(self, message: Message) -> Report:
        found = _SUBJECT.match(_field(message, "Subject"))
        if found and found["token"]:
            key = self._unsubscriber(found["token"])
            if key:
                return Unsubscribe(key, "token")
            reason = "its token is not ours, altered, expired or of a reader no longer listed"
            return Unverified("unsubscribe", reason)
        if not (found or _first_line(message) == "unsubscribe"):
            return Unrecognised("not a report and not an unsubscribe")
        if not self.plain_unsubscribe:
            return Unverified("unsubscribe", "no token (plain unsubscribes are not accepted)")
        senders = _addresses(message, "From")
        if len(senders) != 1 or senders[0] not in self.keys:
            return Unverified("unsubscribe", "no token, and not from exactly one reader")
        domain = senders[0].rpartition("@")[2]
        if not _authenticated(_raw(message, "Authentication-Results")[:1], domain):
            return Unverified("unsubscribe", "no token, and no dmarc=pass or dkim=pass")
        return Unsubscribe(senders[0], "address")


def _bounce(key: str, day: date, block: Message, reporter: str) -> Report:
    action = _field(block, "Action").strip().lower()
    found = _STATUS.match(_field(block, "Status"))
    status = ".".join(found.groups()) if found else ""
    if action not in ("failed", "delayed"):
        return Unrecognised(f"a delivery report with action {action or '(none)'}")
    code = status.split(".")  # class, subject, detail (RFC 3463)
    sender_side = code[1:2] == ["7"] or code[1:] == ["2", "2"]  # a policy refusal, mailbox full
    hard = action == "failed" and code[0] == "5" and not sender_side
    detail = _line(_field(block, "Diagnostic-Code")) or status or action
    return Bounce(key, day, hard, status, detail, reporter)


def _part(message: Message, report: str) -> Message | None:
    """The `message/delivery-status` (or global) or `message/feedback-report` part."""
    kinds = {f"message/{report}", f"message/global-{report}"}
    parts = islice(message.get_payload(), MAX_FIELDS) if message.is_multipart() else ()
    return next((p for p in parts if p.get_content_type() in kinds), None)


def _blocks(status: Message) -> list[Message]:
    """The per-message block, then the per-recipient blocks, of a delivery-status part."""
    payload = status.get_payload()
    if status.get_content_type() == "message/delivery-status":
        return [b for b in payload if isinstance(b, Message)] if isinstance(payload, list) else []
    first = _inner(status)  # the global kind is parsed as one message, the blocks as its body
    if first is None:
        return []
    body = bytes(first.get_payload(decode=True) or b"").decode("utf-8", "replace")
    texts = islice(re.split(r"\r?\n[ \t]*\r?\n", body), MAX_RECIPIENTS)
    return [first, *(Parser(policy=POLICY).parsestr(t, headersonly=True) for t in texts)]


def _inner(part: Message) -> Message | None:
    payload = part.get_payload()
    inner = payload[0] if isinstance(payload, list) and payload else None
    return inner if isinstance(inner, Message) else None


def _original(message: Message) -> Message | None:
    """The headers of the message a feedback report is about."""
    for part in islice(message.get_payload(), MAX_FIELDS):
        if part.get_content_type() == "message/rfc822":
            return _inner(part)
        if part.get_content_type() == "text/rfc822-headers":
            data = part.get_payload(decode=True)
            return BytesParser(policy=POLICY).parsebytes(data or b"", headersonly=True)
    return None


def _raw(message: Message, name: str) -> list[str]:
    """The first values of a header field as written, overlong ones dropped."""
    values = (str(v) for k, v in message.raw_items() if k.lower() == name.lower())
    return [v for v in islice(values, MAX_FIELDS) if len(v) <= MAX_HEADER]


def _field(message: Message, name: str) -> str:
    """The first value of a header field, decoded (RFC 2047); "" when absent or overlong."""
    values = _raw(message, name)
    return str(POLICY.header_fetch_parse(name, values[0])) if values else ""


def _addresses(message: Message, name: str) -> list[str]:
    """The addresses in a header field, as keys."""
    return [reader_key(a) for _, a in getaddresses(_raw(message, name)) if a]


def _after_type(value: str) -> str:  # `dns; mx.example.org` -> `mx.example.org`
    return _line(value.partition(";")[2] if ";" in value else value)


def _line(text: str) -> str:
    printable = "".join(c if c.isprintable() else " " for c in text)
    return " ".join(printable.split())[:200]


def _automatic(message: Message) -> bool:
    """RFC 3834 auto-replies and vacation messages."""
    submitted = _field(message, "Auto-Submitted").strip().lower() not in ("", "no")
    flagged = any(_raw(message, name) for name in ("X-Autoreply", "X-Autorespond"))
    flagged = flagged or "auto_reply" in _field(message, "Precedence").lower()
    return submitted or flagged or bool(_AUTO_SUBJECT.match(_field(message, "Subject")))


def _first_line(message: Message) -> str:
    body = message.get_body(("plain",)) if isinstance(message, EmailMessage) else None
    text = str(body.get_content())[:4096] if isinstance(body, EmailMessage) else ""
    return next((line.strip().lower() for line in text.splitlines() if line.strip()), "")


def _authenticated(results: list[str], domain: str) -> bool:
    """Whether an Authentication-Results value shows dmarc=pass for `domain` (header.from) or
    dkim=pass signed by it (header.d)."""
    want = {"dmarc": "header.from", "dkim": "header.d"}
    for resinfo in re.sub(r"\([^()]*\)", " ", results[0] if results else "").split(";")[1:]:
        words = resinfo.lower().split()
        method, _, result = (words or ["="])[0].partition("=")
        properties = dict(w.partition("=")[::2] for w in words[1:])
        if method in want and result == "pass" and properties.get(want[method]) == domain:
            return True
    return False
