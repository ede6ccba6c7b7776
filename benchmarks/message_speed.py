"""Message building speed: the bytes written directly vs the `email` package's generator.

Usage: python benchmarks/message_speed.py [--messages 1000] [--per-issue 20] [--runs 5]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from datetime import UTC, date, datetime
from email.message import EmailMessage
from email.policy import SMTP
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from synthetic import papers

from newsletter.mail import Headers, build
from newsletter.models import Profile, SelectedPaper, Selection
from newsletter.render.issue import RenderedIssue
from newsletter.render.renderer import IssueRenderer, Newsletter

DAY = date(2026, 11, 23)
NOW = datetime(2026, 11, 23, 7, tzinfo=UTC)
HEADERS = Headers.of("Paper Digest", "Paper Digest <digest@example.org>")


def issues(count: int, per_issue: int) -> list[tuple[str, RenderedIssue]]:
    pool = papers(2_000)
    rng = random.Random(5)
    renderer = IssueRenderer(Newsletter("Paper Digest", "digest@example.org"))
    result = []
    for n in range(count):
        email = f"reader{n}@example.org"
        chosen = tuple(SelectedPaper(p, 0.9, ("keyword",)) for p in rng.sample(pool, per_issue))
        issue = renderer.render(Selection(Profile(email), DAY, chosen), email, "Zoë")
        result.append((email, issue))
    return result


def direct(email: str, issue: RenderedIssue) -> bytes:
    return build(issue, to_name="Zoë", to_email=email, day=DAY, headers=HEADERS, now=NOW).data


def generator(email: str, issue: RenderedIssue) -> bytes:
    message = EmailMessage(policy=SMTP)
    message["From"] = HEADERS.sender
    message["To"] = f"Zoë <{email}>"
    message["Subject"] = issue.subject
    message.set_content(issue.text)
    message.add_alternative(issue.html, subtype="html")
    return message.as_bytes()


def rate(method: object, built: list[tuple[str, RenderedIssue]]) -> float:
    started = time.perf_counter()
    for email, issue in built:
        method(email, issue)  # type: ignore[operator]
    return len(built) / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=1_000)
    parser.add_argument("--per-issue", type=int, default=20)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    built = issues(args.messages, args.per_issue)
    size = sum(len(direct(e, i)) for e, i in built) // len(built)
    fast = statistics.median(rate(direct, built) for _ in range(args.runs))
    slow = statistics.median(rate(generator, built) for _ in range(args.runs))
    print(f"{args.messages} messages of {args.per_issue} papers, ~{size / 1000:.0f} kB each, "
          f"median of {args.runs} runs, one core:")  # fmt: skip
    print(f"  bytes written directly (mail.build): {fast:,.0f} messages/s")
    print(f"  EmailMessage(policy=SMTP).as_bytes(): {slow:,.0f} messages/s")
    print(f"  ratio: {fast / slow:.1f}x")


if __name__ == "__main__":
    main()
