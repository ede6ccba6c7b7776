"""MRML (mjml-python, what we compile with) against official MJML (the `mjml` npm package).

Outlook lays an issue out by the widths in the `<!--[if mso | IE]>` tables, which the compiler
computes from the paddings. MRML reads a bare `0` (`padding="0 28px 8px"`) as no padding at all
and wrote 640 px where MJML writes 584 px, so the templates give every size its unit. These
tests compile the same MJML source with both and compare the Outlook widths, and check that
official MJML finds the source valid (`validationLevel=strict`).

Skipped only when node or the mjml package is absent; `.ci/run` installs them (into
.ci/cache/node_modules), or set NEWSLETTER_MJML to an `mjml` binary.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from newsletter.models import Selection
from newsletter.render.renderer import IssueRenderer, Newsletter, environment
from tests.rendering import web_links
from tests.test_render import selection

REPO = Path(__file__).resolve().parents[1]
OUTLOOK = re.compile(r"<!--\[if mso \| IE\]>(.*?)<!\[endif\]-->", re.DOTALL)
WIDTH = re.compile(r'width(?:="|:)(\d+)')


def _official_mjml() -> str | None:
    for candidate in (
        os.environ.get("NEWSLETTER_MJML"),
        str(REPO / ".ci" / "cache" / "node_modules" / ".bin" / "mjml"),
        shutil.which("mjml"),
    ):
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return candidate
    return None


MJML = _official_mjml()
pytestmark = pytest.mark.skipif(
    MJML is None or shutil.which("node") is None,
    reason="node or the mjml npm package is absent (.ci/run installs them)",
)


def official(source: str) -> str:
    """The HTML official MJML makes of `source`; it fails on anything strict validation finds."""
    assert MJML is not None
    result = subprocess.run(
        [MJML, "-i", "-s", "--config.validationLevel=strict"],
        input=source, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


def outlook_widths(html: str) -> list[int]:
    """Every width in the Outlook-only conditional comments, in document order."""
    return [int(width) for block in OUTLOOK.findall(html) for width in WIDTH.findall(block)]


def renderer(env_folder: Path | None = None) -> IssueRenderer:
    newsletter = Newsletter("Digest", "digest@example.org", web_links())
    return IssueRenderer(newsletter, environment(env_folder))


ISSUES = {
    "empty": selection(0),
    "one": selection(1),
    "typical": selection(7),
    "long": selection(300),
}


@pytest.mark.parametrize("name", list(ISSUES))
def test_outlook_widths_match_official_mjml(name: str) -> None:
    chosen: Selection = ISSUES[name]
    render = renderer()
    ours = render.render(chosen, "ada@example.org", "Ada").html
    theirs = official(render.mjml_source(chosen, "ada@example.org", "Ada"))
    assert outlook_widths(ours) == outlook_widths(theirs)
    assert 584 in outlook_widths(ours)  # the padded sections: 640 - 2 x 28


def test_a_bare_zero_would_give_outlook_the_wrong_width(tmp_path: Path) -> None:
    """The comparison can fail: the template as it was (`padding="0 28px 8px"`) compiles to a
    different width with MRML than with official MJML."""
    builtin = environment().loader.get_source(environment(), "issue.mjml.j2")[0]  # type: ignore[union-attr]
    assert 'padding="0px 28px 8px"' in builtin
    (tmp_path / "issue.mjml.j2").write_text(
        builtin.replace('padding="0px 28px 8px"', 'padding="0 28px 8px"'), encoding="utf-8"
    )
    render = renderer(tmp_path)
    chosen = ISSUES["long"]
    ours = render.render(chosen, "ada@example.org", "Ada").html
    theirs = official(render.mjml_source(chosen, "ada@example.org", "Ada"))
    assert outlook_widths(ours) != outlook_widths(theirs)


def test_every_size_in_the_templates_has_a_unit() -> None:
    """No bare number in an MJML size attribute: `0px`, never `0`."""
    source = environment().loader.get_source(environment(), "issue.mjml.j2")[0]  # type: ignore[union-attr]
    sizes = re.findall(
        r'(?<![\w-])(?:padding|border-radius|width|height|font-size)="([^"]*)"', source
    )
    assert sizes
    for value in sizes:
        assert all(re.fullmatch(r"\d+(?:px|%)", part) for part in value.split()), value
