"""Golden output: the demo day's messages, byte for byte.

`newsletter preview --demo` builds every reader's issue with the same code `send` uses; its
`.txt` part and `.eml` message (the Date header normalised, since it is the time of the run) are
compared with the files committed in tests/golden/demo/. A change to rendering, headers or
encoding that moves a byte shows here. Review the diff, then regenerate with
`NEWSLETTER_UPDATE_GOLDEN=1 python -m pytest tests/test_golden_demo.py`.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

GOLDEN = Path(__file__).resolve().parent / "golden" / "demo"
_DATE = re.compile(rb"^Date: .*$", re.MULTILINE)
_SECRETS = ("NEWSLETTER_SECRET", "NEWSLETTER_UNSUBSCRIBE_SECRET")


def _normalised(path: Path) -> bytes:
    data = path.read_bytes()
    if path.suffix == ".eml":
        data = _DATE.sub(b"Date: Mon, 23 Nov 2026 07:00:00 +0000", data, count=1)
    return data


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("golden") / "preview"
    env = {k: v for k, v in os.environ.items() if k not in _SECRETS}
    subprocess.run(
        [sys.executable, "-m", "newsletter", "preview", "--demo", "--out", str(out)],
        check=True, capture_output=True, timeout=120, env=env,
    )  # fmt: skip
    return out


def test_demo_messages_match_the_golden_files(demo: Path) -> None:
    made = sorted(p for p in demo.iterdir() if p.suffix in (".txt", ".eml"))
    assert len(made) == 6  # three readers, a text part and a message each
    if os.environ.get("NEWSLETTER_UPDATE_GOLDEN"):
        GOLDEN.mkdir(parents=True, exist_ok=True)
        for old in GOLDEN.iterdir():
            old.unlink()
        for path in made:
            (GOLDEN / path.name).write_bytes(_normalised(path))
    assert sorted(p.name for p in GOLDEN.iterdir()) == [p.name for p in made]
    for path in made:
        assert _normalised(path) == (GOLDEN / path.name).read_bytes(), path.name
