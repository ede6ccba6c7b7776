"""Validated value types used by the config: each raises ValueError with a short, plain message.

A value is refused here when it would otherwise pass and fail later (at send time, in the
scheduler, in a header): a boolean where a number is meant, a weekday that only starts like one,
a line break in a header's text, an unbounded timeout.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from functools import lru_cache
from importlib.resources import files
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, available_timezones

from pydantic import AfterValidator, BeforeValidator, Field

from newsletter.checks import (
    check_domain,
    check_env_name,
    check_host,
    check_https_url,
    check_listen,
    check_selector,
    check_source_url,
    check_web_url,
    closest,
    did_you_mean,
    no_control,
    not_too_long,
    shown,
)
from newsletter.emails import MAX_LINE, check_email, check_mailbox

WEEKDAYS: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
_FULL_DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_DAY_FORMS = {
    **{day: day for day in WEEKDAYS},
    **{full: day for full, day in zip(_FULL_DAYS, WEEKDAYS, strict=True)},
    **{"tues": "tue", "weds": "wed", "thur": "thu", "thurs": "thu"},
}

# The arXiv archives a category can belong to (https://arxiv.org/category_taxonomy).
ARXIV_ARCHIVES = frozenset(
    {
        "astro-ph", "cond-mat", "cs", "econ", "eess", "gr-qc", "hep-ex", "hep-lat", "hep-ph",
        "hep-th", "math", "math-ph", "nlin", "nucl-ex", "nucl-th", "physics", "q-bio", "q-fin",
        "quant-ph", "stat",
    }
)  # fmt: skip
_CATEGORY = re.compile(
    r"^(?P<archive>[a-z]+(?:-[a-z]+)?)(?:\.(?P<sub>[a-z]+(?:-[a-z]+)?))?$", re.ASCII | re.I
)
TAXONOMY = "https://arxiv.org/category_taxonomy"
_NEW_ID = re.compile(r"^(\d{4}\.\d{4,5})(?:v(\d+))?$", re.ASCII)
_OLD_ID = re.compile(r"^([a-z]+(?:-[a-z]+)?(?:\.[A-Z]{2})?/\d{7})(?:v(\d+))?$", re.ASCII)
_ARXIV_PREFIX = re.compile(r"^(?:arxiv:|https?://(?:www\.|export\.)?arxiv\.org/(?:abs|pdf)/)", re.I)
_TIME = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$", re.ASCII)
_TIME_MISWRITTEN = re.compile(r"^([01]?\d|2[0-3])\s*[.h,]\s*([0-5]\d)$", re.ASCII)  # 8.30, 8h30
_OFFSET_NAME = re.compile(r"^(?:UTC|GMT)\s*([+-])\s*(\d{1,2})(?::?(\d{2}))?$", re.ASCII | re.I)
_FIXED_ZONE = re.compile(r"^(?:Etc/)?(?:EST|MST|HST|GMT[+-]?\d*|Greenwich)$")
_LETTER_OR_DIGIT = re.compile(r"[^\W_]")  # what `str.isalnum` holds for, character by character
_NOT_ZONES = frozenset({"localtime", "posixrules", "Factory"})  # not places: host-dependent


@lru_cache(maxsize=1)
def _zone_names() -> frozenset[str]:
    return frozenset(available_timezones()) - _NOT_ZONES


def check_timezone(value: str) -> str:
    """An IANA time zone name such as `Europe/Warsaw` (checked against the zone list, never
    looked up as a file). A legacy name that works but misleads (`EST`) passes: see
    `timezone_note`."""
    zones = _zone_names()
    if value in zones:
        return value
    same = [zone for zone in zones if zone.lower() == value.lower()]
    hint = f" (did you mean {same[0]!r}?)" if same else _offset_hint(value)
    hint = hint or did_you_mean(value, zones)
    raise ValueError(
        f"unknown time zone {shown(value)}{hint}; use an IANA name such as 'Europe/Warsaw' or 'UTC'"
    )


def _offset_hint(value: str) -> str:
    """`UTC+5` is no zone name: say how a fixed offset is written, and that a place is better."""
    match = _OFFSET_NAME.match(value.strip())
    if not match:
        return ""
    sign, hours, minutes = match[1], int(match[2]), int(match[3] or 0)
    if not (hours or minutes):
        return " (a UTC offset is not a zone: write 'UTC')"
    fixed = "" if minutes or hours > 14 else (
        f"; a fixed UTC{sign}{hours} all year is 'Etc/GMT{'-' if sign == '+' else '+'}{hours}', "
        "the sign inverted as POSIX writes it"
    )  # fmt: skip
    return (
        " (a UTC offset is not a zone: name the place, e.g. 'America/New_York', which also "
        f"keeps its daylight saving{fixed})"
    )


@lru_cache(maxsize=1)
def _legacy_zones() -> dict[str, str | None]:
    """Zone names that work but mislead, each with the IANA name to use (None: none to suggest)."""
    found: dict[str, str | None] = {}
    for line in _data_lines("legacy_timezones.txt"):
        name, instead = line.split()
        found[name] = None if instead == "-" else instead
    return found


def timezone_note(name: str) -> str | None:
    """Why a valid zone name misleads, with the IANA name to use; None for a good name.

    `EST` is UTC-5 all year (New York is not), `Etc/GMT+5` is UTC-5 (POSIX inverts the sign),
    `US/Eastern` and `Asia/Calcutta` are old names kept only for compatibility."""
    if name not in _legacy_zones():
        return None
    instead = _legacy_zones()[name]
    use = f"for {_place(instead)} use {instead}" if instead else "name the place instead"
    if instead == "UTC":
        return f"{name} is an old name of UTC; write UTC"
    if not _FIXED_ZONE.match(name):
        return f"{name} is a legacy name; {use}"
    offset = ZoneInfo(name).utcoffset(datetime(2026, 1, 1)) or timedelta()
    minutes = int(offset.total_seconds()) // 60
    text = f"UTC{'-' if minutes < 0 else '+'}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"
    posix = " (POSIX inverts the sign)" if name.startswith("Etc/GMT") and minutes else ""
    utc = ", or write UTC" if not minutes else ""
    return f"{name} is a fixed {text} offset{posix} without daylight saving; {use}{utc}"


def _place(zone: str) -> str:
    return zone.rsplit("/", 1)[-1].replace("_", " ")


def check_time(value: str) -> str:
    """A local time as `HH:MM` (24-hour); returned zero-padded."""
    match = _TIME.match(value.strip())
    if not match:
        miswritten = _TIME_MISWRITTEN.match(value.strip())
        hint = f' (did you mean "{int(miswritten[1]):02d}:{miswritten[2]}"?)' if miswritten else ""
        raise ValueError(
            f"not a time of day {shown(value)}{hint}: use 24-hour 'HH:MM', quoted, e.g. \"07:30\""
        )
    return f"{int(match[1]):02d}:{match[2]}"


def check_weekday(value: str) -> str:
    """`mon` ... `sun`, the full English names, `tues`, `weds`, `thur`, `thurs`; any case."""
    day = _DAY_FORMS.get(value.strip().lower())
    if day is None:
        hint = did_you_mean(value.strip().lower(), set(_DAY_FORMS))
        raise ValueError(f"not a weekday {shown(value)}{hint}: use {', '.join(WEEKDAYS)}")
    return day


def _data_lines(name: str) -> list[str]:
    """The lines of a bundled data file, without comments and blank lines."""
    text = files("newsletter.data").joinpath(name).read_text("utf-8")
    lines = (line.split("#", 1)[0].strip() for line in text.splitlines())
    return [line for line in lines if line]


@lru_cache(maxsize=1)
def arxiv_categories() -> dict[str, str]:
    """arXiv's categories (`newsletter/data/arxiv_categories.txt`), lower-cased -> as arXiv
    writes them."""
    return {name.lower(): name for name in _data_lines("arxiv_categories.txt")}


def check_category(value: str) -> str:
    """An arXiv category such as `cs.LG`, `hep-th` or `cond-mat.mes-hall`, or an archive listed
    as a whole (`cs`, `math`): one arXiv has, in any case, returned as arXiv writes it
    (`cs.ai` -> `cs.AI`)."""
    text = value.strip()
    match = _CATEGORY.match(text)
    if not match:
        raise ValueError(f"not an arXiv category {shown(value)}: expected e.g. 'cs.LG' or 'hep-th'")
    archive = match["archive"].lower()
    if archive not in ARXIV_ARCHIVES:
        raise ValueError(
            f"unknown arXiv archive {archive!r}{did_you_mean(archive, ARXIV_ARCHIVES)}"
        )
    if match["sub"] is None:
        return archive
    known = arxiv_categories()
    if text.lower() in known:
        return known[text.lower()]
    near = closest(text.lower(), {name for name in known if name.startswith(archive + ".")})
    hint = f" (did you mean {known[near]!r}?)" if near else ""
    raise ValueError(f"unknown arXiv category {shown(text)}{hint}; see {TAXONOMY}")


@lru_cache(maxsize=1)
def _subdivided() -> dict[str, str]:
    """Each archive that has categories of its own, with its first category (for a hint)."""
    found: dict[str, str] = {}
    for known in sorted(arxiv_categories().values()):
        archive, dot, _ = known.partition(".")
        if dot:
            found.setdefault(archive, known)
    return found


def check_paper_category(value: str) -> str:
    """A category a paper is listed under: an archive alone only if it has no categories of its
    own (`hep-th` yes, `cs` no: a paper is in `cs.LG`, never in `cs`)."""
    name = check_category(value)
    inside = _subdivided().get(name)
    if inside:
        raise ValueError(
            f"{name!r} is a whole archive: papers are listed under its categories; name those, "
            f"e.g. {inside!r} (see {TAXONOMY})"
        )
    return name


def normalize_arxiv_id(value: str) -> str:
    """`arXiv:2502.05172v2` or an abs/pdf URL -> `2502.05172`; raises ValueError if not an id."""
    text = _ARXIV_PREFIX.sub("", value.strip()).removesuffix(".pdf").strip("/")
    for pattern in (_NEW_ID, _OLD_ID):
        match = pattern.match(text)
        if match:
            return match[1]
    raise ValueError(
        f"not an arXiv id {shown(value)}: expected e.g. '2502.05172' or 'hep-th/9901001'"
    )


def _not_blank(value: str) -> str:
    if value.isprintable() and "  " not in value and value.strip(" ") == value:
        text = value  # what `split` and `no_control` leave of it: neither finds anything
        if text:
            return text
    text = " ".join(value.split())
    if not text:
        raise ValueError("must not be empty")
    return no_control(text)


def _one_line(value: str) -> str:
    text = no_control(value.strip())
    if not text:
        raise ValueError("must not be empty")
    return not_too_long(text, MAX_LINE)


def _has_word(value: str) -> str:
    if _LETTER_OR_DIGIT.search(value) is None:  # no character for which `isalnum()` holds
        raise ValueError(f"{shown(value)} has no letter or digit: it would match anything")
    return value


def _phrase(value: str) -> str:
    return _has_word(_not_blank(value))


def _path_text(value: object) -> object:
    if isinstance(value, str):
        if not value.strip():
            raise ValueError("must not be empty")
        no_control(value)
    return value


def _state_text(value: object) -> object:
    """A state file path, or a postgresql:// URL without a password (see `store.location`)."""
    value = _path_text(value)
    if isinstance(value, str):
        from newsletter.store.location import state_text_problem

        problem = state_text_problem(value.strip())
        if problem is not None:
            raise ValueError(problem)
        return value.strip() if "://" in value else value
    return value


