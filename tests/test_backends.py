"""One contract for every delivery backend, each run for real: SMTP against a local aiosmtpd
server, the Maildir in a temporary folder, the console into a string, memory in a list.

Every backend in BACKENDS, built by `backend_for` as a command would build it, is a context
manager that sends each message once, calls `handing_over` exactly once per message and before
the message can be seen where it goes, delivers the bytes intact, and closes without raising,
also twice and also after `open` failed."""

from __future__ import annotations

import io
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from newsletter.config import Config, load_config
from newsletter.delivery import BACKENDS, Backend, Outcome, Result, backend_for
from newsletter.delivery.file import MaildirBackend
from newsletter.delivery.memory import MemoryBackend
from newsletter.delivery.registry import BACKEND_CLASSES, backend_class
from newsletter.delivery.smtp import SmtpBackend
from newsletter.errors import DeliveryError
from newsletter.mail import Envelope, Headers, Message, build
from newsletter.render.issue import Layout, RenderedIssue
from newsletter.status import DeliveryStatus
from tests.conftest import MINIMAL
from tests.smtpserver import free_port, smtp_server

SENDER = "Test Digest <digest@example.org>"


def built_message() -> Message:
    """An issue as `send` builds it (base64 bodies, so no line of the data starts with ".")."""
    issue = RenderedIssue(
        subject="Test Digest - 2026-11-23: Ünïcode and 1 more",
        preheader="Today: two papers",
        html="<!doctype html><p>.not a line start in HTML</p>",
        text=".a text line that starts with a dot\n.\nand the rest\n",
        layout=Layout(2, 0, 0),
    )
    return build(
        issue,
        to_name="Ada",
        to_email="ada@example.org",
        day=date(2026, 11, 23),
        headers=Headers.of("Test Digest", SENDER),
        now=datetime(2026, 11, 23, 7, 0, tzinfo=UTC),
    )


def dotted_message() -> Message:
    """A hand-made message whose lines start with dots, one of them a lone "." (SMTP's end)."""
    data = (
        b"From: digest@example.org\r\nTo: grace@example.org\r\nSubject: dots\r\n"
        b"Message-ID: <dots.1@example.org>\r\n\r\n"
        b".one dot\r\n..two dots\r\n.\r\nlast line\r\n"
    )
    return Message(
        Envelope("digest@example.org", "grace@example.org", "<dots.1@example.org>"), data
    )


@dataclass
class Destination:
    """Where a backend's messages end up, and how a message looks once there."""

    config: Config
    delivered: Callable[[Backend], list[bytes]]  # everything that arrived, in arrival order
    shown: Callable[[list[Message]], list[bytes]]  # how these messages look there
    ready: Callable[[], None] = lambda: None  # run in the test itself, before sending

    def holds(self, backend: Backend, messages: list[Message]) -> bool:
        return sorted(self.delivered(backend)) == sorted(self.shown(messages))


def _config(tmp_path: Path, smtp: str = "") -> Config:
    path = tmp_path / "subscribers.yaml"
    path.write_text(MINIMAL.replace("  sources:\n", smtp + "  sources:\n", 1), encoding="utf-8")
    return load_config(path)


def _as_sent(messages: list[Message]) -> list[bytes]:
    return [message.data for message in messages]


def _smtp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Destination]:
    with smtp_server() as (port, script):
        block = f"  smtp:\n    host: 127.0.0.1\n    port: {port}\n    security: none\n"
        yield Destination(
            _config(tmp_path, block),
            lambda backend: [data for _, _, data in script.received],
            _as_sent,
        )


def _file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Destination]:
    new = tmp_path / "outbox" / "new"
    yield Destination(
        _config(tmp_path),
        lambda backend: [p.read_bytes() for p in new.iterdir()] if new.is_dir() else [],
        _as_sent,
    )


def _console(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Destination]:
    stream = io.StringIO()

    def ready() -> None:  # in the test, not the fixture: pytest sets its capture back in between
        monkeypatch.setattr(sys, "stdout", stream)  # the backend looks stdout up at each send

    def shown(messages: list[Message]) -> list[bytes]:
        text = "".join(m.data.decode("ascii").replace("\r\n", "\n") + "\n" for m in messages)
        return [text.encode("ascii")] if text else []

    yield Destination(
        _config(tmp_path),
        lambda backend: [stream.getvalue().encode("ascii")] if stream.getvalue() else [],
        shown,
        ready,
    )


