"""The SMTP connection under the smtp backend: smtplib with a deadline on every reply, replies
read strictly, and one function that cleans and redacts every text leaving the backend.

- Deadlines. smtplib's `timeout` bounds each read from the socket, so a server dripping a reply
  one byte at a time holds the client for ever. Here every reply (the greeting, EHLO, STARTTLS,
  AUTH, MAIL, RCPT, DATA, the reply after the final ".", RSET, QUIT) must be complete within
  `timeout` seconds of the moment the client starts waiting for it; so must the connect (all
  addresses together), each TLS handshake and the sending of the message data. A deadline
  missed raises `NoReply`.
- Pipelining (RFC 2920): `envelope` sends MAIL FROM, RCPT TO and DATA in one write when the
  server offers it, and reads their replies in order, each with its deadline.
- Strict replies. A reply that is not SMTP (no three-digit code from 2xx to 5xx, codes that
  change between the lines of one reply, binary, an endless line) raises `UnreadableReply`
  carrying the raw text; smtplib would answer code -1 and drop the first four characters.
- Every failure says what happened and where: `NoReply`, `UnreadableReply`, `ConnectionLost`
  (the server closed or reset the connection), connection refused, TLS failed (`describe`).
- `Redactor`: the SMTP password and user name in every form the login sent them (plain,
  base64, the AUTH PLAIN and AUTH LOGIN blobs, base64 at any alignment) removed from a text,
  which is also made one printable line. Servers echo credentials in their errors.
"""

from __future__ import annotations

import base64
import re
import smtplib
import socket
import ssl
import time
from collections.abc import Sequence
from urllib.parse import quote

MAX_LINE = 8192  # octets in one reply line (smtplib's limit); longer is not SMTP
MAX_REPLY = 65536  # octets in one reply, all its lines
_REPLY_LINE = re.compile(rb"([2-5][0-9][0-9])(?:([ -])(.*))?\Z", re.S)
_STAGES = {"ehlo": "EHLO", "helo": "HELO", "starttls": "STARTTLS", "auth": "AUTH",
           "mail": "MAIL FROM", "rcpt": "RCPT TO", "data": "DATA", "rset": "RSET",
           "quit": "QUIT", "noop": "NOOP"}  # fmt: skip
GREETING = "the greeting"
GREETING_TIMEOUT = 30.0  # seconds: a server greets at once; silence means a wrong port
MESSAGE_DATA = "the message data"


class NoReply(smtplib.SMTPException):
    """A deadline passed: no complete reply (or connection, or handshake) in time."""


class UnreadableReply(smtplib.SMTPException):
    """The server answered something that is not an SMTP reply (quoted in the message)."""


class ConnectionLost(smtplib.SMTPServerDisconnected):
    """The server closed or reset the connection: `what` happened, `stage` the client's wait."""

    def __init__(self, what: str, stage: str = "") -> None:
        super().__init__(f"{what}, {waiting(stage)}" if stage else what)
        self.what = what


def _about(stage: str) -> str:
    """`to MAIL FROM`, `after the message data`, `as the greeting`: which reply."""
    if stage == GREETING:
        return "as the greeting"
    return "after the message data" if stage == MESSAGE_DATA else f"to {stage}"


def late(stage: str, timeout: float) -> str:
    """`no reply within 10 s to MAIL FROM`, `no greeting within 10 s`."""
    if stage == GREETING:
        return f"no SMTP greeting within {timeout:g} s: is this the SMTP port?"
    return f"no reply within {timeout:g} s {_about(stage)}"


def waiting(stage: str) -> str:
    """`waiting for the reply to MAIL FROM`, `waiting for the greeting`."""
    return f"waiting for {stage}" if stage == GREETING else f"waiting for the reply {_about(stage)}"


