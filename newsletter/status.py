"""The states of one reader's issue in the delivery ledger, shared by SQL and Python.

    (no row) --claim--> sending --server's answer--> sent | failed | deferred | in_doubt
    deferred --claim--> sending                      (a temporary failure is tried again)
    sending, its sender gone, data not handed over --claim--> sending (nothing can have arrived)
    sending, its sender gone, data handed over   --claim--> in_doubt (it may have arrived)
    in_doubt --claim with resend_in_doubt--> sending

`sent` and `failed` are final; a delivery backend answers with one of the four outcomes.
The values are the strings stored in the `deliveries.status` column.
"""

from __future__ import annotations

from enum import StrEnum


class DeliveryStatus(StrEnum):
    SENDING = "sending"  # claimed by a sender; the server has not answered yet
    SENT = "sent"  # the server answered 250 to the data (or the file is written)
    DEFERRED = "deferred"  # temporary: tried again on the next run
    FAILED = "failed"  # permanent: the server refused this recipient or message
    IN_DOUBT = "in_doubt"  # the connection broke after the data, before the reply

    @property
    def reached_reader(self) -> bool:
        """Whether an issue in this state (may have) reached the reader."""
        return self in (DeliveryStatus.SENT, DeliveryStatus.IN_DOUBT)

    @property
    def final(self) -> bool:
        """Whether no run sends this issue again (in doubt only with --resend-in-doubt)."""
        return self in (DeliveryStatus.SENT, DeliveryStatus.FAILED)


class ReaderStatus(StrEnum):
    """Whether a reader is mailed: the YAML lists who subscribed, the state overrides it.

    The values are the strings stored in the `suppressions.status` column (`active` readers
    have no row)."""

    ACTIVE = "active"
    UNSUBSCRIBED = "unsubscribed"  # the reader asked (link, header, mail or the operator)
    BOUNCED = "bounced"  # the address does not take mail
    COMPLAINED = "complained"  # the reader reported an issue as spam

    @property
    def mailed(self) -> bool:
        return self is ReaderStatus.ACTIVE
