"""The inbox applied to the state: `process_inbox` reads every new message, classifies it
(`reports.py`) and records what it says; `run_inbox` opens the state for it (`newsletter
inbox`), `inbox_job` is the same as a job of `newsletter run`.

- Hard bounce: `store.record_bounce` counts the distinct issue dates that bounced; from
  `bounces.after` dates on (or at once for 5.1.1 "no such user" with `unknown_user_at_once`)
  the reader is suppressed as `bounced`. A soft bounce is recorded too and counts nothing.
- Complaint: suppressed as `complained` (which overrides an earlier unsubscribe).
- Unsubscribe: suppressed as `unsubscribed`.
- Unverified, unrecognised, too big: counted and left in the folder (see `imap.py`).

Each handled message is moved to `done_folder` only after its effect is committed; a crash
between the two reads it again next time, which changes nothing: a bounce is counted once per
issue date, and suppressing a suppressed reader is a no-op. Nothing is ever sent in reply.
"""

from __future__ import annotations

import logging
import ssl
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Protocol

from newsletter.checks import plural
from newsletter.errors import NewsletterError
from newsletter.inbound import (
    Bounce,
    Complaint,
    Report,
    TooBig,
    Unrecognised,
    Unsubscribe,
    Unverified,
)
from newsletter.inbound.imap import InboxError, Mailbox
from newsletter.inbound.reports import Classifier
from newsletter.status import ReaderStatus
from newsletter.tokens import SECRET_ENV, Signer

if TYPE_CHECKING:
    from newsletter.config import Config
    from newsletter.store import Suppression

log = logging.getLogger(__name__)
SOURCE = "mail"  # the `source` of suppressions made here
_COUNTERS: dict[type, str] = {Complaint: "complaints", Unsubscribe: "unsubscribes",
                              TooBig: "too_big", Unverified: "unverified",
                              Unrecognised: "unrecognised"}  # fmt: skip


class ReaderStore(Protocol):
    """What processing needs of the state (`newsletter.store.Store` has it)."""

    def record_bounce(self, subscriber: str, day: date, detail: str, *, hard: bool) -> int: ...
    def suppress(self, subscriber: str, status: ReaderStatus, reason: str, source: str) -> bool: ...
    def suppression(self, subscriber: str) -> Suppression | None: ...


@dataclass(frozen=True)
class Suppressed:
    """A reader this run stopped mailing (or, in a dry run, would stop)."""

    email: str
    status: str  # bounced | complained | unsubscribed
    reason: str


@dataclass
class InboxReport:
    """What one run found in the inbox and did about it."""

    hard_bounces: int = 0
    soft_bounces: int = 0
    complaints: int = 0
    unsubscribes: int = 0
    unverified: int = 0
    unrecognised: int = 0
    too_big: int = 0
    left_earlier: int = 0  # left alone by an earlier run: not read again (see --recheck)
    suppressed: list[Suppressed] = field(default_factory=list)
    stopped: bool = False  # the run's deadline passed; the rest waits for the next run
    dry_run: bool = False

    @property
    def handled(self) -> int:
        return self.hard_bounces + self.soft_bounces + self.complaints + self.unsubscribes

    @property
    def left_alone(self) -> int:
        return self.unverified + self.unrecognised + self.too_big

    def count(self, report: Report) -> None:
        if isinstance(report, Bounce):
            self.hard_bounces += report.hard
            self.soft_bounces += not report.hard
        else:
            name = _COUNTERS[type(report)]
            setattr(self, name, getattr(self, name) + 1)

    def summary(self) -> str:
        """`inbox: 3 handled (2 hard bounces, 1 unsubscribe), 1 reader suppressed, 5 left
        alone`; a dry run says what it would do."""
        counts = [(self.hard_bounces, "hard bounce"), (self.soft_bounces, "soft bounce"),
                  (self.complaints, "complaint"), (self.unsubscribes, "unsubscribe")]  # fmt: skip
        shown = [plural(count, kind) for count, kind in counts if count]
        handled = f"{self.handled:,} {'to handle' if self.dry_run else 'handled'}"
        parts = [f"{handled} ({', '.join(shown)})" if shown else handled]
        verb = "to suppress" if self.dry_run else "suppressed"
        parts.append(f"{plural(len(self.suppressed), 'reader')} {verb}")
        parts.append(f"{self.left_alone:,} left alone")
        if self.left_earlier:
            parts[-1] += f" (and {self.left_earlier:,} from earlier runs)"
        if self.stopped:
            parts.append("stopped at the deadline")
        return f"inbox{' (dry run)' if self.dry_run else ''}: {', '.join(parts)}"

    def document(self) -> dict[str, object]:
        """`newsletter inbox --json`."""
        return {**asdict(self), "handled": self.handled, "left_alone": self.left_alone}


