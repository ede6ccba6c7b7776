"""The wheel carries the templates and the bundled data; an installed package finds them."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

from newsletter.paths import builtin_templates
from tests.conftest import REPO


def test_templates_are_found_from_the_checkout() -> None:
    assert (builtin_templates() / "README.md").is_file()
    assert (builtin_templates() / "issue.mjml.j2").is_file()


def test_the_wheel_ships_templates_and_data(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
         "--wheel-dir", str(tmp_path), str(REPO)],
        check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    (wheel,) = tmp_path.glob("paper_digest-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "newsletter/templates/README.md" in names
    for template in ("issue.mjml.j2", "issue.txt.j2", "card.html.j2", "card.txt.j2",
                     "compact.html.j2", "preview.html.j2"):  # fmt: skip
        assert f"newsletter/templates/{template}" in names
    for demo in ("subscribers.yaml", "listing.xml", "daily_papers.json"):
        assert f"newsletter/data/demo/{demo}" in names
    assert "newsletter/data/starter.yaml" in names
    assert "newsletter/cli.py" in names
    assert not any(name.startswith("tests/") for name in names)
