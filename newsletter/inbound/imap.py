"""The inbox over IMAP (`newsletter.inbox`): read reports without marking them seen, move the
handled ones to `done_folder`.

- imaplib, the standard library's client: no new dependency, and the few commands used
  (SEARCH, partial FETCH, STORE, MOVE or COPY + EXPUNGE, CREATE) stay in sight with our TLS
  context and deadlines. imap-tools is a layer over imaplib (its fetch marks messages seen
  unless told not to): a dependency that would remove none of the care below.
- TLS: `tls` connects with TLS, `starttls` requires the STARTTLS capability (never falls back to
  plain text), both with `ssl.create_default_context()` (certificates and host name verified;
  tests pass their own context). `none` is refused unless the host is this machine.
- The password comes only from the variable named by `password_env`. Every text leaving this
  module goes through the SMTP backend's `Redactor` (servers echo credentials); no exception
  carries a cause that could show the server's words unredacted.
- Deadlines: every reply within `timeout` seconds (the socket's), and the whole session within
  `deadline`: a watchdog shuts the socket when it passes, and no new message is read after it.
- Reading: UIDs from `UID SEARCH UNDELETED`, sizes from `RFC822.SIZE`, then `BODY.PEEK[]<0.N>`
  (never sets \\Seen, never more than `max_bytes` + 1 octets, whatever the size claimed).
- Messages left alone (unrecognised, unverified, too big) get the keyword `$DigestSeen` when
  the folder allows keywords, and later runs skip them (`recheck` reads them again, e.g. after
  a config change); where keywords are not allowed they are read again on every run.
- Handled messages are moved with MOVE (RFC 6851), else COPY, \\Deleted and UID EXPUNGE (RFC
  4315 UIDPLUS) or EXPUNGE; `done_folder` is created (and subscribed) when missing.
"""

from __future__ import annotations

import contextlib
import imaplib
import logging
import os
import re
import socket
import ssl
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Self

from newsletter.delivery.smtp_wire import Redactor, describe
from newsletter.errors import NewsletterError
from newsletter.inbound.reports import MAX_BYTES

if TYPE_CHECKING:
    from newsletter.config_blocks import InboxConfig

log = logging.getLogger(__name__)

KEYWORD = "$DigestSeen"
LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
DEADLINE = 600.0  # seconds for a whole session
BATCH = 200  # UIDs per size request
_SIZE = re.compile(rb"UID (\d+)\b.*?RFC822\.SIZE (\d+)|RFC822\.SIZE (\d+)\b.*?UID (\d+)", re.S)


class InboxError(NewsletterError):
    """The mailbox could not be reached, logged into or read (host named, no password)."""


@dataclass(frozen=True)
class Fetched:
    """One message of the folder: its UID, its size, and its bytes (None when too big)."""

    uid: str
    size: int
    data: bytes | None


