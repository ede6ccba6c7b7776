"""Helpers for the rendering tests that production code has no use for."""

from __future__ import annotations

import html
import re

from newsletter.links import ReaderLinks
from newsletter.tokens import Signer


def links_in(document: str) -> list[str]:
    """Every href of an HTML document, in order (used to check the text part carries them)."""
    return [html.unescape(m) for m in re.findall(r'href="([^"]*)"', document)]


def web_links(base: str = "https://digest.example.org") -> ReaderLinks:
    """Links into the web app, signed with a fixed test secret: unsubscribe, feedback, issue."""
    return ReaderLinks(
        "Paper Digest <digest@example.org>", base, None, Signer("a-fixed-secret-for-tests-only")
    )
