"""Classifying what comes back: bounces in the shapes Postfix, Exim, Gmail and qmail send them,
RFC 3464 and RFC 5965 examples, unsubscribes by mail, auto-replies, forgeries and hostile input.
Every test asserts the exact report, and no test may ever see a reader the message was not
made for."""

from __future__ import annotations

import random
import time
from base64 import b64encode
from datetime import date

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from newsletter.inbound import (
    Bounce,
    Complaint,
    Report,
    TooBig,
    Unrecognised,
    Unsubscribe,
    Unverified,
)
from newsletter.inbound.reports import MAX_BYTES, classify
from newsletter.tokens import Purpose, Signer

SIGNER = Signer("inbox-test-secret-0123456789")
STRANGER = Signer("another-newsletter-secret-987")
TODAY = date(2026, 7, 30)
ISSUE = date(2026, 7, 27)
BOUNCES = "bounces@digest.example.org"
SENDER = "Paper Digest <digest@example.org>"
ADA, GRACE, LINUS, ZOE = (
    "ada@example.org",
    "grace@example.net",
    "linus@example.com",
    "zoë@example.de",
)
READERS = [ADA, GRACE, LINUS, ZOE]


def run(raw: bytes, *, plain: bool = False, readers: list[str] = READERS) -> Report:
    started = time.monotonic()
    report = classify(raw, signer=SIGNER, readers_by_key=readers, bounce_address=BOUNCES,
                      sender=SENDER, today=TODAY, plain_unsubscribe=plain)  # fmt: skip
    assert time.monotonic() - started < 5, "classification must stay fast on any input"
    return report


def verp(key: str, day: date = ISSUE, signer: Signer = SIGNER, local: str = "bounces") -> str:
    return f"{local}+{signer.bounce_token(key, day)}@digest.example.org"


def crlf(text: str) -> bytes:
    return text.replace("\r\n", "\n").replace("\n", "\r\n").encode("utf-8")


def original(key: str, *, return_path: bool = True, unsubscribe: bool = True) -> str:
    """The headers of an issue as we send it, for the reports that quote it."""
    token = SIGNER.token(key, Purpose.UNSUBSCRIBE, ISSUE)
    lines = [f"Return-Path: <{verp(key)}>"] if return_path else []
    lines += ["From: Paper Digest <digest@example.org>", "To: redacted@example.invalid",
              "Subject: Paper Digest, 27 July 2026", "Date: Mon, 27 Jul 2026 07:00:00 +0000",
              "Message-ID: <20260727.abc@example.org>", "MIME-Version: 1.0"]  # fmt: skip
    if unsubscribe:
        lines.append(f"List-Unsubscribe: <https://digest.example.org/u/{token}>,\n "
                     f"<mailto:digest@example.org?subject=unsubscribe%20{token}>")  # fmt: skip
    return "\n".join([*lines, "Content-Type: text/plain; charset=utf-8"])


# ------------------------------------------------------------------------- bounce samples


