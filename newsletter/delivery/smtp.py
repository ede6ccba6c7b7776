"""SMTP: one verified connection reused for many messages, every reply classified.

- TLS: `tls` connects with TLS, `starttls` requires the STARTTLS extension (never falls back to
  plain text), both with `ssl.create_default_context()` (certificates verified). AUTH happens
  only over TLS, or with `security: none` written in the config.
- The password is read from the environment variable named by `password_env`; it never appears
  in a result, a log line or an exception: every text from the server or about it goes through
  one `Redactor` (`smtp_wire`), which removes the credentials in every form the login sent,
  also when a server echoes them in an error. smtplib's debug output, which prints them, stays
  off.
- Deadlines: every reply, the connect and each TLS handshake must be complete within
  `smtp.timeout` seconds, however slowly the server drips its bytes (`smtp_wire.Connection`).
- Replies: 2xx accepted; 4xx (and 552 at RCPT) temporary, retried with exponential backoff and
  jitter within the run, then deferred to the next run; only a real 5xx is permanent (failed,
  never retried). No reply in time, a reply that is not SMTP, or an unexpected code before the
  message data: deferred to the next run, the connection dropped, not retried in this run (a
  server in that state would only be hammered).
- The ambiguous window (RFC 1047): after the message data went out, no reply in time, a reply
  that is not SMTP, or a connection lost leaves the message in doubt: it may have been
  delivered. It is never retried here.
- Internationalised addresses: a message that needs SMTPUTF8 (`Message.needs_smtputf8`) is sent
  with the SMTPUTF8 MAIL parameter when the server offers the extension; otherwise that reader
  fails, with the reason, and the connection goes on serving the others.
- After `breaker` temporary failures in a row the server is left alone for this run.
- Many messages per connection (up to `max_messages_per_connection`, then another one), with
  MAIL FROM, RCPT TO and DATA sent together when the server offers PIPELINING (RFC 2920: DATA
  ends the group; the data goes only once all three replies are read, and the reply to its
  final "." is read before the connection carries anything else).
- Several connections at once: one backend per thread (`copy`), all sharing one `Relay`
  (`relay.py`): the connections and messages a second allowed, and how many may send now. A
  421, or a 4xx at the connection, MAIL FROM or DATA (or a 4.7.x policy refusal at RCPT), asks
  for fewer; a 421 also closes that connection.
"""

from __future__ import annotations

import logging
import os
import random
import re
import smtplib
import ssl
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Self

from newsletter.delivery.base import Backend, Handover, Outcome, Result, claim_lost, nothing
from newsletter.delivery.relay import Relay, Share
from newsletter.delivery.smtp_wire import (
    MESSAGE_DATA,
    Connection,
    ConnectionLost,
    NoReply,
    Redactor,
    UnreadableReply,
    describe,
)
from newsletter.errors import ClaimLost, DeliveryError

if TYPE_CHECKING:
    from newsletter.config import Config
    from newsletter.config_blocks import SmtpConfig
    from newsletter.mail import Message

log = logging.getLogger(__name__)
_LEADING_DOT = re.compile(rb"(?m)^\.")
_MAYBE = "it may have been delivered"
_STUCK = (NoReply, UnreadableReply)  # the server is not answering SMTP: not retried in the run
_CODE_AND_TEXT = (smtplib.SMTPResponseException, smtplib.SMTPConnectError,
                  smtplib.SMTPHeloError, smtplib.SMTPAuthenticationError)  # fmt: skip


class _InDoubtError(Exception):
    """The data went out; no usable reply came back. The message is the reason, in words."""


class _ConnectError(DeliveryError):
    """The connection could not be made ready; `retry`: worth another try in this run."""

    def __init__(self, message: str, *, retry: bool) -> None:
        super().__init__(message)
        self.retry = retry