class Mailbox:
    """One IMAP session on the inbox folder. Use as a context manager; `readonly` (a dry run)
    opens the folder with EXAMINE and changes nothing."""

    def __init__(
        self, settings: InboxConfig, *, readonly: bool = False, recheck: bool = False,
        context: ssl.SSLContext | None = None, deadline: float = DEADLINE,
        max_bytes: int = MAX_BYTES, environ: Mapping[str, str] | None = None,
    ) -> None:  # fmt: skip
        self.settings, self.readonly, self.recheck = settings, readonly, recheck
        self.context = context or ssl.create_default_context()
        self.deadline, self.max_bytes = deadline, max_bytes
        self.environ = os.environ if environ is None else environ
        self.where = f"IMAP server {settings.host}:{settings.effective_port}"
        self.left_earlier = 0  # messages skipped as left alone by an earlier run
        self.stopped = False  # the deadline passed before every message was read
        self._imap: imaplib.IMAP4 | None = None
        self._redactor = Redactor()
        self._capabilities: set[str] = set()
        self._keywords = False
        self._done_ready = False
        self._ends = 0.0
        self._watchdog: threading.Timer | None = None

    def __enter__(self) -> Self:
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def open(self) -> None:
        settings = self.settings
        password = self.environ.get(settings.password_env)
        if not password:
            raise InboxError(f"IMAP password: set the environment variable {settings.password_env}")
        if settings.security == "none" and settings.host.lower() not in LOCAL_HOSTS:
            raise InboxError(f"{self.where}: security: none is allowed only for localhost")
        self._redactor = Redactor(settings.username, password)
        self._ends = time.monotonic() + self.deadline
        self._imap = self._call("connecting", self._connect)
        self._watchdog = threading.Timer(self.deadline, self._expire)
        self._watchdog.daemon = True
        self._watchdog.start()
        try:
            self._call("logging in", self._login, password)
            said = self._ok("CAPABILITY", self._call("logging in", self._imap.capability))
            self._capabilities = set(said[0].decode("ascii", "replace").upper().split())
            self._select()
        except BaseException:
            self.close()
            raise

    def _connect(self) -> imaplib.IMAP4:
        settings, port = self.settings, self.settings.effective_port
        if settings.security == "tls":
            return imaplib.IMAP4_SSL(settings.host, port, ssl_context=self.context,
                                     timeout=settings.timeout)  # fmt: skip
        imap = imaplib.IMAP4(settings.host, port, timeout=settings.timeout)
        if settings.security == "starttls":
            if "STARTTLS" not in imap.capabilities:
                imap.shutdown()
                raise InboxError(f"{self.where} does not offer STARTTLS; refusing to log in "
                                 "in the clear")  # fmt: skip
            imap.starttls(ssl_context=self.context)
        return imap

    def _login(self, password: str) -> None:
        imap, user = self._session(), self.settings.username
        if "AUTH=PLAIN" in imap.capabilities:  # UTF-8 credentials; LOGIN takes ASCII only
            imap.authenticate("PLAIN", lambda _: f"\0{user}\0{password}".encode())
        else:
            imap.login(user, password)

    def _select(self) -> None:
        imap, folder = self._session(), self.settings.folder
        kind, data = self._call("opening the folder", imap.select, _quoted(folder), self.readonly)
        if kind != "OK":
            raise InboxError(f"{self.where}: cannot open {folder!r}: {self._text(data)}")
        flags = self._call("opening the folder", imap.response, "PERMANENTFLAGS")[1]
        self._keywords = not self.readonly and b"\\*" in b" ".join(f for f in flags if f)

    def close(self) -> None:
        if self._imap is not None:  # the watchdog still guards the logout
            with contextlib.suppress(imaplib.IMAP4.error, OSError):
                self._imap.logout()  # closes the socket, also when the server is gone
        self._imap = None
        if self._watchdog is not None:
            self._watchdog.cancel()

    def _expire(self) -> None:
        """The watchdog: the session's time is up; a reply being waited for never comes."""
        imap = self._imap
        if imap is not None:
            with contextlib.suppress(OSError):
                imap.sock.shutdown(socket.SHUT_RDWR)

    def messages(self) -> Iterator[Fetched]:
        """Every message of the folder not yet left alone (all with `recheck`), oldest first,
        until the deadline."""
        found = self._search("UNDELETED", *(() if self.recheck else ("UNKEYWORD", KEYWORD)))
        if not self.recheck:  # where keywords are not allowed, none has it: harmless
            self.left_earlier = len(self._search("UNDELETED", "KEYWORD", KEYWORD))
        sizes = self._sizes(found)
        for uid in (uid for uid in found if uid in sizes):
            if time.monotonic() >= self._ends:
                self.stopped = True
                log.warning("inbox: the deadline of %g s passed; the rest waits", self.deadline)
                return
            data = self._body(uid) if sizes[uid] <= self.max_bytes else None
            if data is not None and len(data) <= self.max_bytes:
                yield Fetched(uid, sizes[uid], data)
            elif data is not None or sizes[uid] > self.max_bytes:  # else it vanished meanwhile
                yield Fetched(uid, max(sizes[uid], len(data or b"")), None)

    def _search(self, *criteria: str) -> list[str]:
        reply = self._call("searching", self._session().uid, "SEARCH", *criteria)
        return [
            uid.decode() for uid in b" ".join(u for u in self._ok("SEARCH", reply) if u).split()
        ]

    def _sizes(self, uids: list[str]) -> dict[str, int]:
        sizes: dict[str, int] = {}
        for start in range(0, len(uids), BATCH):
            chunk = ",".join(uids[start : start + BATCH])
            reply = self._call(
                "reading sizes", self._session().uid, "FETCH", chunk, "(RFC822.SIZE)"
            )
            for line in self._ok("FETCH", reply):
                found = _SIZE.search(line[0] if isinstance(line, tuple) else line or b"")
                if found:
                    uid, size = (found[1], found[2]) if found[1] else (found[4], found[3])
                    sizes[uid.decode()] = int(size)
        return sizes

    def _body(self, uid: str) -> bytes | None:
        """At most `max_bytes` + 1 octets of the message; None if it vanished meanwhile."""
        reply = self._call("reading a message", self._session().uid, "FETCH", uid,
                           f"(BODY.PEEK[]<0.{self.max_bytes + 1}>)")  # fmt: skip
        for part in self._ok("FETCH", reply):
            if isinstance(part, tuple) and b"BODY[]" in part[0] and isinstance(part[1], bytes):
                return part[1]
        return None

    def done(self, uid: str) -> None:
        """Move a handled message to `done_folder` (never in a read-only session)."""
        if self.readonly:
            return
        imap, target = self._session(), _quoted(self.settings.done_folder)
        self._ensure_done_folder()
        if "MOVE" in self._capabilities:
            self._ok("MOVE", self._call("moving a message", imap.uid, "MOVE", uid, target))
            return
        self._ok("COPY", self._call("moving a message", imap.uid, "COPY", uid, target))
        stored = self._call("moving a message", imap.uid, "STORE", uid, "+FLAGS.SILENT",
                            "(\\Deleted)")  # fmt: skip
        self._ok("STORE", stored)
        if "UIDPLUS" in self._capabilities:
            self._ok("EXPUNGE", self._call("moving a message", imap.uid, "EXPUNGE", uid))
        else:  # also removes what others marked \Deleted in this folder: it was on its way out
            self._ok("EXPUNGE", self._call("moving a message", imap.expunge))

    def leave(self, uid: str) -> None:
        """Mark a message left alone, so that later runs skip it (where keywords are allowed)."""
        if self._keywords:
            reply = self._call("marking a message", self._session().uid, "STORE", uid,
                               "+FLAGS.SILENT", f"({KEYWORD})")  # fmt: skip
            if reply[0] != "OK":
                log.info("inbox: could not mark message %s: %s", uid, self._text(reply[1]))

    def _ensure_done_folder(self) -> None:
        if self._done_ready:
            return
        imap, target = self._session(), _quoted(self.settings.done_folder)
        listed = self._ok("LIST", self._call("listing folders", imap.list, '""', target))
        if not any(listed):
            self._ok("CREATE", self._call("creating the done folder", imap.create, target))
            self._call("creating the done folder", imap.subscribe, target)
            log.info("inbox: created the folder %s", self.settings.done_folder)
        self._done_ready = True

    def _session(self) -> imaplib.IMAP4:
        if self._imap is None:
            raise InboxError(f"{self.where}: not connected")
        return self._imap

    def _call(self, doing: str, command: Any, *args: Any) -> Any:
        """Run an imaplib call; any failure becomes one redacted `InboxError` line."""
        try:
            return command(*args)
        except InboxError:
            raise
        except (imaplib.IMAP4.error, OSError, ValueError) as exc:
            late = bool(self._ends) and time.monotonic() >= self._ends
            reason = f"no answer within {self.deadline:g} s" if late else self._reason(exc)
            if doing == "logging in" and isinstance(exc, imaplib.IMAP4.error):
                raise InboxError(f"{self.where} refused the login: {reason}") from None
            raise InboxError(f"{self.where}: {doing}: {reason}") from None

    def _ok(self, command: str, reply: tuple[str, list[Any]]) -> list[Any]:
        kind, data = reply
        if kind != "OK":
            raise InboxError(f"{self.where}: {command} refused: {self._text(data)}")
        return data

    def _reason(self, exc: BaseException) -> str:
        if isinstance(exc, imaplib.IMAP4.error) and exc.args:
            return self._text(exc.args[0])
        return self._text(describe(exc))

    def _text(self, data: object) -> str:
        """A server's words as one redacted printable line."""
        if isinstance(data, list):
            data = b" ".join(d if isinstance(d, bytes) else str(d).encode() for d in data if d)
        text = data.decode("utf-8", "replace") if isinstance(data, bytes) else str(data)
        return self._redactor.clean(text) or "(no text)"


def _quoted(folder: str) -> str:
    """A folder name as an IMAP quoted string (ASCII names only: see the config's help)."""
    if not folder.isascii() or not folder.isprintable():
        raise InboxError(f"IMAP folder {folder!r}: use its ASCII name as the server lists it")
    return '"' + folder.replace("\\", "\\\\").replace('"', '\\"') + '"'
