"""What a run would only discover late, checked before it starts.

A config can be valid as a file and still not work: a templates folder that does not exist or a
template that does not compile, a DKIM key that is missing or unreadable, the SMTP password's
variable unset. `newsletter validate` reports these with the schema's problems, and `send` and
`preview` run the same checks first, so nothing fails halfway through a day.

`notices` are what is worth knowing but stops nothing: addresses that only a server offering
SMTPUTF8 (RFC 6531) can carry, because their local part is not ASCII; a DKIM domain that does not
align with the From domain (DMARC); and what loading noted (`Config.notes`: `cs.ai` read as
`cs.AI`, a time zone such as `EST` that works but misleads).
"""

from __future__ import annotations

import os
import re
from email.utils import parseaddr

from newsletter.config import Config
from newsletter.errors import ConfigError, NewsletterError, Problem
from newsletter.files import read_small
from newsletter.mail import MAX_KEY_BYTES

_LOCATED = re.compile(r"^(?P<file>[^:\n]+):(?P<line>\d+): (?P<message>.*)$", re.S)


def problems(config: Config, *, backend: str | None = None, connects: bool = True) -> list[Problem]:
    """Every problem a run with `backend` (None: the config's) would meet; `connects` is false
    for runs that build messages without handing them over (preview, dry run)."""
    found = _templates(config) + _dkim(config) + _bounce_address(config)
    if connects:
        found += _smtp(config, backend) + _secret(config)
    return found


def notices(config: Config) -> list[Problem]:
    """What `validate` tells without failing, in file order: each address that needs a server
    offering SMTPUTF8 (the sender's: every message; a reader's: that reader's issue, which
    fails on a server without it while the others are sent), a DKIM domain out of DMARC
    alignment, and the notes of loading."""
    found = _smtputf8_notices(config) + _dkim_alignment(config) + config.notes
    return sorted(found, key=lambda problem: problem.line or 0)


def _smtputf8_notices(config: Config) -> list[Problem]:
    from newsletter.mail import needs_smtputf8

    found = []
    settings = config.newsletter
    sender = parseaddr(settings.sender)[1]
    if needs_smtputf8(sender):
        found.append(_problem(config, "newsletter.sender", _smtputf8(sender, "every message")))
    if settings.alerts_to and needs_smtputf8(settings.alerts_to):
        key, what = "newsletter.alerts_to", "alerts to it"
        found.append(_problem(config, key, _smtputf8(settings.alerts_to, what)))
    for index, reader in enumerate(config.readers):
        if needs_smtputf8(reader.email):
            key = f"subscribers[{index}].email"
            found.append(_problem(config, key, _smtputf8(reader.email, "this reader's issue")))
    return found


def _dkim_alignment(config: Config) -> list[Problem]:
    """DMARC (RFC 7489 3.1.1, relaxed) passes a DKIM signature only when its d= domain and the
    From domain have the same organizational domain: a signature of another domain is, to a
    receiver checking DMARC, no signature of the sender at all."""
    dkim = config.newsletter.dkim
    sender = parseaddr(config.newsletter.sender)[1].rpartition("@")[2]
    if dkim is None or not sender:
        return []
    try:
        sender = sender.encode("idna").decode("ascii").lower().rstrip(".")
    except UnicodeError:
        return []
    signer = dkim.domain.lower()
    if _organizational(signer) == _organizational(sender):
        return []
    parent = _organizational(sender)
    instead = sender if sender == parent else f"{sender} or its parent {parent}"
    message = (
        f"the DKIM domain {signer} does not align with the From domain {sender}: receivers "
        f"checking DMARC do not count this signature as the sender's; sign with d={instead}"
    )
    return [_problem(config, "newsletter.dkim.domain", message)]


# second-level labels under a country code that are registries, not organizations (co.uk)
_PUBLIC_SECOND_LEVEL = frozenset({"ac", "co", "com", "edu", "gob", "gov", "govt", "ne", "net",
                                  "or", "org", "ltd", "plc", "sch", "nic", "mil"})  # fmt: skip


def _organizational(domain: str) -> str:
    """The organizational domain, without a public suffix list: the last two labels, or three
    under a country code's registry such as `co.uk` or `com.au`."""
    labels = domain.split(".")
    registry = len(labels) > 2 and len(labels[-1]) == 2 and labels[-2] in _PUBLIC_SECOND_LEVEL
    return ".".join(labels[-3:] if registry else labels[-2:])


