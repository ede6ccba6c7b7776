"""The typed objects that travel between stages: Paper, and what is made of it.

A `Paper` is what every source produces and what the store keeps. Its `id` is the key that
"never send twice" is built on:

- an arXiv paper: the arXiv id without version (`2507.12345`, `cond-mat/0011267`);
- anything else with a DOI: `doi:` + the lower-cased DOI (`doi:10.1101/2023.12.13.571234`);
- anything else: `url:` + the item's link (or its feed guid).

All text fields are plain, cleaned text (no markup, no entities); they are untrusted and must be
escaped wherever they are shown. Link fields only ever hold http(s) URLs. Counts and versions are
integers in [0, MAX_COUNT]: a larger number is clamped to MAX_COUNT (also when a paper stored by an
older release is read back), anything that is not a count is refused (see `as_count`).
"""

from __future__ import annotations

import hashlib
import math
import re
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

MAX_COUNT = 2**31 - 1  # the largest count or version kept: sane, and safe for int64 and SQLite
_DIGITS = re.compile(r"[0-9]+")


def as_count(value: object) -> int | None:
    """`value` as a count (upvotes, stars, comments) or a version: None, or an int in
    [0, MAX_COUNT].

    Larger numbers, +infinity included, are clamped to MAX_COUNT; floats with no fraction and
    strings of decimal digits are read as integers. Booleans, negative numbers, fractions, NaN
    and anything else raise ValueError.
    """
    if value is None:
        return None
    if isinstance(value, bool):
        raise ValueError("a boolean is not a count")
    if isinstance(value, float):
        if math.isnan(value) or (math.isfinite(value) and not value.is_integer()):
            raise ValueError(f"{value!r} is not a whole number")
        value = MAX_COUNT if value > MAX_COUNT else int(value) if value >= 0 else -1
    elif isinstance(value, str):
        text = value.strip()
        if not _DIGITS.fullmatch(text):
            raise ValueError(f"{text[:20]!r} is not a whole number")
        digits = text.lstrip("0") or "0"
        value = MAX_COUNT if len(digits) > 10 else int(digits)
    if not isinstance(value, int):
        raise ValueError(f"a {type(value).__name__} is not a count")
    if value < 0:
        raise ValueError("a count cannot be negative")
    return min(value, MAX_COUNT)


Count = Annotated[int | None, BeforeValidator(as_count)]


class AnnounceType(StrEnum):
    """How a paper appears in the day's arXiv listing."""

    NEW = "new"
    CROSS = "cross"
    REPLACE = "replace"
    REPLACE_CROSS = "replace-cross"

    @property
    def is_replacement(self) -> bool:
        return self in (AnnounceType.REPLACE, AnnounceType.REPLACE_CROSS)


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Links(_Frozen):
    """Where to read more; every field is an http(s) URL or None."""

    abstract: str | None = None
    pdf: str | None = None
    doi: str | None = None
    huggingface: str | None = None
    code: str | None = None
    project: str | None = None


class PaperExtras(_Frozen):
    """What some sources know about a paper beyond its metadata."""

    upvotes: Count = None  # Hugging Face Daily Papers
    ai_summary: str | None = None  # Hugging Face
    keywords: tuple[str, ...] = ()  # Hugging Face ai_keywords, feed tags
    github_stars: Count = None
    thumbnail: str | None = None  # http(s) image URL
    comments: str | None = None  # arXiv author comments ("12 pages, 3 figures")
    journal_ref: str | None = None
    num_comments: Count = None  # discussion size on Hugging Face


class Paper(_Frozen):
    """One paper of the day, as every source reports it."""

    id: str
    version: Count = None
    title: str
    authors: tuple[str, ...] = ()
    abstract: str = ""
    categories: tuple[str, ...] = ()  # primary first
    announce_type: AnnounceType | None = None
    links: Links = Field(default_factory=Links)
    published: datetime | None = None  # first version submitted / published by the source
    announced: date | None = None  # the arXiv (or source) announcement day
    sources: tuple[str, ...] = ()  # names of the configured sources that listed it
    extras: PaperExtras = Field(default_factory=PaperExtras)

    @property
    def arxiv_id(self) -> str | None:
        """The arXiv id without version, or None for papers that are not on arXiv."""
        return None if self.id.startswith(("doi:", "url:")) else self.id

    @property
    def primary_category(self) -> str | None:
        return self.categories[0] if self.categories else None

    @property
    def is_updated(self) -> bool:
        """True when the listing announced a new version of an older paper."""
        return self.announce_type is not None and self.announce_type.is_replacement


@dataclass(frozen=True)
class Profile:
    """One subscriber's interests and limits, as selection needs them."""

    email: str
    name: str | None = None
    keywords: tuple[str, ...] = ()
    authors: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    description: str | None = None
    liked: tuple[str, ...] = ()
    max_papers: int = 15
    min_score: float = 0.0
    digest: str = "when-matches"  # or "always"


@dataclass(frozen=True)
class Reader:
    """A subscriber resolved once at load: defaults inherited, address normalised.

    It travels from the choice of readers through selection, rendering and the message to the
    delivery ledger; nothing downstream looks a subscriber up again."""

    key: str  # `reader_key(email)`
    email: str  # as written (email-validator's normal form): the To: address
    name: str | None
    profile: Profile
    timezone: str  # IANA name
    send_time: str  # HH:MM, local
    days: tuple[str, ...]  # mon..sun

    @property
    def slug(self) -> str:
        """A file-name-safe, stable and unique name for this reader."""
        local = re.sub(r"[^a-z0-9]+", "-", self.key.split("@")[0]).strip("-") or "reader"
        digest = hashlib.sha1(self.key.encode()).hexdigest()[:6]
        return f"{local[:40]}-{digest}"


@dataclass(frozen=True)
class SelectedPaper:
    """A paper picked for one reader, with its score in [0, 1] and why it was picked."""

    paper: Paper
    score: float
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class Selection:
    """The papers of one reader's issue, best first."""

    profile: Profile
    day: date
    papers: tuple[SelectedPaper, ...]

    @property
    def should_send(self) -> bool:
        return bool(self.papers) or self.profile.digest == "always"