def postfix_dsn(key: str = ADA, *, to: str | None = None, recipient: str | None = None,
                status: str = "5.1.1", action: str = "failed") -> bytes:  # fmt: skip
    """A Postfix bounce as it lands in the bounce mailbox (Return-Path and Delivered-To added)."""
    to = to or verp(key)
    recipient = recipient or key
    return crlf(f"""\
Return-Path: <>
Delivered-To: {to}
Received: by mail.digest.example.org (Postfix) id 4F1A2C0123; Mon, 27 Jul 2026 07:00:12 +0000 (UTC)
Date: Mon, 27 Jul 2026 07:00:12 +0000 (UTC)
From: MAILER-DAEMON@mail.digest.example.org (Mail Delivery System)
Subject: Undelivered Mail Returned to Sender
To: {to}
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status;
\tboundary="4F1A2C0123.1785135612/mail.digest.example.org"
Content-Transfer-Encoding: 8bit
Message-Id: <20260727070012.7B2C3C0124@mail.digest.example.org>

This is a MIME-encapsulated message.

--4F1A2C0123.1785135612/mail.digest.example.org
Content-Description: Notification
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: 8bit

This is the mail system at host mail.digest.example.org.

I'm sorry to have to inform you that your message could not
be delivered to one or more recipients. It's attached below.

<{recipient}>: host mx.example.org[203.0.113.5] said: 550 5.1.1
    <{recipient}>: Recipient address rejected: User unknown in virtual
    mailbox table (in reply to RCPT TO command)

--4F1A2C0123.1785135612/mail.digest.example.org
Content-Description: Delivery report
Content-Type: message/delivery-status

Reporting-MTA: dns; mail.digest.example.org
X-Postfix-Queue-ID: 4F1A2C0123
X-Postfix-Sender: rfc822; {to}
Arrival-Date: Mon, 27 Jul 2026 07:00:11 +0000 (UTC)

Final-Recipient: rfc822; {recipient}
Original-Recipient: rfc822;{recipient}
Action: {action}
Status: {status}
Remote-MTA: dns; mx.example.org
Diagnostic-Code: smtp; 550 {status} <{recipient}>: Recipient address rejected:
    User unknown in virtual mailbox table

--4F1A2C0123.1785135612/mail.digest.example.org
Content-Description: Undelivered Message Headers
Content-Type: text/rfc822-headers
Content-Transfer-Encoding: 8bit

{original(key)}

--4F1A2C0123.1785135612/mail.digest.example.org--
""")


def exim_dsn(key: str = GRACE) -> bytes:
    return crlf(f"""\
Return-path: <>
Envelope-to: {verp(key)}
Delivery-date: Mon, 27 Jul 2026 07:00:14 +0000
Received: from Debian-exim by mx.example.net with local (Exim 4.96)
\tid 1qXyZa-0001Ab-2C
\tfor {verp(key)}; Mon, 27 Jul 2026 07:00:14 +0000
X-Failed-Recipients: {key}
Auto-Submitted: auto-replied
From: Mail Delivery System <Mailer-Daemon@mx.example.net>
To: {verp(key)}
Content-Type: multipart/report; report-type=delivery-status; boundary=1785135614-eximdsn-1804289383
MIME-Version: 1.0
Subject: Mail delivery failed: returning message to sender
Message-Id: <E1qXyZa-0001Ab-2C@mx.example.net>
Date: Mon, 27 Jul 2026 07:00:14 +0000

--1785135614-eximdsn-1804289383
Content-type: text/plain; charset=us-ascii

This message was created automatically by mail delivery software.

A message that you sent could not be delivered to one or more of its
recipients. This is a permanent error. The following address(es) failed:

  {key}
    Unrouteable address

--1785135614-eximdsn-1804289383
Content-type: message/delivery-status

Reporting-MTA: dns; mx.example.net

Action: failed
Final-Recipient: rfc822;{key}
Status: 5.0.0

--1785135614-eximdsn-1804289383
Content-type: message/rfc822

{original(key)}

Your papers of the day.

--1785135614-eximdsn-1804289383--
""")


def gmail_dsn(key: str = LINUS) -> bytes:
    return crlf(f"""\
Delivered-To: {verp(key)}
Return-Path: <>
Received: by 2002:a05:6402:1234:b0:5a1:2345:6789 with SMTP id abc;
        Mon, 27 Jul 2026 00:00:15 -0700 (PDT)
X-Failed-Recipients: {key}
From: Mail Delivery Subsystem <mailer-daemon@googlemail.com>
To: {verp(key)}
Auto-Submitted: auto-replied
Subject: Delivery Status Notification (Failure)
Message-ID: <66a4b3c7.050a0220.1a2b3c.0000.GMR@mx.google.com>
Date: Mon, 27 Jul 2026 00:00:15 -0700 (PDT)
Content-Type: multipart/report; boundary="000000000000a1b2c3"; report-type=delivery-status
MIME-Version: 1.0

--000000000000a1b2c3
Content-Type: multipart/related; boundary="000000000000d4e5f6"

--000000000000d4e5f6
Content-Type: multipart/alternative; boundary="000000000000d4e5f7"

--000000000000d4e5f7
Content-Type: text/plain; charset="UTF-8"

** Address not found **

Your message wasn't delivered to {key} because the address couldn't be found, or is
unable to receive mail.

--000000000000d4e5f7
Content-Type: text/html; charset="UTF-8"

<html><body><p><b>Address not found</b></p></body></html>

--000000000000d4e5f7--

--000000000000d4e5f6--

--000000000000a1b2c3
Content-Type: message/delivery-status

Reporting-MTA: dns; googlemail.com
Received-From-MTA: dns; mail.digest.example.org
Arrival-Date: Mon, 27 Jul 2026 00:00:14 -0700 (PDT)
X-Original-Message-ID: <20260727.abc@example.org>

Final-Recipient: rfc822; {key}
Action: failed
Status: 5.1.1
Remote-MTA: dns; mx.example.com. (203.0.113.7, the server for the domain example.com.)
Diagnostic-Code: smtp; 550-5.1.1 The email account that you tried to reach does not exist.
 Please try 550-5.1.1 double-checking the recipient's email address for typos or
 550 5.1.1 unnecessary spaces. https://support.google.com/mail/?p=NoSuchUser
Last-Attempt-Date: Mon, 27 Jul 2026 00:00:15 -0700 (PDT)

--000000000000a1b2c3
Content-Type: message/rfc822

{original(key)}

Your papers of the day.

--000000000000a1b2c3--
""")