class Connection(smtplib.SMTP):
    """One SMTP connection whose every wait has a deadline of `timeout` seconds. With
    `implicit_tls` (a context) the connection is TLS from the start (port 465)."""

    def __init__(
        self,
        host: str,
        *,
        timeout: float,
        tls: ssl.SSLContext,
        implicit_tls: bool = False,
        redactor: Redactor | None = None,
    ) -> None:
        super().__init__(timeout=timeout)
        self._host = host  # the name the certificate must carry
        self.tls = tls
        self.implicit_tls = implicit_tls
        self.redactor = redactor
        self.stage = "the connection"
        self._inbox = bytearray()

    # -- connecting

    def open(self, port: int) -> None:
        """Connect and read the greeting; `SMTPConnectError` unless it is 220."""
        self.stage = GREETING
        code, reply = self.connect(self._host, port)
        if code != 220:
            self.close()
            raise smtplib.SMTPConnectError(code, reply)

    def _get_socket(self, host: str, port: int, timeout: float | None) -> socket.socket:
        deadline = time.monotonic() + self.timeout
        sock = _connect_within(host, port, deadline, self.timeout)
        return self._handshake(sock, deadline) if self.implicit_tls else sock

    def secure(self) -> None:
        """STARTTLS and the TLS handshake, each within the deadline (certificate verified)."""
        code, reply = self.docmd("STARTTLS")
        if code != 220:
            raise smtplib.SMTPResponseException(code, reply)
        if self._inbox:  # a reply injected before TLS (CVE-2011-0411): never trust it
            raise UnreadableReply("the server sent data before the TLS handshake")
        assert self.sock is not None
        self.sock = self._handshake(self.sock, time.monotonic() + self.timeout)
        self.helo_resp = self.ehlo_resp = None  # RFC 3207: forget what was said in the clear
        self.esmtp_features = {}
        self.does_esmtp = False

    def _handshake(self, sock: socket.socket, deadline: float) -> ssl.SSLSocket:
        # the socket timeout bounds the whole handshake (Python >= 3.5), not each read
        sock.settimeout(max(deadline - time.monotonic(), 0.001))
        try:
            secured = self.tls.wrap_socket(sock, server_hostname=self._host)
        except TimeoutError as exc:
            sock.close()
            raise NoReply(f"TLS handshake not finished within {self.timeout:g} s") from exc
        except OSError:
            sock.close()
            raise
        secured.settimeout(self.timeout)
        return secured

    # -- commands and replies

    def putcmd(self, cmd: str, args: str = "") -> None:
        stage = _STAGES.get(cmd.lower())
        if self.redactor is not None and (stage or self.stage) == "AUTH":
            self.redactor.learn(args.partition(" ")[2] if stage else cmd)  # the blobs sent
        if stage:
            self.stage = stage
        super().putcmd(cmd, args)

    def send(self, s: bytes | str) -> None:  # type: ignore[override]
        """Send all of `s` within the deadline; a failure says what happened."""
        if self.sock is None:
            raise ConnectionLost("not connected")
        data = s.encode(self.command_encoding) if isinstance(s, str) else s
        self.sock.settimeout(self.timeout)  # sendall: the timeout bounds the whole call
        try:
            self.sock.sendall(data)
        except TimeoutError as exc:
            self.close()
            raise NoReply(f"the server took no data for {self.timeout:g} s") from exc
        except OSError as exc:
            self.close()
            raise ConnectionLost(f"{describe(exc)} while sending {self.stage}") from exc

    def _reply_timeout(self) -> float:
        """Every reply's deadline; the greeting's is shorter (a server greets at once)."""
        return min(self.timeout, GREETING_TIMEOUT) if self.stage == GREETING else self.timeout

    def getreply(self) -> tuple[int, bytes]:
        """The next reply as (code, text of its lines joined by newlines), complete within
        `timeout` seconds; `NoReply`, `UnreadableReply` or `ConnectionLost` otherwise."""
        deadline = time.monotonic() + self._reply_timeout()
        code, lines, texts, size = b"", list[bytes](), list[bytes](), 0
        while True:
            lines.append(self._line(deadline).rstrip(b"\r\n"))
            size += len(lines[-1])
            found = _REPLY_LINE.match(lines[-1])
            if found is None or found[1] != (code or found[1]) or size > MAX_REPLY:
                self.close()
                raw = b"\n".join(lines)  # as sent: the client's words for it are no use here
                shown = _decoded(raw)
                raise UnreadableReply(f"not an SMTP reply {_about(self.stage)}: {shown}")
            code = found[1]
            texts.append((found[3] or b"").strip(b" \t"))
            if found[2] != b"-":
                return int(code), b"\n".join(texts)

    def envelope(
        self, sender: str, recipient: str, options: Sequence[str]
    ) -> tuple[str, int, bytes] | None:
        """MAIL FROM, RCPT TO and DATA: None when the message data may follow, else the first
        refusal as (stage, code, text). With PIPELINING (RFC 2920) the three go in one write
        (DATA ends a group) and all three replies are read; a 354 after a refusal (3.1: DATA
        is not always refused then) gets no data: the connection is closed."""
        if not self.has_extn("pipelining"):
            for stage, command in self._commands(sender, recipient, options):
                self.putcmd(command)
                self.stage = stage
                code, text = self.getreply()
                if not _accepted(stage, code):
                    return stage, code, text
            return None
        commands = self._commands(sender, recipient, options)
        self.stage = "MAIL FROM"
        self.send("".join(f"{command}\r\n" for _, command in commands))
        replies = []
        for stage, _ in commands:
            self.stage = stage
            replies.append((stage, *self.getreply()))
        refused = [(stage, code, text) for stage, code, text in replies
                   if not _accepted(stage, code)]  # fmt: skip
        if refused and replies[-1][1] == 354:
            self.close()
        return refused[0] if refused else None

    def _commands(
        self, sender: str, recipient: str, options: Sequence[str]
    ) -> list[tuple[str, str]]:
        if "SMTPUTF8" in options:
            self.command_encoding = "utf-8"
        mail = f"MAIL FROM:{smtplib.quoteaddr(sender)}{''.join(f' {o}' for o in options)}"
        commands = [("MAIL FROM", mail), ("RCPT TO", f"RCPT TO:{smtplib.quoteaddr(recipient)}")]
        if any("\r" in c or "\n" in c for _, c in commands):
            raise ValueError("a line break in an SMTP command")
        return [*commands, ("DATA", "DATA")]

    def _line(self, deadline: float) -> bytes:
        while True:
            end = self._inbox.find(b"\n")
            if end >= 0:
                line = bytes(self._inbox[: end + 1])
                del self._inbox[: end + 1]
                return line
            if len(self._inbox) > MAX_LINE:
                self.close()
                what = f"a reply line longer than {MAX_LINE} octets {_about(self.stage)}"
                raise UnreadableReply(what)
            self._inbox += self._receive(deadline)

    def _receive(self, deadline: float) -> bytes:
        remaining = deadline - time.monotonic()
        if self.sock is None:
            raise ConnectionLost("not connected", self.stage)
        if remaining <= 0:
            raise NoReply(late(self.stage, self._reply_timeout()))
        self.sock.settimeout(remaining)
        try:
            chunk = self.sock.recv(4096)
        except TimeoutError as exc:
            raise NoReply(late(self.stage, self._reply_timeout())) from exc
        except OSError as exc:
            self.close()
            raise ConnectionLost(describe(exc), self.stage) from exc
        if not chunk:
            self.close()
            raise ConnectionLost("the server closed the connection", self.stage)
        return chunk

    def close(self) -> None:
        self._inbox.clear()
        super().close()


