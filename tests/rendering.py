"""Helpers for the rendering tests that production code has no use for."""

from __future__ import annotations

import html
import re


def links_in(document: str) -> list[str]:
    """Every href of an HTML document, in order (used to check the text part carries them)."""
    return [html.unescape(m) for m in re.findall(r'href="([^"]*)"', document)]
