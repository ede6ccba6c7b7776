"""Refresh docs/issue-desktop.png and docs/issue-mobile.png from the bundled demo.

Needs Debian's `chromium`. Run: python scripts/screenshots.py
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

DOCS = Path(__file__).resolve().parents[1] / "docs"
SIZES = {"desktop": (900, 1650), "mobile": (390, 1900)}
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--hide-scrollbars"]  # fmt: skip


def main() -> None:
    chromium = shutil.which("chromium")
    if chromium is None:
        sys.exit("chromium is not installed (apt-get install chromium)")
    with tempfile.TemporaryDirectory() as scratch:
        out = Path(scratch) / "preview"
        subprocess.run(
            [sys.executable, "-m", "newsletter", "preview", "--demo", "--out", str(out)], check=True
        )
        (page,) = out.glob("ada-*.html")
        for name, (width, height) in SIZES.items():
            target = DOCS / f"issue-{name}.png"
            subprocess.run(
                [chromium, *FLAGS, f"--user-data-dir={scratch}/profile", f"--screenshot={target}",
                 f"--window-size={width},{height}", page.as_uri()],
                check=True, capture_output=True,
            )  # fmt: skip
            print(f"wrote {target}")


if __name__ == "__main__":
    main()
