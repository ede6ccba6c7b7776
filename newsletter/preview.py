"""The preview: every subscriber's issue written to a folder, nothing sent, no delivery state.

Per subscriber: SLUG.html (the HTML part), SLUG.txt (the text part), SLUG.json (subject and
papers with scores and reasons), SLUG.eml (the message `send` would hand over, for readers with
papers), and an index.html listing everyone. `serve` shows the folder on
127.0.0.1 and rebuilds it when the config or a template changes.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from newsletter.compose import Composer
from newsletter.config import Config
from newsletter.models import Reader, Selection
from newsletter.plan import DayPlan, Pick
from newsletter.render.issue import RenderedIssue
from newsletter.render.renderer import HTML_BUDGET, environment
from newsletter.render.text import one_line

log = logging.getLogger(__name__)
DEFAULT_PORT = 8765  # of `preview --serve`: not 8000 (dev servers) nor 8025 (aiosmtpd's SMTP)


@dataclass(frozen=True)
class PreviewEntry:
    email: str
    slug: str
    subject: str
    papers: int
    html_bytes: int
    would_send: bool
    files: tuple[Path, ...]

    @property
    def links(self) -> list[tuple[str, str]]:
        return [(path.suffix.lstrip("."), path.name) for path in self.files]


def issue_document(reader: Reader, selection: Selection, issue: RenderedIssue) -> dict[str, object]:
    """The JSON of one reader's issue: subject and papers best first, with scores and reasons."""
    return {
        "subscriber": reader.email,
        "date": selection.day.isoformat(),
        "subject": issue.subject,
        "papers": [
            {
                "id": p.paper.id,
                "title": p.paper.title,
                "score": p.score,
                "reasons": list(p.reasons),
            }
            for p in selection.papers
        ],
    }


def write_preview(
    plan: DayPlan,
    out: Path,
    composer: Composer,
    now: datetime,
    *,
    sources: Sequence[Any] = (),
    not_mailed: Sequence[tuple[str, str, str]] = (),
) -> list[PreviewEntry]:
    """Write each reader's issue, the message `send` would hand over, and the index (which
    names the `sources` that failed or were stale: fetching.SourceOutcome, and the readers
    not mailed: (email, status, since))."""
    out.mkdir(parents=True, exist_ok=True)
    entries = [_write_reader(pick, out, composer, now) for pick in plan.picks]
    write_index(composer.config, entries, out, plan.day, sources, not_mailed)
    return entries


def _write_reader(pick: Pick, out: Path, composer: Composer, now: datetime) -> PreviewEntry:
    """SLUG.html, .txt, .json and, for a reader who would get an issue, SLUG.eml."""
    reader, selection = pick.reader, pick.selection
    issue = composer.render(reader, selection)
    base = out / reader.slug
    files = [base.with_suffix(".html"), base.with_suffix(".txt"), base.with_suffix(".json")]
    write_atomic(files[0], issue.html)
    write_atomic(files[1], issue.text)
    document = issue_document(reader, selection, issue)
    write_atomic(files[2], json.dumps(document, ensure_ascii=False, indent=2) + "\n")
    if selection.should_send:
        files.append(base.with_suffix(".eml"))
        write_atomic_bytes(files[-1], composer.message(reader, selection, issue, now).data)
    return PreviewEntry(
        email=reader.email,
        slug=reader.slug,
        subject=issue.subject,
        papers=len(selection.papers),
        html_bytes=issue.html_bytes,
        would_send=selection.should_send,
        files=tuple(files),
    )


def write_index(
    config: Config,
    entries: Sequence[PreviewEntry],
    out: Path,
    day: date | None,
    sources: Sequence[Any] = (),
    not_mailed: Sequence[tuple[str, str, str]] = (),
) -> Path:
    template = environment(config.templates_dir).get_template("preview.html.j2")
    failed = [
        {"source": o.source, "status": str(o.status), "day": str(o.day), "detail": o.detail}
        for o in sources
    ]
    page = template.render(
        title=one_line(config.newsletter.title),
        day=day.isoformat() if day else "",
        entries=entries,
        budget=HTML_BUDGET,
        failed_sources=failed,
        not_mailed=not_mailed,
    )
    path = out / "index.html"
    write_atomic(path, page)
    return path


def write_atomic(path: Path, text: str) -> None:
    """Write to a temporary file beside `path`, then rename: readers never see half a file."""
    write_atomic_bytes(path, text.encode("utf-8"))


def write_atomic_bytes(path: Path, data: bytes) -> None:
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        Path(temporary).chmod(0o666 & ~_umask())  # mkstemp makes 0600; a preview is a normal file
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
        Path(temporary).replace(path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        log.debug("preview server: " + format, *args)


def _umask() -> int:
    """The process's umask (reading it means setting it: set it straight back)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def start_server(out: Path, port: int = DEFAULT_PORT) -> ThreadingHTTPServer:
    """Serve `out` on 127.0.0.1 only, in a background thread; port 0 picks a free one."""
    handler = partial(_QuietHandler, directory=str(out))
    server = ThreadingHTTPServer(("127.0.0.1", port), handler)
    threading.Thread(target=server.serve_forever, name="preview-server", daemon=True).start()
    return server


def watch(
    paths: Callable[[], Iterable[Path]],
    rebuild: Callable[[], None],
    stop: threading.Event,
    interval: float = 1.0,
) -> None:
    """Call `rebuild` whenever a file of `paths()` changes, until `stop` is set."""

    def snapshot() -> dict[Path, float]:
        stamps = {}
        for path in paths():
            try:
                stamps[path] = path.stat().st_mtime
            except OSError:
                continue
        return stamps

    seen = snapshot()
    while not stop.wait(interval):
        now = snapshot()
        if now != seen:
            seen = now
            try:
                rebuild()
            except Exception as error:  # a broken template must not stop the server
                log.error("rebuild failed: %s", error)


def serve_and_watch(
    server: ThreadingHTTPServer, config: Config, build: Callable[[], Config]
) -> None:
    """Rebuild the preview with `build` whenever the config or a template changes, until
    Ctrl-C; then stop `server`."""

    def watched() -> list[Path]:
        folder = config.templates_dir
        templates = sorted(folder.glob("*.j2")) if folder.is_dir() else []
        return [config.path, *templates]

    def rebuild() -> None:
        build()
        log.warning("preview rebuilt")

    stop = threading.Event()
    try:
        watch(watched, rebuild, stop)
    except KeyboardInterrupt:
        pass
    finally:
        stop.set()
        server.shutdown()
