"""What every request goes through, around the routes (an ASGI middleware):

- only GET, HEAD and POST (405 otherwise, with `Allow`);
- the rate limit per client address and per link token (429 with `Retry-After`);
- the security headers on every response, error pages included (`SECURITY_HEADERS`);
- an unexpected exception becomes the friendly 500 page, never a traceback;
- one log line per request, in place of uvicorn's access log (which prints whole paths, and so
  whole tokens): the path with every long segment cut to its first characters, no query, and
  what the request did (`unsubscribed`, `link refused ...`), never an address.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Mapping
from typing import Any

from starlette.datastructures import MutableHeaders, QueryParams
from starlette.responses import HTMLResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from newsletter.web.directory import shortened
from newsletter.web.limits import RateLimiter, retry_after
from newsletter.web.pages import Page

log = logging.getLogger(__name__)

ALLOWED_METHODS = ("GET", "HEAD", "POST")
NOTES = "newsletter.notes"  # scope key: the list the routes add their log notes to
SEGMENT_SHOWN = 16  # path segments longer than this are cut in the log (tokens are 42)
SECURITY_HEADERS: Mapping[str, str] = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
    "Cross-Origin-Opener-Policy": "same-origin",
}
HSTS = ("Strict-Transport-Security", "max-age=31536000")
_PRINTABLE = re.compile(r"[^\x21-\x7e]")

ErrorPage = Callable[[int, Mapping[str, str]], Page]


class Guard:
    """The middleware: `error` renders the page of an error status; `prefix` is the path the
    app is published under; requests to `exempt` paths are not rate limited (health checks)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        limiter: RateLimiter,
        error: ErrorPage,
        prefix: str = "",
        https: bool = False,
        exempt: frozenset[str] = frozenset(),
    ) -> None:
        self.app = app
        self.limiter = limiter
        self.error = error
        self.exempt = exempt
        self.headers = {**SECURITY_HEADERS, **dict([HSTS] if https else [])}
        self._token = re.compile(rf"^{re.escape(prefix)}/[urfi]/([^/]+)$")
        self._legacy = f"{prefix}/unsubscribe"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        begun = time.perf_counter()
        notes: list[str] = []
        scope[NOTES] = notes
        status = 0

        async def secured(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = MutableHeaders(scope=message)
                for name, value in self.headers.items():
                    headers[name] = value
            await send(message)

        try:
            refusal = self._refusal(scope)
            if refusal is not None:
                await _respond(refusal, scope, receive, secured)
            else:
                await self.app(scope, receive, secured)
        except Exception as exc:
            notes.append(f"failed: {type(exc).__name__}: {_one_line(str(exc))[:200]}")
            log.debug("the failure of %s", _shown_path(scope), exc_info=True)
            if not status:
                await _respond(self.error(500, {}), scope, receive, secured)
        _log(scope, status, time.perf_counter() - begun, notes)

    def _refusal(self, scope: Scope) -> Page | None:
        """The page that answers instead of the app: a method it does not take, too many
        requests from this client or with this token."""
        if scope["method"] not in ALLOWED_METHODS:
            notes = scope[NOTES]
            notes.append("method not allowed")
            return self.error(405, {"Allow": ", ".join(ALLOWED_METHODS)})
        if scope["path"] in self.exempt:
            return None
        keys = [("client", _client(scope))]
        token = self._token_of(scope)
        if token:
            keys.append(("token", token))
        wait = self.limiter.take(keys)
        if not wait:
            return None
        scope[NOTES].append("rate limited")
        return self.error(429, {"Retry-After": retry_after(wait)})

    def _token_of(self, scope: Scope) -> str | None:
        found = self._token.match(scope["path"])
        if found:
            return found.group(1)
        if scope["path"] == self._legacy:
            return QueryParams(scope.get("query_string", b"")).get("t")
        return None


async def _respond(page: Page, scope: Scope, receive: Receive, send: Send) -> None:
    await HTMLResponse(page.html, page.status, dict(page.headers))(scope, receive, send)


def _client(scope: Scope) -> str:
    """The client's address: uvicorn puts the proxy's X-Forwarded-For here when it trusts the
    proxy (`forwarded_allow_ips`), else the peer's address."""
    client = scope.get("client")
    return str(client[0]) if client else "unknown"


def _log(scope: Scope, status: int, seconds: float, notes: list[str]) -> None:
    level = logging.ERROR if status >= 500 or not status else logging.INFO
    if status == 429:
        level = logging.WARNING
    said = f" ({'; '.join(notes)})" if notes else ""
    method = _PRINTABLE.sub("?", str(scope.get("method", "")))[:10]
    path = _shown_path(scope)
    log.log(level, "%s %s %d %.0fms%s", method, path, status, seconds * 1000, said)


def _shown_path(scope: Scope) -> str:
    """The request's path as a log line may show it: as sent (percent-encoded), every long
    segment (a token) cut to its first characters, the query left out."""
    raw: Any = scope.get("raw_path") or scope.get("path", "").encode("utf-8", "replace")
    path = raw.decode("latin-1") if isinstance(raw, bytes) else str(raw)
    segments = [
        shortened(segment) if len(segment) > SEGMENT_SHOWN else segment
        for segment in _PRINTABLE.sub("?", path).split("/")
    ]
    shown = "/".join(segments)[:200]
    return shown + ("?…" if scope.get("query_string") else "")


def _one_line(text: str) -> str:
    return " ".join(text.split())