def process_inbox(
    config: Config,
    store: ReaderStore | None,
    *,
    today: date,
    mailbox: Mailbox | None = None,
    dry_run: bool = False,
    recheck: bool = False,
    context: ssl.SSLContext | None = None,
) -> InboxReport:
    """Read the inbox of `config` once and apply what it says to `store` (None only in a dry
    run without a state); `today` checks the tokens' age. `InboxError` when the mailbox
    cannot be used."""
    settings = config.newsletter.inbox
    if settings is None:
        raise InboxError(f"{config.path}: no newsletter.inbox block: no mailbox to read")
    signer = Signer.from_env()
    if signer is None:
        raise InboxError(f"set {SECRET_ENV}: the tokens in what comes back are signed with it")
    if store is None and not dry_run:
        raise ValueError("process_inbox needs a store unless dry_run")
    readers = {reader.key: reader.email for reader in config.readers}
    plain = settings.plain_unsubscribe  # opt-in: see README
    classifier = Classifier(signer, readers, config.newsletter.bounce_address,
                            config.newsletter.sender, today, plain)  # fmt: skip
    report = InboxReport(dry_run=dry_run)
    box = mailbox or Mailbox(settings, readonly=dry_run, recheck=recheck, context=context)
    with box:
        for item in box.messages():
            found = TooBig(item.size) if item.data is None else classifier.classify(item.data)
            log.info("inbox: message %s: %s", item.uid, found)
            report.count(found)
            changed = _apply(found, config, store, readers, dry_run)
            if changed is not None:
                report.suppressed.append(changed)
            if dry_run:
                continue
            if isinstance(found, Bounce | Complaint | Unsubscribe):
                box.done(item.uid)  # after the store committed
            else:
                box.leave(item.uid)
        report.left_earlier, report.stopped = box.left_earlier, box.stopped
    return report


def _apply(
    found: Report, config: Config, store: ReaderStore | None, readers: dict[str, str], dry: bool
) -> Suppressed | None:
    """Record a report in the state; the reader it newly suppresses, if any. A dry run only
    looks: a complaint or unsubscribe of a reader still mailed is what it would suppress."""
    if isinstance(found, Bounce) and not dry:
        assert store is not None
        rules = config.newsletter.bounces
        dates = store.record_bounce(found.reader, found.day, found.detail, hard=found.hard)
        if not found.hard:
            return None
        unknown = found.status == "5.1.1" and rules.unknown_user_at_once
        if dates < rules.after and not unknown:
            return None
        why = f"bounced on {plural(dates, 'issue date')}, last: {found.detail}"
        return _suppress(store, found.reader, readers, ReaderStatus.BOUNCED, why)
    if isinstance(found, Complaint | Unsubscribe):
        status, why = (
            (ReaderStatus.COMPLAINED, f"complaint report from {found.reporter}")
            if isinstance(found, Complaint)
            else (ReaderStatus.UNSUBSCRIBED, "unsubscribe by mail")
        )
        if not dry:
            assert store is not None
            return _suppress(store, found.reader, readers, status, why)
        before = store.suppression(found.reader) if store is not None else None
        if before is None or (status is ReaderStatus.COMPLAINED and before.status != status):
            return Suppressed(readers[found.reader], status.value, why)
    return None


def _suppress(
    store: ReaderStore, key: str, readers: dict[str, str], status: ReaderStatus, why: str
) -> Suppressed | None:
    before = store.suppression(key)
    store.suppress(key, status, why, SOURCE)
    after = store.suppression(key)
    if after is None or (before is not None and before.status == after.status):
        return None
    log.warning("%s: no longer mailed (%s): %s", readers[key], status.value, why)
    return Suppressed(readers[key], status.value, why)


def run_inbox(
    config: Config, now: datetime, *, dry_run: bool = False, recheck: bool = False
) -> InboxReport:
    """One pass over the inbox with the config's state (a dry run creates no state)."""
    from newsletter.session import Session
    from newsletter.store import state_exists

    today = now.date()
    if dry_run and not state_exists(config.state):  # a look must not create the state
        return process_inbox(config, None, today=today, dry_run=True, recheck=recheck)
    with Session.open(config, online=False) as session:
        return process_inbox(config, session.store, today=today, dry_run=dry_run, recheck=recheck)


def inbox_job(config: Config, now: datetime) -> InboxReport | None:
    """`newsletter run`'s job: one pass, its summary logged; an unusable mailbox is logged as
    an error (the next run tries again), never raised into the scheduler. None when the
    config has no inbox."""
    if config.newsletter.inbox is None:
        return None
    try:
        report = run_inbox(config, now)
    except NewsletterError as exc:
        log.error("inbox: %s", exc)
        return None
    log.info("%s", report.summary())  # each reader suppressed was logged as a warning
    return report
