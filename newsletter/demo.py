"""The bundled demo: one invented day of papers and three readers, for an offline preview.

`newsletter preview --demo` builds the issues of this day from files inside the package, with
the state database in a temporary folder, so it works on a fresh machine without network or
config and leaves nothing behind but the preview.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

from newsletter.config import Config, load_config

DEMO_DAY = date(2026, 11, 23)
DEMO_DIR = Path(__file__).resolve().parent / "data" / "demo"


def demo_config(state: Path) -> Config:
    """The demo config, its state database moved to `state`."""
    config = load_config(DEMO_DIR / "subscribers.yaml")
    newsletter = config.newsletter.model_copy(update={"state": str(state.resolve())})
    return config.model_copy(update={"newsletter": newsletter})
