"""One exception hierarchy for the whole library.

The command line turns these into one-line messages and exit codes; nothing below the CLI
prints or exits.

    NewsletterError
    ├── ConfigError        the config file is missing, malformed or invalid (carries every problem)
    ├── SourceError        a source could not be fetched or parsed
    │   ├── FetchError     network, HTTP status, timeout, an HTML page instead of a feed
    │   └── FeedParseError the bytes are not a feed of the expected format
    ├── StoreError         the state database cannot be opened or is from a newer version
    ├── RenderError        a template is missing or does not compile
    └── DeliveryError      a message could not be handed to the delivery backend
"""

from __future__ import annotations

from dataclasses import dataclass


class NewsletterError(Exception):
    """Base class of every error the library raises on purpose."""


@dataclass(frozen=True)
class Problem:
    """One problem found in a config file, located as precisely as the file allows."""

    file: str
    line: int | None
    key: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.key}: {self.message}" if self.key else f"{where}: {self.message}"


class ConfigError(NewsletterError):
    """The config is unusable; `problems` lists every problem found, in file order."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__(str(problems[0]) if len(problems) == 1 else self._summary())

    def _summary(self) -> str:
        first = self.problems[0]
        return f"{first} (and {len(self.problems) - 1} more problems; run `newsletter validate`)"


class SourceError(NewsletterError):
    """A source failed as a whole; `source` names it in the run report."""

    def __init__(self, source: str, reason: str) -> None:
        self.source = source
        self.reason = reason
        super().__init__(f"source {source!r}: {reason}")


class FetchError(SourceError):
    """The source's URL could not be read."""


class FeedParseError(SourceError):
    """The bytes read are not a usable feed."""


class StoreError(NewsletterError):
    """The state database is unusable."""


class RenderError(NewsletterError):
    """An issue could not be rendered."""


class DeliveryError(NewsletterError):
    """A message could not be handed over for delivery."""


class ClaimLost(DeliveryError):
    """Raised by a `handing_over` callback: the issue is no longer this sender's to send
    (another host took it over); the backend must not let the data out."""
