"""Imports: sending needs no template engine, YAML or pydantic, and no module of the package
imports itself back, lazily or not."""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import REPO

PACKAGE = REPO / "newsletter"
HEAVY = ("jinja2", "yaml", "pydantic", "markupsafe", "mjml")
LIGHT = (
    "newsletter.delivery",
    "newsletter.delivery.registry",
    "newsletter.delivery.base",
    "newsletter.delivery.smtp",
    "newsletter.delivery.file",
    "newsletter.delivery.console",
    "newsletter.delivery.memory",
    "newsletter.mail",
    "newsletter.render",
    "newsletter.render.text",
    "newsletter.render.issue",
)


@pytest.mark.parametrize("module", LIGHT)
def test_a_delivery_module_imports_nothing_heavy(module: str) -> None:
    code = (
        f"import sys, {module}\n"
        f"heavy = {HEAVY!r}\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in heavy))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]", f"{module} loads {result.stdout.strip()}"


# ---------------------------------------------------------------------------- no cycles


def module_files() -> dict[str, Path]:
    """Every module of the package by dotted name; a package is its `__init__.py`."""
    modules = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(REPO).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        modules[".".join(parts)] = path
    return modules


def _imports(node: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    """Every import statement: in functions too, and under `if TYPE_CHECKING:` (a cycle of
    type hints is still two modules that cannot be understood one without the other)."""
    if isinstance(node, ast.Import | ast.ImportFrom):
        yield node
    for child in ast.iter_child_nodes(node):
        yield from _imports(child)


def _targets(
    statement: ast.Import | ast.ImportFrom, name: str, modules: dict[str, Path]
) -> set[str]:
    """The modules a statement names: `from a.b import c` is `a.b.c` when that is a module."""
    if isinstance(statement, ast.Import):
        return {alias.name for alias in statement.names}
    base = statement.module or ""
    if statement.level:
        package = name if modules[name].name == "__init__.py" else name.rpartition(".")[0]
        for _ in range(statement.level - 1):
            package = package.rpartition(".")[0]
        base = f"{package}.{base}".rstrip(".")
    return {f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in statement.names}


def _with_parents(target: str, importer: str) -> set[str]:
    """Importing `a.b.c` runs `a/__init__`, `a.b/__init__` and `a.b.c`, except the packages
    the importer itself is in (they are imported, or being imported, before it runs)."""
    parts = target.split(".")
    chain = {".".join(parts[:n]) for n in range(1, len(parts) + 1)}
    own = importer.split(".")
    enclosing = {".".join(own[:n]) for n in range(1, len(own))}
    return {target} | (chain - enclosing - {importer})


def import_graph() -> dict[str, set[str]]:
    """Module -> the package's modules it imports, at module level or inside functions."""
    modules = module_files()
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        edges: set[str] = set()
        for statement in _imports(tree):
            for target in _targets(statement, name, modules):
                edges |= {t for t in _with_parents(target, name) if t in modules}
        graph[name] = edges - {name}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle as a path that starts and ends with the same module, or None."""
    state: dict[str, str] = {}  # "open" while on the path, "done" once fully explored
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = "open"
        path.append(node)
        for following in sorted(graph.get(node, ())):
            if state.get(following) == "open":
                return [*path[path.index(following) :], following]
            if following not in state and (cycle := visit(following)):
                return cycle
        path.pop()
        state[node] = "done"
        return None

    for start in sorted(graph):
        if start not in state and (cycle := visit(start)):
            return cycle
    return None


def test_the_cycle_finder_finds_a_cycle_and_its_path() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a", "d"}, "d": set()}
    assert find_cycle(graph) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_the_graph_sees_lazy_type_checking_and_parent_imports() -> None:
    graph = import_graph()
    assert "newsletter.sources.feed" in graph["newsletter.sources.registry"]  # in a function
    assert "newsletter.render" in graph["newsletter.mail"]  # the package of render.text
    assert "newsletter.delivery.registry" in graph["newsletter.delivery"]
    assert "newsletter.config" in graph["newsletter.delivery.smtp"]  # for type checks only
    assert "newsletter.delivery" not in graph["newsletter.delivery.registry"]  # its own package


def test_no_module_of_the_package_imports_itself_back() -> None:
    cycle = find_cycle(import_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])
