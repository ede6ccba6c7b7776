"""A sender that lost its claim (frozen for longer than its lease, while another host took the
issue over) lets no data out and leaves the other sender's row as it is: the ledger fences it
at the hand-over and at the finish."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from newsletter.delivery.base import Handover, Result
from newsletter.delivery.memory import MemoryBackend
from newsletter.demo import DEMO_DAY
from newsletter.mail import Message
from newsletter.status import DeliveryStatus
from newsletter.store import Store
from tests.sending import READERS, demo_config, send_day

DAY = date(2026, 7, 27)
OTHER = "another-host:4242:xx"


def test_the_hand_over_and_the_finish_of_a_lost_claim_change_nothing(
    state_at: Path | str,
) -> None:
    with Store(state_at) as store:
        assert store.claim("ada@example.org", DAY, "me:1:xx", resend_in_doubt=False)
        assert store.handing_over("ada@example.org", DAY, "me:1:xx")
        with store.transaction() as db:  # another host retook it once this one's lease ran out
            db.execute("UPDATE deliveries SET claimed_by = ?, handed_over = 0", (OTHER,))
        assert not store.handing_over("ada@example.org", DAY, "me:1:xx")
        assert not store.finish("ada@example.org", DAY, DeliveryStatus.SENT, message_id="<m>",
                                detail="250", paper_ids=["p"], claimant="me:1:xx")  # fmt: skip
        record = store.delivery("ada@example.org", DAY)
        assert record is not None and record.status is DeliveryStatus.SENDING
        assert store.delivered_paper_ids("ada@example.org") == set()
        assert store.finish("ada@example.org", DAY, DeliveryStatus.SENT, message_id="<m>",
                            detail="250", paper_ids=["p"], claimant=OTHER)  # fmt: skip


class Overtaken(MemoryBackend):
    """Sends like memory, but for `victim` another host takes the issue over just before the
    data would leave (as if this process had been frozen past its lease)."""

    def __init__(self, state: Path, victim: str) -> None:
        super().__init__()
        self.state, self.victim = state, victim

    def send(self, message: Message, handing_over: Handover = lambda: None) -> Result:
        if message.envelope.recipient == self.victim:
            with Store(self.state) as store, store.transaction() as db:
                db.execute("UPDATE deliveries SET claimed_by = ? WHERE subscriber = ?",
                           (OTHER, self.victim))  # fmt: skip
        return super().send(message, handing_over)


def test_a_sender_whose_issue_was_taken_over_sends_nothing_for_it(tmp_path: Path) -> None:
    path = demo_config(tmp_path, None)
    victim = READERS[1]
    backend = Overtaken(tmp_path / "newsletter.db", victim)
    report = send_day(path, backend)
    assert sorted(m.envelope.recipient for m in backend.sent) == sorted(
        r for r in READERS if r != victim
    )
    assert victim in report.in_flight and victim not in report.sent
    with Store(tmp_path / "newsletter.db") as store:
        record = store.delivery(victim, DEMO_DAY)
        assert record is not None and record.status is DeliveryStatus.SENDING  # the other's
        assert store.delivered_paper_ids(victim) == set()
