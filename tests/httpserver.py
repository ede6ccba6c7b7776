"""A real HTTP server on 127.0.0.1 for tests: each path answers from a script of responses."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Reply:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    stall: threading.Event | None = None  # wait for this event before answering (timeouts)


@dataclass
class Request:
    path: str
    headers: dict[str, str]


class FeedServer:
    """Serve scripted replies; the last reply of a path repeats."""

    def __init__(self) -> None:
        self.routes: dict[str, list[Reply]] = {}
        self.requests: list[Request] = []
        self.release = threading.Event()  # set on shutdown to free stalled handlers
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.requests.append(
                    Request(self.path, {k.lower(): v for k, v in self.headers.items()})
                )
                replies = server.routes.get(self.path)
                if not replies:
                    self.send_error(404, "Not Found")
                    return
                reply = replies.pop(0) if len(replies) > 1 else replies[0]
                if reply.stall is not None:
                    reply.stall.wait(30)
                    if server.release.is_set():
                        return
                self.send_response(reply.status)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(reply.body)))
                self.end_headers()
                self.wfile.write(reply.body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True

    @property
    def base(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def url(self, path: str) -> str:
        return self.base + path

    def route(self, path: str, *replies: Reply) -> str:
        self.routes[path] = list(replies)
        return self.url(path)

    def hits(self, path: str) -> list[Request]:
        return [request for request in self.requests if request.path == path]


@contextmanager
def serve() -> Iterator[FeedServer]:
    server = FeedServer()
    thread = threading.Thread(target=server.httpd.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.release.set()
        server.httpd.shutdown()
        server.httpd.server_close()
