"""The wheel carries the templates and the bundled data; an installed package finds them; the
distribution has one name, its own (`paper-digest` on PyPI is another project), everywhere."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import zipfile
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import pytest
from packaging.utils import canonicalize_name

from newsletter.paths import builtin_templates
from tests.conftest import DISTRIBUTION, PYPROJECT, REPO


def test_templates_are_found_from_the_checkout() -> None:
    assert (builtin_templates() / "README.md").is_file()
    assert (builtin_templates() / "issue.mjml.j2").is_file()


def test_the_wheel_ships_templates_and_data(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
         "--wheel-dir", str(tmp_path), str(REPO)],
        check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    (wheel,) = tmp_path.glob(f"{DISTRIBUTION.replace('-', '_')}-*.whl")
    archive = zipfile.ZipFile(wheel)
    names = set(archive.namelist())
    assert "newsletter/templates/README.md" in names
    for template in ("issue.mjml.j2", "issue.txt.j2", "card.html.j2", "card.txt.j2",
                     "compact.html.j2", "preview.html.j2"):  # fmt: skip
        assert f"newsletter/templates/{template}" in names
    for demo in ("subscribers.yaml", "listing.xml", "daily_papers.json"):
        assert f"newsletter/data/demo/{demo}" in names
    assert "newsletter/data/starter.yaml" in names
    assert "newsletter/cli.py" in names
    assert not any(name.startswith("tests/") for name in names)
    (metadata,) = [n for n in names if n.endswith(".dist-info/METADATA")]
    assert f"\nName: {DISTRIBUTION}\n" in archive.read(metadata).decode()
    entry_points = archive.read(metadata.replace("METADATA", "entry_points.txt")).decode()
    assert "newsletter = newsletter.cli:main" in entry_points


def test_every_version_lookup_names_this_distribution() -> None:
    """`importlib.metadata` and click look the version up by distribution name: an old name
    finds nothing (or another project's version)."""
    lookups = []
    for path in sorted((REPO / "newsletter").rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        lookups += re.findall(r"\b(?:version|metadata|distribution)\(\s*[\"']([^\"']+)[\"']", text)
        lookups += re.findall(r"package_name\s*=\s*[\"']([^\"']+)[\"']", text)
    assert lookups, "no version lookup found"
    assert set(lookups) == {DISTRIBUTION}, lookups


def test_the_installed_version_is_the_projects() -> None:
    try:
        installed = version(DISTRIBUTION)
    except PackageNotFoundError:
        pytest.skip(f"{DISTRIBUTION} is not installed (pip install -e .)")
    assert installed == PYPROJECT["project"]["version"]
    result = subprocess.run(
        [sys.executable, "-m", "newsletter", "--version"],
        capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    assert result.stdout.strip() == f"newsletter, version {installed}"


def test_install_commands_in_the_docs_name_this_distribution() -> None:
    """Every `pip install NAME` of the README and docs/ names this project: the old name
    installs an unrelated project from PyPI."""
    install = re.compile(r"\b(?:pip3?|pipx|uv tool|uv pip) install\b([^\n`;|&#]*)")
    found = []
    for path in [REPO / "README.md", *sorted((REPO / "docs").glob("*"))]:
        if not path.is_file() or path.suffix == ".png":
            continue
        for match in install.finditer(path.read_text(encoding="utf-8")):
            for word in match[1].split():
                name = re.match(r"[\"']?([A-Za-z][\w.-]*)(?=[\[<>=~!@ \"']|$)", word)
                if name and "digest" in name[1]:
                    found.append((path.name, canonicalize_name(name[1])))
    assert found, "no install command names the distribution"
    assert {name for _, name in found} == {DISTRIBUTION}, found


@pytest.mark.parametrize(
    ("shell", "marker"),
    [("bash", "complete -o nosort -F"), ("zsh", "compdef"), ("fish", "complete --no-files")],
)
def test_shell_completion_is_generated_as_the_readme_says(shell: str, marker: str) -> None:
    variable = f"_NEWSLETTER_COMPLETE={shell}_source"
    assert f"{variable} newsletter" in (REPO / "README.md").read_text(encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "newsletter"], capture_output=True, text=True, timeout=120,
        env={**os.environ, variable.split("=")[0]: variable.split("=")[1]}, check=True,
    )  # fmt: skip
    assert marker in result.stdout and "newsletter" in result.stdout
