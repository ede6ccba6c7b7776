"""Email addresses as the config writes them: checked without a DNS look-up and normalised as
email-validator does (`check_email`), and `Name <address>` mailboxes (`check_mailbox`).

Every reader's address is checked on every load: a plain ASCII address (`ada+news@example.org`,
almost all of them) is normalised from its domain's check alone, made once per domain; any
other goes through email-validator whole. The tests hold both ways to the same results.
"""

from __future__ import annotations

import re
from functools import lru_cache

from newsletter.checks import no_control, shown

MAX_LOCAL_PART = 64  # octets (RFC 5321 4.5.3.1.1)
MAX_LINE = 200  # characters of a title or a name: they go into headers (lines <= 998 octets)
MAX_PLAIN_ADDRESS = 200  # characters: within every length email-validator checks
_PLAIN_ADDRESS = re.compile(  # a dot-atom of common characters @ ASCII labels
    r"([A-Za-z0-9_%+-]+(?:\.[A-Za-z0-9_%+-]+)*)@([A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+)", re.ASCII
)
_CASE_INSENSITIVE_NAMES = frozenset(  # email-validator lower-cases these (RFC 2142)
    {"info", "marketing", "sales", "support", "abuse", "noc", "security", "postmaster",
     "hostmaster", "usenet", "news", "webmaster", "www", "uucp", "ftp"}
)  # fmt: skip
_NAME_SPECIALS = re.compile(r'[()<>\[\]:;@\\,"]')  # a display name with these must be quoted


def check_email(value: str) -> str:
    """A syntactically valid address (no DNS look-up), normalised as email-validator does.

    International addresses (`ada@bücher.de`, `用户@例子.广告`) are valid; the normalised form
    has the domain in Unicode (`ada@xn--bcher-kva.de` becomes `ada@bücher.de`)."""
    return _normalized_email(value.strip())


@lru_cache(maxsize=65536)  # the duplicate check and validation ask for the same addresses
def _normalized_email(value: str) -> str:
    return _plain_address(value) or _validated_email(value)


def _plain_address(value: str) -> str | None:
    """`_validated_email(value)` for a plain ASCII address (`ada.l+news@example.org`), from
    its domain's check alone, made once (`_plain_domain`): email-validator keeps such a local
    part as it is and writes such a domain in lower case. None for any other address."""
    match = _PLAIN_ADDRESS.fullmatch(value)
    if match is None or len(value) > MAX_PLAIN_ADDRESS:
        return None
    local, domain = match.groups()
    if len(local) > MAX_LOCAL_PART or local.lower() in _CASE_INSENSITIVE_NAMES:
        return None  # `Postmaster@` is written `postmaster@`
    return f"{local}@{domain.lower()}" if _plain_domain(domain) else None


@lru_cache(maxsize=1024)
def _plain_domain(domain: str) -> bool:
    """Whether email-validator takes `domain` and writes it in lower case."""
    try:
        return _validated_email(f"a@{domain}") == f"a@{domain.lower()}"
    except ValueError:
        return False


def _validated_email(value: str) -> str:
    from email_validator import EmailNotValidError, validate_email

    try:
        result = validate_email(value, check_deliverability=False)
    except EmailNotValidError as exc:
        raise ValueError(f"not a valid email address: {exc}") from exc
    # email-validator 2.3+ checks the local part's length only with `strict=True`, and then
    # in characters; RFC 5321 (and RFC 6531 for UTF-8) limits it to 64 octets
    octets = len(result.local_part.encode("utf-8"))
    if octets > MAX_LOCAL_PART:
        raise ValueError(
            "not a valid email address: the part before the @-sign is too long "
            f"({octets} bytes, at most {MAX_LOCAL_PART})"
        )
    return result.normalized


def check_mailbox(value: str) -> str:
    """Exactly one `Name <address>` or a bare address, returned as `Name <address>` with the
    address normalised and the name quoted when it needs to be."""
    text = no_control(value.strip())
    match = re.fullmatch(r"(?P<name>[^<>]*)<(?P<address>[^<>]*)>", text)
    if match:
        name, address = _display_name(match["name"]), match["address"].strip()
    elif text.count("<") > 1 or text.count(">") > 1:
        raise ValueError("expected exactly one address: write 'Name <address@example.org>'")
    elif "<" in text or ">" in text:
        raise ValueError("expected 'Name <address@example.org>' or an address")
    else:
        name, address = "", text
    if re.search(r"[,;\s]", address) or address.count("@") > 1:
        raise ValueError(
            f"expected exactly one address, not {shown(address)}: "
            "write 'Name <address@example.org>'"
        )
    if not address:
        raise ValueError("expected 'Name <address@example.org>' or an address")
    address = check_email(address)
    if not name:
        return address
    if len(name) > MAX_LINE:
        raise ValueError(f"the name is {len(name):,} characters long: at most {MAX_LINE}")
    if _NAME_SPECIALS.search(name) or "." in name:
        name = '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return f"{name} <{address}>"


def _display_name(text: str) -> str:
    """The name before `<address>`: plain words, or one double-quoted string."""
    name = text.strip()
    quoted = re.fullmatch(r'"((?:[^"\\]|\\.)*)"', name)
    if quoted:
        return re.sub(r"\\(.)", r"\1", quoted[1]).strip()
    if _NAME_SPECIALS.search(name):
        raise ValueError(
            f"the name {shown(name)} has characters that must be quoted: "
            f"write '\"{name}\" <address@example.org>'"
        )
    return " ".join(name.split())
