"""The preview: every subscriber's issue written to a folder, nothing sent, no delivery state."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from newsletter.config import Config
from newsletter.models import Selection
from newsletter.render import subject


@dataclass(frozen=True)
class PreviewEntry:
    email: str
    slug: str
    subject: str
    papers: int
    files: tuple[Path, ...]


def write_preview(config: Config, selections: Sequence[Selection], out: Path) -> list[PreviewEntry]:
    """Write `SLUG.json` per subscriber: subject and papers best first with scores and reasons."""
    out.mkdir(parents=True, exist_ok=True)
    slugs = {s.email: s.slug for s in config.subscribers}
    entries = []
    for selection in selections:
        profile = selection.profile
        line = subject(config.newsletter.title, selection.day, selection.papers)
        document = {
            "subscriber": profile.email,
            "date": selection.day.isoformat(),
            "subject": line,
            "papers": [
                {
                    "id": p.paper.id,
                    "title": p.paper.title,
                    "score": p.score,
                    "reasons": list(p.reasons),
                }
                for p in selection.papers
            ],
        }
        path = out / f"{slugs[profile.email]}.json"
        write_atomic(path, json.dumps(document, ensure_ascii=False, indent=2) + "\n")
        entries.append(
            PreviewEntry(profile.email, slugs[profile.email], line, len(selection.papers), (path,))
        )
    return entries


def write_atomic(path: Path, text: str) -> None:
    """Write to a temporary file beside `path`, then rename: readers never see half a file."""
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
        Path(temporary).replace(path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
