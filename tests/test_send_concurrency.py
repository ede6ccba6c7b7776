"""Sending over several connections at once, against a real SMTP server on 127.0.0.1 that
counts what a relay counts: the relay's limits (`max_connections`, `max_rate`,
`max_messages_per_connection`) are never exceeded, PIPELINING is used when offered, a 421
slows the sender down without losing anyone, and every reader still gets their issue exactly
once, also when the sender is killed at random points while several messages are in flight."""

from __future__ import annotations

import itertools
import logging
import random
import signal
import subprocess
import threading
from collections import Counter
from pathlib import Path

import pytest

from newsletter.config import load_config
from newsletter.delivery.relay import Pacer, Share, Window
from newsletter.demo import DEMO_DAY
from newsletter.mail import Envelope, Message
from newsletter.pipeline import run_once
from newsletter.sending import SendOptions
from newsletter.session import Session
from newsletter.store import Store
from tests.sending import (
    READERS,
    SEND_ENV,
    add_readers,
    backend,
    demo_config,
    run_send,
    send_command,
    send_day,
)
from tests.smtpserver import Script, smtp_server

SLOW = 0.05  # seconds the server takes per message: messages queue up, connections are added


def limits(**keys: object) -> str:
    """Lines for the `smtp:` block of `demo_config`."""
    return "".join(f"    {key}: {value}\n" for key, value in keys.items())


def statuses(path: Path) -> dict[str, str]:
    with Store(load_config(path).state_path) as store:
        return {r.subscriber: r.status for r in store.deliveries(DEMO_DAY)}


def test_max_connections_is_never_exceeded_and_more_than_one_is_used(tmp_path: Path) -> None:
    with smtp_server(Script(delay=SLOW, pipelining=True)) as (port, script):
        path = demo_config(tmp_path, port, limits(max_connections=3))
        readers = add_readers(path, 37)
        report = send_day(path)
        assert sorted(report.sent) == readers and report.ok
        assert sorted(script.recipients()) == readers  # each exactly once
        assert 2 <= script.most_connections <= 3
    assert set(statuses(path).values()) == {"sent"}


def test_max_rate_is_never_exceeded_in_any_second(tmp_path: Path) -> None:
    # the sender in a process of its own: the server's clock is not held up by its work
    with smtp_server(Script(pipelining=True)) as (port, script):
        path = demo_config(tmp_path, port, limits(max_rate=5, max_connections=4))
        readers = add_readers(path, 27)
        result = run_send(path)
        assert result.returncode == 0, result.stderr
        assert sorted(script.recipients()) == readers
        times = sorted(script.mail_times)
    assert len(times) == 30
    busiest = max(sum(1 for t in times[i:] if t - start < 1.0) for i, start in enumerate(times))
    assert busiest <= 5 + 1  # the one at the window's edge; unpaced, all 30 fit in one second


def test_max_messages_per_connection_is_respected(tmp_path: Path) -> None:
    with smtp_server(Script(pipelining=True)) as (port, script):
        path = demo_config(tmp_path, port, limits(max_messages_per_connection=5))
        readers = add_readers(path, 20)
        report = send_day(path)
        assert sorted(report.sent) == readers
        counts = list(script.per_connection.values())
    assert sum(counts) == len(readers) and max(counts) <= 5
    assert len(counts) >= len(readers) // 5


@pytest.mark.parametrize("offered", [True, False])
def test_pipelining_is_used_when_offered_and_not_otherwise(tmp_path: Path, offered: bool) -> None:
    with smtp_server(Script(pipelining=offered)) as (port, script):
        path = demo_config(tmp_path, port)
        readers = add_readers(path, 5)
        report = send_day(path)
        assert sorted(report.sent) == readers
        assert sorted(script.recipients()) == readers
        assert script.pipelined == [offered] * len(readers)


def test_a_pipelined_refusal_of_the_recipient_is_a_bounce_and_the_rest_go(tmp_path: Path) -> None:
    refused = "grace.hopper@example.org"
    script = Script(pipelining=True, rcpt={refused: "550 5.1.1 no such user"})
    with smtp_server(script) as (port, script):
        path = demo_config(tmp_path, port)
        with backend(path) as smtp:
            envelope = Envelope("digest@example.org", refused, "<m@example.org>")
            result = smtp.send(Message(envelope, b"Subject: x\r\n\r\nx\r\n"))
            assert result.outcome.value == "failed" and result.bounce == "5.1.1"
            assert result.detail == "RCPT TO: 550 5.1.1 no such user"
        report = send_day(path)
        assert [email for email, _ in report.failed] == [refused]
        assert sorted(script.recipients()) == sorted(set(READERS) - {refused})
        assert all(script.pipelined)


def test_a_421_at_the_connection_slows_down_and_the_others_go_on(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="newsletter")
    with smtp_server(Script(delay=SLOW, pipelining=True, connection_limit=1)) as (port, script):
        path = demo_config(tmp_path, port, limits(max_connections=4))
        readers = add_readers(path, 17)
        report = send_day(path)
        assert sorted(report.sent) == readers and report.ok
        assert sorted(script.recipients()) == readers
        assert script.refused_connections >= 1 and script.most_connections == 1
    assert "relay busy" in caplog.text and "421 4.7.0 too many connections" in caplog.text


