"""Sending a planned day: each reader's issue at most once, in this process or in workers.

Per reader: skip if already sent (or being sent by another process); build the message; claim
the delivery row (`sending`) before the SMTP transaction; record the outcome after the reply.
Papers count as delivered only after the server accepted the message. When `stop` is set, the
messages in flight are finished and the rest are left for the next run.

Threads: this thread builds the messages; sending threads (`delivery/pool.py`, as many as the
backend allows at once: `smtp.max_connections`) each send over their own connection and write
the ledger through their own state connection (SQLite connections belong to one thread): claim,
hand-over, finish, all in the thread that sends, so every message keeps the same three steps.

Workers: each takes a fixed share of the readers, opens its own state connection, selects its
share from the store (the parent read the sources first) and sends over its share of the
relay's connections, all workers pacing on one shared clock (`delivery/relay.py`). A process
with no other threads forks its workers (they inherit the imported modules); one with threads
running (the scheduler) starts them from a fork server, since a fork copies only the calling
thread and could inherit a lock held by another.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import partial
from typing import TYPE_CHECKING, Any, Protocol

from newsletter.compose import Composer
from newsletter.config import Config
from newsletter.delivery.relay import Share
from newsletter.errors import ClaimLost, DeliveryError, StoreError
from newsletter.models import Reader, Selection
from newsletter.plan import DayPlan, Prepared, select_day
from newsletter.render.issue import RenderedIssue
from newsletter.send_report import SendReport
from newsletter.session import Session
from newsletter.status import DeliveryStatus, ReaderStatus
from newsletter.store import HeldLease, Store, claimant

if TYPE_CHECKING:
    from newsletter.delivery.base import Backend
    from newsletter.delivery.pool import Pool
    from newsletter.mail import Message

log = logging.getLogger(__name__)

SENDER_LEASE_SECONDS = 30.0  # another host retakes a dead sender's issues this soon after


class Stop(Protocol):
    def is_set(self) -> bool: ...


Progress = Callable[[str], None]


@dataclass(frozen=True)
class SendOptions:
    dry_run: bool = False  # build every message, send none, record nothing
    resend_in_doubt: bool = False  # also send issues whose last attempt may have arrived
    resend_new_target: bool = False  # also send issues sent earlier to another target
    workers: int | None = None  # processes; None: `pipeline.worker_count` decides


def send_share(
    session: Session,
    day: date,
    readers: Sequence[Reader],
    options: SendOptions,
    *,
    now: datetime,
    progress: Progress | None = None,
    stop: Stop | None = None,
    prepared: Prepared | None = None,
    share: Share | None = None,
) -> SendReport:
    """Select and send the issues of `day` for `readers` in this process (`share`: its part of
    the relay's limits when worker processes send at once).

    A backend that cannot be opened (connection refused, TLS, login) leaves every reader's
    issue `deferred` with the reason, so `history` shows it and the next run tries again. A
    state database that cannot record a delivery stops the sending at once: the rest are left
    for the next run, never sent unrecorded."""
    plan = select_day(session, day, readers, prepared)
    report = SendReport(day)
    with ExitStack() as stack:
        backend, unreachable = None, None
        try:
            made = session.backend()  # not connected yet: where messages would go
            report.target = made.target
            if not options.dry_run:
                backend = stack.enter_context(made)
        except DeliveryError as exc:
            unreachable = f"not sent: {exc}"
            log.error("%s", exc)
        composer = Composer.of(session.config)
        sender = _Sender(session, plan, composer, backend, options, now, report, unreachable,
                         stop=stop)  # fmt: skip
        if backend is not None:
            stack.enter_context(sender.alive())
        pool = sender.pool(share or Share()) if backend is not None else None
        try:
            for pick in plan.picks:
                if sender.stopping:
                    report.stopped.append(pick.reader.email)
                    continue
                if progress is not None:
                    progress(pick.reader.email)
                try:
                    sender.deliver(pick.reader, pick.selection, pool)
                except StoreError as exc:
                    sender.halt(exc)
        finally:
            if pool is not None:
                pool.close()  # the messages in flight are finished
    return report


@dataclass
class _Sender:
    """Each reader's issue: checked against the ledger and built here, then claimed, sent and
    recorded in a sending thread. Without a backend (a dry run) the message is built and
    counted, nothing recorded."""

    session: Session
    plan: DayPlan
    composer: Composer
    backend: Backend | None
    options: SendOptions
    now: datetime
    report: SendReport
    unreachable: str | None = None  # the backend could not be opened: why
    stop: Stop | None = None
    me: str = field(default_factory=claimant)  # per call: a forked worker is another sender

    @property
    def stopping(self) -> bool:
        """Asked to stop, or the state cannot record deliveries: no new message starts."""
        return (self.stop is not None and self.stop.is_set()) or bool(self.report.halted)

    def halt(self, exc: StoreError) -> None:
        reason = f"cannot record deliveries: {exc}"
        if reason not in self.report.halted:
            self.report.halted.append(reason)
            log.error("stopped sending: %s", reason)

    @contextmanager
    def alive(self) -> Iterator[None]:
        """Hold the lease `sender:ME` while sending: hosts that share the state tell from it
        that this process's `sending` rows are not abandoned (and retake them soon after it
        stops renewing it)."""
        lease = HeldLease(self.session.store.location, f"sender:{self.me}", self.me,
                          SENDER_LEASE_SECONDS)  # fmt: skip
        lease.take()
        try:
            yield
        finally:
            lease.release()

    def pool(self, share: Share) -> Pool[Store]:
        """The sending threads, each with its own state connection and backend."""
        from newsletter.delivery.pool import Pool

        assert self.backend is not None
        where = self.session.store.location
        return Pool(self.backend, self.backend.divide(share), local=lambda: Store(where),
                    close_local=Store.close, expected=len(self.plan.picks))  # fmt: skip

    def deliver(self, reader: Reader, selection: Selection, pool: Pool[Store] | None) -> None:
        """Build the reader's issue here and hand it to a sending thread (none: a dry run)."""
        store, day, report = self.session.store, self.plan.day, self.report
        if _settled(store, reader, day, report, self.options):
            return
        if not selection.should_send:
            report.no_papers.append(reader.email)
            return
        if self.unreachable is not None:  # recorded, tried again on the next run; not built
            if self._claim(reader, store):
                store.finish(reader.key, day, DeliveryStatus.DEFERRED, message_id=None,
                             detail=self.unreachable, paper_ids=[])  # fmt: skip
                self._count(reader, DeliveryStatus.DEFERRED, self.unreachable)
            return
        issue = self.composer.render(reader, selection)
        message = self.composer.message(reader, selection, issue, self.now)
        if pool is None:
            report.would_send.append(reader.email)
            return
        pool.submit(partial(self._transmit, reader, selection, issue, message))

    def _transmit(
        self, reader: Reader, selection: Selection, issue: RenderedIssue, message: Message,
        backend: Backend, store: Store,
    ) -> None:  # fmt: skip
        """In a sending thread: claim, send, record (`store` is the thread's own)."""
        if self.stopping:
            self.report.stopped.append(reader.email)
            return
        day = self.plan.day
        try:
            if not self._claim(reader, store):
                return
            store.keep_issue(reader.key, day, selection.papers)  # the issue on the web
            result = backend.send(message, partial(self._handing_over, reader, store))
            if not store.finish(
                reader.key, day, result.outcome, message_id=message.envelope.message_id,
                detail=result.detail, paper_ids=shown_ids(selection, issue), claimant=self.me,
            ):  # fmt: skip
                log.warning("%s: taken over by another sender (%s)", reader.email, result.detail)
                self.report.already.append(reader.email)
                self.report.in_flight.append(reader.email)
                return
            self._count(reader, result.outcome, result.detail)
            if result.bounce is not None:
                self._bounced(reader, result.bounce, result.detail, store)
        except StoreError as exc:
            self.halt(exc)

    def _handing_over(self, reader: Reader, store: Store) -> None:
        """Just before the data leaves: note it, if the claim is still this sender's. A sender
        stopped for longer than its lease (a frozen machine) may find its issue taken over by
        another host: then its data must not go out (`ClaimLost`)."""
        if not store.handing_over(reader.key, self.plan.day, self.me):
            raise ClaimLost(f"{reader.email}: the issue was taken over by another sender")

    def _bounced(self, reader: Reader, status: str, detail: str, store: Store) -> None:
        """A permanent refusal of the reader's address: counted per issue date; from
        `bounces.after` dates on (or at once for "no such user", if so configured) the reader
        is no longer mailed, and the operator is told."""
        rules = self.session.config.newsletter.bounces
        dates = store.record_bounce(reader.key, self.plan.day, detail, hard=True)
        unknown = status == "5.1.1" and rules.unknown_user_at_once
        if dates < rules.after and not unknown:
            return
        why = f"refused on {dates} issue dates, last: {detail}"
        if store.suppress(reader.key, ReaderStatus.BOUNCED, why, "smtp"):
            self.report.bounced.append((reader.email, why))
            log.warning("%s: no longer mailed: %s", reader.email, why)

    def _claim(self, reader: Reader, store: Store) -> bool:
        """The right to send the reader's issue; if another run has it, say so in the report."""
        options, day = self.options, self.plan.day
        if store.claim(
            reader.key, day, self.me, resend_in_doubt=options.resend_in_doubt,
            horizon=self.plan.horizon, target=self.report.target,
            retarget=options.resend_new_target,
        ):  # fmt: skip
            return True
        if not _settled(store, reader, day, self.report, options):
            self.report.already.append(reader.email)  # being sent by another live process
            self.report.in_flight.append(reader.email)
        return False

    def _count(self, reader: Reader, outcome: DeliveryStatus, detail: str) -> None:
        if outcome is DeliveryStatus.SENT:
            self.report.sent.append(reader.email)
            return
        bucket = {
            DeliveryStatus.DEFERRED: self.report.deferred,
            DeliveryStatus.FAILED: self.report.failed,
            DeliveryStatus.IN_DOUBT: self.report.in_doubt,
        }[outcome]
        bucket.append((reader.email, detail))
        log.warning("%s: %s (%s)", reader.email, outcome.value, detail)


