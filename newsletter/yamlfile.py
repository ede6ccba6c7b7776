"""Read a YAML file with `safe_load` semantics and keep where every value came from.

`load_yaml` returns the plain data (as `yaml.safe_load` would) together with the composed node
tree, so that a validation error at a data path such as `("subscribers", 2, "email")` can be
reported at the line it came from.

A config file is read with bounded work, whatever it holds: only a regular file of at most
`MAX_BYTES` with at most `MAX_NODES` values, nested at most `MAX_DEPTH` deep, whose aliases
(`&anchor` ... `*anchor`) repeat at most `MAX_ALIAS_NODES` nodes (a "billion laughs" document of
a few hundred bytes otherwise expands to millions). The node tree is a graph in which an alias
is the anchored node itself, so every walk below visits each node once, by identity.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from newsletter.errors import ConfigError, Problem
from newsletter.yamltext import (
    MAX_BYTES,
    check_characters,
    decode,
    error_problem,
    read,
    syntax_problem,
)

MAX_ALIAS_NODES = 100_000  # nodes that aliases may add to the document, all aliases together
MAX_NODES = 2_000_000  # values in the file (10,000 readers: about 300,000)
MAX_DEPTH = 100  # levels of nesting (a config needs about 6)

_STR_TAG = "tag:yaml.org,2002:str"
_NUMBER_TAGS = {"tag:yaml.org,2002:int", "tag:yaml.org,2002:float"}
_KEY_TAGS = {_STR_TAG, *_NUMBER_TAGS, "tag:yaml.org,2002:bool", "tag:yaml.org,2002:null"}
_ARXIV_ID_LIKE = re.compile(r"^\d{4}\.\d{4,5}$")  # 2502.10000 must not become 2502.1
_SafeLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


# What PyYAML's constructors raise, unwrapped, for a value they cannot build
_BUILD_ERRORS = (ArithmeticError, AttributeError, LookupError, TypeError, ValueError)


class _Loader(_SafeLoader):  # type: ignore[misc,valid-type]
    """`safe_load`, with a value that cannot be built (`2026-13-45`, `!!int abc`, `!!bool x`,
    an integer of 5,000 digits) reported at its line like any other YAML error."""

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep)
        except _BUILD_ERRORS as exc:
            kind = str(node.tag).rsplit(":", 1)[-1]  # int, float, bool, timestamp ...
            detail = f": {exc}" if type(exc) in (ValueError, OverflowError) else ""
            problem = f"cannot read {_shown(node.value)} as {kind}{detail}"
            raise yaml.constructor.ConstructorError(None, None, problem, node.start_mark) from exc


def _shown(value: object) -> str:
    text = repr(value) if isinstance(value, str) else "this value"
    return text if len(text) <= 60 else text[:55] + "...'"


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
    text = decode(path, read(path))
    check_characters(path, text)
    loader = _Loader(text)
    try:
        _count_nodes(text, str(path))
        root = loader.get_single_node()
        if root is None:
            return YamlDocument(path, None, None)
        plain = _plain_data(loader, root, text)
        if plain is not _UNUSUAL:
            return YamlDocument(path, plain, root)
        graph = _walk(root, str(path))
        if graph.shared:
            _check_aliases(root, str(path))
        problems = _duplicate_keys(graph, str(path))
        if problems:
            raise ConfigError(problems)
        _keep_times_as_text(graph)
        data = loader.construct_document(root)
    except yaml.MarkedYAMLError as exc:
        raise ConfigError([syntax_problem(path, text, exc)]) from exc
    except yaml.YAMLError as exc:
        raise ConfigError([error_problem(path, text, exc)]) from exc
    except RecursionError as exc:
        message = f"the document is nested too deeply (more than {MAX_DEPTH} levels)"
        raise ConfigError([Problem(str(path), None, "", message)]) from exc
    finally:
        loader.dispose()
    return YamlDocument(path, data, root)


# --- the common file, read fast ------------------------------------------------------------


class _Unusual(Exception):
    """Something the fast reading leaves to the careful one (which finds the same data or the
    same error)."""


_UNUSUAL: Any = _Unusual
_SEQ_TAG, _MAP_TAG = "tag:yaml.org,2002:seq", "tag:yaml.org,2002:map"


def _plain_data(loader: _Loader, root: yaml.Node, text: str) -> Any:
    """The data of a document without aliases, merge keys, duplicate keys, explicit tags on
    collections or values that cannot be built, nested at most MAX_DEPTH deep (every config
    written by hand or by a tool): one pass that builds it (with times and arXiv ids kept as
    text), which the node graph, the duplicate check and PyYAML's generic construction would
    take four. `_UNUSUAL` for any other document: `load_yaml` then reads it the careful way.
    """
    if "*" in text and "&" in text:  # an alias needs an anchor: the graph may share nodes
        return _UNUSUAL
    try:
        return _build(loader, root, 0)
    except (_Unusual, yaml.YAMLError, RecursionError):
        loader.constructed_objects, loader.recursive_objects = {}, {}  # as a new constructor
        loader.state_generators, loader.deep_construct = [], False
        return _UNUSUAL


def _build(loader: _Loader, node: yaml.Node, depth: int) -> Any:
    if depth > MAX_DEPTH:
        raise _Unusual
    kind = type(node)
    if isinstance(node, yaml.ScalarNode):
        tag = node.tag
        if tag == _STR_TAG:
            return node.value
        if tag in _NUMBER_TAGS and not node.style and _as_text(node.value):
            node.tag = _STR_TAG  # as `_keep_times_as_text`
            return node.value
        return loader.construct_object(node)
    depth += 1  # of the children, text among them checked here
    if depth > MAX_DEPTH and node.value:
        raise _Unusual
    if kind is yaml.SequenceNode and node.tag == _SEQ_TAG:
        return [  # text inline: most values are
            item.value
            if type(item) is yaml.ScalarNode and item.tag == _STR_TAG
            else _build(loader, item, depth)
            for item in node.value
        ]
    if kind is yaml.MappingNode and node.tag == _MAP_TAG:
        data: dict[Any, Any] = {}
        written: set[str] = set()
        for key_node, value_node in node.value:
            if type(key_node) is not yaml.ScalarNode or key_node.tag not in _KEY_TAGS:
                raise _Unusual  # a complex key, a merge key (`<<`)
            key = key_node.value if key_node.tag == _STR_TAG else _build(loader, key_node, depth)
            if key in data or key_node.value in written:
                raise _Unusual  # a duplicate: reported with its place by the careful way
            written.add(key_node.value)
            if type(value_node) is yaml.ScalarNode and value_node.tag == _STR_TAG:
                data[key] = value_node.value
            else:
                data[key] = _build(loader, value_node, depth)
        return data
    raise _Unusual


# --- walking the node graph ------------------------------------------------------------------


def _count_nodes(text: str, file: str) -> None:
    """Refuse more than MAX_NODES values before building any (each costs about 500 bytes of
    memory once built): one pass over the parser's events, which are not kept. A value starts
    after a line break or one of `,:-[{?` (two at most after each, as in `- key: value`), so a
    text with few of these needs no count."""
    if 2 * sum(text.count(mark) for mark in "\n,:-[{?") + 2 <= MAX_NODES:
        return
    loader = _Loader(text)
    try:
        count = 0
        node_events = (yaml.ScalarEvent, yaml.SequenceStartEvent, yaml.MappingStartEvent)
        while loader.check_event():
            event = loader.get_event()
            count += type(event) in node_events
            if count > MAX_NODES:
                line = event.start_mark.line + 1 if event.start_mark else None
                message = (
                    f"the document has more than {MAX_NODES:,} values "
                    "(a config of 10,000 readers has about 300,000)"
                )
                raise ConfigError([Problem(file, line, "", message)])
    finally:
        loader.dispose()


@dataclass(frozen=True)
class _Graph:
    """Every node of a document once, with where each collection was first reached."""

    nodes: list[yaml.Node]
    place: dict[int, tuple[yaml.Node | None, str | int | None]]  # id -> (parent, key or index)
    shared: bool  # a node is reached twice: the document uses aliases


def _walk(root: yaml.Node, file: str) -> _Graph:
    """One visit per node, by identity, level by level; refuses nesting deeper than
    MAX_DEPTH. Only collections get a `place` (a scalar's is never asked for)."""
    nodes = [root]
    seen = {id(root)}
    place: dict[int, tuple[yaml.Node | None, str | int | None]] = {id(root): (None, None)}
    shared = False
    index, level_end, depth = 0, 1, 0
    while index < len(nodes):
        if index == level_end:
            depth, level_end = depth + 1, len(nodes)
            if depth > MAX_DEPTH:
                message = f"the document is nested more than {MAX_DEPTH} levels deep"
                raise ConfigError([Problem(file, nodes[index].start_mark.line + 1, "", message)])
        node = nodes[index]
        index += 1
        if isinstance(node, yaml.ScalarNode):
            continue
        for child, part in _entries(node):
            if id(child) in seen:
                shared = True
                continue
            seen.add(id(child))
            nodes.append(child)
            if not isinstance(child, yaml.ScalarNode):
                place[id(child)] = (node, part)
    return _Graph(nodes, place, shared)


def _entries(node: yaml.Node) -> list[tuple[yaml.Node, str | int | None]]:
    """The children of a node with their place in the data (None for a mapping's key)."""
    if isinstance(node, yaml.MappingNode):
        entries: list[tuple[yaml.Node, str | int | None]] = []
        for key_node, value_node in node.value:
            name = key_node.value if isinstance(key_node, yaml.ScalarNode) else "?"
            entries += [(key_node, None), (value_node, name)]
        return entries
    if isinstance(node, yaml.SequenceNode):
        return list(zip(node.value, range(len(node.value)), strict=True))
    return []


def _check_aliases(root: yaml.Node, file: str) -> None:
    """Refuse aliases that make the document contain itself, or that would add more than
    MAX_ALIAS_NODES nodes or MAX_BYTES characters once expanded (a long text repeated by
    aliases costs as much as the nodes). Linear in the nodes of the file, not the expansion."""
    expanded: dict[int, tuple[int, int]] = {}  # id -> (nodes, characters), aliases expanded
    references: dict[int, int] = {}  # id -> the places it appears in
    nodes: dict[int, yaml.Node] = {}
    on_path: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, finished = stack.pop()
        key = id(node)
        if finished:
            on_path.discard(key)
            expanded[key] = _expanded_size(node, expanded)
            continue
        if key in expanded:
            continue
        on_path.add(key)
        nodes[key] = node
        stack.append((node, True))
        for child, _ in _entries(node):
            references[id(child)] = references.get(id(child), 0) + 1
            if id(child) in on_path:
                message = "an alias (*anchor) refers to the value that contains it"
                raise ConfigError([Problem(file, child.start_mark.line + 1, "", message)])
            stack.append((child, False))
    total_nodes, total_chars = expanded[id(root)]
    own_chars = sum(len(node.value) for node in nodes.values() if _is_scalar(node))
    if total_nodes - len(nodes) > MAX_ALIAS_NODES:
        limit, measure = f"{MAX_ALIAS_NODES:,} nodes", 0
    elif total_chars - own_chars > MAX_BYTES:
        limit, measure = f"{MAX_BYTES // 2**20} MiB of text", 1
    else:
        return
    shared = [key for key, count in references.items() if count > 1]
    biggest = max(shared, key=lambda key: expanded[key][measure])
    message = (
        f"the document expands to more than {limit} through aliases (&anchor/*alias); the "
        f"value anchored here appears {references[biggest]:,} times: use fewer aliases or "
        "write the values out"
    )
    raise ConfigError([Problem(file, nodes[biggest].start_mark.line + 1, "", message)])


def _expanded_size(node: yaml.Node, expanded: dict[int, tuple[int, int]]) -> tuple[int, int]:
    if _is_scalar(node):
        return 1, len(node.value)
    sizes = [expanded[id(child)] for child, _ in _entries(node)]
    return 1 + sum(size[0] for size in sizes), sum(size[1] for size in sizes)


def _is_scalar(node: yaml.Node) -> bool:
    return isinstance(node, yaml.ScalarNode)


def _duplicate_keys(graph: _Graph, file: str) -> list[Problem]:
    """PyYAML silently keeps the last of two equal keys; a config file must not."""
    problems: list[Problem] = []
    for node in graph.nodes:
        if not isinstance(node, yaml.MappingNode):
            continue
        seen: dict[str, int] = {}
        for key_node, _ in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                continue  # a complex key: construction refuses it
            name, line = key_node.value, key_node.start_mark.line + 1
            if name in seen:
                where = _dotted(graph, node)
                key = f"{where}.{name}" if where else name
                message = f"duplicate key (first at line {seen[name]})"
                problems.append(Problem(file, line, key, message))
            seen.setdefault(name, line)
    return sorted(problems, key=lambda problem: problem.line or 0)


def _dotted(graph: _Graph, node: yaml.Node) -> str:
    """`subscribers[2].interests`: where `node` was first reached."""
    parts: list[str | int | None] = []
    parent, part = graph.place[id(node)]
    while parent is not None:
        parts.append(part)
        parent, part = graph.place[id(parent)]
    text = ""
    for part in reversed(parts):
        if part is not None:  # None: inside a complex key
            text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text


def _keep_times_as_text(graph: _Graph) -> None:
    """Keep times and arXiv ids written unquoted as the text they are.

    YAML 1.1 reads `07:30` as the base-60 number 450 and `2502.10000` as the float 2502.1.
    """
    for node in graph.nodes:
        if not isinstance(node, yaml.ScalarNode) or node.tag not in _NUMBER_TAGS or node.style:
            continue
        if _as_text(node.value):
            node.tag = _STR_TAG


def _as_text(value: str) -> bool:
    """A number as YAML reads it that is a time or an arXiv id as written."""
    return ":" in value or _ARXIV_ID_LIKE.match(value) is not None


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
