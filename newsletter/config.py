"""Load and validate `subscribers.yaml`.

The file has two blocks: `newsletter:` (title, sender, sources, smtp, state and the defaults every
subscriber inherits) and `subscribers:` (who gets what). Every problem is reported as
`FILE:LINE: key.path: message`, and all problems of a file are reported at once.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, TypeVar

from pydantic import (
    Field,
    PrivateAttr,
    ValidationError,
    model_validator,
)

from newsletter.addresses import reader_key
from newsletter.config_blocks import (
    BouncesConfig,
    DkimConfig,
    InboxConfig,
    RankingConfig,
    SmtpConfig,
    Strict,
    WebConfig,
)
from newsletter.config_checks import (
    LATER_CHECKED,
    Where,
    as_written,
    duplicate_sources,
    duplicate_subscribers,
    lines_of,
    notes,
    path_problems,
)
from newsletter.config_errors import problems_from
from newsletter.errors import ConfigError, Problem
from newsletter.fields import (
    WEEKDAYS,
    ArxivCategory,
    ArxivId,
    Count,
    Days,
    Email,
    Holiday,
    HttpsUrl,
    Line,
    LocalTime,
    Mailbox,
    Number,
    OptionalLine,
    PaperCategory,
    PathText,
    Phrase,
    SourceUrl,
    StateText,
    Text,
    TimeZoneName,
    WebUrl,
)
from newsletter.models import Profile, Reader
from newsletter.yamlfile import YamlDocument, load_yaml

if TYPE_CHECKING:
    from newsletter.store.location import StateLocation

DEFAULT_CONFIG = Path("subscribers.yaml")
CONFIG_ENV = "NEWSLETTER_CONFIG"
Digest = Literal["always", "when-matches"]
T = TypeVar("T")


# --- sources ---------------------------------------------------------------------------------


class SourceBase(Strict):
    name: OptionalLine = None  # shown in reports; defaults to a name derived from the source
    url: SourceUrl | None = None  # http(s) URL, file:// URL or local path; overrides the default

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
    max_results: Count = Field(default=100, ge=1, le=2000)

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
    url: SourceUrl

    def default_name(self) -> str:
        return self.url


Source = Annotated[
    ArxivSource | ArxivQuerySource | HuggingFaceSource | FeedSource, Field(discriminator="type")
]


# --- people ----------------------------------------------------------------------------------


class Interests(Strict):
    categories: list[PaperCategory] = Field(default_factory=list)
    keywords: list[Phrase] = Field(default_factory=list)
    authors: list[Phrase] = Field(default_factory=list)
    exclude: list[Phrase] = Field(default_factory=list)
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
    days: Days | None = None
    max_papers: Count | None = Field(default=None, ge=1, le=500)
    min_score: Number | None = Field(default=None, ge=0, le=1)
    digest: Digest | None = None


class Subscriber(Preferences):
    email: Email
    name: OptionalLine = None  # one line: it goes into the To: header
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
    title: Line = "Paper Digest"
    sender: Mailbox = "Paper Digest <digest@localhost>"
    contact: Email | None = None  # shown in the User-Agent of every request to arXiv and others
    timezone: TimeZoneName = "UTC"
    send_time: LocalTime = "07:00"
    days: Days = Field(default_factory=lambda: list(WEEKDAYS[:5]))
    max_papers: Count = Field(default=15, ge=1, le=500)
    min_score: Number = Field(default=0.0, ge=0, le=1)
    digest: Digest = "when-matches"
    sources: list[Source] = Field(min_length=1)
    smtp: SmtpConfig | None = None
    dkim: DkimConfig | None = None
    state: Annotated[str, StateText] = "newsletter.db"  # a file (relative to this one) or a URL
    templates: Annotated[Path, PathText] | None = None  # a folder overriding built-in templates
    unsubscribe_url: HttpsUrl | None = None  # https endpoint for one-click unsubscribe
    web_url: WebUrl | None = None  # public base URL of `newsletter serve`; needs $NEWSLETTER_SECRET
    web: WebConfig = Field(default_factory=WebConfig)
    bounce_address: Email | None = None  # Return-Path, VERP-style per reader: bounces+TOKEN@...
    bounces: BouncesConfig = Field(default_factory=BouncesConfig)
    inbox: InboxConfig | None = None  # read by `newsletter inbox` (and a job of `run`)
    alerts_to: Email | None = None  # the operator, told about failed or stale sources
    holidays: list[Holiday] = Field(default_factory=list)  # extra days without an announcement
    ranking: RankingConfig = Field(default_factory=RankingConfig)  # the optional semantic ranking


class Config(Strict):
    newsletter: NewsletterConfig
    subscribers: list[Subscriber] = Field(default_factory=list)
    path: Path = Field(default=DEFAULT_CONFIG, exclude=True)

    _readers: list[Reader] = PrivateAttr(default_factory=list)
    _lines: dict[str, int] = PrivateAttr(default_factory=dict)  # see `line_of`
    _notes: list[Problem] = PrivateAttr(default_factory=list)  # see `notes`

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
    def notes(self) -> list[Problem]:
        """What loading the file read differently from its text (`cs.ai` as `cs.AI`) or found
        misleading (`timezone: EST`): warnings for `validate`, in file order."""
        return self._notes

    @property
    def base_dir(self) -> Path:
        return self.path.resolve().parent

    @property
    def state(self) -> StateLocation:
        """Where the state lives: an SQLite file (relative paths from the config's folder) or
        a PostgreSQL database."""
        from newsletter.store.location import StateLocation

        return StateLocation.of(self.newsletter.state, self.base_dir)

    @property
    def state_path(self) -> Path:
        """The SQLite state's file (a PostgreSQL state has none)."""
        return self.state.sqlite_path()

    @property
    def templates_dir(self) -> Path:
        return self.base_dir / (self.newsletter.templates or "templates")

    @property
    def ranking_model(self) -> str:
        """The semantic ranking's model: a hub name, or a folder's absolute path (a relative
        one is taken from the config's folder); `Embedder.load` takes it."""
        from newsletter.embedder import model_source

        return model_source(self.newsletter.ranking.model, self.base_dir)


def load_config(path: Path | str) -> Config:
    """Read and validate a config file; raise `ConfigError` listing every problem."""
    with _without_gc():  # some 30 objects per reader, all kept: nothing for the collector
        return _load_config(Path(path))


@contextmanager
def _without_gc() -> Iterator[None]:
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _load_config(path: Path) -> Config:
    document = load_yaml(path)
    data = document.data
    if data is None:
        message = "file is empty: expected `newsletter:` and `subscribers:`"
        raise ConfigError([Problem(str(path), None, "", message)])
    if not isinstance(data, dict):
        message = "expected a mapping with `newsletter:` and `subscribers:`"
        raise ConfigError([Problem(str(path), 1, "", message)])
    problems = duplicate_subscribers(document)
    try:
        config = Config.model_validate({**as_written(document), "path": path})
    except ValidationError as exc:
        problems = problems_from(exc, document, Config) + problems
    else:
        labels = [source.label for source in config.newsletter.sources]
        templates = config.templates_dir if config.newsletter.templates is not None else None
        problems += duplicate_sources(document, labels)
        state = config.state.path  # None: a database server, checked when used
        problems += path_problems(document, state, templates)
        problems += _ranking_problems(document, config)
    if problems:
        problems.sort(key=lambda problem: problem.line or 0)
        raise ConfigError(problems)
    config._lines = lines_of(document, LATER_CHECKED, len(config.subscribers))
    config._notes = notes(document, *_noted(config))
    return config


def _ranking_problems(document: YamlDocument, config: Config) -> list[Problem]:
    """A semantic ranking whose model cannot be loaded, as far as that is told without loading
    it (`embedder.model_problem`)."""
    from newsletter.embedder import model_problem

    ranking = config.newsletter.ranking
    message = model_problem(ranking.model, config.base_dir) if ranking.semantic else None
    if message is None:
        return []
    line = document.line_of(("newsletter", "ranking", "model"), key=True)
    line = line or document.line_of(("newsletter", "ranking", "semantic"), key=True)
    return [Problem(str(document.path), line, "newsletter.ranking.model", message)]


def _noted(config: Config) -> tuple[list[tuple[Where, str | None]], list[tuple[Where, list[str]]]]:
    """The time zones and categories loaded, each with its place in the file."""
    zones: list[tuple[Where, str | None]] = [
        (("newsletter", "timezone"), config.newsletter.timezone)
    ]
    categories: list[tuple[Where, list[str]]] = []
    for index, source in enumerate(config.newsletter.sources):
        read = getattr(source, "categories", [])
        categories.append((("newsletter", "sources", index, "categories"), read))
    for index, subscriber in enumerate(config.subscribers):
        categories.append(
            (("subscribers", index, "interests", "categories"), subscriber.interests.categories)
        )
        zones.append((("subscribers", index, "timezone"), subscriber.timezone))
    return zones, categories
