"""What the web app needs of the config: a public base URL and a secret, checked before it
starts (with the same message `validate` gives), and what follows from them."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from newsletter.config import Config
from newsletter.errors import ConfigError, Problem
from newsletter.links import ReaderLinks
from newsletter.tokens import Signer

DEFAULT_PORT = 8080
DEFAULT_HOST = "127.0.0.1"
PROXY_IPS = "127.0.0.1"  # whose X-Forwarded-For is believed: the reverse proxy on this host


def problems(config: Config) -> list[Problem]:
    """What keeps the web app from starting: no `web_url` to serve, or no usable secret to
    check the links' signatures with (the message `validate` gives)."""
    from newsletter.preflight import _secret

    return _no_web_url(config) or _secret(config)


def _no_web_url(config: Config) -> list[Problem]:
    if config.newsletter.web_url:
        return []
    line = config.line_of("newsletter.web_url") or config.line_of("newsletter")
    message = (
        "is not set: the web app serves the links under it; set it to the public URL your "
        "reverse proxy serves, such as https://digest.example.org"
    )
    return [Problem(str(config.path), line, "newsletter.web_url", message)]


@dataclass(frozen=True)
class WebSettings:
    """The web app's view of a config: where it is published and how its links are made."""

    config: Config
    signer: Signer
    web_url: str  # without a trailing slash

    @classmethod
    def of(cls, config: Config, signer: Signer | None = None) -> WebSettings:
        """Raise `ConfigError` when `web_url` is missing or, without `signer`, the secret."""
        found = _no_web_url(config) if signer is not None else problems(config)
        signer = signer or Signer.from_env()
        if found or signer is None or config.newsletter.web_url is None:
            raise ConfigError(found or problems(config))
        return cls(config, signer, config.newsletter.web_url.rstrip("/"))

    @property
    def prefix(self) -> str:
        """The path the app is published under (`/digest` for https://host/digest), or ''."""
        return urlsplit(self.web_url).path.rstrip("/")

    @property
    def https(self) -> bool:
        return self.web_url.startswith("https://")

    @property
    def links(self) -> ReaderLinks:
        settings = self.config.newsletter
        return ReaderLinks(settings.sender, self.web_url, settings.unsubscribe_url, self.signer)
