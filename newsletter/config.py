"""Load and validate `subscribers.yaml`.

The file has two blocks: `newsletter:` (title, sender, sources, smtp, state and the defaults every
subscriber inherits) and `subscribers:` (who gets what). Every problem is reported as
`FILE:LINE: key.path: message`, and all problems of a file are reported at once.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)

from newsletter.addresses import reader_key
from newsletter.config_errors import problems_from
from newsletter.errors import ConfigError, Problem
from newsletter.fields import (
    WEEKDAYS,
    ArxivCategory,
    ArxivId,
    Day,
    Email,
    LocalTime,
    Mailbox,
    Text,
    TimeZoneName,
)
from newsletter.models import Profile, Reader
from newsletter.yamlfile import YamlDocument, load_yaml

DEFAULT_CONFIG = Path("subscribers.yaml")
CONFIG_ENV = "NEWSLETTER_CONFIG"
Digest = Literal["always", "when-matches"]
Security = Literal["starttls", "tls", "none"]
T = TypeVar("T")


class Strict(BaseModel):
    """Unknown keys are errors: a typo must never be silently ignored."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


# --- sources ---------------------------------------------------------------------------------


class SourceBase(Strict):
    name: str | None = None  # shown in reports; defaults to a name derived from the source
    url: str | None = None  # http(s) URL, file:// URL or local path; overrides the default URL

    @property
    def label(self) -> str:
        return self.name or self.default_name()

    def default_name(self) -> str:
        raise NotImplementedError


class ArxivSource(SourceBase):
    """The daily arXiv listing (https://rss.arxiv.org/rss/CAT1+CAT2)."""

    type: Literal["arxiv"]
    categories: list[ArxivCategory] = Field(default_factory=list)
    include_replacements: bool = False  # also list new versions of older papers, marked updated

    @model_validator(mode="after")
    def _needs_categories(self) -> ArxivSource:
        if not self.categories and not self.url:
            raise ValueError("an arxiv source needs `categories:` (or a `url:`)")
        return self

    def default_name(self) -> str:
        return "arxiv " + "+".join(self.categories) if self.categories else "arxiv"


class ArxivQuerySource(SourceBase):
    """An arXiv API search (export.arxiv.org/api/query), newest first."""

    type: Literal["arxiv_query"]
    query: Text
    max_results: int = Field(default=100, ge=1, le=2000)

    def default_name(self) -> str:
        return f"arxiv query {self.query}"


class HuggingFaceSource(SourceBase):
    """Hugging Face Daily Papers (https://huggingface.co/api/daily_papers)."""

    type: Literal["huggingface"]

    def default_name(self) -> str:
        return "huggingface"


class FeedSource(SourceBase):
    """Any RSS 2.0, RSS 1.0 or Atom feed."""

    type: Literal["feed"]
    url: str

    def default_name(self) -> str:
        return self.url


Source = Annotated[
    ArxivSource | ArxivQuerySource | HuggingFaceSource | FeedSource, Field(discriminator="type")
]


# --- delivery --------------------------------------------------------------------------------


def _reject_password(value: object) -> None:
    raise ValueError(
        "passwords are not allowed in the config file: put it in an environment variable "
        "and name that variable with `password_env:`"
    )


class SmtpConfig(Strict):
    host: Text
    port: int | None = Field(
        default=None, ge=1, le=65535
    )  # default: 587, 465 with tls, 25 with none
    security: Security = "starttls"
    username: str | None = None
    password_env: str = "NEWSLETTER_SMTP_PASSWORD"  # name of the environment variable
    timeout: float = Field(default=120.0, gt=0)  # seconds; the reply to "." may take minutes

    # never read: present only so that `password:` gets a message pointing to `password_env`
    password: Annotated[None, BeforeValidator(_reject_password)] = Field(default=None, exclude=True)

    @property
    def effective_port(self) -> int:
        return self.port or {"starttls": 587, "tls": 465, "none": 25}[self.security]


class DkimConfig(Strict):
    selector: Text
    domain: Text
    private_key_path: Path


# --- people ----------------------------------------------------------------------------------


class Interests(Strict):
    categories: list[ArxivCategory] = Field(default_factory=list)
    keywords: list[Text] = Field(default_factory=list)
    authors: list[Text] = Field(default_factory=list)
    exclude: list[Text] = Field(default_factory=list)
    description: str | None = None
    liked: list[ArxivId] = Field(default_factory=list)

    @model_validator(mode="after")
    def _not_empty(self) -> Interests:
        if not (self.keywords or self.authors or self.categories or self.description or self.liked):
            raise ValueError(
                "interests are empty: give at least one of keywords, authors, categories, "
                "description, liked"
            )
        return self

    def profile(self, email: str, **limits: Any) -> Profile:
        """These interests as selection reads them; `limits` are Profile's other fields."""
        return Profile(
            email=email,
            keywords=tuple(self.keywords),
            authors=tuple(self.authors),
            categories=tuple(self.categories),
            exclude=tuple(self.exclude),
            description=self.description,
            liked=tuple(self.liked),
            **limits,
        )


class Preferences(Strict):
    """What a subscriber may set and otherwise inherits from the `newsletter:` block."""

    timezone: TimeZoneName | None = None
    send_time: LocalTime | None = None
    days: list[Day] | None = None
    max_papers: int | None = Field(default=None, ge=1, le=500)
    min_score: float | None = Field(default=None, ge=0, le=1)
    digest: Digest | None = None


