"""Validated value types used by the config: each raises ValueError with a short, plain message."""

from __future__ import annotations

import difflib
import re
from email.utils import formataddr, parseaddr
from functools import lru_cache
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from pydantic import AfterValidator, BeforeValidator

WEEKDAYS: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]

# The arXiv archives a category can belong to (https://arxiv.org/category_taxonomy).
ARXIV_ARCHIVES = frozenset(
    {
        "astro-ph", "cond-mat", "cs", "econ", "eess", "gr-qc", "hep-ex", "hep-lat", "hep-ph",
        "hep-th", "math", "math-ph", "nlin", "nucl-ex", "nucl-th", "physics", "q-bio", "q-fin",
        "quant-ph", "stat",
    }
)  # fmt: skip
_CATEGORY = re.compile(r"^(?P<archive>[a-z]+(?:-[a-z]+)?)(?:\.(?P<sub>[A-Za-z]+(?:-[A-Za-z]+)?))?$")
_NEW_ID = re.compile(r"^(\d{4}\.\d{4,5})(?:v(\d+))?$")
_OLD_ID = re.compile(r"^([a-z]+(?:-[a-z]+)?(?:\.[A-Z]{2})?/\d{7})(?:v(\d+))?$")
_ARXIV_PREFIX = re.compile(r"^(?:arxiv:|https?://(?:www\.|export\.)?arxiv\.org/(?:abs|pdf)/)", re.I)
_TIME = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")


def did_you_mean(word: str, choices: list[str] | set[str] | frozenset[str]) -> str:
    """A ` (did you mean 'x'?)` suffix when a close match exists, else an empty string."""
    matches = difflib.get_close_matches(word, sorted(choices), n=1, cutoff=0.6)
    return f" (did you mean {matches[0]!r}?)" if matches else ""


def check_email(value: str) -> str:
    """A syntactically valid address (no DNS look-up), normalised as email-validator does."""
    from email_validator import EmailNotValidError, validate_email

    try:
        return validate_email(value.strip(), check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise ValueError(f"not a valid email address: {exc}") from exc


def check_mailbox(value: str) -> str:
    """`Name <address>` or a bare address; the address is validated."""
    name, address = parseaddr(value.strip())
    if not address or "@" not in address:
        raise ValueError("expected 'Name <address@example.org>' or an address")
    return formataddr((name, check_email(address))) if name else check_email(address)


@lru_cache(maxsize=1)
def _zone_names() -> frozenset[str]:
    return frozenset(available_timezones())


def check_timezone(value: str) -> str:
    """An IANA time zone name such as `Europe/Warsaw`."""
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(
            f"unknown time zone {value!r}{did_you_mean(value, _zone_names())}; "
            "use an IANA name such as 'Europe/Warsaw' or 'UTC'"
        ) from exc
    return value


def check_time(value: str) -> str:
    """A local time as `HH:MM` (24-hour); returned zero-padded."""
    match = _TIME.match(value.strip())
    if not match:
        raise ValueError(
            f"not a time of day {value!r}: use 24-hour 'HH:MM', quoted, e.g. \"07:30\""
        )
    return f"{int(match[1]):02d}:{match[2]}"


def check_weekday(value: str) -> str:
    day = value.strip().lower()[:3]
    if day not in WEEKDAYS:
        raise ValueError(f"not a weekday {value!r}: use {', '.join(WEEKDAYS)}")
    return day


def check_category(value: str) -> str:
    """An arXiv category such as `cs.LG`, `hep-th` or `cond-mat.mes-hall`."""
    match = _CATEGORY.match(value.strip())
    if not match:
        raise ValueError(f"not an arXiv category {value!r}: expected e.g. 'cs.LG' or 'hep-th'")
    archive = match["archive"]
    if archive not in ARXIV_ARCHIVES:
        raise ValueError(
            f"unknown arXiv archive {archive!r}{did_you_mean(archive, ARXIV_ARCHIVES)}"
        )
    return value.strip()


def normalize_arxiv_id(value: str) -> str:
    """`arXiv:2502.05172v2` or an abs/pdf URL -> `2502.05172`; raises ValueError if not an id."""
    text = _ARXIV_PREFIX.sub("", value.strip()).removesuffix(".pdf").strip("/")
    for pattern in (_NEW_ID, _OLD_ID):
        match = pattern.match(text)
        if match:
            return match[1]
    raise ValueError(f"not an arXiv id {value!r}: expected e.g. '2502.05172' or 'hep-th/9901001'")


def _not_blank(value: str) -> str:
    text = " ".join(value.split())
    if not text:
        raise ValueError("must not be empty")
    return text


def _text_from_scalar(value: object) -> object:
    """Numbers and dates written unquoted in YAML are still text for text fields."""
    return str(value) if isinstance(value, int | float) and not isinstance(value, bool) else value


Email = Annotated[str, AfterValidator(check_email)]
Mailbox = Annotated[str, AfterValidator(check_mailbox)]
TimeZoneName = Annotated[str, AfterValidator(check_timezone)]
LocalTime = Annotated[str, BeforeValidator(_text_from_scalar), AfterValidator(check_time)]
Day = Annotated[str, AfterValidator(check_weekday)]
ArxivCategory = Annotated[str, AfterValidator(check_category)]
ArxivId = Annotated[str, BeforeValidator(_text_from_scalar), AfterValidator(normalize_arxiv_id)]
Text = Annotated[str, BeforeValidator(_text_from_scalar), AfterValidator(_not_blank)]
