"""Which issue is next, for whom and when: one rule shared by send, preview, run and status.

- The issue a run sends at a moment is dated by the newest listing out at that moment. With an
  arXiv listing among the sources that is the newest announcement day (arXiv announces for
  Monday to Friday, never on weekends or `holidays`): on a Saturday it is still Friday's issue.
  Without one, it is the calendar date of the newest listing (`calendar.listing_date`).
- A reader gets an issue only on their own `days`, in their own time zone: `newsletter send`
  without `--date` leaves the others for their next send, and says when that is.
- Whatever a command leaves undone, it says why in one line (`why_not_today`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from newsletter.calendar import is_announcement_day, listing_date
from newsletter.checks import plural
from newsletter.config import Config
from newsletter.fields import WEEKDAYS
from newsletter.models import Reader

if TYPE_CHECKING:
    from apscheduler.triggers.base import BaseTrigger

GRACE = timedelta(hours=6)  # a send that falls due counts as due for this long


def follows_arxiv(config: Config) -> bool:
    """Whether the issues follow arXiv's announcement calendar (an arXiv listing is read)."""
    return any(source.type == "arxiv" for source in config.newsletter.sources)


def issue_date(config: Config, now: datetime) -> date:
    """The date of the issue a run at `now` sends."""
    day = listing_date(now)
    if not follows_arxiv(config):
        return day
    holidays = config.newsletter.holidays
    while not is_announcement_day(day, holidays):
        day -= timedelta(days=1)
    return day


def next_listing(config: Config, now: datetime) -> date:
    """The date of the next listing after the newest one out at `now`."""
    day = listing_date(now) + timedelta(days=1)
    while follows_arxiv(config) and not is_announcement_day(day, config.newsletter.holidays):
        day += timedelta(days=1)
    return day


def sends_today(reader: Reader, now: datetime) -> bool:
    """Whether today, in the reader's time zone, is one of the reader's days."""
    local = now.astimezone(ZoneInfo(reader.timezone))
    return WEEKDAYS[local.weekday()] in reader.days


def next_send(reader: Reader, now: datetime) -> datetime | None:
    """The reader's next scheduled send after `now`, in their time zone (None: never)."""
    fire: datetime | None = group_of(reader).trigger().get_next_fire_time(None, now)
    return fire


@dataclass(frozen=True)
class Later:
    """Readers who are not sent anything now, all next sent at `at`."""

    readers: tuple[Reader, ...]
    at: datetime | None

    def when(self) -> str:
        if self.at is None:
            return "never (no day of theirs is left)"
        return f"{self.at:%A %d %b at %H:%M} {self.at.tzinfo}"


def today_and_later(readers: Sequence[Reader], now: datetime) -> tuple[list[Reader], list[Later]]:
    """The readers whose day it is, and the others grouped by their next send."""
    today, later = [], dict[datetime | None, list[Reader]]()
    for reader in readers:
        if sends_today(reader, now):
            today.append(reader)
        else:
            later.setdefault(next_send(reader, now), []).append(reader)
    ordered = sorted(later.items(), key=lambda item: (item[0] is None, item[0] or now))
    return today, [Later(tuple(group), at) for at, group in ordered]


def why_not_today(config: Config, now: datetime, later: Sequence[Later]) -> list[str]:
    """One line per group of readers left for later: why, and when they get their issue."""
    lines = []
    listing = listing_date(now)
    quiet = follows_arxiv(config) and not is_announcement_day(listing, config.newsletter.holidays)
    for group in later:
        count = plural(len(group.readers), "reader")
        if quiet:
            why = (
                f"arXiv does not announce on {listing:%A}s"
                if listing.weekday() >= 5
                else f"arXiv does not announce on {listing:%A %d %b} (a holiday)"
            )
            lines.append(
                f"{why}; the next listing is {next_listing(config, now):%A %d %b}, sent to "
                f"{count} {group.when()}"
            )
        else:
            local = now.astimezone(ZoneInfo(group.readers[0].timezone))
            lines.append(
                f"{local:%A} is not a sending day for {count}; their next issue is sent "
                f"{group.when()}"
            )
    return lines


