"""The readers' round trip, end to end, with every part real: `send` to a local SMTP server, the
web app under uvicorn, and the links taken from the messages as a mail client would.

Day 1 reaches everyone; Ada's mail client POSTs her message's List-Unsubscribe URL as RFC 8058
says; day 2 reaches everyone else and not her; she resubscribes from the confirmation page;
day 3 reaches her again. Her "more like this" from day 1's text part is kept in the state."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from newsletter.config import load_config
from newsletter.demo import DEMO_DAY
from newsletter.status import ReaderStatus
from newsletter.store import Store
from newsletter.tokens import SECRET_ENV
from newsletter.web.app import create_app
from newsletter.web.server import listening_socket, start_app
from tests.sending import READERS, demo_config, parse, send_on
from tests.smtpserver import Script, smtp_server

ADA = "ada@example.org"


@pytest.fixture
def secret(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv(SECRET_ENV, "the-secret-of-the-round-trip-test")
    yield "the-secret-of-the-round-trip-test"


def received_by(script: Script, start: int) -> list[str]:
    return sorted(rcpt for _, rcpts, _ in script.received[start:] for rcpt in rcpts)


def message_to(script: Script, reader: str) -> bytes:
    return next(data for _, rcpts, data in script.received if rcpts == [reader])


def form_of(page: str, button: str) -> tuple[str, dict[str, str]]:
    """The action and the hidden fields of the form whose submit button reads `button`, and
    that button's own name and value: what a browser POSTs when it is pressed."""
    for form in re.findall(r"<form\b.*?</form>", page, re.S):
        pressed = re.search(rf"<button([^>]*)>\s*{re.escape(button)}\s*</button>", form)
        if pressed is None:
            continue
        action = re.search(r'action="([^"]+)"', form)
        assert action is not None, form
        fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', form))
        named = re.search(r'name="([^"]+)" value="([^"]*)"', pressed.group(1))
        if named:
            fields[named.group(1)] = named.group(2)
        return html.unescape(action.group(1)), {k: html.unescape(v) for k, v in fields.items()}
    raise AssertionError(f"no form with a {button!r} button in {page[:2000]}")


def test_unsubscribe_by_header_then_resubscribe_across_three_days(
    tmp_path: Path, secret: str
) -> None:
    sock = listening_socket("127.0.0.1", 0)
    web = f"http://127.0.0.1:{sock.getsockname()[1]}"
    with smtp_server() as (port, script):
        path = demo_config(tmp_path, port, f"  digest: always\n  web_url: {web}\n")
        running = start_app(create_app(load_config(path)), sock)
        try:
            first = send_on(path, 0)
            assert sorted(first.sent) == sorted(READERS)
            message = parse(message_to(script, ADA))
            assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
            one_click = str(message["List-Unsubscribe"]).split(",")[0].strip(" <>")
            assert one_click.startswith(f"{web}/u/")

            with httpx.Client(timeout=10.0, follow_redirects=False) as client:
                assert client.get(one_click).status_code == 200  # a scanner's GET: harmless
                with Store(tmp_path / "newsletter.db") as store:
                    assert store.suppressions() == {}
                answer = client.post(
                    one_click,
                    content=b"List-Unsubscribe=One-Click",
                    headers={"Content-Type": "application/x-www-form-urlencoded"},
                )
                assert answer.status_code == 200
                assert "location" not in answer.headers and "set-cookie" not in answer.headers

                text = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
                more = re.search(r"More like this:\s+(\S+)", text)
                assert more is not None and more.group(1).startswith(f"{web}/f/")
                action, fields = form_of(client.get(more.group(1)).text, "More like this")
                assert fields["vote"] == "more"
                assert client.post(action, data=fields).status_code == 200

                seen = len(script.received)
                second = send_on(path, 1)
                assert received_by(script, seen) == sorted(set(READERS) - {ADA})
                assert second.suppressed == [(ADA, "unsubscribed")]

                action, fields = form_of(answer.text, "Subscribe again")
                again = client.post(action, data=fields)
                assert again.status_code == 200
            seen = len(script.received)
            send_on(path, 2)
            assert received_by(script, seen) == sorted(READERS)
        finally:
            running.stop()
    with Store(tmp_path / "newsletter.db") as store:
        assert store.suppression(ADA) is None
        (rating,) = store.ratings([ADA])[ADA]
        assert rating.vote == 1 and rating.day == DEMO_DAY
        assert store.suppress(ADA, ReaderStatus.UNSUBSCRIBED, "x", "web")  # she was active
