"""`newsletter run`: the daily operation, as APScheduler jobs in the foreground.

Jobs (all times are computed by APScheduler's cron triggers, in each job's own time zone):
- fetch: every day at 20:35, 21:35, 22:35 and 23:35 US Eastern, shortly after arXiv's 20:00
  announcement; each run reads only the sources still missing, failed or stale for the day;
- send: one job per distinct (time zone, send time, days) group of subscribers, at their local
  time; a group's members are looked up when it fires, so new subscribers join the next send;
- reload: the config file is checked every 30 s; an invalid edit is logged and the old config
  kept;
- retry: a send that left issues deferred, or met a failed or stale source, runs again for its
  group 30 minutes later, up to 6 times; one that found issues being sent by another process
  (a scheduler that died on another host) looks again 45 seconds later, once that process's
  lease has run out;
- inbox: with `newsletter.inbox`, the bounce mailbox is read every 15 minutes (bounces,
  complaint reports, unsubscribes by mail).

Every job has `coalesce=True` (a backlog of missed runs runs once), `max_instances=1` and a
`misfire_grace_time` (a late job still runs within 6 hours; APScheduler's default of one second
would skip it silently). On start, a send that fell due in the last 6 hours is caught up, so a
restart or a crash never loses the day; sending twice is impossible anyway (the delivery log).
Daylight-saving changes: a send time that does not exist on the spring-forward day fires an
hour later, and one that happens twice on the fall-back day fires twice; the second finds the
issue already sent.

Everything that decides what to do takes the time from `Operator.clock`, so tests drive a whole
simulated week through the same jobs and triggers without sleeping.
"""

from __future__ import annotations

import fcntl
import logging
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from newsletter.agenda import (
    GRACE,
    due_groups,
    send_groups,
)
from newsletter.calendar import ARXIV_TZ, listing_date
from newsletter.checks import plural
from newsletter.config import Config, load_config
from newsletter.errors import NewsletterError

if TYPE_CHECKING:
    from apscheduler.triggers.base import BaseTrigger

    from newsletter.send_report import SendReport

log = logging.getLogger(__name__)

RETRY_DELAY = timedelta(minutes=30)
IN_FLIGHT_DELAY = timedelta(seconds=45)  # past a sender's lease (sending.SENDER_LEASE_SECONDS)
RETRIES = 6
RELOAD_SECONDS = 30
FETCH_HOURS = "20-23"  # US Eastern: the announcement is at 20:00
FETCH_MINUTE = 35
INBOX_MINUTES = "*/15"  # the bounce mailbox is read every quarter of an hour
JOB_DEFAULTS = {
    "misfire_grace_time": int(GRACE.total_seconds()),
    "coalesce": True,
    "max_instances": 1,
}


class AlreadyRunning(NewsletterError):
    """Another `newsletter run` uses the same state database."""


def now_utc() -> datetime:
    return datetime.now(UTC)


def fetch_trigger() -> BaseTrigger:
    from apscheduler.triggers.cron import CronTrigger

    return CronTrigger(hour=FETCH_HOURS, minute=FETCH_MINUTE, timezone=ARXIV_TZ)


def inbox_trigger() -> BaseTrigger:
    from apscheduler.triggers.cron import CronTrigger

    return CronTrigger(minute=INBOX_MINUTES, timezone=UTC)


@dataclass(frozen=True)
class JobSpec:
    """One recurring job: what APScheduler is given, and what a simulation steps through."""

    id: str
    trigger: BaseTrigger
    run: Callable[[], Any]


