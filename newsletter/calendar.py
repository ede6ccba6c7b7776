"""arXiv's announcement calendar.

arXiv announces new papers Sunday to Thursday at 20:00 US Eastern time. Each announcement is a
listing dated the next day, so listings are dated Monday to Friday; there is none on Saturday,
Sunday, or on the holidays arXiv publishes (configured with `newsletter.holidays`).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

ARXIV_TZ = ZoneInfo("America/New_York")
ANNOUNCEMENT_HOUR = 20


def listing_date(now: datetime) -> date:
    """The date of the newest listing that can be out at `now` (an aware datetime)."""
    local = now.astimezone(ARXIV_TZ)
    return (local + timedelta(hours=24 - ANNOUNCEMENT_HOUR)).date()


def is_announcement_day(day: date, holidays: Iterable[date] = ()) -> bool:
    """True when arXiv publishes a listing dated `day`."""
    return day.weekday() < 5 and day not in set(holidays)