def _accepted(stage: str, code: int) -> bool:
    return code == 354 if stage == "DATA" else 200 <= code < 300


def _connect_within(host: str, port: int, deadline: float, timeout: float) -> socket.socket:
    """A TCP connection to one of `host`'s addresses, all tries within the deadline."""
    failure: OSError | None = None
    for family, kind, proto, _, address in socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        sock = socket.socket(family, kind, proto)
        sock.settimeout(remaining)
        try:
            sock.connect(address)
        except OSError as exc:
            sock.close()
            failure = exc
            continue
        return sock
    if failure is None or isinstance(failure, TimeoutError):
        raise NoReply(f"could not connect within {timeout:g} s") from failure
    raise failure


def describe(exc: BaseException) -> str:
    """What went wrong, in words, not yet cleaned or redacted (see `Redactor.clean`)."""
    if isinstance(exc, NoReply | UnreadableReply | ConnectionLost):
        return str(exc)
    if isinstance(exc, smtplib.SMTPResponseException):
        return f"{exc.smtp_code} {_decoded(exc.smtp_error)}"
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return "the server closed the connection"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, ConnectionResetError | ConnectionAbortedError | BrokenPipeError):
        return "connection reset by the server"
    if isinstance(exc, ssl.SSLEOFError | ssl.SSLZeroReturnError):
        return "the server closed the connection during TLS"
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"TLS failed: {exc.reason} ({exc.verify_message})"
    if isinstance(exc, ssl.SSLError):
        return f"TLS failed: {exc.reason or exc}"
    if isinstance(exc, TimeoutError):
        return "timed out"
    if isinstance(exc, OSError):
        return exc.strerror or exc.__class__.__name__
    return str(exc) or exc.__class__.__name__


