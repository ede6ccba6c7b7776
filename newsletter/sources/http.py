"""Reading a source's bytes: local files, or HTTP done politely, robustly and within bounds.

- at most one request every 3 seconds to arXiv hosts (their published limit), per process;
- conditional GET: the ETag / Last-Modified of the last answer are sent back, a 304 reuses the
  cached body;
- 429 and 5xx answers and transport errors are retried with exponential backoff and jitter,
  honouring `Retry-After` (capped), a bounded number of times; a host name that does not
  resolve (offline, a typo) is not: it fails at once;
- redirects are followed here, hop by hop (at most `MAX_REDIRECTS`): only to http(s) URLs
  without user info, and never from a public address into a non-public one (loopback, private,
  link-local, cloud metadata...; see `is_public_address`), unless the configured URL is itself
  non-public (`hosts.py`); a permanent one is logged so the config can be updated;
- other 4xx answers fail at once with the status in the message.

Every read is bounded (`limits.py`): one deadline (`DEADLINE`) covers all attempts, waits and
redirects of a source, enforced while waiting for headers and while streaming the body (a
watchdog cuts the connection at the deadline, so a server dripping one byte a second cannot hold
a run); the body is decoded piece by piece and never grows past `MAX_BODY` bytes decoded. Local
files get the same cap and deadline. Every failure is a `FetchError` with a one-line reason.
"""

from __future__ import annotations

import functools
import logging
import random
import re
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol
from urllib.parse import quote, unquote, urlsplit

import httpx

from newsletter import __version__
from newsletter.errors import FetchError, SourceError
from newsletter.sources.base import one_line_error
from newsletter.sources.hosts import Resolver, is_public_host
from newsletter.sources.limits import (
    DEADLINE,
    MAX_BODY,
    BodyDecoder,
    Deadline,
    Watchdog,
    bounded_timeout,
    read_file,
    retry_after_seconds,
    size_text,
)

if TYPE_CHECKING:
    from newsletter.store import CachedResponse

log = logging.getLogger(__name__)

ARXIV_HOSTS = ("arxiv.org", "export.arxiv.org", "rss.arxiv.org", "www.arxiv.org")
ARXIV_INTERVAL = 3.0  # seconds between two requests to an arXiv host
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
MAX_REDIRECTS = 5
_UNSAFE_LOCATION = re.compile(r"[\s\x00-\x1f\x7f-\x9f\\]")


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
    """`paper-digest/VERSION (mailto:CONTACT)`; an international address percent-encoded, since
    a header carries ASCII only."""
    if not contact:
        return f"paper-digest/{__version__}"
    return f"paper-digest/{__version__} (mailto:{quote(contact, safe='@.+-_')})"


def make_client(contact: str | None, timeout: float = 30.0) -> httpx.Client:
    return httpx.Client(
        timeout=httpx.Timeout(timeout, connect=10.0),
        follow_redirects=False,  # the Fetcher follows them, checking every hop
        headers={"User-Agent": user_agent(contact)},
    )


@dataclass(frozen=True)
class _Answer:
    url: httpx.URL
    status: int
    phrase: str
    headers: httpx.Headers
    body: bytes = b""


