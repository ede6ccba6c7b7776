"""Read a YAML file with `safe_load` semantics and keep where every value came from.

`load_yaml` returns the plain data (as `yaml.safe_load` would) together with the composed node
tree, so that a validation error at a data path such as `("subscribers", 2, "email")` can be
reported at the line it came from.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from newsletter.errors import ConfigError, Problem

_STR_TAG = "tag:yaml.org,2002:str"
_NUMBER_TAGS = {"tag:yaml.org,2002:int", "tag:yaml.org,2002:float"}
_ARXIV_ID_LIKE = re.compile(r"^\d{4}\.\d{4,5}$")  # 2502.10000 must not become 2502.1
_Loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass(frozen=True)
class YamlDocument:
    """The data of a YAML file and the node tree it was built from."""

    path: Path
    data: Any
    root: yaml.Node | None

    def line_of(self, path: tuple[str | int, ...], *, key: bool = False) -> int | None:
        """The 1-based line of the value at `path`, or of its key when `key` is true.

        When the path runs past what the file holds (a missing key), the line of the deepest
        existing node is returned.
        """
        node = self.root
        key_node: yaml.Node | None = None
        for part in path:
            child = _child(node, part)
            if child is None:
                break
            key_node, node = child
        target = key_node if key and key_node is not None else node
        return target.start_mark.line + 1 if target is not None else None


def load_yaml(path: Path) -> YamlDocument:
    """Parse `path`; syntax errors and duplicate keys become a `ConfigError` naming the line."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise ConfigError([Problem(str(path), None, "", "file not found")]) from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError([Problem(str(path), None, "", f"cannot read file: {exc}")]) from exc
    loader = _Loader(text)
    try:
        root = loader.get_single_node()
        if root is None:
            return YamlDocument(path, None, None)
        problems = _duplicate_keys(root, str(path))
        if problems:
            raise ConfigError(problems)
        _keep_times_as_text(root)
        data = loader.construct_document(root)
    except yaml.MarkedYAMLError as exc:
        raise ConfigError([_syntax_problem(path, text, exc)]) from exc
    except yaml.YAMLError as exc:
        raise ConfigError([Problem(str(path), None, "", f"YAML error: {exc}")]) from exc
    finally:
        loader.dispose()
    return YamlDocument(path, data, root)


def _child(node: yaml.Node | None, part: str | int) -> tuple[yaml.Node, yaml.Node] | None:
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            if isinstance(key_node, yaml.ScalarNode) and key_node.value == str(part):
                return key_node, value_node
    elif (
        isinstance(node, yaml.SequenceNode)
        and isinstance(part, int)
        and 0 <= part < len(node.value)
    ):
        item = node.value[part]
        return item, item
    return None


def _duplicate_keys(node: yaml.Node, file: str, where: str = "") -> list[Problem]:
    """PyYAML silently keeps the last of two equal keys; a config file must not."""
    problems: list[Problem] = []
    if isinstance(node, yaml.MappingNode):
        seen: dict[str, int] = {}
        for key_node, value_node in node.value:
            name = str(key_node.value)
            line = key_node.start_mark.line + 1
            key = f"{where}.{name}" if where else name
            if name in seen:
                problems.append(
                    Problem(file, line, key, f"duplicate key (first at line {seen[name]})")
                )
            seen.setdefault(name, line)
            problems.extend(_duplicate_keys(value_node, file, key))
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            problems.extend(_duplicate_keys(item, file, f"{where}[{index}]"))
    return problems


def _keep_times_as_text(node: yaml.Node) -> None:
    """Keep times and arXiv ids written unquoted as the text they are.

    YAML 1.1 reads `07:30` as the base-60 number 450 and `2502.10000` as the float 2502.1.
    """
    if isinstance(node, yaml.ScalarNode):
        looks_textual = ":" in node.value or _ARXIV_ID_LIKE.match(node.value)
        if node.tag in _NUMBER_TAGS and not node.style and looks_textual:
            node.tag = _STR_TAG
    elif isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            _keep_times_as_text(key_node)
            _keep_times_as_text(value_node)
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            _keep_times_as_text(item)


def _syntax_problem(path: Path, text: str, exc: yaml.MarkedYAMLError) -> Problem:
    mark = exc.problem_mark or exc.context_mark
    line = mark.line + 1 if mark is not None else None
    message = exc.problem or "invalid YAML"
    context = exc.context_mark
    if exc.context and context is not None and mark is not None and context.line != mark.line:
        message += f" ({exc.context} started at line {context.line + 1})"
    lines = text.splitlines()
    if line is not None and 0 < line <= len(lines) and "\t" in lines[line - 1]:
        message += " (a tab: YAML must be indented with spaces)"
    return Problem(str(path), line, "", f"YAML syntax error: {message}")
