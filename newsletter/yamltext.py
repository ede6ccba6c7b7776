"""The text of a YAML config file: read with bounds, decoded, and its errors put at the line
to fix (an unclosed quote where it opened, a bad byte at its line and column)."""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

import yaml

from newsletter.errors import ConfigError, Problem

_NON_PRINTABLE = yaml.reader.Reader.NON_PRINTABLE  # what YAML refuses in a file
_FLOW_OPENERS = {"while parsing a flow sequence": "'['", "while parsing a flow mapping": "'{'"}
_KEY_LINE = re.compile(r"\n[ \t]*(?:-[ \t]+)?[\w.-]+:(?:[ \t\n]|$)")  # swallowed `key:` lines
MAX_BYTES = 16 * 1024 * 1024  # a config with 10,000 readers is about 5 MB


def read(path: Path) -> bytes:
    """The bytes of a regular file of at most MAX_BYTES; never blocks on a FIFO or a device."""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError as exc:
        raise ConfigError([Problem(str(path), None, "", "file not found")]) from exc
    except (OSError, ValueError) as exc:
        raise unreadable(path, getattr(exc, "strerror", None) or str(exc)) from exc
    try:
        return read_regular(fd, path)
    except OSError as exc:
        raise unreadable(path, exc.strerror or str(exc)) from exc
    finally:
        os.close(fd)


def read_regular(fd: int, path: Path) -> bytes:
    info = os.fstat(fd)
    mode = info.st_mode
    if stat.S_ISDIR(mode):
        raise unreadable(path, "it is a folder: name the config file itself")
    if not stat.S_ISREG(mode):
        kind = "a FIFO" if stat.S_ISFIFO(mode) else "a device or socket"
        raise unreadable(path, f"it is {kind}, not a regular file")
    chunks, size = [], 0
    if info.st_size > MAX_BYTES:  # refused unread; the loop below catches files that grow
        size = info.st_size
    while size <= MAX_BYTES and (chunk := os.read(fd, MAX_BYTES + 1 - size)):
        chunks.append(chunk)
        size += len(chunk)
    if size > MAX_BYTES:
        raise unreadable(path, f"the file is larger than {MAX_BYTES // 2**20} MiB")
    return b"".join(chunks)


def unreadable(path: Path, reason: str) -> ConfigError:
    return ConfigError([Problem(str(path), None, "", f"cannot read the config file: {reason}")])


def decode(path: Path, data: bytes) -> str:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        message = "the file is UTF-16: save it as UTF-8"
        raise ConfigError([Problem(str(path), 1, "", message)])
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        before = data[data.rfind(b"\n", 0, exc.start) + 1 : exc.start]
        column = len(before.decode("utf-8", "replace")) + 1  # in characters, as editors count
        byte = data[exc.start]
        message = f"not UTF-8 text: byte 0x{byte:02x} at column {column}; save the file as UTF-8"
        raise ConfigError([Problem(str(path), line, "", message)]) from exc


def check_characters(path: Path, text: str) -> None:
    """YAML refuses control characters (a NUL byte, ESC ...) anywhere in a file."""
    found = _NON_PRINTABLE.search(text)
    if found:
        raise ConfigError([character_problem(path, text, found.start())])


def character_problem(path: Path, text: str, index: int) -> Problem:
    line, column = line_and_column(text, index)
    code = ord(text[index]) if 0 <= index < len(text) else 0
    what = "a NUL byte (U+0000)" if code == 0 else f"the control character U+{code:04X}"
    message = f"{what} at column {column}: YAML does not allow control characters in a file"
    return Problem(str(path), line, "", message)


def line_and_column(text: str, index: int) -> tuple[int, int]:
    return text.count("\n", 0, index) + 1, index - (text.rfind("\n", 0, index) + 1) + 1


def syntax_problem(path: Path, text: str, exc: yaml.MarkedYAMLError) -> Problem:
    """One line at the place to fix: for a quote left open, where it was opened."""
    mark = exc.problem_mark or exc.context_mark
    quote = open_quote(text, exc)
    if quote is not None:
        opened, runs_to = quote
        where = f"line {runs_to}" if runs_to else "the end of the file"
        message = f"unclosed quote starting here (the quoted text runs on to {where})"
        return Problem(str(path), opened, "", f"YAML syntax error: {message}")
    line = mark.line + 1 if mark is not None else None
    message = exc.problem or "invalid YAML"
    context = exc.context_mark
    if exc.context and context is not None and mark is not None and context.line != mark.line:
        bracket = _FLOW_OPENERS.get(exc.context)
        if bracket and line is not None:  # report where the bracket was opened
            message = f"the {bracket} opened here is not closed ({message} at line {line})"
            return Problem(str(path), context.line + 1, "", f"YAML syntax error: {message}")
        message += f" ({exc.context} started at line {context.line + 1})"
    lines = text.splitlines()
    if line is not None and 0 < line <= len(lines) and "\t" in lines[line - 1]:
        message += " (a tab: YAML must be indented with spaces)"
    if "escape" in message or "hexdecimal" in message:
        message += " (in \"...\" a backslash starts an escape: write \\\\ or use '...')"
    return Problem(str(path), line, "", f"YAML syntax error: {' '.join(message.split())}")


def open_quote(text: str, exc: yaml.MarkedYAMLError) -> tuple[int, int | None] | None:
    """(line opened, line reached or None for the end) of a quote that swallowed the lines
    after it.

    YAML notices a missing closing quote only where the text stops making sense: at the end of
    the file, or (when a later quote closes it) after the lines it swallowed."""
    mark = exc.problem_mark
    if exc.context == "while scanning a quoted scalar" and exc.context_mark is not None:
        return exc.context_mark.line + 1, None
    if mark is None:
        return None
    found = None
    try:
        for token in yaml.scan(text, Loader=yaml.SafeLoader):
            if token.start_mark.index >= mark.index:
                break
            if (
                isinstance(token, yaml.ScalarToken)
                and token.style in ("'", '"')
                and token.start_mark.line < token.end_mark.line
            ):
                found = token
    except yaml.YAMLError:
        pass
    if found is None or not mark.line - 1 <= found.end_mark.line <= mark.line:
        return None
    swallowed = text[found.start_mark.index : found.end_mark.index]
    if not _KEY_LINE.search(swallowed):
        return None
    return found.start_mark.line + 1, found.end_mark.line + 1


def error_problem(path: Path, text: str, exc: yaml.YAMLError) -> Problem:
    """A YAML error without a mark (a reader error carries a character position)."""
    if isinstance(exc, yaml.reader.ReaderError) and isinstance(exc.position, int):
        return character_problem(path, text, exc.position)
    return Problem(str(path), None, "", f"YAML error: {' '.join(str(exc).split())}")