class Fetcher:
    """Reads URLs and local paths for the sources; one per run, shared by all sources.

    `deadline` bounds one `get` (seconds) and `budget` all of them together (a run's time for
    reading sources; None: no bound beyond each get's), `max_body` a document (bytes, decoded),
    `max_redirects` its hops; `is_public(host)` says whether a redirect may lead to `host`
    (default: `is_public_host` with `resolve`, itself `socket.getaddrinfo` by default; tests
    declare a name public and map it to 127.0.0.1).
    """

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
        deadline: float = DEADLINE,
        budget: float | None = None,
        max_body: int = MAX_BODY,
        max_redirects: int = MAX_REDIRECTS,
        is_public: Callable[[str], bool] | None = None,
        resolve: Resolver = socket.getaddrinfo,
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
        self.deadline = deadline
        self.budget = budget
        self._budget_end = None if budget is None else clock() + budget
        self.max_body = max_body
        self.max_redirects = max_redirects
        self.is_public = is_public or functools.partial(is_public_host, resolve=resolve)
        self._last_request: dict[str, float] = {}

    def get(self, url: str, *, source: str, base_dir: Path | None = None) -> Fetched:
        seconds = self.deadline
        if self._budget_end is not None and _is_http(url):  # local files are not the network
            left = self._budget_end - self.clock()
            if left <= 0:
                raise FetchError(
                    source, f"not read: the run's {self.budget:g} s for reading sources ran out"
                )
            seconds = min(seconds, left)
        deadline = Deadline(self.clock, seconds)
        try:
            return self._get(url, source, base_dir, deadline)
        except SourceError:
            raise
        except (httpx.HTTPError, httpx.InvalidURL, httpx.StreamError, OSError, ValueError) as exc:
            raise FetchError(source, f"{one_line_error(exc)} ({_shown(url)})") from exc

    def _get(self, url: str, source: str, base_dir: Path | None, deadline: Deadline) -> Fetched:
        scheme = urlsplit(url).scheme.lower()
        if scheme in ("http", "https"):
            return self._get_http(url, source, deadline)
        if scheme == "file":
            path = Path(unquote(urlsplit(url).path))
            return Fetched(url, read_file(path, source, self.max_body, deadline))
        if scheme and len(scheme) > 1:  # a one-letter "scheme" is a Windows drive
            raise FetchError(source, f"unsupported URL scheme {scheme!r} in {url}")
        path = Path(url).expanduser()
        if base_dir is not None and not path.is_absolute():
            path = base_dir / path
        return Fetched(str(path), read_file(path, source, self.max_body, deadline))

    def _get_http(self, url: str, source: str, deadline: Deadline) -> Fetched:
        cached = self.cache.cached_response(url) if self.cache else None
        headers = {}
        if cached is not None:
            if cached.etag:
                headers["If-None-Match"] = cached.etag
            if cached.last_modified:
                headers["If-Modified-Since"] = cached.last_modified
        answer = self._request_with_retries(url, source, headers, deadline)
        if answer.status == 304 and cached is not None:
            log.info("%s: not modified since the last fetch", source)
            return Fetched(url, cached.body, not_modified=True)
        etag, modified = answer.headers.get("etag"), answer.headers.get("last-modified")
        if self.cache is not None and (etag or modified):
            self.cache.cache_response(url, etag, modified, answer.body)
        return Fetched(str(answer.url), answer.body)

    def _request_with_retries(
        self, url: str, source: str, headers: dict[str, str], deadline: Deadline
    ) -> _Answer:
        for attempt in range(1, self.attempts + 1):
            try:
                answer = self._follow(url, source, headers, deadline)
            except httpx.TransportError as exc:
                unresolved = _name_lookup_failure(exc)
                if unresolved is not None:  # offline, or a mistyped host: asking again won't help
                    reason = f"cannot resolve the host name: {unresolved}"
                    raise FetchError(source, f"{reason} ({_shown(url)}; not retried)") from exc
                reason = _describe_transport_error(exc)
                if attempt == self.attempts:
                    where = f"{_shown(url)}, after {attempt} attempts"
                    raise FetchError(source, f"{reason} ({where})") from exc
                self._wait(source, attempt, None, reason, deadline)
                continue
            if answer.status in RETRY_STATUSES and attempt < self.attempts:
                retry_after = answer.headers.get("retry-after")
                self._wait(source, attempt, retry_after, f"HTTP {answer.status}", deadline)
                continue
            _check_status(answer, source, bool(headers))
            return answer
        raise AssertionError("unreachable")  # pragma: no cover

    def _follow(
        self, url: str, source: str, headers: dict[str, str], deadline: Deadline
    ) -> _Answer:
        """One attempt: the request and every redirect, each hop checked before it is asked."""
        current = httpx.URL(url)
        origin_public: bool | None = None
        for hop in range(self.max_redirects + 1):
            self._respect_interval(current.host, source, deadline)
            answer = self._exchange(current, source, headers, deadline)
            location = answer.headers.get("location")
            if answer.status not in REDIRECT_STATUSES or location is None:
                return answer
            if hop == self.max_redirects:
                raise FetchError(source, f"too many redirects (more than {hop}) from {_shown(url)}")
            if origin_public is None:
                origin_public = self.is_public(_host(httpx.URL(url)))
            target = self._redirect_target(current, location, source, origin_public)
            if answer.status in (301, 308):
                log.warning(
                    "%s moved permanently to %s; update the url", _shown(current), _shown(target)
                )
            current = target
        raise AssertionError("unreachable")  # pragma: no cover

    def _redirect_target(
        self, current: httpx.URL, location: str, source: str, origin_public: bool
    ) -> httpx.URL:
        refused = f"refused a redirect from {_shown(current)} to {_shown(location[:200])}"
        if _UNSAFE_LOCATION.search(location):
            raise FetchError(source, f"{refused}: odd characters")
        try:
            target = current.join(location)
        except httpx.InvalidURL as exc:
            raise FetchError(source, f"{refused}: {exc}") from exc
        problem = None
        if target.scheme not in ("http", "https"):
            problem = "not an http(s) URL"
        elif target.userinfo:
            problem = "a URL with user info"
        elif not target.raw_host:
            problem = "no host"
        elif origin_public and not self.is_public(_host(target)):
            problem = "a non-public address (loopback, private, link-local or metadata)"
        if problem:
            raise FetchError(source, f"{refused}: {problem}")
        return target

    def _exchange(
        self, url: httpx.URL, source: str, headers: dict[str, str], deadline: Deadline
    ) -> _Answer:
        """One request; the body is read (decoded, capped) only for a 200 answer."""
        left = deadline.left()
        if left <= 0:
            raise deadline.passed(source, _shown(url))
        headers = {**headers, "Accept-Encoding": "gzip, deflate", "Connection": "close"}
        watchdog = Watchdog(left)
        handed_over = False
        try:
            with (
                watchdog,
                self.client.stream(
                    "GET",
                    url,
                    headers=headers,
                    follow_redirects=False,
                    timeout=bounded_timeout(self.client.timeout, left),
                    extensions={"trace": watchdog.trace},
                ) as response,
            ):
                handed_over = True
                ok = response.status_code == 200
                body = self._read_body(response, source, deadline) if ok else b""
                status, phrase = response.status_code, response.reason_phrase
                return _Answer(url, status, phrase, response.headers, body)
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            if watchdog.fired or deadline.left() <= 0:
                raise deadline.passed(source, _shown(url)) from exc
            if watchdog.answered and not handed_over:  # httpx could not read the Location
                reason = f"refused a redirect from {_shown(url)}: {one_line_error(exc)}"
                raise FetchError(source, reason) from exc
            raise

    def _read_body(self, response: httpx.Response, source: str, deadline: Deadline) -> bytes:
        declared = response.headers.get("content-length", "")
        if declared.isascii() and declared.isdigit() and int(declared[:20]) > self.max_body:
            raise FetchError(source, f"the answer is larger than {size_text(self.max_body)}")
        body = BodyDecoder(response.headers.get("content-encoding", ""), self.max_body, source)
        raw = 0
        for chunk in response.iter_raw():
            raw += len(chunk)
            if raw > self.max_body:
                raise FetchError(source, f"the answer is larger than {size_text(self.max_body)}")
            body.feed(chunk)
            if deadline.left() <= 0:
                raise deadline.passed(source, _shown(response.url))
        return body.finish()

    def _respect_interval(self, host: str, source: str, deadline: Deadline) -> None:
        host = host.lower()
        interval = self.intervals.get(host, 0.0)
        last = self._last_request.get(host)
        if interval and last is not None:
            wait = last + interval - self.clock()
            if wait >= deadline.left():
                raise deadline.passed(source, f"waiting {wait:.1f} s before asking {host}")
            if wait > 0:
                self.sleep(wait)
        self._last_request[host] = self.clock()

    def _wait(
        self, source: str, attempt: int, retry_after: str | None, reason: str, deadline: Deadline
    ) -> None:
        delay = retry_after_seconds(retry_after)
        if delay is None:
            delay = self.backoff * 2 ** (attempt - 1) * (1 + random.random() / 2)
        if delay >= deadline.left():
            raise FetchError(
                source,
                f"{reason}; a retry in {delay:.1f} s would pass the deadline of "
                f"{deadline.seconds:g} s (after {attempt} attempts)",
            )
        log.warning(
            "%s: %s; retrying in %.1f s (attempt %d of %d)",
            source,
            reason,
            delay,
            attempt + 1,
            self.attempts,
        )
        self.sleep(delay)