def rfc3464_dsn(key: str = ADA) -> bytes:
    """RFC 3464 appendix A.1, addressed to a VERP address: failed, but with 4.0.0."""
    return crlf(f"""\
Date: Thu, 7 Jul 1994 17:16:05 -0400
From: Mail Delivery Subsystem <MAILER-DAEMON@CS.UTK.EDU>
Message-Id: <199407072116.RAA14128@CS.UTK.EDU>
Subject: Returned mail: Cannot send message for 5 days
To: <{verp(key)}>
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status;
    boundary="RAA14128.773615765/CS.UTK.EDU"

--RAA14128.773615765/CS.UTK.EDU

   The original message was received at Sat, 2 Jul 1994 17:10:28 -0400
   from root@localhost

      ----- The following addresses had delivery problems -----
   <{key}>  (unrecoverable error)

--RAA14128.773615765/CS.UTK.EDU
content-type: message/delivery-status

Reporting-MTA: dns; cs.utk.edu

Original-Recipient: rfc822;{key}
Final-Recipient: rfc822;{key}
Action: failed
Status: 4.0.0
Diagnostic-Code: smtp; 426 connection timed out
Last-Attempt-Date: Thu, 7 Jul 1994 17:15:49 -0400

--RAA14128.773615765/CS.UTK.EDU
content-type: message/rfc822

[original message goes here]

--RAA14128.773615765/CS.UTK.EDU--
""")


def multi_recipient_dsn(key: str = ADA) -> bytes:
    """RFC 3464 appendix A.3's shape: several recipients, ours only delayed."""
    return crlf(f"""\
Date: Fri, 8 Jul 1994 09:21:47 -0400
From: Mail Delivery Subsystem <MAILER-DAEMON@CS.UTK.EDU>
Subject: Returned mail: User unknown
To: <{verp(key)}>
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status;
    boundary="JAA13167.773673707/CS.UTK.EDU"

--JAA13167.773673707/CS.UTK.EDU
content-type: text/plain; charset=us-ascii

   ----- The following addresses had delivery problems -----
<arathib@vnet.ibm.com>  (unrecoverable error)

--JAA13167.773673707/CS.UTK.EDU
content-type: message/delivery-status

Reporting-MTA: dns; cs.utk.edu

Original-Recipient: rfc822;arathib@vnet.ibm.com
Final-Recipient: rfc822;arathib@vnet.ibm.com
Action: failed
Status: 5.0.0 (permanent failure)
Diagnostic-Code: smtp; 550 'arathib@vnet.IBM.COM' is not a registered gateway user

Original-Recipient: rfc822;{key.upper()}
Final-Recipient: rfc822;{key.upper()}
Action: delayed
Status: 4.0.0 (hpnjld.njd.hp.com: host name lookup failure)

--JAA13167.773673707/CS.UTK.EDU--
""")