def shown_ids(selection: Selection, issue: RenderedIssue) -> list[str]:
    """The papers the reader can reach in the issue: full cards and the compact list. Papers
    the size budget left out are not delivered, so a later issue may carry them."""
    layout = issue.layout
    return [p.paper.id for p in selection.papers[: layout.full + layout.compact]]


def _settled(
    store: Store, reader: Reader, day: date, report: SendReport, options: SendOptions
) -> bool:
    """Whether the reader's issue of `day` is not this run's to send; if so, say why in
    `report`: sent (here), failed or being sent elsewhere count as already handled; in doubt
    stays in doubt; sent to another target is reported. A `sending` row is left to
    `Store.claim`, which tells a live sender from a dead one."""
    record = store.delivery(reader.key, day)
    if record is None or record.status in (DeliveryStatus.DEFERRED, DeliveryStatus.SENDING):
        return False
    if record.status is DeliveryStatus.IN_DOUBT:
        if options.resend_in_doubt:
            return False
        detail = f"{record.detail} (not resent; see --resend-in-doubt)"
        report.in_doubt.append((reader.email, detail))
        return True
    if record.status is DeliveryStatus.FAILED:  # permanent: reported on every run of the date
        report.failed.append((reader.email, f"{record.detail} (on an earlier run; not retried)"))
        return True
    if record.target and report.target and record.target != report.target:
        if options.resend_new_target:
            return False
        report.elsewhere.append((reader.email, record.target))
        return True
    report.already.append(reader.email)
    return True


