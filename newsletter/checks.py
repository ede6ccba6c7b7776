"""Plain value checks, standard library only: each returns the value (perhaps normalised) or
raises ValueError with a short message naming what is wrong. `fields.py` turns them into the
config's pydantic types."""

from __future__ import annotations

import difflib
import ipaddress
import re
from urllib.parse import SplitResult, parse_qs, urlsplit

SHOWN = 60  # characters of a refused value quoted in a message
MAX_URL = 512  # characters of the unsubscribe URL, carried whole in List-Unsubscribe
# C0 and C1 controls, DEL, line/paragraph separators, bidi embeddings, overrides and isolates
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_LABEL = r"(?!-)[A-Za-z0-9_-]{1,63}(?<!-)"
_HOSTNAME = re.compile(rf"^{_LABEL}(?:\.{_LABEL})*\.?$")
_URL_CHARACTERS = re.compile(r"^[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]*$")  # RFC 3986
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def shown(value: object) -> str:
    """`value` quoted for a message, cut to a readable length."""
    text = repr(value)
    return text if len(text) <= SHOWN else text[: SHOWN - 5] + "...'"


def did_you_mean(word: str, choices: list[str] | set[str] | frozenset[str]) -> str:
    """A ` (did you mean 'x'?)` suffix when a close match exists, else an empty string."""
    match = closest(word, choices)
    return f" (did you mean {match!r}?)" if match else ""


def closest(word: str, choices: list[str] | set[str] | frozenset[str]) -> str | None:
    """The choice most like `word`, if one is close enough to be what was meant."""
    if len(word) > SHOWN:
        return None
    matches = difflib.get_close_matches(word, sorted(choices), n=1, cutoff=0.6)
    return matches[0] if matches else None


def plural(count: int, word: str, many: str | None = None) -> str:
    """`1 subscriber`, `2 subscribers`, `0 papers`; `many` for an irregular plural."""
    return f"{count:,} {word if count == 1 else many or word + 's'}"


def no_control(value: str) -> str:
    found = _CONTROL.search(value)
    if found:
        where = f"at position {found.start() + 1}" if len(value) > 1 else ""
        raise ValueError(
            f"contains the control character U+{ord(found[0]):04X} {where}".rstrip()
            + "; write it on one line, without control characters"
        )
    return value


def not_too_long(text: str, limit: int) -> str:
    if len(text) > limit:
        raise ValueError(f"is {len(text):,} characters long: at most {limit} are allowed")
    return text


def check_host(value: str) -> str:
    """A host name (international names allowed) or an IP address, without a port."""
    host = value.strip()
    try:
        return str(ipaddress.ip_address(host.strip("[]")))
    except ValueError:
        pass
    head, colon, port = host.rpartition(":")
    if colon and port.isdigit() and head:
        raise ValueError(f"{shown(host)} has a port: write the host alone and `port: {port}`")
    try:
        ascii_host = host.encode("idna").decode("ascii")
    except UnicodeError:
        ascii_host = ""
    if not _HOSTNAME.match(ascii_host) or len(ascii_host.rstrip(".")) > 253:
        raise ValueError(f"not a host name {shown(host)}: expected e.g. 'smtp.example.org'")
    return host


def check_domain(value: str) -> str:
    """A DNS domain as DKIM writes it: ASCII, an international name in its `xn--` form."""
    try:
        ascii_domain = value.strip().encode("idna").decode("ascii").rstrip(".")
    except UnicodeError:
        ascii_domain = ""
    if not _HOSTNAME.match(ascii_domain) or "." not in ascii_domain or len(ascii_domain) > 253:
        raise ValueError(f"not a domain name {shown(value)}: expected e.g. 'example.org'")
    return ascii_domain


def check_selector(value: str) -> str:
    """A DKIM selector: DNS labels separated by dots (`mail`, `2026.news`)."""
    if not _HOSTNAME.match(value) or value.endswith("."):
        raise ValueError(f"not a DKIM selector {shown(value)}: letters, digits, '-' and '.'")
    return value


def check_env_name(value: str) -> str:
    """The name of an environment variable, e.g. `NEWSLETTER_SMTP_PASSWORD`."""
    if not _ENV_NAME.match(value):
        raise ValueError(
            f"not an environment variable name {shown(value)}: letters, digits and '_', "
            "e.g. NEWSLETTER_SMTP_PASSWORD"
        )
    return value


