"""What one run of `send` did, reader by reader: the report that `send` prints, `run` logs and
`alert_operator` reads, merged from every worker's share."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from datetime import date
from typing import Any

from newsletter.checks import plural


@dataclass
class SendReport:
    """What one run did, reader by reader (addresses as written in the config)."""

    day: date
    sent: list[str] = field(default_factory=list)
    already: list[str] = field(default_factory=list)  # sent earlier, or being sent elsewhere
    in_flight: list[str] = field(default_factory=list)  # of `already`: another sender has it
    no_papers: list[str] = field(default_factory=list)
    deferred: list[tuple[str, str]] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    in_doubt: list[tuple[str, str]] = field(default_factory=list)
    would_send: list[str] = field(default_factory=list)  # --dry-run
    warnings: list[str] = field(default_factory=list)
    sources: list[Any] = field(default_factory=list)  # fetching.SourceOutcome: failed or stale
    stopped: list[str] = field(default_factory=list)  # not tried: asked to stop, or halted
    halted: list[str] = field(default_factory=list)  # why sending stopped early (the state)
    elsewhere: list[tuple[str, str]] = field(default_factory=list)  # sent to another target
    suppressed: list[tuple[str, str]] = field(default_factory=list)  # (email, unsubscribed...)
    bounced: list[tuple[str, str]] = field(default_factory=list)  # suppressed by this run: why
    target: str = ""  # where this run's messages went
    workers: int = 1  # processes that sent

    @property
    def ok(self) -> bool:
        return not (
            self.failed or self.deferred or self.in_doubt or self.sources or self.halted
            or self.stopped or self.elsewhere
        )  # fmt: skip

    def merge(self, part: SendReport) -> None:
        """Add a worker's per-reader lists to this report."""
        for name in PER_READER:
            getattr(self, name).extend(getattr(part, name))
        self.halted += [reason for reason in part.halted if reason not in self.halted]

    def summary(self, dry_run: bool = False) -> str:
        """`DATE: sent N, skipped, already sent N, ...`: one line for a log or a terminal."""
        counts: list[tuple[str, Sequence[object]]] = [
            ("would send" if dry_run else "sent", self.would_send if dry_run else self.sent),
            ("skipped, already sent", self.already),
            ("no matching papers", self.no_papers),
            ("deferred", self.deferred),
            ("failed", self.failed),
            ("in doubt", self.in_doubt),
        ]
        if self.in_flight:
            counts.append(("of them being sent by another process", self.in_flight))
        if self.stopped:
            counts.append(("not tried", self.stopped))
        if self.elsewhere:
            counts.append(("sent earlier to another target", self.elsewhere))
        if self.suppressed:
            counts.append(("not mailed, unsubscribed or bounced", self.suppressed))
        where = f" to {self.target}" if self.target and not dry_run else ""
        line = ", ".join(f"{label} {len(rows)}" for label, rows in counts)
        return f"{self.day}{where}: {line}"

    def problems(self) -> list[str]:
        """One line per reader not delivered (readers with the same reason share a line when
        there are many), per failed or stale source, and why sending stopped early."""
        undelivered = {"deferred": self.deferred, "failed": self.failed, "in doubt": self.in_doubt}
        lines = [f"stopped sending: {reason}" for reason in self.halted]
        for label, rows in undelivered.items():
            lines += _grouped(label, rows)
        if self.stopped:
            why = "sending stopped" if self.halted else "the run was interrupted"
            lines.append(f"not tried: {plural(len(self.stopped), 'reader')} ({why}; sent next run)")
        for email, target in self.elsewhere:
            lines.append(
                f"sent earlier to {target}, not to {self.target}: {email} "
                "(--resend-new-target sends it here)"
            )
        lines += [f"source {o.status}: {o.source}, {o.day}: {o.detail}" for o in self.sources]
        return lines


def _grouped(label: str, rows: Sequence[tuple[str, str]], most: int = 3) -> list[str]:
    """`label: email: detail` per row, or `label: N readers: detail` for a detail shared by
    more than `most` readers (a refused connection is one line, not ten thousand)."""
    shared: dict[str, list[str]] = {}
    for email, detail in rows:
        shared.setdefault(detail, []).append(email)
    lines = []
    for detail, emails in shared.items():
        if len(emails) > most:
            lines.append(f"{label}: {len(emails)} readers ({emails[0]}, ...): {detail}")
        else:
            lines += [f"{label}: {email}: {detail}" for email in emails]
    return lines


PER_READER = [
    f.name
    for f in fields(SendReport)
    if f.name not in ("day", "warnings", "sources", "workers", "halted", "target")
]
