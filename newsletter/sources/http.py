"""Reading a source's bytes: local files, or HTTP done politely and robustly.

- at most one request every 3 seconds to arXiv hosts (their published limit), per process;
- conditional GET: the ETag / Last-Modified of the last answer are sent back, a 304 reuses the
  cached body;
- 429 and 5xx answers and transport errors are retried with exponential backoff and jitter,
  honouring `Retry-After` (capped), a bounded number of times;
- redirects are followed; a permanent one is logged so the config can be updated;
- other 4xx answers fail at once with the status in the message.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import TYPE_CHECKING, Protocol
from urllib.parse import unquote, urlsplit

import httpx

from newsletter import __version__
from newsletter.errors import FetchError

if TYPE_CHECKING:
    from newsletter.store import CachedResponse

log = logging.getLogger(__name__)

ARXIV_HOSTS = ("arxiv.org", "export.arxiv.org", "rss.arxiv.org", "www.arxiv.org")
ARXIV_INTERVAL = 3.0  # seconds between two requests to an arXiv host
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
MAX_BODY = 64 * 1024 * 1024
MAX_RETRY_AFTER = 120.0


class ResponseCache(Protocol):
    """Where validators and bodies of earlier answers are kept (the state store)."""

    def cached_response(self, url: str) -> CachedResponse | None: ...

    def cache_response(
        self, url: str, etag: str | None, last_modified: str | None, body: bytes
    ) -> None: ...


@dataclass(frozen=True)
class Fetched:
    url: str
    body: bytes
    not_modified: bool = False  # the server said 304 and `body` is the cached copy


def user_agent(contact: str | None) -> str:
    return f"paper-digest/{__version__}" + (f" (mailto:{contact})" if contact else "")


def make_client(contact: str | None, timeout: float = 30.0) -> httpx.Client:
    return httpx.Client(
        timeout=httpx.Timeout(timeout, connect=10.0),
        follow_redirects=True,
        headers={"User-Agent": user_agent(contact)},
    )


class Fetcher:
    """Reads URLs and local paths for the sources; one per run, shared by all sources."""

    def __init__(
        self,
        client: httpx.Client,
        cache: ResponseCache | None = None,
        *,
        attempts: int = 4,
        backoff: float = 2.0,
        intervals: dict[str, float] | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.client = client
        self.cache = cache
        self.attempts = attempts
        self.backoff = backoff
        self.intervals = (
            intervals if intervals is not None else dict.fromkeys(ARXIV_HOSTS, ARXIV_INTERVAL)
        )
        self.clock = clock
        self.sleep = sleep
        self._last_request: dict[str, float] = {}

    def get(self, url: str, *, source: str, base_dir: Path | None = None) -> Fetched:
        scheme = urlsplit(url).scheme.lower()
        if scheme in ("http", "https"):
            return self._get_http(url, source)
        if scheme == "file":
            return Fetched(url, _read_file(Path(unquote(urlsplit(url).path)), source))
        if scheme and len(scheme) > 1:  # a one-letter "scheme" is a Windows drive
            raise FetchError(source, f"unsupported URL scheme {scheme!r} in {url}")
        path = Path(url).expanduser()
        if base_dir is not None and not path.is_absolute():
            path = base_dir / path
        return Fetched(str(path), _read_file(path, source))

    def _get_http(self, url: str, source: str) -> Fetched:
        cached = self.cache.cached_response(url) if self.cache else None
        headers = {}
        if cached is not None:
            if cached.etag:
                headers["If-None-Match"] = cached.etag
            if cached.last_modified:
                headers["If-Modified-Since"] = cached.last_modified
        response, body = self._request_with_retries(url, source, headers)
        if response.status_code == 304 and cached is not None:
            log.info("%s: not modified since the last fetch", source)
            return Fetched(url, cached.body, not_modified=True)
        if self.cache is not None and (
            response.headers.get("etag") or response.headers.get("last-modified")
        ):
            self.cache.cache_response(
                url, response.headers.get("etag"), response.headers.get("last-modified"), body
            )
        return Fetched(str(response.url), body)

    def _request_with_retries(
        self, url: str, source: str, headers: dict[str, str]
    ) -> tuple[httpx.Response, bytes]:
        for attempt in range(1, self.attempts + 1):
            self._respect_interval(url)
            try:
                response, body = self._request(url, headers)
            except httpx.TransportError as exc:
                reason = _describe_transport_error(exc)
                if attempt == self.attempts:
                    raise FetchError(source, f"{reason} ({url}, after {attempt} attempts)") from exc
                self._wait(source, attempt, None, reason)
                continue
            if response.status_code in RETRY_STATUSES and attempt < self.attempts:
                self._wait(
                    source,
                    attempt,
                    response.headers.get("retry-after"),
                    f"HTTP {response.status_code}",
                )
                continue
            _check_status(response, source, bool(headers))
            return response, body
        raise AssertionError("unreachable")  # pragma: no cover

    def _request(self, url: str, headers: dict[str, str]) -> tuple[httpx.Response, bytes]:
        with self.client.stream("GET", url, headers=headers) as response:
            chunks: list[bytes] = []
            size = 0
            for chunk in response.iter_bytes():
                size += len(chunk)
                if size > MAX_BODY:
                    raise httpx.DecodingError(f"response larger than {MAX_BODY // 2**20} MiB")
                chunks.append(chunk)
        for hop in response.history:
            if hop.status_code in (301, 308):
                log.warning("%s moved permanently to %s; update the url", hop.url, response.url)
        return response, b"".join(chunks)

    def _respect_interval(self, url: str) -> None:
        host = (urlsplit(url).hostname or "").lower()
        interval = self.intervals.get(host, 0.0)
        last = self._last_request.get(host)
        if interval and last is not None:
            wait = last + interval - self.clock()
            if wait > 0:
                self.sleep(wait)
        self._last_request[host] = self.clock()

    def _wait(self, source: str, attempt: int, retry_after: str | None, reason: str) -> None:
        delay = _retry_after_seconds(retry_after)
        if delay is None:
            delay = self.backoff * 2 ** (attempt - 1) * (1 + random.random() / 2)
        log.warning(
            "%s: %s; retrying in %.1f s (attempt %d of %d)",
            source,
            reason,
            delay,
            attempt + 1,
            self.attempts,
        )
        self.sleep(delay)


def _check_status(response: httpx.Response, source: str, conditional: bool) -> None:
    status = response.status_code
    if status == 200 or (status == 304 and conditional):
        return
    phrase = response.reason_phrase or ""
    hint = " (the feed is gone; remove or update this source)" if status == 410 else ""
    raise FetchError(source, f"HTTP {status} {phrase} from {response.url}{hint}".replace("  ", " "))


def _retry_after_seconds(value: str | None) -> float | None:
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            moment = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        seconds = moment.timestamp() - time.time()
    return min(max(seconds, 0.0), MAX_RETRY_AFTER)


def _describe_transport_error(exc: httpx.TransportError) -> str:
    if isinstance(exc, httpx.TimeoutException):
        return "timed out"
    if isinstance(exc, httpx.ConnectError):
        return f"cannot connect: {exc}"
    return f"{type(exc).__name__}: {exc}"


def _read_file(path: Path, source: str) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError as exc:
        raise FetchError(source, f"file not found: {path}") from exc
    except OSError as exc:
        raise FetchError(source, f"cannot read {path}: {exc.strerror}") from exc