def check_https_url(value: str) -> str:
    """An absolute `https://` URL that a header and a link can carry as it is: ASCII, no
    spaces or control characters, no user name or password, no `#fragment`."""
    parts = _carried_url(value, local_http=False)
    if "#" in value:
        raise ValueError("must not contain a #fragment: the reader's token is added as ?t=...")
    if "t" in parse_qs(parts.query, keep_blank_values=True):
        raise ValueError("must not have a `t` parameter: the reader's token is added as t=...")
    return value


LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1")


def check_web_url(value: str) -> str:
    """The web app's public base URL: `https://host[/path]` (plain `http://` only for
    localhost, to try it out), without query or fragment; links are built below it."""
    parts = _carried_url(value, local_http=True)
    if parts.query or parts.fragment or "?" in value or "#" in value:
        raise ValueError("must be a base URL without ?query or #fragment: links are built below it")
    return value


def check_listen(value: str) -> str:
    """`HOST:PORT` for the web app to listen on (`[::1]:8080` for an IPv6 address)."""
    host, separator, port = value.rpartition(":")
    host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    if not separator or not host or not port.isdigit() or not 1 <= int(port) <= 65535:
        raise ValueError(f"must be HOST:PORT, such as 127.0.0.1:8080, not {shown(value)}")
    check_host(host)
    return value


def _carried_url(value: str, *, local_http: bool) -> SplitResult:
    """An absolute URL a header can carry as it is (https, or http for localhost when
    `local_http`): ASCII, no spaces or control characters, no user name or password."""
    if _CONTROL.search(value) or re.search(r"\s", value):
        raise ValueError("must not contain spaces, line breaks or control characters")
    not_too_long(value, MAX_URL)
    if not _URL_CHARACTERS.match(value):
        raise ValueError(
            "has characters a URL cannot carry as they are: percent-encode them (and write "
            "an international domain name in its xn-- form)"
        )
    parts = urlsplit(value)
    local = local_http and parts.scheme == "http" and parts.hostname in LOCAL_HOSTS
    if not local and (parts.scheme != "https" or not value.startswith("https://")):
        raise ValueError(
            "must be an https:// URL" + (" (http:// only for localhost)" if local_http else "")
        )
    try:
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError as exc:
        raise ValueError(f"has an invalid port: {exc}") from exc
    if parts.username is not None or parts.password is not None:
        raise ValueError("must not contain a user name or password (user@host)")
    if not parts.hostname or not (local or _is_host(parts.hostname)):
        raise ValueError(f"has no valid host name: {shown(value)}")
    return parts


def check_source_url(value: str) -> str:
    """An `http(s)://` URL, a `file://` URL or a local path (`{date}` may appear in any)."""
    if not value.strip():
        raise ValueError("must not be empty")
    no_control(value)
    scheme = urlsplit(value).scheme.lower()
    if scheme in ("http", "https"):
        host = urlsplit(value).hostname
        if not host or re.search(r"\s", value):
            raise ValueError(f"not a usable URL {shown(value)}: expected e.g. https://host/feed")
    elif scheme not in ("", "file") and len(scheme) > 1:  # one letter: a Windows drive
        raise ValueError(
            f"unsupported URL scheme {scheme!r}: use http(s)://, file:// or a local path"
        )
    return value


def _is_host(host: str) -> bool:
    try:
        check_host(host)
    except ValueError:
        return False
    return True


# spaces, C0 and C1 controls, separators, invisible and bidi characters: never in a link
_UNSAFE_IN_URL = re.compile(
    "[\\s\x00-\x1f\x7f-\x9f\u00ad\u061c\u180e\u200b-\u200f\u2028\u2029\u202a-\u202e"
    "\u2060-\u2064\u2066-\u2069\ufeff\\\\]"
)
_AUTHORITY = re.compile(r"(?:[^\W_][\w.-]*|\[[0-9a-fA-F:.]+\])(?::[0-9]{0,5})?")


def safe_url(value: str | None) -> str | None:
    """The stripped URL if it is an absolute http(s) URL with a plain host, else None: no
    user info (`https://arxiv.org@evil.example/` shows one host and opens another), no
    backslash (browsers read it as `/`), no `%` or odd characters in the host (bracketed IPv6
    aside), a valid port, no spaces, control or invisible characters. Parsers keep only such
    links, and rendering checks again (a link stored by an older release is held to it too).
    """
    url = (value or "").strip()
    if not url or _UNSAFE_IN_URL.search(url):
        return None
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  (raises ValueError on an invalid port)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    return url if _AUTHORITY.fullmatch(parts.netloc) else None