def _shown(url: httpx.URL | str) -> str:
    """A URL for a message or a log: without its user info (a password in the config)."""
    try:
        return str(httpx.URL(url).copy_with(userinfo=b""))
    except (httpx.InvalidURL, TypeError, ValueError):
        return repr(str(url)[:200])


def _host(url: httpx.URL) -> str:
    return url.raw_host.decode("ascii", errors="replace")


def _check_status(answer: _Answer, source: str, conditional: bool) -> None:
    status = answer.status
    if status == 200 or (status == 304 and conditional):
        return
    hint = " (the feed is gone; remove or update this source)" if status == 410 else ""
    message = f"HTTP {status} {answer.phrase[:80]} from {_shown(answer.url)}{hint}"
    raise FetchError(source, " ".join(message.split()))


def _describe_transport_error(exc: httpx.TransportError) -> str:
    if isinstance(exc, httpx.TimeoutException):
        return "timed out"
    if isinstance(exc, httpx.ConnectError):
        return f"cannot connect: {' '.join(str(exc).split())}"
    return one_line_error(exc)


def _name_lookup_failure(exc: BaseException) -> str | None:
    """Why the host name could not be resolved (a `socket.gaierror` under httpx's ConnectError),
    or None when something else failed."""
    cause: BaseException | None = exc
    for _ in range(8):  # the chain of causes, bounded
        if cause is None or isinstance(cause, socket.gaierror):
            break
        cause = cause.__cause__ or cause.__context__
    return (cause.strerror or str(cause)) if isinstance(cause, socket.gaierror) else None


def _is_http(url: str) -> bool:
    return urlsplit(url).scheme.lower() in ("http", "https")