@dataclass(frozen=True)
class Agenda:
    """What a `send` now does: the issue date, the readers it is for, and why others wait."""

    day: date
    readers: list[Reader]
    why: list[str]


def for_send(
    config: Config, readers: Sequence[Reader], now: datetime, *, day: date | None, due: bool
) -> Agenda:
    """`--date D`: everyone chosen gets the issue of D. Otherwise the issue due now goes to the
    readers whose day it is (with `due`: whose send time came within the grace period); the
    others are told when theirs comes."""
    if day is not None:
        return Agenda(day, list(readers), [])
    if due:
        keys = set(due_groups(config, now))
        chosen = [r for r in readers if group_of(r).key in keys]
        if not chosen:
            waiting = [Later((r,), next_send(r, now)) for r in readers]
            return Agenda(issue_date(config, now), [], _nobody_due(waiting, GRACE))
        return Agenda(issue_date(config, now), chosen, [])
    today, later = today_and_later(readers, now)
    return Agenda(issue_date(config, now), today, why_not_today(config, now, later))


def _nobody_due(waiting: Sequence[Later], grace: timedelta) -> list[str]:
    times = [w.at for w in waiting if w.at is not None]
    if not times:
        return ["nobody is due: no reader has a day to be sent on"]
    first = min(times)
    count = sum(1 for w in waiting if w.at == first)
    hours = int(grace.total_seconds() // 3600)
    return [
        f"nobody's send time came in the last {hours} hours; the next send is "
        f"{Later((), first).when()} ({plural(count, 'reader')})"
    ]


# --- send groups: readers who are sent at the same local time on the same days ---------


@dataclass(frozen=True, order=True)
class SendGroup:
    """Subscribers who get their issue at the same local time on the same days."""

    timezone: str
    send_time: str  # HH:MM
    days: tuple[str, ...]

    @property
    def label(self) -> str:
        return f"{self.timezone} {self.send_time} {','.join(self.days)}"

    @property
    def key(self) -> str:
        return f"send {self.label}"

    def trigger(self) -> BaseTrigger:
        from apscheduler.triggers.cron import CronTrigger

        hour, minute = (int(part) for part in self.send_time.split(":"))
        return CronTrigger(
            day_of_week=",".join(self.days),
            hour=hour,
            minute=minute,
            timezone=ZoneInfo(self.timezone),
        )


def group_of(reader: Reader) -> SendGroup:
    return SendGroup(reader.timezone, reader.send_time, reader.days)


@dataclass(frozen=True)
class GroupMembers:
    group: SendGroup
    readers: list[Reader]


def send_groups(config: Config) -> dict[str, GroupMembers]:
    """Every group of the config, by key, with its members."""
    found: dict[str, GroupMembers] = {}
    for reader in config.readers:
        group = group_of(reader)
        found.setdefault(group.key, GroupMembers(group, [])).readers.append(reader)
    return dict(sorted(found.items()))


def due_groups(config: Config, now: datetime) -> list[str]:
    """The keys of the groups whose send time came within `GRACE` before `now`."""
    due = []
    for key, members in send_groups(config).items():
        fire = members.group.trigger().get_next_fire_time(None, now - GRACE)
        if fire is not None and fire <= now:
            due.append(key)
    return due


@dataclass(frozen=True)
class NextSend:
    group: SendGroup
    members: int
    at: datetime | None  # None: never (no day of the week left)


def next_sends(config: Config, now: datetime) -> list[NextSend]:
    """Each group, its number of members and its next send time, soonest first."""
    found = [
        NextSend(m.group, len(m.readers), m.group.trigger().get_next_fire_time(None, now))
        for m in send_groups(config).values()
    ]
    return sorted(found, key=lambda row: (row.at is None, row.at or now))
