"""The checks of a config that need the whole file, made after the schema's: duplicates (readers
compared as normalised addresses, source names), paths the system refuses, notes on values that
pass but were read differently or mislead (`cs.ai` read as `cs.AI`, `timezone: EST`), and the
lines of the keys that later checks report (`Config.line_of`). Before the schema, `as_written`
keeps a time as the file writes it."""

from __future__ import annotations

import stat
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import yaml

from newsletter.addresses import reader_key
from newsletter.checks import shown
from newsletter.emails import check_email
from newsletter.errors import Problem
from newsletter.fields import timezone_note
from newsletter.yamlfile import YamlDocument

LATER_CHECKED = (
    "newsletter",
    "newsletter.sender",
    "newsletter.dkim.domain",
    "newsletter.templates",
    "newsletter.dkim.private_key_path",
    "newsletter.smtp.password_env",
    "newsletter.alerts_to",
    "newsletter.web_url",
    "newsletter.unsubscribe_url",
    "newsletter.bounce_address",
)


def lines_of(document: YamlDocument, keys: tuple[str, ...], readers: int = 0) -> dict[str, int]:
    """The lines of the keys that are present (a missing key has the line of its parent), and
    of each reader's `subscribers[i].email`."""
    found = {}
    for key in keys:
        line = document.line_of(tuple(key.split(".")), key=True)
        if line is not None:
            found[key] = line
    for index in range(readers):
        line = document.line_of(("subscribers", index, "email"), key=True)
        if line is not None:
            found[f"subscribers[{index}].email"] = line
    return found


def duplicate_subscribers(document: YamlDocument) -> list[Problem]:
    """Two entries for one reader, compared as normalised addresses (`ada@xn--bcher-kva.de`
    is `ada@bücher.de`); a malformed address is left to validation."""
    subscribers = document.data.get("subscribers")
    if not isinstance(subscribers, list):
        return []
    keys: list[tuple[str, str] | None] = []
    for entry in subscribers:
        email = entry.get("email") if isinstance(entry, dict) else None
        keys.append((_address_key(email), email) if isinstance(email, str) else None)
    return _duplicates(document, ("subscribers",), "email", keys, "subscriber")


def _address_key(email: str) -> str:
    try:
        return reader_key(check_email(email))
    except ValueError:
        return reader_key(email)


def duplicate_sources(document: YamlDocument, labels: Sequence[str]) -> list[Problem]:
    """Sources are told apart by name (fetch log, `fetch --source`): two with one name would
    make the second look already fetched."""
    keys = [(label, label) for label in labels]
    problems = _duplicates(document, ("newsletter", "sources"), "name", keys, "source name")
    hint = "; give each source its own `name:`"
    return [replace(problem, message=problem.message + hint) for problem in problems]


def _duplicates(
    document: YamlDocument,
    where: tuple[str, ...],
    field: str,
    keys: Sequence[tuple[str, str] | None],
    what: str,
) -> list[Problem]:
    """A problem for every item whose key (the first of its pair) an earlier item has; the
    second of the pair is what the message shows."""
    first: dict[str, int] = {}
    problems = []
    for index, pair in enumerate(keys):
        if pair is None:
            continue
        key, text = pair
        line = document.line_of((*where, index, field)) or 0
        if key in first:
            message = f"duplicate {what} {shown(text)} (first at line {first[key]})"
            dotted = ".".join(where) + f"[{index}].{field}"
            problems.append(Problem(str(document.path), line, dotted, message))
        first.setdefault(key, line)
    return problems