def _text_from_scalar(value: object) -> object:
    """Numbers written unquoted in YAML are still text for text fields; yes/no/on/off are not."""
    if type(value) is str:
        return value
    if isinstance(value, bool):
        raise ValueError(
            f'YAML reads this as {str(value).lower()}: quote it if it is text, e.g. "on"'
        )
    return str(value) if isinstance(value, int | float) else value


def _blank_to_none(value: object) -> object:
    return None if isinstance(value, str) and not value.strip() else value


def _not_bool(value: object) -> object:
    """`true` is a boolean, never the number 1."""
    if isinstance(value, bool):
        raise ValueError(f"expected a number, not {str(value).lower()}")
    return value


def _not_a_number(value: object) -> object:
    """`holidays: [20261225]` would be read as seconds since 1970."""
    if isinstance(value, int | float):
        raise ValueError(f"not a date {shown(value)}: write it as YYYY-MM-DD, e.g. 2026-12-25")
    return value


def _some_days(days: list[str]) -> list[str]:
    if not days:
        raise ValueError("give at least one day (an empty list would never send an issue)")
    return list(dict.fromkeys(days))


Email = Annotated[str, AfterValidator(check_email)]
Mailbox = Annotated[str, AfterValidator(check_mailbox)]
TimeZoneName = Annotated[str, AfterValidator(check_timezone)]
LocalTime = Annotated[str, BeforeValidator(_text_from_scalar), AfterValidator(check_time)]
Day = Annotated[str, AfterValidator(check_weekday)]
Days = Annotated[list[Day], AfterValidator(_some_days)]
ArxivCategory = Annotated[str, AfterValidator(check_category)]  # what a source lists
PaperCategory = Annotated[str, AfterValidator(check_paper_category)]  # what a paper is listed in
ArxivId = Annotated[str, BeforeValidator(_text_from_scalar), AfterValidator(normalize_arxiv_id)]
Text = Annotated[str, BeforeValidator(_text_from_scalar), AfterValidator(_not_blank)]
Phrase = Annotated[str, BeforeValidator(_text_from_scalar), AfterValidator(_phrase)]  # Text too
Line = Annotated[str, BeforeValidator(_text_from_scalar), AfterValidator(_one_line)]
OptionalLine = Annotated[Line | None, BeforeValidator(_blank_to_none)]  # blank: not given
Host = Annotated[str, AfterValidator(check_host)]
Domain = Annotated[str, AfterValidator(check_domain)]
Selector = Annotated[str, AfterValidator(check_selector)]
EnvName = Annotated[str, AfterValidator(check_env_name)]
HttpsUrl = Annotated[str, AfterValidator(check_https_url)]
WebUrl = Annotated[str, AfterValidator(check_web_url)]
Listen = Annotated[str, AfterValidator(check_listen)]
SourceUrl = Annotated[str, AfterValidator(check_source_url)]
PathText = BeforeValidator(_path_text)  # with `Path`: not empty, no control characters
StateText = BeforeValidator(_state_text)  # a file path or a postgresql:// URL
Count = Annotated[int, BeforeValidator(_not_bool)]
Number = Annotated[float, Field(allow_inf_nan=False), BeforeValidator(_not_bool)]
Holiday = Annotated[date, BeforeValidator(_not_a_number)]
