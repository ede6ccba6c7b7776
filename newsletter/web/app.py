"""The Starlette application of `newsletter serve`.

    GET  /u/TOKEN                 the unsubscribe page: one button, nothing changes
    POST /u/TOKEN                 unsubscribe (RFC 8058 one-click: List-Unsubscribe=One-Click)
    GET, POST /unsubscribe?t=HEX  the same for the links of an older `unsubscribe_url`
    GET, POST /r/TOKEN            subscribe again
    GET  /f/TOKEN?paper=ID&vote=more|less, POST /f/TOKEN   rate a paper (or undo)
    GET  /i/TOKEN                 the reader's issue of the link's day, every pick
    GET  /healthz                 "ok", for the proxy and systemd

Every path lies under the path of `web_url` (`/digest/u/TOKEN` for https://host/digest). The
routes' work runs in worker threads (`views.py`); `guard.py` wraps them all.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime
from email.utils import parseaddr

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import ClientDisconnect, Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response
from starlette.routing import Route

from newsletter.config import Config
from newsletter.errors import RenderError
from newsletter.mail import uri_address
from newsletter.render.renderer import environment
from newsletter.render.text import one_line
from newsletter.tokens import Signer
from newsletter.web.directory import RELOAD_EVERY, Reloading
from newsletter.web.forms import BodyTooLarge, form_fields, read_capped
from newsletter.web.guard import NOTES, Guard
from newsletter.web.limits import RateLimiter
from newsletter.web.pages import ERRORS, Page, Pages
from newsletter.web.settings import WebSettings
from newsletter.web.views import Views, Visit

Endpoint = Callable[[Request], Awaitable[Response]]


def create_app(
    config: Config,
    *,
    signer: Signer | None = None,
    clock: Callable[[], date] | None = None,
    reload_every: float = RELOAD_EVERY,
) -> Starlette:
    """The web app of `config`. `signer` defaults to `$NEWSLETTER_SECRET` (and the previous
    secrets); `clock` gives today's date (UTC) for the grace period of retired secrets; the
    config file is looked at every `reload_every` seconds for new readers.
    Raises `ConfigError` without `web_url` or a secret, `RenderError` for a broken template."""
    settings = WebSettings.of(config, signer)
    today = clock or _today
    folder = config.templates_dir
    if config.newsletter.templates is not None and not folder.is_dir():
        raise RenderError(f"{config.path}: newsletter.templates: folder {folder} does not exist")
    env = environment(folder if folder.is_dir() else None)
    links = settings.links
    contact = f"mailto:{uri_address(parseaddr(config.newsletter.sender)[1])}"
    pages = Pages(env, one_line(config.newsletter.title), contact, links.mailto())
    directory = Reloading(config, settings.signer, today, reload_every)
    views = Views(settings, directory, pages, env)
    prefix = settings.prefix
    health = {"/healthz", f"{prefix}/healthz"}
    routes = [
        Route(f"{prefix}/u/{{token}}", _page(views.unsubscribe, pages), methods=["GET", "POST"]),
        Route(f"{prefix}/unsubscribe", _page(views.legacy, pages), methods=["GET", "POST"]),
        Route(f"{prefix}/r/{{token}}", _page(views.resubscribe, pages), methods=["GET", "POST"]),
        Route(f"{prefix}/f/{{token}}", _page(views.feedback, pages), methods=["GET", "POST"]),
        Route(f"{prefix}/i/{{token}}", _page(views.issue, pages), methods=["GET"]),
        *(Route(path, _healthz, methods=["GET"]) for path in sorted(health)),
    ]
    guard = Middleware(
        Guard,
        limiter=RateLimiter(config.newsletter.web.rate_limit),
        error=lambda status, headers: pages.error(status, headers=headers),
        prefix=prefix,
        https=settings.https,
        exempt=frozenset(health),
    )

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        status = exc.status_code if exc.status_code in ERRORS else 500
        return _response(request, pages.error(status, headers=exc.headers or {}))

    app = Starlette(
        routes=routes, middleware=[guard], exception_handlers={HTTPException: http_error}
    )
    app.router.redirect_slashes = False  # no redirects at all
    return app


def _page(work: Callable[[Visit], Page], pages: Pages) -> Endpoint:
    """An endpoint: the request's token, query and (capped) form, then `work` in a thread."""

    async def endpoint(request: Request) -> Response:
        fields: dict[str, str] = {}
        post = request.method == "POST"
        if post:
            try:
                declared = request.headers.get("content-length")
                body = await read_capped(declared, request.stream())
            except BodyTooLarge:
                return _response(request, pages.error(413, note="body too large"))
            except ClientDisconnect:
                return Response(status_code=400)  # nobody is left to read an answer
            fields = form_fields(body, request.headers.get("content-type"))
        token = str(request.path_params.get("token", ""))
        query = {name: request.query_params[name] for name in request.query_params}
        page = await run_in_threadpool(work, Visit(token, query, fields, post))
        return _response(request, page)

    return endpoint


def _response(request: Request, page: Page) -> Response:
    if page.note:
        request.scope.get(NOTES, []).append(page.note)
    return HTMLResponse(page.html, page.status, dict(page.headers))


async def _healthz(request: Request) -> Response:
    return PlainTextResponse("ok")


def _today() -> date:
    return datetime.now(UTC).date()