def path_problems(
    document: YamlDocument, state: Path | None, templates: Path | None
) -> list[Problem]:
    """A path the system refuses (too long ...); a state path that is a folder or a device
    (`state` None: the state is a database server)."""
    paths = {"state": (state, stat.S_ISREG)} if state is not None else {}
    if templates is not None:
        paths["templates"] = (templates, stat.S_ISDIR)
    problems = []
    for key, (path, wanted) in paths.items():
        try:
            mode = path.stat().st_mode
        except FileNotFoundError:
            continue  # created on first use (state); reported by preflight (templates)
        except OSError as exc:
            message = f"cannot use this path: {exc.strerror}"
        else:
            if wanted(mode):
                continue
            kind = "a folder" if stat.S_ISDIR(mode) else "not a regular file"
            message = f"{path} is {kind}: name a file, e.g. newsletter.db"
            if key == "templates":
                message = f"{path} is not a folder"
        line = document.line_of(("newsletter", key), key=True)
        problems.append(Problem(str(document.path), line, f"newsletter.{key}", message))
    return problems


def as_written(document: YamlDocument) -> Any:
    """The data, with a number at a `send_time` key replaced by the file's text for it: YAML
    reads `send_time: 8.30` as the float 8.3, and a message must quote what was written."""
    data = document.data
    if not isinstance(data, dict):
        return data
    data = dict(data)
    if isinstance(data.get("newsletter"), dict):
        data["newsletter"] = _time_as_written(document, ("newsletter",), data["newsletter"])
    if isinstance(data.get("subscribers"), list):
        data["subscribers"] = [
            _time_as_written(document, ("subscribers", index), entry)
            if isinstance(entry, dict)
            else entry
            for index, entry in enumerate(data["subscribers"])
        ]
    return data


def _time_as_written(
    document: YamlDocument, where: tuple[str | int, ...], mapping: dict[Any, Any]
) -> dict[Any, Any]:
    value = mapping.get("send_time")
    if not isinstance(value, int | float) or isinstance(value, bool):
        return mapping
    node = _node(document.root, (*where, "send_time"))
    if not isinstance(node, yaml.ScalarNode):
        return mapping
    return {**mapping, "send_time": node.value}


def _node(node: yaml.Node | None, path: tuple[str | int, ...]) -> yaml.Node | None:
    """The value node at `path`, or None."""
    for part in path:
        if isinstance(node, yaml.MappingNode):
            found = [v for k, v in node.value if isinstance(k, yaml.ScalarNode) and k.value == part]
            node = found[0] if found else None
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            node = node.value[part] if 0 <= part < len(node.value) else None
        else:
            return None
    return node


Where = tuple[str | int, ...]


def notes(
    document: YamlDocument,
    zones: Sequence[tuple[Where, str | None]],
    categories: Sequence[tuple[Where, Sequence[str]]],
) -> list[Problem]:
    """What loading read differently from the text (`cs.ai` as `cs.AI`) and zone names that
    work but mislead (`EST`, `US/Eastern`): told by `validate`, stopping nothing. `zones` and
    `categories` are the values loaded, each with where it stands in the file."""
    found = []
    for at, read in categories:
        found += _categories_read(document, at, read)
    for where, zone in zones:
        note = timezone_note(zone) if zone else None
        if note:
            found.append(_note(document, where, note))
    return found


def _categories_read(
    document: YamlDocument, where: tuple[str | int, ...], categories: Sequence[str]
) -> list[Problem]:
    node = _node(document.root, where) if categories else None
    if not isinstance(node, yaml.SequenceNode) or len(node.value) != len(categories):
        return []
    found = []
    for index, (item, category) in enumerate(zip(node.value, categories, strict=True)):
        written = item.value.strip() if isinstance(item, yaml.ScalarNode) else category
        if written != category:
            message = f"{shown(written)} is read as {category!r}, as arXiv writes it"
            found.append(_note(document, (*where, index), message))
    return found


def _note(document: YamlDocument, where: tuple[str | int, ...], message: str) -> Problem:
    dotted = ""
    for part in where:
        dotted += f"[{part}]" if isinstance(part, int) else (f".{part}" if dotted else part)
    return Problem(str(document.path), document.line_of(where, key=True), dotted, message)
