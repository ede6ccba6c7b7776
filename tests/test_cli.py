"""The command line as a user runs it: real processes, exit codes, one-line errors."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import MINIMAL, REPO


def newsletter(
    *args: str, cwd: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "newsletter", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**os.environ, **(env or {})},
        timeout=120,
    )


def test_help_lists_every_command() -> None:
    result = newsletter("--help")
    assert result.returncode == 0
    for command in ("init", "validate", "fetch", "preview", "send", "run"):
        assert f"  {command} " in result.stdout


def test_every_command_takes_a_config_option() -> None:
    for command in ("validate", "fetch", "preview", "send", "run"):
        result = newsletter(command, "--help")
        assert "-c, --config" in result.stdout, command


def test_validate_ok(write_config: Callable[[str], Path]) -> None:
    path = write_config(MINIMAL)
    result = newsletter("validate", "-c", str(path))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "OK: 1 subscriber, 1 source"


def test_config_defaults_to_the_current_folder_and_env(
    write_config: Callable[[str], Path], tmp_path: Path
) -> None:
    write_config(MINIMAL)
    assert newsletter("validate", cwd=tmp_path).returncode == 0
    other = tmp_path / "elsewhere"
    other.mkdir()
    result = newsletter(
        "validate", cwd=other, env={"NEWSLETTER_CONFIG": str(tmp_path / "subscribers.yaml")}
    )
    assert result.returncode == 0, result.stderr


def test_validate_reports_every_problem_without_traceback(
    write_config: Callable[[str], Path],
) -> None:
    path = write_config(
        MINIMAL.replace("ada@example.org", "nobody") + "    timezone: Mars/Olympus\n"
    )
    result = newsletter("validate", "-c", str(path))
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert lines[0].startswith(f"{path}:8: subscribers[0].email: ")
    assert lines[1].startswith(f"{path}:12: subscribers[0].timezone: ")
    assert lines[-1] == f"Error: 2 problems in {path}"
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("text", ["newsletter:\n\ttitle: x\n", "", "newsletter: {title: [}\n"])
def test_bad_files_exit_1_with_one_line(write_config: Callable[[str], Path], text: str) -> None:
    path = write_config(text)
    result = newsletter("validate", "-c", str(path))
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith(str(path))


def test_missing_config_file(tmp_path: Path) -> None:
    result = newsletter("validate", "-c", str(tmp_path / "missing.yaml"))
    assert result.returncode == 1
    assert result.stderr.splitlines()[0] == (
        f"{tmp_path / 'missing.yaml'}: file not found: create it with "
        f"`newsletter init {tmp_path / 'missing.yaml'}`"
    )


def test_a_missing_default_config_says_how_to_make_one(tmp_path: Path) -> None:
    env = {key: value for key, value in os.environ.items() if key != "NEWSLETTER_CONFIG"}
    result = subprocess.run(
        [sys.executable, "-m", "newsletter", "validate"],
        capture_output=True, text=True, cwd=tmp_path, env=env, timeout=120,
    )  # fmt: skip
    assert result.returncode == 1
    assert result.stderr.splitlines()[0] == (
        f"subscribers.yaml: file not found in {tmp_path}: create one with `newsletter init`, "
        "or name it with -c/--config or $NEWSLETTER_CONFIG"
    )
    named = newsletter("status", env={"NEWSLETTER_CONFIG": str(tmp_path / "d.yaml")})
    assert "d.yaml: file not found (named by $NEWSLETTER_CONFIG): create it with" in named.stderr


def test_usage_error_exits_2() -> None:
    assert newsletter("validate", "--no-such-flag").returncode == 2
    assert newsletter("no-such-command").returncode == 2


def test_debug_shows_the_traceback(write_config: Callable[[str], Path], tmp_path: Path) -> None:
    result = newsletter("--debug", "fetch", "-c", str(tmp_path / "missing.yaml"))
    assert result.returncode == 1
    assert "Traceback" in result.stderr


def test_init_writes_a_valid_config_and_refuses_to_overwrite(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "digest.yaml"
    assert newsletter("init", str(target)).returncode == 0
    assert newsletter("validate", "-c", str(target)).returncode == 0
    text = target.read_text()
    assert text.count("#") > 10  # commented
    again = newsletter("init", str(target))
    assert again.returncode == 1
    assert "already exists" in again.stderr
    target.write_text("changed")
    assert newsletter("init", str(target), "--force").returncode == 0
    assert target.read_text() == text


def test_the_repository_example_validates() -> None:
    result = newsletter("validate", "-c", str(REPO / "subscribers.yaml"))
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("OK: 3 subscribers")


def test_the_cli_offers_every_delivery_backend() -> None:
    import click

    from newsletter.cli import send
    from newsletter.delivery.registry import BACKENDS

    (option,) = [param for param in send.params if param.name == "backend"]
    assert isinstance(option.type, click.Choice)
    assert tuple(option.type.choices) == BACKENDS


def test_validate_warns_and_exits_0(write_config: Callable[[str], Path], tmp_path: Path) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    (tmp_path / "dkim.pem").write_bytes(pem)
    dkim = "  dkim:\n    selector: mail\n    domain: example.net\n    private_key_path: dkim.pem\n"
    path = write_config(
        MINIMAL.replace("  sources:", "  timezone: EST\n" + dkim + "  sources:").replace(
            "[cs.LG]", "[cs.lg]"
        )
    )
    result = newsletter("validate", "-c", str(path))
    assert result.returncode == 0, result.stderr
    assert result.stdout == "OK: 1 subscriber, 1 source\n"
    assert result.stderr.splitlines() == [
        f"note: {path}:4: newsletter.timezone: EST is a fixed UTC-05:00 offset without daylight "
        "saving; for New York use America/New_York",
        f"note: {path}:7: newsletter.dkim.domain: the DKIM domain example.net does not align "
        "with the From domain example.org: receivers checking DMARC do not count this "
        "signature as the sender's; sign with d=example.org",
        f"note: {path}:11: newsletter.sources[0].categories[0]: 'cs.lg' is read as 'cs.LG', "
        "as arXiv writes it",
    ]
    quiet = newsletter("validate", "-q", "-c", str(path))  # -q after the command: only errors
    assert (quiet.returncode, quiet.stdout, quiet.stderr) == (0, "", "")


@pytest.mark.parametrize(
    ("sender", "signer", "aligned"),
    [
        ("digest@example.org", "example.org", True),
        ("digest@news.example.org", "example.org", True),  # a parent of the From domain
        ("digest@example.org", "mail.example.org", True),  # relaxed: one organization
        ("digest@lab.ox.ac.uk", "ox.ac.uk", True),
        ("digest@example.org", "example.net", False),
        ("digest@ox.ac.uk", "cam.ac.uk", False),  # ac.uk is a registry, not an organization
        ("digest@bücher.de", "xn--bcher-kva.de", True),
    ],
)
def test_dkim_alignment(sender: str, signer: str, aligned: bool) -> None:
    from newsletter.preflight import _organizational

    ascii_sender = sender.rpartition("@")[2].encode("idna").decode("ascii")
    assert (_organizational(ascii_sender) == _organizational(signer)) is aligned