def qmail_bounce(key: str = ADA) -> bytes:
    return crlf(f"""\
Return-Path: <>
Delivered-To: {verp(key)}
From: MAILER-DAEMON@mx.example.com
To: {verp(key)}
Subject: failure notice
Date: 27 Jul 2026 07:00:20 -0000

Hi. This is the qmail-send program at mx.example.com.
I'm afraid I wasn't able to deliver your message to the following addresses.
This is a permanent error; I've given up. Sorry it didn't work out.

<{key}>:
Sorry, no mailbox here by that name. (#5.1.1)
""")


def vacation(key: str = ADA) -> bytes:
    return crlf(f"""\
Return-Path: <>
Delivered-To: {verp(key)}
From: Ada <{key}>
To: {verp(key)}
Subject: Automatic reply: Paper Digest, 27 July 2026
Auto-Submitted: auto-replied
X-Autoreply: yes
Date: Mon, 27 Jul 2026 07:01:00 +0000

I am out of the office until 3 August with limited access to email.
""")


# ---------------------------------------------------------------------------- bounces


def test_postfix_hard_bounce() -> None:
    report = run(postfix_dsn(ADA))
    assert isinstance(report, Bounce)
    assert (report.reader, report.day, report.hard, report.status) == (ADA, ISSUE, True, "5.1.1")
    assert report.reporter == "mail.digest.example.org"
    assert report.detail.startswith("smtp; 550 5.1.1 <ada@example.org>: Recipient address")


def test_exim_and_gmail_hard_bounces() -> None:
    exim = run(exim_dsn(GRACE))
    assert exim == Bounce(GRACE, ISSUE, True, "5.0.0", "5.0.0", "mx.example.net")
    gmail = run(gmail_dsn(LINUS))
    assert isinstance(gmail, Bounce)
    assert (gmail.reader, gmail.hard, gmail.status, gmail.reporter) == (
        LINUS, True, "5.1.1", "googlemail.com")  # fmt: skip
    assert "does not exist" in gmail.detail


@pytest.mark.parametrize(
    ("status", "action", "hard"),
    [("5.1.1", "failed", True), ("5.2.1", "failed", True), ("5.4.4", "failed", True),
     ("5.2.2", "failed", False), ("5.7.1", "failed", False), ("5.7.26", "failed", False),
     ("4.4.1", "failed", False), ("4.2.2", "delayed", False), ("5.1.1", "delayed", False)],
)  # fmt: skip
def test_hard_only_for_a_permanent_failure_of_the_address(
    status: str, action: str, hard: bool
) -> None:
    report = run(postfix_dsn(ADA, status=status, action=action))
    assert isinstance(report, Bounce)
    assert (report.reader, report.hard, report.status) == (ADA, hard, status)


def test_rfc3464_examples_are_soft() -> None:
    simple = run(rfc3464_dsn(ADA))
    assert simple == Bounce(ADA, ISSUE, False, "4.0.0", "smtp; 426 connection timed out",
                            "cs.utk.edu")  # fmt: skip
    several = run(multi_recipient_dsn(ADA))  # another recipient failed; ours was delayed
    assert several == Bounce(ADA, ISSUE, False, "4.0.0", "4.0.0", "cs.utk.edu")


def test_success_notices_are_not_bounces() -> None:
    for action in ("delivered", "relayed", "expanded"):
        assert run(postfix_dsn(ADA, action=action, status="2.0.0")) == Unrecognised(
            f"a delivery report with action {action}"
        )


def test_a_bounce_without_delivery_status_fields_is_soft() -> None:
    assert run(qmail_bounce(ADA)) == Bounce(ADA, ISSUE, False, "", "failure notice", "")


def test_the_issue_date_comes_from_the_token() -> None:
    day = date(2026, 7, 20)
    report = run(postfix_dsn(ADA, to=verp(ADA, day)))
    assert isinstance(report, Bounce) and report.day == day


def test_global_delivery_status_for_an_internationalised_address() -> None:
    raw = postfix_dsn(ZOE).replace(b"message/delivery-status", b"message/global-delivery-status")
    raw = raw.replace(b"rfc822; " + ZOE.encode(), b"utf-8; " + ZOE.upper().encode())
    report = run(raw)
    assert isinstance(report, Bounce)
    assert (report.reader, report.hard) == (ZOE, True)


