"""The rendered issue in a real headless browser (Debian's `chromium`, installed by .ci/run):
it renders at desktop and mobile width, is not blank, and logs no console error."""

from __future__ import annotations

import shutil
import struct
import subprocess
import sys
import zlib
from collections.abc import Iterator
from http.server import ThreadingHTTPServer
from pathlib import Path

import pytest

from newsletter.preview import start_server

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--enable-logging=stderr",
    "--v=0",
]


def screenshot(url: str, path: Path, width: int, height: int, profile: Path) -> str:
    """Take a screenshot; return what the browser logged (console messages among it)."""
    assert CHROMIUM is not None
    result = subprocess.run(
        [CHROMIUM, *FLAGS, f"--user-data-dir={profile}", f"--screenshot={path}",
         f"--window-size={width},{height}", url],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert path.exists(), result.stderr[-2000:]
    return result.stderr


def console_errors(log: str) -> list[str]:
    return [line for line in log.splitlines() if "CONSOLE" in line or "Uncaught" in line]


def png_pixels(path: Path) -> tuple[int, int, list[bytes]]:
    """Width, height and the decoded scanlines (filter byte dropped) of an 8-bit RGB(A) PNG."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    position, idat = 8, b""
    width = height = channels = 0
    while position < len(data):
        (length,) = struct.unpack(">I", data[position : position + 4])
        kind = data[position + 4 : position + 8]
        body = data[position + 8 : position + 8 + length]
        if kind == b"IHDR":
            width, height, depth, colour = struct.unpack(">IIBB", body[:10])
            assert depth == 8 and colour in (2, 6)
            channels = 3 if colour == 2 else 4
        elif kind == b"IDAT":
            idat += body
        position += 12 + length
    raw = zlib.decompress(idat)
    stride = width * channels + 1
    rows = [raw[i * stride + 1 : (i + 1) * stride] for i in range(height)]
    return width, height, rows


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, ThreadingHTTPServer]]:
    out = tmp_path_factory.mktemp("preview")
    result = subprocess.run(
        [sys.executable, "-m", "newsletter", "preview", "--demo", "--out", str(out)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    server = start_server(out, 0)
    yield out, server
    server.shutdown()


@pytest.mark.parametrize(("width", "height"), [(1024, 1400), (390, 1600)])
def test_the_issue_renders_in_chromium_at_desktop_and_mobile_width(
    site: tuple[Path, ThreadingHTTPServer], tmp_path: Path, width: int, height: int
) -> None:
    out, server = site
    (page,) = out.glob("ada-*.html")
    url = f"http://127.0.0.1:{server.server_address[1]}/{page.name}"
    shot = tmp_path / "shot.png"
    log = screenshot(url, shot, width, height, tmp_path / "profile")
    assert console_errors(log) == []
    got_width, got_height, rows = png_pixels(shot)
    assert (got_width, got_height) == (width, height)
    colours = {row[i : i + 3] for row in rows[::20] for i in range(0, len(row), 3 * 7)}
    assert len(colours) > 20, "the page looks blank"
    header = rows[40]  # the dark header band spans the top of the issue
    middle = header[(width // 2) * 3 : (width // 2) * 3 + 3]
    assert max(middle) < 90, f"no dark header at the top: {middle!r}"


def test_the_preview_index_links_every_issue(site: tuple[Path, ThreadingHTTPServer]) -> None:
    out, _ = site
    index = (out / "index.html").read_text(encoding="utf-8")
    for page in out.glob("*.html"):
        if page.name != "index.html":
            assert f'href="{page.name}"' in index
            assert f'href="{page.with_suffix(".txt").name}"' in index


def test_a_console_error_would_be_caught(tmp_path: Path) -> None:
    """The check above can fail: a page that logs an error is reported."""
    page = tmp_path / "broken.html"
    page.write_text("<html><body><script>console.error('boom')</script>x</body></html>")
    log = screenshot(page.as_uri(), tmp_path / "b.png", 400, 300, tmp_path / "profile")
    assert any("boom" in line for line in console_errors(log))
