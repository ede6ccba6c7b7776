"""The rendered issue in a real headless browser (Debian's `chromium`, installed by .ci/run):
it renders at desktop and mobile width, is not blank, and logs no console error; in light and
in dark mode (`prefers-color-scheme`) every visible text has enough contrast (WCAG AA: 4.5, or
3 for large text) and every link of a card's link row, of the compact list and the unsubscribe
link is a 44 px tap target, as measured by the browser itself."""

from __future__ import annotations

import html
import json
import re
import shutil
import struct
import subprocess
import sys
import zlib
from collections.abc import Iterator
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from newsletter.preview import start_server
from newsletter.render.renderer import IssueRenderer, Newsletter
from tests.rendering import web_links
from tests.test_render import selection

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed")
HEADLESS = [  # Chromium without a screen, and without reaching for the (closed) network
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
FLAGS = [
    *HEADLESS,
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


# Run in the page after it loads: each visible text's contrast with the background it is drawn
# on (the nearest ancestor with an opaque background), and each link's height.
MEASURE = """
(function () {
  function rgba(value) {
    var m = value.match(/[\\d.]+/g).map(Number);
    if (m.length < 4) m.push(1);
    return m;
  }
  function channel(c) {
    c /= 255;
    return c <= 0.03928 ? c / 12.92 : Math.pow((c + 0.055) / 1.055, 2.4);
  }
  function luminance(c) {
    return 0.2126 * channel(c[0]) + 0.7152 * channel(c[1]) + 0.0722 * channel(c[2]);
  }
  function background(el) {
    for (; el; el = el.parentElement) {
      var c = rgba(getComputedStyle(el).backgroundColor);
      if (c[3] > 0) return c;
    }
    return [255, 255, 255, 1];
  }
  var texts = [], links = [];
  var walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  while (walker.nextNode()) {
    var node = walker.currentNode, el = node.parentElement;
    if (!/[A-Za-z0-9]/.test(node.data) || el.closest('#measured')) continue;
    var box = el.getBoundingClientRect(), style = getComputedStyle(el);
    if (!box.width || !box.height) continue;
    if (style.visibility === 'hidden' || parseFloat(style.opacity) === 0) continue;
    var fg = luminance(rgba(style.color)), bg = luminance(background(el));
    var size = parseFloat(style.fontSize), bold = parseInt(style.fontWeight, 10) >= 700;
    texts.push({text: node.data.trim().slice(0, 40), large: size >= 24 || (bold && size >= 18.66),
                ratio: (Math.max(fg, bg) + 0.05) / (Math.min(fg, bg) + 0.05)});
  }
  document.querySelectorAll('a[href]').forEach(function (a) {
    var row = a.classList.contains('nl-link') || !!a.closest('.more');
    links.push({text: a.textContent.trim().slice(0, 40), height: a.getBoundingClientRect().height,
                row: row || /Unsubscribe/.test(a.textContent)});
  });
  var paper = document.querySelector('.nl-paper');
  var out = document.createElement('pre');
  out.id = 'measured';
  out.textContent = JSON.stringify({texts: texts, links: links,
    paper: paper ? luminance(rgba(getComputedStyle(paper).backgroundColor)) : null});
  document.body.appendChild(out);
})();
"""


def measure(document: str, tmp_path: Path, *, dark: bool, width: int = 390) -> dict[str, Any]:
    """Load `document` in Chromium (dark mode if asked) and return what MEASURE found."""
    assert CHROMIUM is not None
    page = tmp_path / ("dark.html" if dark else "light.html")
    page.write_text(document.replace("</body>", f"<script>{MEASURE}</script></body>"))
    flags = [*FLAGS, *(["--force-dark-mode"] if dark else [])]
    result = subprocess.run(
        [CHROMIUM, *flags, f"--user-data-dir={tmp_path / 'profile'}", f"--window-size={width},2000",
         "--dump-dom", page.as_uri()],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    found = re.search(r'<pre id="measured">(.*?)</pre>', result.stdout, re.DOTALL)
    assert found is not None, result.stderr[-2000:]
    report: dict[str, Any] = json.loads(html.unescape(found[1]))
    return report


def illegible(report: dict[str, Any]) -> list[str]:
    return [
        f"{text['text']!r}: {text['ratio']:.2f}"
        for text in report["texts"]
        if text["ratio"] < (3.0 if text["large"] else 4.5)
    ]


@pytest.fixture(scope="module")
def long_issue() -> str:
    """An issue with full cards and a compact list."""
    renderer = IssueRenderer(Newsletter("Paper Digest", "digest@example.org", web_links()))
    return renderer.render(selection(300), "ada@example.org", "Ada").html


@pytest.mark.parametrize("dark", [False, True], ids=["light", "dark"])
def test_every_text_is_legible_and_every_link_easy_to_tap(
    site: tuple[Path, ThreadingHTTPServer], long_issue: str, tmp_path: Path, dark: bool
) -> None:
    out, _ = site
    (page,) = out.glob("ada-*.html")
    for document in (page.read_text(encoding="utf-8"), long_issue):
        report = measure(document, tmp_path, dark=dark)
        assert len(report["texts"]) > 20
        assert illegible(report) == []
        assert (report["paper"] < 0.05) if dark else (report["paper"] > 0.9)
        rows = [link for link in report["links"] if link["row"]]
        assert len(rows) > 3
        assert [link for link in rows if link["height"] < 44] == []


def test_poor_contrast_and_small_links_would_be_caught(tmp_path: Path) -> None:
    page = (
        '<html><body style="background:#fff"><p style="color:#bbb">faint text</p>'
        '<a class="nl-link" href="https://example.org/">tiny</a></body></html>'
    )
    report = measure(page, tmp_path, dark=False)
    assert illegible(report) and "faint text" in illegible(report)[0]
    assert report["links"][0]["height"] < 44