def test_auto_replies_are_not_bounces() -> None:
    assert run(vacation(ADA)) == Unrecognised("an automatic reply")
    plain = vacation(ADA).replace(b"Auto-Submitted: auto-replied\r\nX-Autoreply: yes\r\n", b"")
    assert run(plain) == Unrecognised("an automatic reply")  # by its subject


# ------------------------------------------------------------------ forged and foreign bounces


def test_a_token_for_one_reader_cannot_bounce_another() -> None:
    report = run(postfix_dsn(ADA, recipient=GRACE))
    assert report == Unverified(
        "bounce", "the report does not name the address its token was made for"
    )


def test_bounces_that_are_not_ours() -> None:
    no_token = postfix_dsn(ADA, to=BOUNCES)
    assert run(no_token) == Unverified("bounce", "not sent to a bounce address of ours")
    other_local = postfix_dsn(ADA, to=verp(ADA, local="returns"))
    assert run(other_local) == Unverified("bounce", "not sent to a bounce address of ours")
    other_domain = postfix_dsn(ADA, to=verp(ADA).replace("digest.example.org", "evil.example"))
    assert run(other_domain) == Unverified("bounce", "not sent to a bounce address of ours")
    foreign = postfix_dsn(ADA, to=verp(ADA, signer=STRANGER))
    assert run(foreign) == Unverified("bounce", "no valid token in its bounce address")
    left = run(postfix_dsn(ADA), readers=[GRACE, LINUS])  # Ada left the config
    assert left == Unverified("bounce", "no valid token in its bounce address")


def test_the_bounce_address_is_matched_without_case() -> None:
    report = run(postfix_dsn(ADA, to=verp(ADA).upper()))
    assert isinstance(report, Bounce) and report.reader == ADA


def test_tokens_of_two_readers_are_refused() -> None:
    raw = postfix_dsn(ADA).replace(b"\nTo: " + verp(ADA).encode(), b"\nTo: " + verp(GRACE).encode())
    assert run(raw) == Unverified("bounce", "tokens of several readers in its bounce address")


def test_without_a_bounce_address_no_bounce_is_applied() -> None:
    report = classify(postfix_dsn(ADA), signer=SIGNER, readers_by_key=READERS,
                      bounce_address=None, sender=SENDER, today=TODAY)  # fmt: skip
    assert report == Unverified("bounce", "no bounce_address is configured")


# ------------------------------------------------------------------------- complaints


def arf(reported: str, *, kind: str = "abuse", part: str = "message/rfc822") -> bytes:
    """RFC 5965 appendix B, quoting `reported`."""
    return crlf(f"""\
From: <abusedesk@example.com>
Date: Thu, 8 Mar 2005 17:40:36 EDT
Subject: FW: Earn money
To: <{BOUNCES}>
MIME-Version: 1.0
Content-Type: multipart/report; report-type=feedback-report;
     boundary="part1_13d.2e68ed54_boundary"

--part1_13d.2e68ed54_boundary
Content-Type: text/plain; charset="US-ASCII"
Content-Transfer-Encoding: 7bit

This is an email abuse report for an email message received from IP
192.0.2.1 on Thu, 8 Mar 2005 14:00:00 EDT.  For more information
about this format please see http://www.mipassoc.org/arf/.

--part1_13d.2e68ed54_boundary
Content-Type: message/feedback-report

Feedback-Type: {kind}
User-Agent: SomeGenerator/1.0
Version: 1
Original-Mail-From: <somespammer@example.net>
Original-Rcpt-To: <{GRACE}>
Received-Date: Thu, 8 Mar 2005 14:00:00 EDT
Source-IP: 192.0.2.1
Authentication-Results: mail.example.com;
               spf=fail smtp.mail=somespammer@example.com
Reported-Domain: example.net
Removal-Recipient: {GRACE}

--part1_13d.2e68ed54_boundary
Content-Type: {part}
Content-Disposition: inline

{reported}

Spam Spam Spam
--part1_13d.2e68ed54_boundary--
""")