# --- worker processes -----------------------------------------------------------------------


@dataclass(frozen=True)
class WorkerSpec:
    """Everything a worker process needs, handed over once when it starts."""

    config: Config
    day: date
    shares: tuple[tuple[Reader, ...], ...]  # one share of the readers per worker
    options: SendOptions
    backend: str | None
    now: datetime


_SPEC: list[tuple[WorkerSpec, Any, Any, Any]] = []  # in a worker: (spec, done, stop, clock)


def send_in_workers(
    session: Session,
    day: date,
    readers: Sequence[Reader],
    options: SendOptions,
    workers: int,
    *,
    now: datetime,
    progress: Progress | None = None,
    stop: Stop | None = None,
) -> SendReport:
    """`send_share` in `workers` processes, each with its own share of the readers."""
    import multiprocessing

    method = "fork" if threading.active_count() == 1 else "forkserver"
    context = multiprocessing.get_context(method)
    if method == "forkserver":  # the server imports the stages once; each worker forks from it
        context.set_forkserver_preload(["newsletter.sending", "newsletter.select"])
    log.info("sending with %d worker processes (%s)", workers, method)
    shares = tuple(tuple(readers[number::workers]) for number in range(workers))
    spec = WorkerSpec(session.config, day, shares, options, session.backend_name, now)
    done, halt, clock = context.Queue(), context.Event(), context.Value("d", 0.0)
    starting = (spec, done, halt, clock)
    with context.Pool(workers, initializer=_start_worker, initargs=starting) as pool:
        pending = pool.map_async(_send_worker_share, range(workers))
        while not pending.ready() or not done.empty():
            if stop is not None and stop.is_set():
                halt.set()
            try:
                email = done.get(timeout=0.2)
            except queue.Empty:
                continue
            if progress is not None:
                progress(email)
        parts = pending.get()
        pool.close()  # let the workers exit by themselves: no terminate() of idle workers
        pool.join()
    report = SendReport(day, workers=workers)
    for part in parts:
        report.merge(part)
        report.target = report.target or part.target
    return report


def _start_worker(spec: WorkerSpec, done: Any, halt: Any, clock: Any) -> None:
    import signal

    # Ctrl-C and SIGTERM reach the whole process group (a terminal, systemd): the parent alone
    # decides, through `halt`, so a worker finishes the message in flight instead of dying in it
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    _SPEC[:] = [(spec, done, halt, clock)]


def _send_worker_share(number: int) -> SendReport:
    """One worker's share (runs in a worker process). Once it is sent the worker only waits
    for the pool to end, and SIGTERM may end it: `Pool.terminate` on an error path sends one,
    and a worker ignoring it would keep the parent waiting for ever."""
    import signal

    spec, done, halt, clock = _SPEC[0]
    share = Share(number, len(spec.shares), clock)  # the relay's limits, divided
    try:
        with Session.open(spec.config, backend=spec.backend, online=False) as session:
            return send_share(
                session, spec.day, spec.shares[number], spec.options, now=spec.now,
                progress=done.put, stop=halt, share=share,
            )  # fmt: skip
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
