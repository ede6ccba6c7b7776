"""SMTP: one verified connection reused for many messages, every reply classified.

- TLS: `tls` connects with TLS, `starttls` requires the STARTTLS extension (never falls back to
  plain text), both with `ssl.create_default_context()` (certificates verified). AUTH happens
  only over TLS, or with `security: none` written in the config.
- The password is read from the environment variable named by `password_env`; it never appears
  in a message, a log line or an exception (smtplib's debug output, which prints it, stays off).
- Replies: 2xx sent; 4xx (and 552 at RCPT) temporary, retried with exponential backoff and jitter
  within the run, then deferred to the next run; other 5xx permanent, failed with the reply.
- A connection that breaks after the message data was sent but before the server's reply
  leaves the message in doubt: it may have been delivered (RFC 1047). It is never retried here.
- After `breaker` temporary failures in a row the server is left alone for this run.
"""

from __future__ import annotations

import logging
import os
import random
import re
import smtplib
import socket
import ssl
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Self

from newsletter.delivery.base import Backend, Handover, Outcome, Result, nothing
from newsletter.errors import DeliveryError

if TYPE_CHECKING:
    from newsletter.config import Config, SmtpConfig
    from newsletter.mail import Message

log = logging.getLogger(__name__)
_LEADING_DOT = re.compile(rb"(?m)^\.")


class _InDoubtError(Exception):
    """The data went out; the reply did not come back."""


class SmtpBackend(Backend):
    name = "smtp"

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
    ) -> None:
        self.settings = settings
        self.attempts = attempts
        self.base_delay = base_delay
        self.deadline = deadline
        self.breaker = breaker
        self.sleep = sleep
        self.context = context or ssl.create_default_context()
        self._connection: smtplib.SMTP | None = None
        self._temporary_in_a_row = 0

    @classmethod
    def from_config(cls, config: Config) -> Self:
        if config.newsletter.smtp is None:
            raise DeliveryError(f"{config.path}: the smtp backend needs a newsletter.smtp block")
        return cls(config.newsletter.smtp)

    # -- connection

    def open(self) -> None:
        self._connect()

    def _connect(self) -> smtplib.SMTP:
        settings = self.settings
        where = f"{settings.host}:{settings.effective_port}"
        try:
            if settings.security == "tls":
                connection: smtplib.SMTP = smtplib.SMTP_SSL(
                    settings.host,
                    settings.effective_port,
                    timeout=settings.timeout,
                    context=self.context,
                )
            else:
                connection = smtplib.SMTP(
                    settings.host, settings.effective_port, timeout=settings.timeout
                )
            connection.ehlo()
            if settings.security == "starttls":
                if not connection.has_extn("starttls"):
                    connection.close()
                    raise DeliveryError(
                        f"SMTP server {where} does not offer STARTTLS; refusing to send in the "
                        "clear (set security: none to allow it)"
                    )
                connection.starttls(context=self.context)
                connection.ehlo()
            if settings.username:
                connection.login(settings.username, self._password())
        except DeliveryError:
            raise
        except ssl.SSLError as exc:
            raise DeliveryError(f"SMTP server {where}: TLS failed: {exc.reason}") from exc
        except smtplib.SMTPAuthenticationError as exc:
            raise DeliveryError(f"SMTP server {where} refused the login: {_reply(exc)}") from exc
        except (smtplib.SMTPException, OSError) as exc:
            raise DeliveryError(f"SMTP server {where}: {_describe(exc)}") from exc
        self._connection = connection
        return connection

    def _password(self) -> str:
        name = self.settings.password_env
        password = os.environ.get(name)
        if not password:
            raise DeliveryError(f"SMTP password: set the environment variable {name}")
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
        if self._temporary_in_a_row >= self.breaker:
            return Result(Outcome.DEFERRED, "not tried: the server kept failing in this run")
        started = time.monotonic()
        result = Result(Outcome.DEFERRED, "not tried")
        for attempt in range(self.attempts):
            result = self._send_once(message, handing_over)
            if result.outcome is not Outcome.DEFERRED:
                break
            if attempt + 1 == self.attempts or time.monotonic() - started > self.deadline:
                break
            delay = self.base_delay * 2**attempt * (0.5 + random.random())
            log.info("%s: %s; retrying in %.1f s", message.envelope.recipient, result.detail, delay)
            self.sleep(delay)
        if result.outcome is Outcome.DEFERRED:
            self._temporary_in_a_row += 1
        else:
            self._temporary_in_a_row = 0
        return result

    def _send_once(self, message: Message, handing_over: Handover) -> Result:
        envelope = message.envelope
        try:
            connection = self._connection or self._connect()
            code, reply = connection.mail(envelope.sender)
            if code != 250:
                return self._refused(connection, code, reply, "MAIL FROM")
            code, reply = connection.rcpt(envelope.recipient)
            if code not in (250, 251):
                return self._refused(connection, code, reply, "RCPT TO", rcpt=True)
            code, reply = self._data(connection, message.data, handing_over)
            if code != 250:
                return self._refused(connection, code, reply, "DATA")
            return Result(Outcome.SENT, f"{code} {_text(reply)}")
        except _InDoubtError as exc:
            self._drop()
            return Result(Outcome.IN_DOUBT, f"connection lost waiting for the reply: {exc}")
        except DeliveryError as exc:
            self._drop()
            return Result(Outcome.DEFERRED, str(exc))
        except (smtplib.SMTPException, OSError) as exc:
            self._drop()
            return Result(Outcome.DEFERRED, _describe(exc))

    def _data(
        self, connection: smtplib.SMTP, data: bytes, handing_over: Handover
    ) -> tuple[int, bytes]:
        """DATA, the message, and the reply; a break after the message is `_InDoubtError`."""
        code, reply = connection.docmd("DATA")
        if code != 354:
            return code, reply
        # base64 bodies never start a line with "."; the check is a fast scan, the regex is not
        stuffing = data.startswith(b".") or b"\n." in data
        payload = _LEADING_DOT.sub(b"..", data) if stuffing else data
        if not payload.endswith(b"\r\n"):
            payload += b"\r\n"
        handing_over()
        connection.send(payload + b".\r\n")
        try:
            return connection.getreply()
        except (TimeoutError, smtplib.SMTPServerDisconnected, OSError) as exc:
            raise _InDoubtError(_describe(exc)) from exc

    def _refused(
        self, connection: smtplib.SMTP, code: int, reply: bytes, stage: str, *, rcpt: bool = False
    ) -> Result:
        try:
            connection.rset()
        except (smtplib.SMTPException, OSError):
            self._drop()
        temporary = 400 <= code < 500 or (rcpt and code == 552)
        outcome = Outcome.DEFERRED if temporary else Outcome.FAILED
        return Result(outcome, f"{stage}: {code} {_text(reply)}")

    def _drop(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            connection.close()


def _text(reply: bytes | str) -> str:
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else reply
    return " ".join(text.split())[:300]


def _reply(exc: smtplib.SMTPResponseException) -> str:
    return f"{exc.smtp_code} {_text(exc.smtp_error)}"


def _describe(exc: BaseException) -> str:
    if isinstance(exc, smtplib.SMTPResponseException):
        return _reply(exc)
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return "the server closed the connection"
    if isinstance(exc, socket.timeout | TimeoutError):
        return "timed out"
    if isinstance(exc, OSError):
        return exc.strerror or exc.__class__.__name__
    return exc.__class__.__name__
