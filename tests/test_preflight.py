"""What `send` would only discover late is reported by `validate` first, with file and line,
and stops `send` and `preview` before anything is fetched or sent."""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import date
from pathlib import Path

import pytest

from newsletter import preflight
from newsletter.config import load_config
from tests.conftest import MINIMAL
from tests.feeds import Item, arxiv_rss
from tests.test_cli import newsletter

DKIM = """\
  dkim:
    selector: mail
    domain: example.org
    private_key_path: keys/missing.pem
"""


def _with(block: str) -> str:
    """MINIMAL with `block` added to the newsletter: section, just before `sources:`."""
    return MINIMAL.replace("  sources:\n", block + "  sources:\n", 1)


def _line(path: Path, text: str) -> int:
    return next(n for n, line in enumerate(path.read_text().splitlines(), 1) if text in line)


def test_validate_reports_a_missing_dkim_key_with_file_and_line(
    write_config: Callable[[str], Path],
) -> None:
    path = write_config(_with(DKIM))
    result = newsletter("validate", "-c", str(path))
    assert result.returncode == 1
    line = _line(path, "private_key_path")
    first = result.stderr.splitlines()[0]
    assert first.startswith(f"{path}:{line}: newsletter.dkim.private_key_path: ")
    assert "cannot read the DKIM key" in first and "missing.pem" in first
    assert "1 problem in" in result.stderr


def test_validate_reports_a_dkim_key_that_is_not_a_key(
    write_config: Callable[[str], Path], tmp_path: Path
) -> None:
    (tmp_path / "keys").mkdir()
    (tmp_path / "keys" / "missing.pem").write_text("not a key\n")
    path = write_config(_with(DKIM))
    result = newsletter("validate", "-c", str(path))
    assert result.returncode == 1
    assert "is not a PEM private key" in result.stderr


def test_validate_reports_a_missing_templates_folder_with_file_and_line(
    write_config: Callable[[str], Path],
) -> None:
    path = write_config(_with("  templates: my-templates\n"))
    result = newsletter("validate", "-c", str(path))
    assert result.returncode == 1
    line = _line(path, "templates:")
    assert result.stderr.startswith(f"{path}:{line}: newsletter.templates: folder ")
    assert "my-templates does not exist" in result.stderr


def test_a_template_that_does_not_compile_is_reported_at_its_own_line(
    write_config: Callable[[str], Path], tmp_path: Path
) -> None:
    folder = tmp_path / "templates"
    folder.mkdir()
    (folder / "issue.txt.j2").write_text("Hello\n{{ name \n", encoding="utf-8")
    path = write_config(MINIMAL)
    result = newsletter("validate", "-c", str(path))
    assert result.returncode == 1
    assert f"{folder / 'issue.txt.j2'}:2: " in result.stderr.splitlines()[0]


def test_smtp_password_variable_is_checked_only_for_a_run_that_connects(
    write_config: Callable[[str], Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    smtp = "  smtp:\n    host: 127.0.0.1\n    username: digest\n    password_env: NO_SUCH_VAR_X\n"
    monkeypatch.delenv("NO_SUCH_VAR_X", raising=False)
    config = load_config(write_config(_with(smtp)))
    (problem,) = preflight.problems(config)
    assert problem.key == "newsletter.smtp.password_env" and "$NO_SUCH_VAR_X" in problem.message
    assert problem.line is not None
    assert preflight.problems(config, connects=False) == []  # preview, dry run
    assert preflight.problems(config, backend="file") == []
    monkeypatch.setenv("NO_SUCH_VAR_X", "secret-value")
    assert preflight.problems(config) == []


def test_send_stops_before_fetching_or_sending_when_the_preflight_fails(
    write_config: Callable[[str], Path], tmp_path: Path
) -> None:
    path = write_config(_with(DKIM))
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSLETTER_")}
    result = newsletter("send", "-c", str(path), "--date", "2026-07-27", env=env)
    assert result.returncode == 1
    assert "newsletter.dkim.private_key_path" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "newsletter.db").exists()  # nothing was fetched or recorded
    assert not (tmp_path / "outbox").exists()


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/urandom"])
def test_a_dkim_key_that_is_a_device_is_refused_unread(
    write_config: Callable[[str], Path], device: str
) -> None:
    path = write_config(_with(DKIM.replace("keys/missing.pem", device)))
    result = newsletter("validate", "-c", str(path))  # bounded by the helper's timeout
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "not a regular file" in result.stderr


def test_a_dkim_key_that_is_a_fifo_does_not_block(
    write_config: Callable[[str], Path], tmp_path: Path
) -> None:
    os.mkfifo(tmp_path / "key.pem")
    path = write_config(_with(DKIM.replace("keys/missing.pem", "key.pem")))
    result = newsletter("validate", "-c", str(path))
    assert result.returncode == 1 and "not a regular file" in result.stderr


def test_a_template_failing_while_rendering_is_one_line_naming_it(
    write_config: Callable[[str], Path], tmp_path: Path
) -> None:
    folder = tmp_path / "templates"
    folder.mkdir()
    (folder / "issue.txt.j2").write_text("Hello\n{{ no_such_value }}\n", encoding="utf-8")
    path = write_config(MINIMAL.replace("mixture of experts", "things"))
    (tmp_path / "listing.xml").write_bytes(
        arxiv_rss(date(2026, 7, 27), [Item("2607.00001", title="Things")])
    )
    path.write_text(
        path.read_text().replace(
            "categories: [cs.LG]", "categories: [cs.LG]\n      url: listing.xml"
        )
    )
    result = newsletter("preview", "-c", str(path), "--date", "2026-07-27", "--out",
                        str(tmp_path / "p"))  # fmt: skip
    assert result.returncode == 1 and "Traceback" not in result.stderr
    error = [line for line in result.stderr.splitlines() if line.startswith("Error: ")]
    assert error and f"{folder / 'issue.txt.j2'}:2: " in error[0] and "no_such_value" in error[0]
