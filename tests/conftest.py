from __future__ import annotations

import textwrap
import tomllib
from collections.abc import Callable
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
DISTRIBUTION = PYPROJECT["project"]["name"]  # what pip installs; the import package is `newsletter`
REAL_FIXTURES = REPO.parent / "shared" / "fixtures" / "real"

MINIMAL = """\
newsletter:
  title: Test Digest
  sender: "Test Digest <digest@example.org>"
  sources:
    - type: arxiv
      categories: [cs.LG]
subscribers:
  - email: ada@example.org
    name: Ada
    interests:
      keywords: ["mixture of experts"]
"""


@pytest.fixture
def write_config(tmp_path: Path) -> Callable[[str], Path]:
    """Write a config file (dedented) into a fresh folder and return its path."""

    def write(text: str, name: str = "subscribers.yaml") -> Path:
        path = tmp_path / name
        path.write_text(textwrap.dedent(text), encoding="utf-8")
        return path

    return write


@pytest.fixture
def real_fixtures() -> Path:
    if not REAL_FIXTURES.is_dir():
        pytest.skip("../shared/fixtures/real is not present")
    return REAL_FIXTURES