class Subscriber(Preferences):
    email: Email
    name: str | None = None
    interests: Interests

    def reader(self, defaults: NewsletterConfig) -> Reader:
        """This subscriber with every unset preference taken from `defaults`: the one place
        per-reader defaults are applied."""
        return Reader(
            key=reader_key(self.email),
            email=self.email,
            name=self.name,
            profile=self.interests.profile(
                self.email,
                name=self.name,
                max_papers=_either(self.max_papers, defaults.max_papers),
                min_score=_either(self.min_score, defaults.min_score),
                digest=_either(self.digest, defaults.digest),
            ),
            timezone=_either(self.timezone, defaults.timezone),
            send_time=_either(self.send_time, defaults.send_time),
            days=tuple(_either(self.days, defaults.days)),
        )


def _either(value: T | None, default: T) -> T:
    return default if value is None else value


# --- the whole file --------------------------------------------------------------------------


class NewsletterConfig(Strict):
    title: Text = "Paper Digest"
    sender: Mailbox = "Paper Digest <digest@localhost>"
    contact: Email | None = None  # shown in the User-Agent of every request to arXiv and others
    timezone: TimeZoneName = "UTC"
    send_time: LocalTime = "07:00"
    days: list[Day] = Field(default_factory=lambda: list(WEEKDAYS[:5]))
    max_papers: int = Field(default=15, ge=1, le=500)
    min_score: float = Field(default=0.0, ge=0, le=1)
    digest: Digest = "when-matches"
    sources: list[Source] = Field(min_length=1)
    smtp: SmtpConfig | None = None
    dkim: DkimConfig | None = None
    state: Path = Path("newsletter.db")  # relative paths are relative to the config file
    templates: Path | None = None  # a folder of templates overriding the built-in ones
    unsubscribe_url: str | None = None  # https endpoint for one-click unsubscribe
    alerts_to: Email | None = None  # the operator, told about failed or stale sources
    holidays: list[date] = Field(default_factory=list)  # extra days without an arXiv announcement

    @field_validator("unsubscribe_url")
    @classmethod
    def _https_only(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith("https://"):
            raise ValueError("must be an https:// URL")
        return value


class Config(Strict):
    newsletter: NewsletterConfig
    subscribers: list[Subscriber] = Field(default_factory=list)
    path: Path = Field(default=DEFAULT_CONFIG, exclude=True)

    _readers: list[Reader] = PrivateAttr(default_factory=list)
    _lines: dict[str, int] = PrivateAttr(default_factory=dict)  # see `line_of`

    @model_validator(mode="after")
    def _resolve_readers(self) -> Config:
        self._readers = [s.reader(self.newsletter) for s in self.subscribers]
        return self

    @property
    def readers(self) -> list[Reader]:
        """Every subscriber resolved: defaults inherited, address normalised, in file order."""
        return self._readers

    def line_of(self, key: str) -> int | None:
        """The line of a `newsletter.` key that checks after loading report (see `preflight`)."""
        return self._lines.get(key)

    @property
    def base_dir(self) -> Path:
        return self.path.resolve().parent

    @property
    def state_path(self) -> Path:
        return self.base_dir / self.newsletter.state

    @property
    def templates_dir(self) -> Path:
        return self.base_dir / (self.newsletter.templates or "templates")


def load_config(path: Path | str) -> Config:
    """Read and validate a config file; raise `ConfigError` listing every problem."""
    path = Path(path)
    document = load_yaml(path)
    data = document.data
    if data is None:
        raise ConfigError(
            [
                Problem(
                    str(path), None, "", "file is empty: expected `newsletter:` and `subscribers:`"
                )
            ]
        )
    if not isinstance(data, dict):
        raise ConfigError(
            [Problem(str(path), 1, "", "expected a mapping with `newsletter:` and `subscribers:`")]
        )
    problems = _duplicate_subscribers(document)
    try:
        config = Config.model_validate({**data, "path": path})
    except ValidationError as exc:
        problems = problems_from(exc, document, Config) + problems
    if problems:
        problems.sort(key=lambda problem: problem.line or 0)
        raise ConfigError(problems)
    config._lines = _lines_of(document, LATER_CHECKED)
    return config


LATER_CHECKED = (
    "newsletter",
    "newsletter.templates",
    "newsletter.dkim.private_key_path",
    "newsletter.smtp",
    "newsletter.smtp.username",
    "newsletter.smtp.password_env",
    "newsletter.state",
)


def _lines_of(document: YamlDocument, keys: tuple[str, ...]) -> dict[str, int]:
    """The lines of the keys that are present (a missing key has the line of its parent)."""
    found = {}
    for key in keys:
        line = document.line_of(tuple(key.split(".")), key=True)
        if line is not None:
            found[key] = line
    return found


def _duplicate_subscribers(document: YamlDocument) -> list[Problem]:
    subscribers = document.data.get("subscribers") if isinstance(document.data, dict) else None
    if not isinstance(subscribers, list):
        return []
    first: dict[str, int] = {}
    problems = []
    for index, entry in enumerate(subscribers):
        email = entry.get("email") if isinstance(entry, dict) else None
        if not isinstance(email, str):
            continue
        key = reader_key(email)
        line = document.line_of(("subscribers", index, "email")) or 0
        if key in first:
            problems.append(
                Problem(
                    str(document.path),
                    line,
                    f"subscribers[{index}].email",
                    f"duplicate subscriber {email!r} (first at line {first[key]})",
                )
            )
        first.setdefault(key, line)
    return problems
