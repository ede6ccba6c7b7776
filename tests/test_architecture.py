"""docs/architecture.md is the map of the package: it names every module, and only real ones."""

from __future__ import annotations

import re

from tests.conftest import REPO

DOC = (REPO / "docs" / "architecture.md").read_text(encoding="utf-8")
PACKAGE = REPO / "newsletter"


def _modules() -> set[str]:
    return {
        path.relative_to(REPO).as_posix()
        for path in PACKAGE.rglob("*.py")
        if "__pycache__" not in path.parts
    }


def test_every_module_is_on_the_map() -> None:
    missing = sorted(m for m in _modules() if f"`{m}`" not in DOC)
    assert not missing, f"modules missing from docs/architecture.md: {missing}"


def test_every_module_on_the_map_exists() -> None:
    named = set(re.findall(r"`(newsletter/[\w/]+\.py)`", DOC))
    assert len(named) >= 30
    assert not named - _modules(), f"named but missing: {sorted(named - _modules())}"


def test_no_module_is_over_the_size_guide() -> None:
    sizes = {m: len((REPO / m).read_text(encoding="utf-8").splitlines()) for m in _modules()}
    large = {m: n for m, n in sizes.items() if n > 400}
    assert not large, f"modules over 400 lines: {large}"