def _decoded(text: bytes | str) -> str:
    return text.decode("utf-8", "replace") if isinstance(text, bytes) else text


class Redactor:
    """Removes secrets (and what base64 makes of them) from any text, and makes it one
    printable line: the one door every reply text, error and log line goes through."""

    MARK = "[redacted]"
    LIMIT = 300  # characters kept of a cleaned text

    def __init__(self, username: str | None = None, password: str | None = None) -> None:
        self._forms: set[str] = set()
        self._pattern: re.Pattern[str] | None = None
        if password:
            self._add_secret(password, plain=True)
            user = username or ""
            for blob in (f"\0{user}\0{password}", f"{user}\0{user}\0{password}"):
                self.learn(_b64(blob.encode()))  # AUTH PLAIN, without and with an authzid
        if username:  # a name of one or two letters would redact every word
            self._add_secret(username, plain=len(username) >= 3)

    def _add_secret(self, secret: str, *, plain: bool) -> None:
        """The secret as written and in base64, whole or at any alignment in a longer text."""
        if plain:
            self._forms.add(secret)
            printable = " ".join("".join(c if c.isprintable() else " " for c in secret).split())
            encoded = "".join(
                c if c.isalnum() else "".join(f"%{b:02X}" for b in c.encode()) for c in secret
            )
            forms = (printable, quote(secret, safe=""), encoded, encoded.lower())
            self._forms.update(form for form in forms if form)
            self._forms.update({secret.encode().hex(), secret.encode().hex().upper()})
        data = secret.encode()
        self._forms.add(_b64(data))
        for offset in range(3):  # base64 of the secret inside a longer base64 text
            encoded = _b64(b"\0" * offset + data)
            start = 4 if offset else 0
            whole = (offset + len(data)) // 3 * 4
            if whole - start >= 8:  # shorter cores match too much unrelated text
                self._forms.add(encoded[start:whole])
        self._pattern = None

    def learn(self, *blobs: str) -> None:
        """Texts the login sent (AUTH blobs): secret from now on."""
        for blob in blobs:
            blob = blob.strip()
            if len(blob) >= 4 and blob != "=":
                self._forms.add(blob)
                self._pattern = None

    def redact(self, text: str) -> str:
        if not self._forms:
            return text
        if self._pattern is None:
            ordered = sorted(self._forms, key=len, reverse=True)
            # a reply may break a secret over lines: whitespace may stand between its characters
            spaced = (r"\s*".join(re.escape(c) for c in form) for form in ordered)
            self._pattern = re.compile("|".join(spaced))
        return self._pattern.sub(self.MARK, text)

    def clean(self, text: bytes | str) -> str:
        """`text` redacted and as one printable line of at most `LIMIT` characters."""
        redacted = self.redact(_decoded(text))
        printable = "".join(c if c.isprintable() else " " for c in redacted)
        return self.redact(" ".join(printable.split()))[: self.LIMIT]


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")
