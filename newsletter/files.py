"""Reading a small local file the config names (a DKIM key): a regular file only, at most
`limit` bytes, never blocking on a FIFO or a device."""

from __future__ import annotations

import os
import stat
from pathlib import Path


class UnreadableFile(OSError):
    """The file is not a regular file of at most the limit; `strerror` says why."""


def read_small(path: Path, limit: int) -> bytes:
    """The bytes of `path`; OSError (or UnreadableFile) when it cannot be read as asked."""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0)
    fd = os.open(path, flags)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            kind = "a folder" if stat.S_ISDIR(info.st_mode) else "not a regular file"
            raise UnreadableFile(0, f"it is {kind}")
        if info.st_size > limit:
            raise UnreadableFile(0, f"it is larger than {limit:,} bytes")
        data = os.read(fd, limit + 1)
        if len(data) > limit:
            raise UnreadableFile(0, f"it is larger than {limit:,} bytes")
        return data
    finally:
        os.close(fd)
