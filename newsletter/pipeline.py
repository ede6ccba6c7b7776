"""One day of the digest, as an outline: read the sources, select, send, tell the operator.

    with Session.open(config) as session:
        report = run_once(session, day, readers, SendOptions())

`newsletter send`, the scheduler's send job and tests run a day through `run_once`;
`newsletter preview` through `preview_day`, which takes the same first steps and writes files
where `run_once` sends. Everything with side effects comes in with the session (the state, the
HTTP fetcher, the delivery backend's name), so the same outline runs anywhere.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

from newsletter.checks import plural
from newsletter.models import Reader
from newsletter.plan import DayPlan, Prepared, prepare, select_day
from newsletter.preview import PreviewEntry
from newsletter.send_report import SendReport
from newsletter.sending import (
    Progress,
    SendOptions,
    Stop,
    send_in_workers,
    send_share,
)
from newsletter.session import Session
from newsletter.store import DeliveryRecord, Suppression

log = logging.getLogger(__name__)

PARALLEL_FROM = 200  # readers from which a run sends from several processes by default
MAX_WORKERS = 4
_IN_PROCESS = ("memory", "console", "given")  # backends that live in this process


def run_once(
    session: Session,
    day: date,
    readers: Sequence[Reader],
    options: SendOptions | None = None,
    *,
    now: datetime | None = None,
    progress: Progress | None = None,
    stop: Stop | None = None,
) -> SendReport:
    """Send the issue of `day` to each of `readers` who has not had it, at most once each;
    readers who unsubscribed (or bounced, or complained) are counted, not mailed."""
    now = now or datetime.now(UTC)
    options = options or SendOptions()
    readers, suppressed = mailed(session, readers)
    prepared = prepare(session, day, readers)
    workers = worker_count(session, len(readers), options)
    if workers > 1:
        report = send_in_workers(
            session, day, readers, options, workers, now=now, progress=progress, stop=stop
        )
    else:
        report = send_share(
            session, day, readers, options, now=now, progress=progress, stop=stop,
            prepared=prepared,
        )  # fmt: skip
    report.warnings[:0] = prepared.warnings
    report.sources = prepared.problems
    report.suppressed = [(r.email, why.status.value) for r, why in suppressed]
    if (report.sources or report.bounced) and not options.dry_run:
        alert_operator(session, report, now)
    return report


def mailed(
    session: Session, readers: Sequence[Reader]
) -> tuple[list[Reader], list[tuple[Reader, Suppression]]]:
    """The readers still mailed, and those the state says are not (with why)."""
    stopped = session.store.suppressions()
    if not stopped:
        return list(readers), []
    kept = [r for r in readers if r.key not in stopped]
    return kept, [(r, stopped[r.key]) for r in readers if r.key in stopped]


def worker_count(session: Session, readers: int, options: SendOptions) -> int:
    """The processes a run sends from: as asked, else one per core (up to `MAX_WORKERS`) from
    `PARALLEL_FROM` readers on, for backends that deliver outside this process; never more
    than `smtp.max_connections` (each worker sends over its share of them)."""
    if session.backend_kind in _IN_PROCESS:  # its output, or the object, is of this process
        return 1
    if options.workers is not None:
        wanted = options.workers
    elif readers < PARALLEL_FROM or options.dry_run:
        return 1
    else:
        wanted = min(os.cpu_count() or 1, MAX_WORKERS)
    smtp = session.config.newsletter.smtp
    if session.backend_kind == "smtp" and smtp is not None and wanted > smtp.max_connections:
        most = smtp.max_connections
        log.info("sending from %d workers, not %d: smtp.max_connections is %d", most, wanted, most)
        return most
    return wanted


@dataclass(frozen=True)
class Preview:
    plan: DayPlan
    entries: list[PreviewEntry]
    prepared: Prepared
    already: list[tuple[Reader, DeliveryRecord]]  # the issue of the day reached them already
    suppressed: list[tuple[Reader, Suppression]] = field(default_factory=list)  # not mailed


def preview_day(
    session: Session,
    day: date,
    readers: Sequence[Reader],
    out: Path,
    *,
    now: datetime | None = None,
) -> Preview:
    """Write each reader's issue of `day` into `out`, as `run_once` would send it; the delivery
    state is only read. A reader who already has that issue is listed, not previewed: a new
    selection would show papers that issue did not carry."""
    from newsletter.compose import Composer
    from newsletter.preview import write_preview

    readers, suppressed = mailed(session, readers)
    prepared = prepare(session, day, readers)
    already, pending = [], []
    for reader in readers:
        record = session.store.delivery(reader.key, day)
        if record is not None and record.status.reached_reader:
            already.append((reader, record))
        else:
            pending.append(reader)
    plan = select_day(session, day, pending, prepared)
    composer = Composer.of(session.config)
    not_mailed = [(r.email, why.status.value, why.since[:10]) for r, why in suppressed]
    entries = write_preview(
        plan, out, composer, now or datetime.now(UTC), sources=prepared.problems,
        not_mailed=not_mailed,
    )  # fmt: skip
    return Preview(plan, entries, prepared, already, suppressed)


def alert_operator(session: Session, report: SendReport, now: datetime) -> bool:
    """Tell `newsletter.alerts_to` about failed or stale sources and readers who stopped being
    mailed because their address bounces, each once (counted as told only once the alert is
    accepted). True when an alert was sent; an alert that cannot be sent is a warning in the
    report, never the end of it."""
    from newsletter import mail
    from newsletter.errors import DeliveryError
    from newsletter.status import DeliveryStatus

    settings = session.config.newsletter
    keys = {f"source|{o.source}|{o.day}|{o.status}": f"{o.source}, {o.day}: {o.status}: {o.detail}"
            for o in report.sources}  # fmt: skip
    keys.update(
        (f"bounced|{email}|{report.day}", f"{email}: {why}") for email, why in report.bounced
    )
    new = {key: line for key, line in keys.items() if not session.store.alerted(key)}
    if not new or settings.alerts_to is None:
        return False
    sources = [line for key, line in new.items() if key.startswith("source|")]
    readers = [line for key, line in new.items() if key.startswith("bounced|")]
    parts = [f"{settings.title}, issue of {report.day}."]
    if sources:
        parts.append("Papers are missing from the issue:\n" + "\n".join(sources)
                     + "\nFailed and stale sources are read again on the next run.")  # fmt: skip
    if readers:
        parts.append(
            "No longer mailed, because their address refuses mail (`newsletter subscribers "
            "--resubscribe EMAIL` once it is fixed):\n" + "\n".join(readers)
        )
    what = [plural(len(sources), "source problem")] if sources else []
    what += [plural(len(readers), "bounced reader")] if readers else []
    message = mail.notice(
        f"{settings.title}: {' and '.join(what)} for {report.day}",
        "\n\n".join(parts) + "\n",
        to_email=settings.alerts_to,
        headers=mail.Headers.of(settings.title, settings.sender),
        now=now,
    )
    try:
        with session.backend() as backend:
            result = backend.send(message)
    except DeliveryError as exc:
        report.warnings.append(f"the alert to {settings.alerts_to} was not sent: {exc}")
        log.warning("%s", report.warnings[-1])
        return False
    log.info("alert to %s: %s", settings.alerts_to, result.detail)
    if result.outcome is not DeliveryStatus.SENT:
        return False
    for key in new:
        session.store.first_alert(key)
    return True
