"""The delivery ledger: every transition of a reader's issue through `claim`, and what
`finish`, `handing_over` and `last_issue` make of the rows."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from newsletter.errors import StoreError
from newsletter.status import DeliveryStatus
from newsletter.store import LastIssue, Store
from newsletter.store.ledger import CLAIM_LEASE_SECONDS

READER = "ada@example.org"
DAY = date(2026, 7, 27)
HOST = socket.gethostname()
ME = f"{HOST}:{os.getpid()}:me"  # the claimant of each claim under test: a live process here

SENDING = DeliveryStatus.SENDING
SENT = DeliveryStatus.SENT
DEFERRED = DeliveryStatus.DEFERRED
FAILED = DeliveryStatus.FAILED
IN_DOUBT = DeliveryStatus.IN_DOUBT


@pytest.fixture(scope="module")
def dead_pid() -> int:
    """The id of a process of this host that has ended."""
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


@pytest.fixture
def store(state_at: Path | str) -> Iterator[Store]:
    """A fresh state, once on SQLite and once on PostgreSQL."""
    with Store(state_at) as store:
        yield store


@dataclass(frozen=True)
class Given:
    """A row as a previous run left it. `claimed_by` may name {host}, {live} (this process),
    {dead} (an ended process here) or {other} (a host that is not this one)."""

    status: DeliveryStatus | None  # None: no row at all
    claimed_by: str = "{host}:{live}:xx"
    handed_over: bool = False
    age: float = 0  # seconds since the row was last updated
    lease: float | None = None  # seconds its sender's lease has left (< 0: ran out); None: none


OTHER = "{other}:4242:xx"  # a claimant on another host
DEAD = "{host}:{dead}:xx"
EXPIRED = CLAIM_LEASE_SECONDS + 60

# name, the row left, claim with resend_in_doubt, claim's answer, status and attempts after
TRANSITIONS = [
    ("no row", Given(None), False, True, SENDING, 1),
    ("deferred", Given(DEFERRED), False, True, SENDING, 2),
    ("sent", Given(SENT), False, False, SENT, 1),
    ("sent, resending in doubt", Given(SENT), True, False, SENT, 1),
    ("failed", Given(FAILED), False, False, FAILED, 1),
    ("failed, resending in doubt", Given(FAILED), True, False, FAILED, 1),
    ("in doubt", Given(IN_DOUBT), False, False, IN_DOUBT, 1),
    ("in doubt, resending in doubt", Given(IN_DOUBT), True, True, SENDING, 2),
    ("live process here", Given(SENDING), False, False, SENDING, 1),
    ("live process here, handed over", Given(SENDING, handed_over=True), True, False, SENDING, 1),
    ("dead process here", Given(SENDING, DEAD), False, True, SENDING, 2),
    ("dead process here, handed over", Given(SENDING, DEAD, True), False, False, IN_DOUBT, 1),
    ("dead process here, handed over, resending in doubt",
     Given(SENDING, DEAD, True), True, True, SENDING, 2),
    ("process of another user here", Given(SENDING, "{host}:1:xx"), False, False, SENDING, 1),
    ("other host within its lease", Given(SENDING, OTHER), False, False, SENDING, 1),
    ("other host, lease expired", Given(SENDING, OTHER, age=EXPIRED), False, True, SENDING, 2),
    ("other host, lease expired, handed over",
     Given(SENDING, OTHER, True, EXPIRED), False, False, IN_DOUBT, 1),
    ("live process here, lease expired", Given(SENDING, age=EXPIRED), False, True, SENDING, 2),
    ("claimant without a pid", Given(SENDING, "{host}"), False, False, SENDING, 1),
    ("claimant whose pid is no number", Given(SENDING, "{host}:x:y"), False, False, SENDING, 1),
    ("claimant without a pid, lease expired",
     Given(SENDING, "{host}", age=EXPIRED), False, True, SENDING, 2),
    ("no claimant", Given(SENDING, ""), False, True, SENDING, 2),
    # a sender renews a lease while it lives: another host's rows are judged by it
    ("other host, live lease", Given(SENDING, OTHER, lease=40), False, False, SENDING, 1),
    ("other host, live lease, row old",
     Given(SENDING, OTHER, age=EXPIRED, lease=40), False, False, SENDING, 1),
    ("other host, lease ran out", Given(SENDING, OTHER, lease=-5), False, True, SENDING, 2),
    ("other host, lease ran out, handed over",
     Given(SENDING, OTHER, True, lease=-5), False, False, IN_DOUBT, 1),
    ("dead process here, live lease", Given(SENDING, DEAD, lease=40), False, True, SENDING, 2),
]  # fmt: skip


def leave(store: Store, given: Given, dead_pid: int) -> None:
    """Put `given` in the ledger: through the API, and by hand only for its age."""
    if given.status is None:
        return
    claimed_by = given.claimed_by.format(
        host=HOST, live=os.getpid(), dead=dead_pid, other=f"not-{HOST}"
    )
    assert store.claim(READER, DAY, claimed_by, resend_in_doubt=False)
    if given.handed_over:
        store.handing_over(READER, DAY)
    if given.status is not SENDING:
        store.finish(READER, DAY, given.status, message_id="<m@x>", detail="", paper_ids=["p1"])
    if given.age:
        updated = (datetime.now(UTC) - timedelta(seconds=given.age)).isoformat(timespec="seconds")
        execute(store, "UPDATE deliveries SET updated_at = ?", updated)
    if given.lease is not None:
        assert store.take_lease(f"sender:{claimed_by}", claimed_by, 60)
        until = datetime.now(UTC) + timedelta(seconds=given.lease)
        execute(store, "UPDATE leases SET expires_at = ?", until.isoformat(timespec="seconds"))


def execute(store: Store, sql: str, *parameters: object) -> list[tuple[object, ...]]:
    """Run `sql` on a connection of its own, as another program would."""
    with Store(store.location) as other, other.transaction() as db:
        cursor = db.execute(sql, parameters)
        return list(cursor.fetchall()) if sql.lstrip().upper().startswith("SELECT") else []


@pytest.mark.parametrize(
    ("given", "resend_in_doubt", "claimed", "status", "attempts"),
    [pytest.param(*row, id=name) for name, *row in TRANSITIONS],
)
def test_claim(
    store: Store,
    dead_pid: int,
    given: Given,
    resend_in_doubt: bool,
    claimed: bool,
    status: DeliveryStatus,
    attempts: int,
) -> None:
    leave(store, given, dead_pid)

    assert store.claim(READER, DAY, ME, resend_in_doubt=resend_in_doubt, horizon=7) is claimed

    record = store.delivery(READER, DAY)
    assert record is not None
    assert (record.status, record.attempts) == (status, attempts)
    assert isinstance(record.status, DeliveryStatus)
    row = execute(store, "SELECT claimed_by, handed_over, horizon FROM deliveries")
    if claimed:  # a fresh attempt: ours, nothing handed over yet, built with our horizon
        assert row == [(ME, 0, 7)]
    else:
        assert row[0][0] != ME
    if status is IN_DOUBT and given.status is SENDING:
        assert record.detail == "the sending process stopped before the server's reply"


def test_a_claim_of_another_day_or_reader_is_a_row_of_its_own(store: Store) -> None:
    assert store.claim(READER, DAY, ME, resend_in_doubt=False)
    assert store.claim("grace@example.org", DAY, ME, resend_in_doubt=False)
    assert store.claim(READER, DAY + timedelta(days=1), ME, resend_in_doubt=False)
    assert not store.claim(READER, DAY, ME, resend_in_doubt=False)
    assert [(r.subscriber, r.day) for r in store.deliveries()] == [
        (READER, DAY + timedelta(days=1)), (READER, DAY), ("grace@example.org", DAY),
    ]  # fmt: skip


def test_subscriber_keys_are_taken_as_given(store: Store) -> None:
    assert store.claim("Ada@Example.org", DAY, ME, resend_in_doubt=False)
    assert store.delivery(READER, DAY) is None
    assert store.claim(READER, DAY, ME, resend_in_doubt=False)


def test_only_a_sent_issue_counts_its_papers_as_delivered(store: Store) -> None:
    for outcome, reader in [(SENT, "a@x"), (FAILED, "b@x"), (DEFERRED, "c@x"), (IN_DOUBT, "d@x")]:
        assert store.claim(reader, DAY, ME, resend_in_doubt=False)
        store.finish(reader, DAY, outcome, message_id=None, detail="250 ok", paper_ids=["1", "2"])
    assert store.delivered_paper_ids("a@x") == {"1", "2"}
    for reader in ("b@x", "c@x", "d@x"):
        assert store.delivered_paper_ids(reader) == set()
    assert store.delivered_among(["a@x", "b@x"], ["1", "3"]) == {"a@x": {"1"}}
    assert store.delivery_counts(DAY) == {"sent": 1, "failed": 1, "deferred": 1, "in_doubt": 1}


@pytest.mark.parametrize("status", [SENT, FAILED, DEFERRED, IN_DOUBT])
def test_handing_over_changes_only_a_sending_row(store: Store, status: DeliveryStatus) -> None:
    store.handing_over(READER, DAY)
    assert store.deliveries() == []  # no row: nothing to change, nothing made
    assert store.claim(READER, DAY, ME, resend_in_doubt=False)
    store.finish(READER, DAY, status, message_id=None, detail="", paper_ids=[])
    store.handing_over(READER, DAY)
    assert store.claim("grace@example.org", DAY, ME, resend_in_doubt=False)
    store.handing_over("grace@example.org", DAY)
    handed = execute(store, "SELECT subscriber, status, handed_over FROM deliveries")
    assert sorted(handed) == [(READER, status, 0), ("grace@example.org", "sending", 1)]


def test_last_issue_is_the_latest_sent_or_in_doubt_before_the_day(store: Store) -> None:
    days = [DAY + timedelta(days=n) for n in range(6)]
    for n, status in enumerate([SENT, IN_DOUBT, FAILED, DEFERRED, SENDING]):
        assert store.claim(READER, days[n], ME, resend_in_doubt=False, horizon=10 * n)
        if status is not SENDING:
            store.finish(READER, days[n], status, message_id=None, detail="", paper_ids=[])
    assert store.last_issue(READER, days[0]) is None
    assert store.last_issue(READER, days[1]) == LastIssue(days[0], 0)
    assert store.last_issue(READER, days[2]) == LastIssue(days[1], 10)
    last = store.last_issue(READER, days[5])  # failed, deferred and sending do not count
    assert last == LastIssue(days[1], 10)
    assert last is not None and (last.day, last.horizon) == (days[1], 10)
    assert {last: "key"}[LastIssue(days[1], 10)] == "key"  # hashable: a dict key
    assert store.last_issue("grace@example.org", days[5]) is None


def test_an_issue_claimed_without_a_horizon_has_none(store: Store) -> None:
    assert store.claim(READER, DAY, ME, resend_in_doubt=False)
    store.finish(READER, DAY, SENT, message_id=None, detail="", paper_ids=[])
    assert store.last_issue(READER, DAY + timedelta(days=1)) == LastIssue(DAY, None)


def test_an_alert_is_first_only_once(store: Store) -> None:
    assert store.first_alert("source|arxiv|2026-07-27|failed")
    assert not store.first_alert("source|arxiv|2026-07-27|failed")
    assert store.first_alert("source|arxiv|2026-07-28|failed")


def test_an_issue_in_doubt_is_settled_by_the_operator_either_way(state_at: Path | str) -> None:
    day = date(2026, 7, 27)
    with Store(state_at) as store:
        for key, delivered in (("a@example.org", True), ("b@example.org", False)):
            assert store.claim(key, day, "me", resend_in_doubt=False)
            store.finish(key, day, DeliveryStatus.IN_DOUBT, message_id="<m>", detail="cut",
                         paper_ids=["2607.00001"])  # fmt: skip
            record = store.settle(key, day, delivered=delivered)
            assert record.status is (DeliveryStatus.SENT if delivered else DeliveryStatus.DEFERRED)
            assert "settled by the operator" in record.detail
        assert store.delivered_paper_ids("a@example.org") == {"2607.00001"}
        assert store.delivered_paper_ids("b@example.org") == set()
        assert store.claim("b@example.org", day, "me", resend_in_doubt=False)  # sent next run
        with pytest.raises(StoreError, match="not in doubt"):
            store.settle("a@example.org", day, delivered=False)


def test_a_sent_issue_is_taken_again_only_for_another_target_when_asked(
    state_at: Path | str,
) -> None:
    day = date(2026, 7, 27)
    with Store(state_at) as store:
        assert store.claim("a@example.org", day, "me", resend_in_doubt=False, target="file:///o")
        store.finish("a@example.org", day, DeliveryStatus.SENT, message_id="<m>", detail="ok",
                     paper_ids=[])  # fmt: skip
        smtp = "smtp://relay:587"
        assert not store.claim("a@example.org", day, "me", resend_in_doubt=False, target=smtp)
        assert not store.claim("a@example.org", day, "me", resend_in_doubt=False,
                               target="file:///o", retarget=True)  # fmt: skip
        assert store.claim("a@example.org", day, "me", resend_in_doubt=False, target=smtp,
                           retarget=True)  # fmt: skip
        record = store.delivery("a@example.org", day)
        assert record is not None and record.target == smtp and record.attempts == 2