class SmtpBackend(Backend):
    name = "smtp"

    @property
    def target(self) -> str:
        return f"smtp://{self.settings.host}:{self.settings.effective_port}"

    def __init__(
        self,
        settings: SmtpConfig,
        *,
        attempts: int = 4,
        base_delay: float = 2.0,
        deadline: float = 300.0,
        breaker: int = 5,
        sleep: Callable[[float], None] = time.sleep,
        context: ssl.SSLContext | None = None,
        relay: Relay | None = None,
    ) -> None:
        self.settings = settings
        self.attempts = attempts
        self.base_delay = base_delay
        self.deadline = deadline
        self.breaker = breaker
        self.sleep = sleep
        self.context = context or ssl.create_default_context()
        self.relay = relay or Relay(settings.max_connections, settings.max_rate)
        self._connection: Connection | None = None
        self._transactions = 0  # over the open connection
        self._busy: str | None = None  # the last try's reply asking us to slow down
        self._redactor = self._new_redactor()

    @classmethod
    def from_config(cls, config: Config) -> Self:
        if config.newsletter.smtp is None:
            raise DeliveryError(f"{config.path}: the smtp backend needs a newsletter.smtp block")
        return cls(config.newsletter.smtp)

    # -- connection

    def open(self) -> None:
        self._connect()

    def divide(self, share: Share) -> int:
        settings = self.settings
        self.relay = Relay(settings.max_connections, settings.max_rate, share)
        return self.relay.connections

    def copy(self) -> Self:
        return type(self)(
            self.settings, attempts=self.attempts, base_delay=self.base_delay,
            deadline=self.deadline, breaker=self.breaker, sleep=self.sleep,
            context=self.context, relay=self.relay,
        )  # fmt: skip

    def window(self) -> int:
        return self.relay.window.size

    def ready(self) -> None:
        if self._connection is not None:
            return
        epoch = self.relay.window.epoch
        try:
            self._connect()
        except _ConnectError as exc:
            if exc.retry:
                self.relay.window.refused(epoch, str(exc))
            raise

    def _connect(self) -> Connection:
        settings = self.settings
        where = f"SMTP server {settings.host}:{settings.effective_port}"
        password = self._password() if settings.username else ""
        self._redactor = self._new_redactor()
        connection = Connection(
            settings.host,
            timeout=settings.timeout,
            tls=self.context,
            implicit_tls=settings.security == "tls",
            redactor=self._redactor,
        )
        try:
            connection.open(settings.effective_port)
            self._hello(connection)
            if settings.security == "starttls":
                if not connection.has_extn("starttls"):
                    raise _ConnectError(
                        f"{where} does not offer STARTTLS; refusing to send in the clear "
                        "(set security: none to allow it)",
                        retry=False,
                    )
                connection.secure()
                self._hello(connection)
            if settings.username:
                connection.login(settings.username, password)
        except _ConnectError:
            connection.close()
            raise
        except (smtplib.SMTPException, OSError) as exc:
            connection.close()
            raise self._connect_error(where, exc) from self._shown(exc)
        self._connection, self._transactions = connection, 0
        return connection

    @staticmethod
    def _hello(connection: Connection) -> None:
        """EHLO, or HELO from a server that does not know EHLO; the reply must be 2xx."""
        code, reply = connection.ehlo()
        if not 200 <= code < 300:
            code, reply = connection.helo()
        if not 200 <= code < 300:
            raise smtplib.SMTPHeloError(code, reply)

    def _connect_error(self, where: str, exc: BaseException) -> _ConnectError:
        reason = self._text(describe(exc))
        if isinstance(exc, smtplib.SMTPAuthenticationError):
            return _ConnectError(f"{where} refused the login: {reason}", retry=False)
        if isinstance(exc, smtplib.SMTPNotSupportedError) or type(exc) is smtplib.SMTPException:
            # no AUTH offered, no usable mechanism: asking again cannot help
            return _ConnectError(f"{where} cannot log in: {reason}", retry=False)
        if isinstance(exc, smtplib.SMTPConnectError):
            return _ConnectError(f"{where} refused the connection: {reason}", retry=True)
        return _ConnectError(f"{where}: {reason}", retry=not isinstance(exc, _STUCK))

    def _shown(self, exc: BaseException) -> BaseException:
        """`exc` as a cause fit to show under --debug: the server's text redacted."""
        if isinstance(exc, smtplib.SMTPResponseException):
            kind = type(exc) if type(exc) in _CODE_AND_TEXT else smtplib.SMTPResponseException
            return kind(exc.smtp_code, self._text(exc.smtp_error))
        if isinstance(exc, UnreadableReply):
            return UnreadableReply(self._text(str(exc)))
        if isinstance(exc, smtplib.SMTPException):
            return type(exc)(self._text(str(exc)))
        return exc

    def _new_redactor(self) -> Redactor:
        settings = self.settings
        password = os.environ.get(settings.password_env) if settings.username else None
        return Redactor(settings.username, password)

    def _text(self, text: bytes | str) -> str:
        """Every text that leaves this backend: one printable line, credentials redacted."""
        return self._redactor.clean(text)

    def _password(self) -> str:
        name = self.settings.password_env
        password = os.environ.get(name)
        if not password:
            raise _ConnectError(f"SMTP password: set the environment variable {name}", retry=False)
        return password

    def close(self) -> None:
        connection, self._connection = self._connection, None
        if connection is None:
            return
        try:
            connection.quit()
        except (smtplib.SMTPException, OSError):
            connection.close()

    # -- sending

    def send(self, message: Message, handing_over: Handover = nothing) -> Result:
        relay = self.relay
        if relay.temporary_in_a_row >= self.breaker:
            return Result(Outcome.DEFERRED, "not tried: the server kept failing in this run")
        started = time.monotonic()
        result, retry = Result(Outcome.DEFERRED, "not tried"), False
        for attempt in range(self.attempts):
            epoch = relay.window.epoch
            relay.pacer.wait()
            result, retry = self._send_once(message, handing_over)
            if self._busy is not None:
                relay.window.refused(epoch, self._busy)
            if self._transactions >= self.settings.max_messages_per_connection:
                self.close()  # the next message opens another connection
            if not retry or attempt + 1 == self.attempts:
                break
            if time.monotonic() - started > self.deadline:
                break
            delay = self.base_delay * 2**attempt * (0.5 + random.random())
            log.info("%s: %s; retrying in %.1f s", message.envelope.recipient, result.detail, delay)
            self.sleep(delay)
        relay.outcome(temporary=result.outcome is Outcome.DEFERRED)
        if result.outcome is Outcome.SENT:
            relay.window.accepted()
        return result

    def _send_once(self, message: Message, handing_over: Handover) -> tuple[Result, bool]:
        """One try: the result, and whether another try in this run is worth it."""
        self._busy = None
        try:
            connection = self._connection or self._connect()
            return self._transaction(connection, message, handing_over)
        except ClaimLost as exc:  # the DATA command was answered, no data left: drop it all
            self._drop()
            return claim_lost(exc), False
        except _InDoubtError as exc:
            self._drop()
            return Result(Outcome.IN_DOUBT, self._text(str(exc))), False
        except _ConnectError as exc:
            self._drop()
            self._busy = str(exc) if exc.retry else None
            return Result(Outcome.DEFERRED, str(exc)), exc.retry
        except (smtplib.SMTPException, OSError) as exc:
            self._drop()
            return Result(Outcome.DEFERRED, self._text(describe(exc))), not isinstance(exc, _STUCK)

    def _transaction(
        self, connection: Connection, message: Message, handing_over: Handover
    ) -> tuple[Result, bool]:
        envelope = message.envelope
        options: list[str] = []
        if message.needs_smtputf8:
            if not connection.has_extn("smtputf8"):
                needed = message.international_address
                reason = f"the server does not offer SMTPUTF8, needed for {needed}"
                return Result(Outcome.FAILED, self._text(reason)), False
            options = ["SMTPUTF8", *(["BODY=8BITMIME"] if connection.has_extn("8bitmime") else [])]
        self._transactions += 1
        refused = connection.envelope(envelope.sender, envelope.recipient, options)
        if refused is not None:
            stage, code, reply = refused
            if connection.sock is None:  # DATA accepted after a refusal: dropped, nothing sent
                self._drop()
            return self._refused(connection, code, reply, stage, rcpt=stage == "RCPT TO")
        code, reply = self._data(connection, message.data, handing_over)
        if 200 <= code < 300:
            return Result(Outcome.SENT, self._text(_reply(code, reply))), False
        if 400 <= code < 600:
            return self._refused(connection, code, reply, "DATA")
        raise _InDoubtError(
            f"unexpected reply after the message data: {_reply(code, reply)}; {_MAYBE}"
        )

    def _data(
        self, connection: Connection, data: bytes, handing_over: Handover
    ) -> tuple[int, bytes]:
        """The message and the reply to its final "."; a failure to get a usable reply once the
        data went out is `_InDoubtError`."""
        # base64 bodies never start a line with "."; the check is a fast scan, the regex is not
        stuffing = data.startswith(b".") or b"\n." in data
        payload = _LEADING_DOT.sub(b"..", data) if stuffing else data
        if not payload.endswith(b"\r\n"):
            payload += b"\r\n"
        handing_over()
        connection.stage = MESSAGE_DATA
        connection.send(payload + b".\r\n")  # a failure here: the "." did not go out, deferred
        try:
            return connection.getreply()
        except ConnectionLost as exc:
            lost = f"connection lost waiting for the reply after the message data: {exc.what}"
            raise _InDoubtError(f"{lost}; {_MAYBE}") from exc
        except (smtplib.SMTPException, OSError) as exc:
            raise _InDoubtError(f"{describe(exc)}; {_MAYBE}") from exc

    def _refused(
        self, connection: Connection, code: int, reply: bytes, stage: str, *, rcpt: bool = False
    ) -> tuple[Result, bool]:
        """A reply other than the expected one: 4xx (and 552 at RCPT) temporary, worth a retry;
        5xx permanent; anything else a server out of step, deferred and the connection dropped."""
        detail = self._text(f"{stage}: {_reply(code, reply)}")
        temporary = 400 <= code < 500 or (rcpt and code == 552)
        if 400 <= code < 500 and (not rcpt or code == 421 or reply.lstrip().startswith(b"4.7.")):
            self._busy = detail  # the relay, not this recipient, asks us to slow down
        if code == 421:  # the server is closing this connection
            self._drop()
            return Result(Outcome.DEFERRED, detail), True
        if temporary or 500 <= code < 600:
            try:
                connection.rset()
            except (smtplib.SMTPException, OSError):
                self._drop()
            if temporary:
                return Result(Outcome.DEFERRED, detail), True
            return Result(Outcome.FAILED, detail, _bounce(code, reply) if rcpt else None), False
        self._drop()
        return Result(Outcome.DEFERRED, f"{detail} (unexpected)"), False

    def _drop(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            connection.close()


_ENHANCED = re.compile(rb"^\s*([245]\.\d{1,3}\.\d{1,3})\b")


def _bounce(code: int, reply: bytes) -> str:
    """What a permanent refusal of a recipient says: its enhanced status code (RFC 3463) when
    the reply starts with one of class 5, else the reply code."""
    found = _ENHANCED.match(reply)
    if found and found.group(1).startswith(b"5"):
        return found.group(1).decode()
    return str(code)


def _reply(code: int, text: bytes) -> str:
    return f"{code} {text.decode('utf-8', 'replace')}"