RFC5965_ORIGINAL = """\
From: <somespammer@example.net>
Received: from mailserver.example.net (mailserver.example.net
        [192.0.2.1]) by example.com with ESMTP id M63d4137594e46;
        Thu, 08 Mar 2005 14:00:00 -0400
To: <Undisclosed Recipients>
Subject: Earn money
MIME-Version: 1.0
Content-type: text/plain
Message-ID: 8787KJKJ3K4J3K4J3K4J3.mail@example.net
Date: Thu, 02 Sep 2004 12:31:03 -0500"""


def test_a_complaint_found_by_the_return_path() -> None:
    report = run(arf(original(LINUS, unsubscribe=False)))
    assert report == Complaint(LINUS, "example.com")


def test_a_complaint_found_by_the_list_unsubscribe_token() -> None:
    report = run(arf(original(LINUS, return_path=False), part="text/rfc822-headers"))
    assert report == Complaint(LINUS, "example.com")


def test_a_complaint_never_goes_by_an_address() -> None:
    # the report names Grace in Original-Rcpt-To and Removal-Recipient: never trusted
    assert run(arf(RFC5965_ORIGINAL)) == Unverified(
        "complaint", "no token of ours in the reported message"
    )


def test_a_complaint_quoting_tokens_of_two_readers() -> None:
    mixed = original(LINUS, unsubscribe=False) + "\n" + original(ADA, return_path=False)
    assert run(arf(mixed)) == Unverified(
        "complaint", "tokens of several readers in the reported message"
    )


def test_feedback_that_is_not_a_complaint() -> None:
    assert run(arf(original(LINUS), kind="not-spam")) == Unrecognised(
        "a feedback report of type not-spam"
    )


# ---------------------------------------------------------------------- unsubscribes


def unsubscribe_mail(subject: str, sender: str = ADA, body: str = "", extra: str = "") -> bytes:
    return crlf(f"""\
{extra}From: Ada Lovelace <{sender}>
To: Paper Digest <digest@example.org>
Subject: {subject}
Date: Tue, 28 Jul 2026 10:00:00 +0200
Message-ID: <unsub.1@example.org>
MIME-Version: 1.0
Content-Type: text/plain; charset=utf-8

{body}
""")


def test_the_mailto_unsubscribe_with_its_token() -> None:
    token = SIGNER.token(GRACE, Purpose.UNSUBSCRIBE, ISSUE)
    encoded = b64encode(f"Unsubscribe {token}".encode()).decode()
    for subject in (f"unsubscribe {token}", f"Re: unsubscribe {token}",
                    f"Fwd: RE: UNSUBSCRIBE {token}", f"=?UTF-8?Q?unsubscribe_{token}?=",
                    f"=?utf-8?B?{encoded}?=", f"AW: Re[2]: Unsubscribe   {token}  "):  # fmt: skip
        # the token names the reader, whoever sends the mail
        assert run(unsubscribe_mail(subject, sender=ADA)) == Unsubscribe(GRACE, "token")


def test_tokens_that_do_not_unsubscribe() -> None:
    unverified = Unverified(
        "unsubscribe", "its token is not ours, altered, expired or of a reader no longer listed"
    )
    feedback = SIGNER.token(ADA, Purpose.FEEDBACK, ISSUE)
    assert run(unsubscribe_mail(f"unsubscribe {feedback}")) == unverified
    token = SIGNER.token(ADA, Purpose.UNSUBSCRIBE, ISSUE)
    altered = token[:-2] + ("AA" if token[-2:] != "AA" else "BA")
    assert run(unsubscribe_mail(f"unsubscribe {altered}")) == unverified
    foreign = STRANGER.token(ADA, Purpose.UNSUBSCRIBE, ISSUE)
    assert run(unsubscribe_mail(f"unsubscribe {foreign}")) == unverified
    assert run(unsubscribe_mail(f"unsubscribe {token}"), readers=[GRACE]) == unverified


PASS = """\
Authentication-Results: mx.digest.example.org;
 dkim=pass header.d=example.org header.s=s1;
 spf=pass smtp.mailfrom=example.org;
 dmarc=pass (p=reject dis=none) header.from=example.org
"""