def _memory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Destination]:
    def delivered(backend: Backend) -> list[bytes]:
        assert isinstance(backend, MemoryBackend)
        return _as_sent(backend.sent)

    yield Destination(_config(tmp_path), delivered, _as_sent)


DESTINATIONS = {"smtp": _smtp, "file": _file, "console": _console, "memory": _memory}


def test_every_backend_has_a_destination_here_and_a_class_in_the_registry() -> None:
    assert set(DESTINATIONS) == set(BACKENDS) == set(BACKEND_CLASSES)
    for name in BACKENDS:
        assert issubclass(backend_class(name), Backend)
        assert backend_class(name).name == name


@pytest.fixture(params=BACKENDS)
def destination(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[str, Destination]]:
    for place in DESTINATIONS[request.param](tmp_path, monkeypatch):
        yield request.param, place


def test_a_backend_delivers_each_message_once_after_handing_it_over(
    destination: tuple[str, Destination],
) -> None:
    name, place = destination
    messages = [built_message(), dotted_message()]
    place.ready()
    backend = backend_for(place.config, name)
    assert backend.name == name
    handovers: list[bool] = []  # per call: was nothing of this message visible yet?
    results: list[Result] = []
    with backend as entered:
        assert entered is backend
        for count, message in enumerate(messages):
            earlier = messages[:count]

            def handing_over(earlier: list[Message] = earlier) -> None:
                handovers.append(place.holds(backend, earlier))

            results.append(backend.send(message, handing_over))
            assert handovers == [True] * (count + 1)  # exactly once per message, before arrival
            assert place.holds(backend, messages[: count + 1])
    assert [r.outcome for r in results] == [DeliveryStatus.SENT, DeliveryStatus.SENT]
    assert all(r.outcome.value == "sent" and r.detail for r in results)
    backend.close()
    backend.close()
    assert place.holds(backend, messages)  # intact, and nothing more arrived


def test_the_default_backend_is_smtp_with_an_smtp_block_else_file(tmp_path: Path) -> None:
    (tmp_path / "plain").mkdir()
    (tmp_path / "smtp").mkdir()
    plain = _config(tmp_path / "plain")
    smtp = _config(tmp_path / "smtp", "  smtp:\n    host: 127.0.0.1\n    security: none\n")
    assert isinstance(backend_for(plain), MaildirBackend)
    assert isinstance(backend_for(smtp), SmtpBackend)
    with pytest.raises(DeliveryError, match=r"the smtp backend needs a newsletter\.smtp block"):
        backend_for(plain, "smtp")
    with pytest.raises(ValueError, match="unknown backend 'pigeon'; one of smtp, file, console"):
        backend_for(plain, "pigeon")


def _spy_on_close(backend: Backend, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    calls: list[str] = []
    close = backend.close

    def recorded() -> None:
        calls.append("close")
        close()

    monkeypatch.setattr(backend, "close", recorded)
    return calls


def test_a_backend_that_cannot_open_is_closed_before_the_error_leaves(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "outbox"
    blocker.write_text("a file where the Maildir should be", encoding="utf-8")
    block = f"  smtp:\n    host: 127.0.0.1\n    port: {free_port()}\n    security: none\n"
    config = _config(tmp_path, block)  # nothing listens on that port
    for name in ("file", "smtp"):
        backend = backend_for(config, name)
        calls = _spy_on_close(backend, monkeypatch)
        with pytest.raises(DeliveryError) as raised, backend:
            pytest.fail("entered a backend that did not open")
        assert calls == ["close"], name
        assert raised.value.__cause__ is not None  # the OS error stays visible under --debug
        backend.close()


def test_the_console_writes_to_its_stream_not_to_stdout(capsys: pytest.CaptureFixture[str]) -> None:
    from newsletter.delivery.console import ConsoleBackend

    stream = io.StringIO()
    with ConsoleBackend(stream) as backend:
        result = backend.send(dotted_message())
    assert result.outcome is Outcome.SENT
    assert stream.getvalue() == dotted_message().data.decode().replace("\r\n", "\n") + "\n"
    assert capsys.readouterr().out == ""


def test_outcomes_are_the_ledgers_states_and_never_sending() -> None:
    assert Outcome is DeliveryStatus
    assert Result(Outcome.IN_DOUBT).outcome.value == "in_doubt"
    with pytest.raises(ValueError, match="not sending"):
        Result(DeliveryStatus.SENDING)