class Operator:
    """The jobs of `newsletter run`, independent of the scheduler that calls them.

    `clock` gives the time (UTC), `backend` names the delivery backend (None: the config's),
    `retry` is told when a group should be sent again (the scheduler adds a one-off job);
    `config` is the config already loaded from `config_path`, if any.
    Jobs never run at the same time: one lock serialises them.
    """

    def __init__(
        self,
        config_path: Path,
        *,
        clock: Callable[[], datetime] = now_utc,
        backend: str | None = None,
        retry: Callable[[str, datetime], None] | None = None,
        config: Config | None = None,
    ) -> None:
        self.config_path = config_path
        self.config = config or load_config(config_path)
        self.clock = clock
        self.backend = backend
        self.retry = retry
        self.stop = threading.Event()
        self._lock = threading.Lock()
        self._seen = _signature(config_path)
        self._retries: dict[tuple[str, date], int] = {}

    # -- the jobs

    def jobs(self) -> list[JobSpec]:
        specs = [JobSpec("fetch", fetch_trigger(), self.fetch)]
        for key, members in send_groups(self.config).items():
            specs.append(JobSpec(key, members.group.trigger(), self._sender(key)))
        if self.config.newsletter.inbox is not None:
            specs.append(JobSpec("inbox", inbox_trigger(), self.inbox))
        return specs

    def inbox(self) -> None:
        """Read the bounce mailbox once (an unusable mailbox is logged, never raised)."""
        from newsletter.inbound.process import inbox_job

        with self._lock:
            inbox_job(self.config, self.clock())

    def _sender(self, key: str) -> Callable[[], SendReport | None]:
        return lambda: self.send(key)

    def fetch(self) -> None:
        """Read the sources still missing for the newest listing's issue date."""
        from newsletter.fetching import fetch_pending
        from newsletter.session import Session

        with self._lock:
            day = listing_date(self.clock())
            with Session.open(self.config) as session:
                assert session.fetcher is not None
                reports = fetch_pending(session.config, [day], day, session.store, session.fetcher)
            for report in reports:
                for outcome in report.outcomes:
                    log.info("fetch %s: %s: %s", day, outcome.source, outcome.status)

    def send(self, key: str) -> SendReport | None:
        """Send the issue of the newest listing to the group `key`; None if it has no members
        any more (the config changed)."""
        from newsletter.agenda import issue_date
        from newsletter.pipeline import run_once
        from newsletter.session import Session

        with self._lock:
            if self.stop.is_set():
                return None
            found = send_groups(self.config).get(key)
            if found is None:
                return None
            now = self.clock()
            day = issue_date(self.config, now)
            with Session.open(self.config, backend=self.backend) as session:
                report = run_once(session, day, found.readers, now=now, stop=self.stop)
            log.info("%s, issue of %s", key, report.summary())
            for line in report.problems():
                log.error("%s", line)
            if report.deferred or report.sources:
                self._again(key, day, now, RETRY_DELAY)
            elif report.in_flight:  # another sender has them: look again once its lease is up
                self._again(key, day, now, IN_FLIGHT_DELAY)
            return report

    def _again(self, key: str, day: date, now: datetime, delay: timedelta) -> None:
        tries = self._retries.get((key, day), 0)
        if self.retry is None or tries >= RETRIES:
            return
        self._retries[(key, day)] = tries + 1
        self.retry(key, now + delay)

    def reload(self) -> bool:
        """Load the config again if the file changed; True when a new config is in use."""
        signature = _signature(self.config_path)
        if signature == self._seen:
            return False
        self._seen = signature
        try:
            config = load_config(self.config_path)
        except NewsletterError as exc:
            log.error("the edited config is not valid; keeping the previous one: %s", exc)
            return False
        with self._lock:
            self.config = config
        log.info("config reloaded: %s", plural(len(config.subscribers), "subscriber"))
        return True

    def due_sends(self) -> list[str]:
        """Groups whose send fell due within the grace period before now (a catch-up on start)."""
        return due_groups(self.config, self.clock())

    def catch_up(self) -> None:
        for key in self.due_sends():
            log.info("%s fell due at most %s ago: sending now", key, GRACE)
            self.send(key)


def _signature(path: Path) -> tuple[int, int] | None:
    try:
        stat = path.stat()
    except OSError:
        return None
    return stat.st_mtime_ns, stat.st_size


# --- the scheduler ------------------------------------------------------------------------


@contextmanager
def single_instance(state: Path) -> Iterator[IO[str]]:
    """Hold `STATE.run.lock` for the life of `newsletter run`; a second one is refused."""
    path = state.with_name(state.name + ".run.lock")
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a+", encoding="utf-8") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            handle.seek(0)
            pid = handle.read().strip() or "unknown"
            raise AlreadyRunning(
                f"another `newsletter run` (pid {pid}) is already using {state}; stop it first "
                "(one scheduler per state database)"
            ) from exc
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        yield handle


def run(operator: Operator, *, first_send_at: datetime | None = None) -> None:
    """Run the jobs until `operator.stop` is set (SIGTERM/SIGINT), then finish the job in
    flight and return."""
    from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_MISSED, JobExecutionEvent
    from apscheduler.schedulers.background import BackgroundScheduler
    from apscheduler.triggers.date import DateTrigger

    scheduler = BackgroundScheduler(timezone=UTC, job_defaults=JOB_DEFAULTS)

    def retry(key: str, when: datetime) -> None:
        scheduler.add_job(operator.send, DateTrigger(when), args=[key], id=f"{key} retry",
                          replace_existing=True)  # fmt: skip

    recurring: set[str] = set()

    def sync() -> None:
        """Make the recurring jobs those of the current config (groups come and go)."""
        wanted = {spec.id: spec for spec in operator.jobs()}
        for job_id in recurring - wanted.keys():
            scheduler.remove_job(job_id)
        for spec in wanted.values():
            if spec.id not in recurring:
                scheduler.add_job(spec.run, spec.trigger, id=spec.id, name=spec.id)
        recurring.clear()
        recurring.update(wanted)

    def reload() -> None:
        if operator.reload():
            sync()

    def report(event: JobExecutionEvent) -> None:
        if event.code == EVENT_JOB_MISSED:
            log.error("job %s missed its time %s", event.job_id, event.scheduled_run_time)
        elif event.exception is not None:
            log.error("job %s failed: %s", event.job_id, event.exception)

    operator.retry = retry
    sync()
    scheduler.add_job(reload, "interval", seconds=RELOAD_SECONDS, id="reload")
    if first_send_at is not None:
        for key in send_groups(operator.config):
            scheduler.add_job(operator.send, DateTrigger(first_send_at), args=[key],
                              id=f"{key} first")  # fmt: skip
    scheduler.add_listener(report, EVENT_JOB_MISSED | EVENT_JOB_ERROR)
    scheduler.start()
    for job in sorted(scheduler.get_jobs(), key=lambda job: job.next_run_time):
        log.info("next %s at %s", job.id, job.next_run_time)
    scheduler.add_job(operator.catch_up, id="catch-up")  # now; shutdown waits for it too
    operator.stop.wait()
    log.info("stopping: finishing the job in flight")
    scheduler.shutdown(wait=True)
    log.info("stopped")
