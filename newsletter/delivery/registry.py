"""Which delivery backends exist, and the one a config asks for.

Each backend is named here as `module:Class` and imported only when chosen, so neither this
module nor the `newsletter.delivery` package imports any backend (nor smtplib, nor a config).
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from newsletter.config import Config
    from newsletter.delivery.base import Backend

BACKEND_CLASSES: Mapping[str, str] = {
    "smtp": "newsletter.delivery.smtp:SmtpBackend",
    "file": "newsletter.delivery.file:MaildirBackend",
    "console": "newsletter.delivery.console:ConsoleBackend",
    "memory": "newsletter.delivery.memory:MemoryBackend",
}
BACKENDS: tuple[str, ...] = tuple(BACKEND_CLASSES)  # ("smtp", "file", "console", "memory")


def backend_class(name: str) -> type[Backend]:
    """The class of backend `name`, imported now; ValueError for a name not in BACKENDS."""
    if name not in BACKEND_CLASSES:
        raise ValueError(f"unknown backend {name!r}; one of {', '.join(BACKENDS)}")
    module, _, attribute = BACKEND_CLASSES[name].partition(":")
    found: type[Backend] = getattr(importlib.import_module(module), attribute)
    return found


def chosen_backend(config: Config, name: str | None = None) -> str:
    """The name of the backend `name`, or the config's: smtp with an smtp block, else file."""
    return name or ("smtp" if config.newsletter.smtp else "file")


def backend_for(config: Config, name: str | None = None) -> Backend:
    """The backend `name`, or the config's (see `chosen_backend`), not yet opened."""
    return backend_class(chosen_backend(config, name)).from_config(config)