def test_plain_unsubscribes_are_off_by_default() -> None:
    report = run(unsubscribe_mail("unsubscribe", extra=PASS))
    assert report == Unverified("unsubscribe", "no token (plain unsubscribes are not accepted)")


def test_a_plain_unsubscribe_needs_an_authenticated_reader() -> None:
    assert run(unsubscribe_mail("unsubscribe", extra=PASS), plain=True) == Unsubscribe(
        ADA, "address"
    )
    body = unsubscribe_mail(
        "Re: Paper Digest, 27 July", body="\n  Unsubscribe\n\nThanks", extra=PASS
    )
    assert run(body, plain=True) == Unsubscribe(ADA, "address")
    dkim_only = ("Authentication-Results: mx.digest.example.org; dkim=pass (2048-bit key)"
                 " header.d=example.org; dmarc=none\n")  # fmt: skip
    assert run(unsubscribe_mail("unsubscribe", extra=dkim_only), plain=True) == Unsubscribe(
        ADA, "address"
    )
    not_authenticated = Unverified("unsubscribe", "no token, and no dmarc=pass or dkim=pass")
    assert run(unsubscribe_mail("unsubscribe"), plain=True) == not_authenticated
    failed = PASS.replace("dmarc=pass", "dmarc=fail").replace("dkim=pass", "dkim=fail")
    assert run(unsubscribe_mail("unsubscribe", extra=failed), plain=True) == not_authenticated
    other = PASS.replace("example.org", "attacker.example")
    assert run(unsubscribe_mail("unsubscribe", extra=other), plain=True) == not_authenticated
    forged_below = failed + PASS  # only the topmost header is the receiving server's
    assert run(unsubscribe_mail("unsubscribe", extra=forged_below), plain=True) == (
        not_authenticated
    )


def test_a_plain_unsubscribe_from_someone_else() -> None:
    stranger = Unverified("unsubscribe", "no token, and not from exactly one reader")
    not_a_reader = unsubscribe_mail("unsubscribe", sender="eve@example.org", extra=PASS)
    assert run(not_a_reader, plain=True) == stranger
    two = unsubscribe_mail("unsubscribe", extra=PASS).replace(
        b"From: Ada Lovelace <ada@example.org>", b"From: ada@example.org, grace@example.net"
    )
    assert run(two, plain=True) == stranger


def test_other_mail_is_left_alone() -> None:
    reply = unsubscribe_mail("Re: Paper Digest, 27 July", body="Great issue, thanks!")
    assert run(reply) == Unrecognised("not a report and not an unsubscribe")
    assert run(unsubscribe_mail("unsubscribe me please")) == Unrecognised(
        "not a report and not an unsubscribe"
    )
    token = SIGNER.token(ADA, Purpose.UNSUBSCRIBE, ISSUE)
    ours = unsubscribe_mail(f"unsubscribe {token}", sender="digest@example.org")
    assert run(ours) == Unrecognised("from the newsletter's own address")


# ----------------------------------------------------------------------- hostile input


