"""The readers' web app (`newsletter serve`): one-click unsubscribe, "more / less like this",
and each reader's issue on the web, behind the signed links of `newsletter.links`.

Light on purpose: importing the package loads neither Starlette nor uvicorn (they are the
`web` extra), so `newsletter run` and the CLI can ask for it and fail with one clear line.
Its modules (none imports this package back):

- `settings`: what the app needs of the config (web_url, the secret), checked before starting
- `directory`: a link's token back to the reader it was made for (and the older `?t=` links)
- `forms`: a POST body read with a size cap, urlencoded or multipart, without python-multipart
- `pages`: the HTML pages, from `templates/web/*.html.j2`
- `views`: what each route does, run in a worker thread with its own state connection
- `issue`: a reader's issue of a day: the picks kept at send time, else selected now
- `guard`: what every response gets: security headers, methods, rate limit, one log line
- `limits`: the rate limiter (token buckets per client and per link, bounded memory)
- `app`: `create_app`, the Starlette application
- `server`: uvicorn: `serve` (blocking) and `start_in_thread` (beside the scheduler)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from newsletter.errors import NewsletterError

if TYPE_CHECKING:
    from newsletter.config import Config
    from newsletter.web.server import Running

EXTRA_MISSING = 'the web app needs its extra: pip install "paper-digest-mail[web]"'


def require_extra() -> None:
    """Raise a one-line `NewsletterError` unless Starlette and uvicorn can be imported."""
    try:
        import starlette  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError as exc:
        raise NewsletterError(EXTRA_MISSING) from exc


def start_in_thread(config: Config, listen: str) -> Running:
    """Start the web app on `listen` (`HOST:PORT`, `[::1]:8080`) in a background thread, for
    `newsletter run`; stop it with `.stop()`. Raises `NewsletterError` (the extra missing,
    the config or the secret unusable, the address taken) before returning."""
    require_extra()
    from newsletter.web.server import start_in_thread as start

    return start(config, listen)