def _smtputf8(address: str, what: str) -> str:
    return (
        f"{address} has a non-ASCII local part: {what} can only be sent through an SMTP server "
        "that offers SMTPUTF8 (RFC 6531); without it, it fails"
    )


def check(config: Config, *, backend: str | None = None, connects: bool = True) -> None:
    """Raise `ConfigError` with every problem `problems` finds."""
    found = problems(config, backend=backend, connects=connects)
    if found:
        raise ConfigError(found)


def _problem(config: Config, key: str, message: str) -> Problem:
    return Problem(str(config.path), config.line_of(key), key, message)


def _templates(config: Config) -> list[Problem]:
    folder = config.templates_dir
    if config.newsletter.templates is not None and not folder.is_dir():
        return [_problem(config, "newsletter.templates", f"folder {folder} does not exist")]
    if not folder.is_dir():
        return []  # the built-in templates
    from newsletter.render.renderer import renderer_for

    try:
        renderer_for(config)  # loads and compiles every template of the issue
    except NewsletterError as exc:
        located = _LOCATED.match(str(exc))
        if located:  # a template's own file and line
            line = int(located["line"])
            return [Problem(located["file"], line, "", located["message"])]
        return [_problem(config, "newsletter.templates", str(exc))]
    return []


def _dkim(config: Config) -> list[Problem]:
    settings = config.newsletter.dkim
    if settings is None:
        return []
    path = config.base_dir / settings.private_key_path
    key = "newsletter.dkim.private_key_path"
    try:
        data = read_small(path, MAX_KEY_BYTES)
    except OSError as exc:
        return [_problem(config, key, f"cannot read the DKIM key {path}: {exc.strerror}")]
    from dkim.crypto import UnparsableKeyError, parse_pem_private_key

    try:
        parse_pem_private_key(data)
    except (UnparsableKeyError, ValueError) as exc:  # bad base64 is binascii.Error
        return [_problem(config, key, f"{path} is not a PEM private key: {exc}")]
    return []


def _bounce_address(config: Config) -> list[Problem]:
    """Room for the per-reader token in the Return-Path's local part (64 octets at most)."""
    from newsletter.tokens import BOUNCE_TOKEN_CHARS

    address = config.newsletter.bounce_address
    room = 64 - BOUNCE_TOKEN_CHARS - 1  # LOCAL+TOKEN
    if address is None or len(address.rpartition("@")[0].encode()) <= room:
        return []
    message = f"the part before @ must be at most {room} characters: a token is added to it"
    return [_problem(config, "newsletter.bounce_address", message)]


def _secret(config: Config) -> list[Problem]:
    """Links that need a secret have one: without it, `web_url` and `unsubscribe_url` would
    silently fall back to mailto links and drop the one-click header, and `bounce_address`
    could not name a reader in its Return-Path."""
    from newsletter.tokens import MIN_SECRET, SECRET_ENV, secret_from_env

    settings = config.newsletter
    keys = [
        key
        for key, value in (("newsletter.web_url", settings.web_url),
                           ("newsletter.unsubscribe_url", settings.unsubscribe_url),
                           ("newsletter.bounce_address", settings.bounce_address))
        if value
    ]  # fmt: skip
    if not keys:
        return []
    key = keys[0]
    secret = secret_from_env()
    if not secret:
        message = (
            f"links to it are signed with a secret read from ${SECRET_ENV}, which is not set "
            f"(make one with: python -c 'import secrets; print(secrets.token_urlsafe(32))')"
        )
        return [_problem(config, key, message)]
    if len(secret) < MIN_SECRET:
        message = f"${SECRET_ENV} is too short to sign links: use at least {MIN_SECRET} characters"
        return [_problem(config, key, message)]
    return []


def _smtp(config: Config, backend: str | None) -> list[Problem]:
    from newsletter.delivery.registry import chosen_backend

    smtp = config.newsletter.smtp
    if chosen_backend(config, backend) != "smtp":
        return []
    if smtp is None:
        return [_problem(config, "newsletter", "the smtp backend needs a newsletter.smtp block")]
    if smtp.username and not os.environ.get(smtp.password_env):
        message = f"the SMTP password is read from ${smtp.password_env}, which is not set"
        return [_problem(config, "newsletter.smtp.password_env", message)]
    return []