def test_too_big() -> None:
    raw = postfix_dsn(ADA) + b"x" * (3 * 1024 * 1024)
    assert run(raw) == TooBig(len(raw))
    assert not isinstance(run(postfix_dsn(ADA) + b"x" * (MAX_BYTES // 2)), TooBig)


def test_ten_thousand_parts() -> None:
    parts = b"".join(b"--b\r\nContent-Type: message/delivery-status\r\n\r\nAction: failed\r\n\r\n"
                     for _ in range(10_000))  # fmt: skip
    head = f"To: {verp(ADA)}\r\nContent-Type: multipart/report; report-type=delivery-status; "
    raw = head.encode() + b'boundary="b"\r\n\r\n' + parts + b"--b--\r\n"
    assert run(raw) == Unrecognised("more than 1,000 MIME boundaries")


def test_deep_nesting() -> None:
    levels = b"".join(b'Content-Type: multipart/mixed; boundary="b%d"\r\n\r\n--b%d\r\n' % (i, i)
                      for i in range(990))  # fmt: skip
    report = run(f"To: {verp(ADA)}\r\n".encode() + levels + b"\r\nunsubscribe\r\n")
    assert isinstance(report, Unrecognised)


def test_binary_garbage() -> None:
    rng = random.Random(7)
    for size in (0, 1, 100, 10_000, 1_000_000):
        assert isinstance(run(rng.randbytes(size)), Unrecognised)


def test_overlong_and_repeated_headers() -> None:
    long_to = postfix_dsn(ADA).replace(
        b"Delivered-To: ", b"Delivered-To: " + b"x" * 100_000 + b", "
    )
    long_to = long_to.replace(b"\r\nTo: " + verp(ADA).encode(), b"\r\nTo: nobody@example.org")
    assert run(long_to) == Unverified("bounce", "not sent to a bounce address of ours")
    comments = (
        b"From: " + b"(" * 100_000 + b"a@b" + b")" * 100_000 + b"\r\nSubject: unsubscribe\r\n\r\n"
    )
    assert run(comments, plain=True) == Unverified(
        "unsubscribe", "no token, and not from exactly one reader"
    )
    many = b"To: a@b.example\r\n" * 100_000 + b"Subject: x\r\n\r\nbody\r\n"
    assert run(many) == Unrecognised("not a report and not an unsubscribe")


def test_non_utf8_and_bad_charsets() -> None:
    latin = postfix_dsn(ADA).replace(b"The mail system at host", b"Le syst\xe8me de courrier \xff")
    report = run(latin)
    assert isinstance(report, Bounce) and (report.reader, report.hard) == (ADA, True)
    token = SIGNER.token(ADA, Purpose.UNSUBSCRIBE, ISSUE)
    raw = unsubscribe_mail(f"unsubscribe {token}").replace(b"charset=utf-8", b"charset=x-nonsense")
    assert run(raw) == Unsubscribe(ADA, "token")  # the subject is enough
    body_only = unsubscribe_mail("hello", body="unsubscribe").replace(
        b"charset=utf-8", b"charset=x-nonsense"
    )
    assert isinstance(run(body_only, plain=True), Unrecognised)
    mangled = unsubscribe_mail(b"unsubscribe \xe9\xff".decode("latin-1"))
    assert run(mangled) == Unrecognised("not a report and not an unsubscribe")


def test_truncated_reports_never_name_another_reader() -> None:
    """Every prefix of a real bounce: never an exception, never anyone but Ada, and hard only
    once the whole status was read."""
    raw = postfix_dsn(ADA)
    status_end = raw.index(b"Status: 5.1.1") + len(b"Status: 5.1.1")
    for end in range(0, len(raw), 7):
        report = run(raw[:end])
        assert getattr(report, "reader", ADA) == ADA, end
        if isinstance(report, Bounce) and report.hard:
            assert end >= status_end, end


def test_malformed_mime() -> None:
    unterminated = postfix_dsn(ADA).replace(
        b"--4F1A2C0123.1785135612/mail.digest.example.org--", b""
    )
    report = run(unterminated)
    assert isinstance(report, Bounce) and report.reader == ADA
    no_boundary = postfix_dsn(ADA).replace(
        b'\tboundary="4F1A2C0123.1785135612/mail.digest.example.org"', b"\tcharset=x"
    )
    assert run(no_boundary) == Unrecognised("an automatic reply")  # not a report any more
    bad_encoding = arf(original(LINUS)).replace(
        b"Content-Type: message/rfc822",
        b"Content-Type: text/rfc822-headers\r\nContent-Transfer-Encoding: base64",
    )
    assert isinstance(run(bad_encoding), Unverified | Complaint | Unrecognised)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    sample=st.sampled_from([postfix_dsn(ADA), exim_dsn(ADA), gmail_dsn(ADA), arf(original(ADA))]),
    cuts=st.lists(st.tuples(st.integers(0, 6000), st.binary(max_size=40)), max_size=4),
)
def test_mangled_reports_never_name_another_reader(
    sample: bytes, cuts: list[tuple[int, bytes]]
) -> None:
    """Bytes replaced anywhere in a report of Ada's: never an exception, never anyone else."""
    raw = sample
    for at, junk in cuts:
        at %= len(raw)
        raw = raw[:at] + junk + raw[at + len(junk) :]
    report = run(raw, plain=True)
    assert getattr(report, "reader", ADA) == ADA
