"""Shared pieces of the sending tests: the demo day as a config that sends through a local
SMTP server, and `newsletter send` run as a real process."""

from __future__ import annotations

import email
import email.policy
import os
import subprocess
import sys
from datetime import timedelta
from email.message import EmailMessage
from pathlib import Path

from newsletter.config import load_config
from newsletter.delivery.base import Backend
from newsletter.delivery.smtp import SmtpBackend
from newsletter.demo import DEMO_DAY, DEMO_DIR
from newsletter.pipeline import run_once
from newsletter.send_report import SendReport
from newsletter.sending import SendOptions
from newsletter.session import Session

CANARY = "canary-Pa55w0rd-never-printed"
READERS = ["ada@example.org", "grace.hopper@example.org", "lab-reading-group@example.org"]


def demo_config(tmp_path: Path, port: int | None, extra: str = "") -> Path:
    """The bundled demo day and readers, sending through the local server when `port`."""
    for name in ("listing.xml", "daily_papers.json"):
        (tmp_path / name).write_bytes((DEMO_DIR / name).read_bytes())
    text = (DEMO_DIR / "subscribers.yaml").read_text(encoding="utf-8")
    smtp = ""
    if port is not None:
        smtp = (
            f"  smtp:\n    host: 127.0.0.1\n    port: {port}\n    security: none\n"
            "    username: digest\n    password_env: TEST_SMTP_PASSWORD\n    timeout: 10\n"
        )
    text = text.replace("  sources:\n", smtp + extra + "  sources:\n", 1)
    path = tmp_path / "subscribers.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def with_timeout(path: Path, seconds: float) -> Path:
    """The config at `path` with `smtp.timeout: seconds` (demo_config writes 10)."""
    text = path.read_text(encoding="utf-8").replace("timeout: 10\n", f"timeout: {seconds}\n")
    path.write_text(text, encoding="utf-8")
    return path


def add_reader(path: Path, address: str, name: str | None = None) -> None:
    """Append one reader who shares Ada's interests."""
    named = f"    name: {name}\n" if name else ""
    entry = (f"  - email: {address}\n{named}    interests:\n"
             f'      keywords: ["mixture of experts", "diffusion model", "agents"]\n')  # fmt: skip
    with path.open("a", encoding="utf-8") as stream:
        stream.write("\n" + entry)


def parse(data: bytes) -> EmailMessage:
    """A message as the `email` package reads it; UTF-8 headers (RFC 6532) as text."""
    if data.isascii():
        message = email.message_from_bytes(data, policy=email.policy.default)
    else:  # the bytes parser would keep the UTF-8 of an address as surrogates
        message = email.message_from_string(data.decode("utf-8"), policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


def backend(path: Path, **options: object) -> SmtpBackend:
    os.environ["TEST_SMTP_PASSWORD"] = CANARY
    config = load_config(path)
    assert config.newsletter.smtp is not None
    return SmtpBackend(config.newsletter.smtp, base_delay=0.0, **options)  # type: ignore[arg-type]


def add_readers(path: Path, count: int) -> list[str]:
    """Append `count` readers who share Ada's interests; all the config's readers, sorted."""
    entries = "".join(
        f"  - email: reader{n:03d}@example.org\n    interests:\n"
        f'      keywords: ["mixture of experts", "diffusion model", "agents"]\n'
        for n in range(count)
    )
    with path.open("a", encoding="utf-8") as stream:
        stream.write("\n" + entries)
    return sorted([*READERS, *(f"reader{n:03d}@example.org" for n in range(count))])


def send_command(path: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "newsletter", "send", "-c", str(path), "--date", str(DEMO_DAY),
            *args]  # fmt: skip


SEND_ENV = {**os.environ, "TEST_SMTP_PASSWORD": CANARY, "COLUMNS": "200"}


def run_send(path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        send_command(path, *args), capture_output=True, text=True, timeout=300, env=SEND_ENV
    )


def send_day(path: Path, delivery: Backend | None = None, **options: bool) -> SendReport:
    """The demo day sent in this process through `run_once`, by `delivery` (else `backend`)."""
    config = load_config(path)
    made = delivery or backend(path)
    with Session.open(config, make_backend=lambda: made) as session:
        return run_once(session, DEMO_DAY, config.readers, SendOptions(**options))


def send_on(path: Path, offset: int) -> SendReport:
    """The issue of DEMO_DAY + offset days, sent in this process; only the first day reads the
    demo's sources, later ones select from what is stored (with `digest: always`, every reader
    gets an issue)."""
    config = load_config(path)
    made = backend(path)
    with Session.open(config, make_backend=lambda: made, online=offset == 0) as session:
        return run_once(session, DEMO_DAY + timedelta(days=offset), config.readers)