def test_a_421_in_a_transaction_closes_that_connection_and_the_message_goes_later(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    script = Script(pipelining=True, data=["421 4.7.0 slow down"])
    with smtp_server(script) as (port, script):
        path = demo_config(tmp_path, port)
        report = send_day(path)
        assert sorted(report.sent) == sorted(READERS)
        assert sorted(script.recipients()) == sorted(READERS)
        assert script.datas == len(READERS) + 1  # the one refused went again, once
    assert "relay busy (DATA: 421 4.7.0 slow down)" in caplog.text


def test_workers_and_their_connections_send_each_reader_once(tmp_path: Path) -> None:
    with smtp_server(Script(delay=SLOW, pipelining=True)) as (port, script):
        path = demo_config(tmp_path, port, limits(max_connections=4, max_rate=200))
        readers = add_readers(path, 40)
        result = run_send(path, "--workers", "2")
        assert result.returncode == 0, result.stderr
        assert f"sent {len(readers)}" in result.stdout
        assert sorted(script.recipients()) == readers and script.most_connections <= 4


def test_stop_finishes_the_messages_in_flight_and_starts_no_new_one(tmp_path: Path) -> None:
    stop = threading.Event()
    script = Script(delay=SLOW, pipelining=True, on_data=lambda n: stop.set() if n == 6 else None)
    with smtp_server(script) as (port, script):
        path = demo_config(tmp_path, port)
        readers = add_readers(path, 27)
        config = load_config(path)
        made = backend(path)
        with Session.open(config, make_backend=lambda: made) as session:
            report = run_once(session, DEMO_DAY, config.readers, SendOptions(), stop=stop)
        received = script.recipients()
    assert sorted(report.sent) == sorted(received) and len(received) >= 6
    assert report.stopped and sorted(report.sent + report.stopped) == readers
    assert set(statuses(path).values()) == {"sent"}  # nothing left half-sent


class Killer:
    """Kills the sending process when the server reaches a chosen point (see
    test_send_faults.py), here while several connections may have messages in flight."""

    def __init__(self) -> None:
        self.process: subprocess.Popen[str] | None = None
        self.stage, self.at, self.fired = "", 0, False

    def __call__(self, stage: str, count: int) -> None:
        if self.process is not None and stage == self.stage and count == self.at:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()
            self.fired = True


@pytest.mark.parametrize("seed", range(3))
def test_killed_at_random_points_with_several_connections_loses_nothing(
    tmp_path: Path, seed: int
) -> None:
    rng, killer, connections = random.Random(seed), Killer(), 3
    script = Script(
        delay=SLOW, pipelining=True,
        on_rcpt=lambda n: killer("rcpt", n), on_data=lambda n: killer("data", n),
    )  # fmt: skip
    with smtp_server(script) as (port, script):
        path = demo_config(tmp_path, port, limits(max_connections=connections))
        readers = add_readers(path, 17)
        for _ in range(2):
            killer.stage = rng.choice(["rcpt", "data"])
            done = script.rcpts if killer.stage == "rcpt" else script.datas
            killer.at, killer.fired = done + rng.randint(3, 8), False
            killer.process = subprocess.Popen(
                send_command(path), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                env=SEND_ENV,
            )  # fmt: skip
            killer.process.communicate(timeout=300)
            assert killer.fired and killer.process.returncode == -signal.SIGKILL
        killer.process = None
        run_send(path)
        received = Counter(script.recipients())
        doubtful = {email for email, status in statuses(path).items() if status == "in_doubt"}
        # never twice; everyone not in doubt has it; at most one in doubt per connection a kill
        assert max(received.values()) == 1
        assert set(readers) - doubtful <= set(received)
        assert len(doubtful) <= 2 * connections
        forced = run_send(path, "--resend-in-doubt")
        assert forced.returncode == 0, forced.stderr
        received = Counter(script.recipients())
        assert sorted(received) == readers
        assert sum(received.values()) - len(readers) <= len(doubtful)  # at most one each
    assert set(statuses(path).values()) == {"sent"}


# --- the limits' arithmetic, on a clock the test drives ---------------------------------------


def test_the_pacer_spaces_starts_one_interval_apart() -> None:
    clock = [100.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        clock[0] += seconds

    pacer = Pacer(4, now=lambda: clock[0], sleep=sleep)
    starts = []
    for _ in range(9):
        pacer.wait()
        starts.append(clock[0])
    assert [round(b - a, 6) for a, b in itertools.pairwise(starts)] == [0.25] * 8
    assert Pacer(0, now=lambda: clock[0], sleep=sleep).interval == 0


def test_the_window_starts_at_one_grows_and_halves_once_per_refusal() -> None:
    window = Window(8)
    assert window.size == 1
    for _ in range(7):
        window.accepted()
    assert window.size == 8  # slow start: one more per accepted message
    epoch = window.epoch
    window.refused(epoch, "421")
    window.refused(epoch, "421")  # the same burst: counted once
    assert window.size == 4
    for _ in range(4):
        window.accepted()
    assert window.size == 5  # after the first refusal: one more per window accepted
    window.refused(window.epoch, "451")
    window.refused(window.epoch, "451")
    assert window.size == 1


def test_the_shares_of_the_limits_add_up_to_them() -> None:
    for total in range(1, 12):
        for workers in range(1, 5):
            assert sum(Share(n, workers).part(total) for n in range(workers)) == total
