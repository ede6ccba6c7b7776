"""The web app under uvicorn: `serve` for `newsletter serve` (blocking, stopped by Ctrl-C or
SIGTERM), `start_in_thread` for `newsletter run` (beside the scheduler, stopped with `.stop()`).

The socket is bound here, before uvicorn starts, so that an address in use is one clear error
(and port 0 gives a free port, for tests). uvicorn runs without its access log, which would
print whole paths and so whole tokens (`guard.py` logs each request instead), without a
`Server` header and without a lifespan; it believes `X-Forwarded-For` only from the addresses in
`forwarded_allow_ips` (the reverse proxy on this host by default).
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from dataclasses import dataclass

import uvicorn
from starlette.types import ASGIApp

from newsletter.config import Config
from newsletter.errors import NewsletterError
from newsletter.web.app import create_app
from newsletter.web.settings import PROXY_IPS

log = logging.getLogger(__name__)

START_TIMEOUT = 30.0  # seconds for the app to start answering in its thread
STOP_TIMEOUT = 15.0  # seconds for requests in flight to finish on stop
GRACEFUL = 10  # seconds uvicorn waits for open connections on shutdown


class _Server(uvicorn.Server):
    """uvicorn's server, telling `ready` once it accepts connections."""

    def __init__(self, config: uvicorn.Config, ready: threading.Event | None) -> None:
        super().__init__(config)
        self.ready = ready

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started and self.ready is not None:
            self.ready.set()


@dataclass
class Running:
    """The web app running in a background thread."""

    server: uvicorn.Server
    thread: threading.Thread
    host: str
    port: int

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        """Stop accepting, let requests in flight finish, and wait for the thread."""
        self.server.should_exit = True
        self.thread.join(timeout)
        if self.thread.is_alive():
            self.server.force_exit = True
            self.thread.join(timeout)


def listening_socket(host: str, port: int) -> socket.socket:
    """A socket bound to `host:port` (port 0: any free one), listening; `NewsletterError`
    when the address cannot be had."""
    try:
        family, kind, protocol, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
        sock = socket.socket(family, kind, protocol)
    except OSError as exc:
        raise NewsletterError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        raise NewsletterError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc
    return sock


def _server(
    app: ASGIApp, ready: threading.Event | None, forwarded_allow_ips: str = PROXY_IPS
) -> _Server:
    settings = uvicorn.Config(
        app,
        lifespan="off",
        access_log=False,
        server_header=False,
        proxy_headers=True,
        forwarded_allow_ips=forwarded_allow_ips,
        log_config=None,  # the command's logging, not uvicorn's own handlers
        timeout_graceful_shutdown=GRACEFUL,
    )
    return _Server(settings, ready)


def serve(
    config: Config,
    host: str,
    port: int,
    *,
    ready: threading.Event | None = None,
    forwarded_allow_ips: str = PROXY_IPS,
) -> None:
    """Serve the web app of `config` on `host:port` until Ctrl-C or SIGTERM; `ready` is set
    once it accepts connections."""
    app = create_app(config)
    sock = listening_socket(host, port)
    bound = sock.getsockname()[1]
    server = _server(app, ready, forwarded_allow_ips)
    log.info("serving %s on %s:%d", config.newsletter.web_url, host, bound)
    try:
        server.run(sockets=[sock])
    except KeyboardInterrupt:
        pass  # uvicorn stopped gracefully, then raised the signal again
    finally:
        sock.close()


def start_app(
    app: ASGIApp, sock: socket.socket, *, forwarded_allow_ips: str = PROXY_IPS
) -> Running:
    """Run `app` on the listening `sock` in a background thread; return once it accepts."""
    ready = threading.Event()
    server = _server(app, ready, forwarded_allow_ips)
    host, port = sock.getsockname()[:2]
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name="newsletter-web", daemon=True
    )
    thread.start()
    deadline = time.monotonic() + START_TIMEOUT
    while not ready.wait(0.05):
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            thread.join(STOP_TIMEOUT)
            sock.close()
            raise NewsletterError(f"the web app did not start on {host}:{port}; see the log")
    return Running(server, thread, host, port)


def start_in_thread(config: Config, listen: str) -> Running:
    """Start the web app of `config` on `listen` (`HOST:PORT`, `[::1]:8080`) beside the
    scheduler; `NewsletterError` when the config, the secret or the address is unusable."""
    host, port = parse_listen(listen)
    app = create_app(config)
    sock = listening_socket(host, port)
    running = start_app(app, sock)
    log.info("web app of %s on %s:%d", config.newsletter.web_url, host, running.port)
    return running


def parse_listen(listen: str) -> tuple[str, int]:
    """`HOST:PORT` (`[::1]:8080` for IPv6) as host and port."""
    host, separator, port = listen.rpartition(":")
    host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    if not separator or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise NewsletterError(f"not HOST:PORT: {listen!r}")
    return host, int(port)
