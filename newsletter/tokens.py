"""Signed, opaque tokens for the links in an issue: who the reader is and what the link may do.

A token is 42 URL-safe characters: a version, the purpose (unsubscribe, resubscribe, feedback,
the issue on the web), the issue date it was made for, a reader reference and an HMAC-SHA256
tag over all of it (and over the paper a feedback link is about). The reader reference is a
keyed hash of the address, so no address appears in a URL and none can be guessed or counted
without the secret; the server maps it back by hashing the addresses it knows.

Key rotation: tokens are made with the current secret; a previous secret
(`$NEWSLETTER_SECRET_PREVIOUS`, several separated by spaces) still verifies tokens made for
issues of the last `ROTATION_GRACE_DAYS` days, so links in recent mail keep working while old
ones signed with a retired key stop.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from enum import StrEnum

SECRET_ENV = "NEWSLETTER_SECRET"
LEGACY_SECRET_ENV = "NEWSLETTER_UNSUBSCRIBE_SECRET"  # the name before the web app; still read
PREVIOUS_SECRET_ENV = "NEWSLETTER_SECRET_PREVIOUS"
MIN_SECRET = 16  # characters: shorter secrets can be guessed offline from one token
ROTATION_GRACE_DAYS = 60

VERSION = 1
EPOCH = date(2000, 1, 1)
REF_BYTES = 10
TAG_BYTES = 16
TOKEN_BYTES = 1 + 1 + 3 + REF_BYTES + TAG_BYTES  # 31 bytes, 42 characters


class Purpose(StrEnum):
    UNSUBSCRIBE = "u"
    RESUBSCRIBE = "r"
    FEEDBACK = "f"
    ISSUE = "i"
    BOUNCE = "b"  # the Return-Path of one reader's issue (VERP)


BOUNCE_TAG_BYTES = 10
BOUNCE_TOKEN_CHARS = 37  # base32 of ref + day + tag: 23 bytes, lower case


@dataclass(frozen=True)
class Verified:
    """A token that checked out: whose (a reader reference under `generation`) and which day."""

    ref: bytes
    generation: int  # 0: the current secret; 1, 2...: previous ones
    day: date


def secret_from_env(environ: Mapping[str, str] | None = None) -> str | None:
    """`$NEWSLETTER_SECRET`, else the older `$NEWSLETTER_UNSUBSCRIBE_SECRET`; None if neither."""
    env = os.environ if environ is None else environ
    return env.get(SECRET_ENV) or env.get(LEGACY_SECRET_ENV) or None


def previous_from_env(environ: Mapping[str, str] | None = None) -> tuple[str, ...]:
    env = os.environ if environ is None else environ
    return tuple(env.get(PREVIOUS_SECRET_ENV, "").split())


@dataclass(frozen=True)
class Signer:
    """Makes and checks tokens with a current secret and any previous ones."""

    secret: str
    previous: tuple[str, ...] = ()
    grace_days: int = ROTATION_GRACE_DAYS
    _keys: tuple[bytes, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        keys = tuple(_derive(s) for s in (self.secret, *self.previous))
        object.__setattr__(self, "_keys", keys)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Signer | None:
        secret = secret_from_env(environ)
        return cls(secret, previous_from_env(environ)) if secret else None

    @property
    def generations(self) -> int:
        return len(self._keys)

    def ref(self, reader_key: str, generation: int = 0) -> bytes:
        """The reader reference of an address key under one generation of the secret."""
        key = self._keys[generation]
        return hmac.new(key, b"reader\0" + reader_key.encode(), hashlib.sha256).digest()[:REF_BYTES]

    def refs(self, reader_keys: Iterable[str]) -> list[dict[bytes, str]]:
        """For each generation, reader reference -> address key."""
        keys = list(reader_keys)
        return [{self.ref(k, g): k for k in keys} for g in range(self.generations)]

    def token(self, reader_key: str, purpose: Purpose, day: date, subject: str = "") -> str:
        """A token for `purpose` by this reader, made for the issue of `day`; `subject` (the
        paper of a feedback link) is bound into the tag but not carried."""
        offset = (day - EPOCH).days
        if not 0 <= offset < 1 << 24:
            raise ValueError(f"no token for the date {day}")
        head = bytes([VERSION]) + purpose.value.encode() + offset.to_bytes(3, "big")
        body = head + self.ref(reader_key)
        tag = _tag(self._keys[0], body, subject)
        return base64.urlsafe_b64encode(body + tag).decode().rstrip("=")

    def verify(
        self, token: str, purpose: Purpose, today: date, subject: str = ""
    ) -> Verified | None:
        """The token's reader reference and day if it is ours, for `purpose` (and `subject`),
        and not from a retired secret's grace period; None for anything else."""
        if len(token) != 42 or not token.isascii():
            return None
        try:
            raw = base64.urlsafe_b64decode(token + "==")
        except ValueError:
            return None
        if len(raw) != TOKEN_BYTES or raw[0] != VERSION or raw[1:2] != purpose.value.encode():
            return None
        if base64.urlsafe_b64encode(raw).decode().rstrip("=") != token:
            return None  # the spare bits of the last character are not ours to ignore
        body, tag = raw[:-TAG_BYTES], raw[-TAG_BYTES:]
        for generation, key in enumerate(self._keys):
            if hmac.compare_digest(_tag(key, body, subject), tag):
                try:
                    day = EPOCH + timedelta(days=int.from_bytes(raw[2:5], "big"))
                except OverflowError:
                    return None  # signed by us, so never; but a date is not ours to trust
                if generation and (today - day).days > self.grace_days:
                    return None
                return Verified(body[5:], generation, day)
        return None

    def bounce_token(self, reader_key: str, day: date) -> str:
        """The token of a reader's Return-Path (`bounces+TOKEN@domain`): lower-case base32, as
        local parts are compared without case by some relays; 37 characters."""
        offset = (day - EPOCH).days.to_bytes(3, "big")
        body = self.ref(reader_key) + offset
        tag = _tag(self._keys[0], Purpose.BOUNCE.value.encode() + body, "")[:BOUNCE_TAG_BYTES]
        return base64.b32encode(body + tag).decode().rstrip("=").lower()

    def verify_bounce(self, token: str, today: date) -> Verified | None:
        """The reader reference and issue date of a Return-Path token; None if it is not ours."""
        token = token.strip().lower()
        if len(token) != BOUNCE_TOKEN_CHARS or not token.isascii():
            return None
        try:
            raw = base64.b32decode(token.upper() + "===")
        except ValueError:
            return None
        if base64.b32encode(raw).decode().rstrip("=").lower() != token:
            return None
        body, tag = raw[:-BOUNCE_TAG_BYTES], raw[-BOUNCE_TAG_BYTES:]
        for generation, key in enumerate(self._keys):
            expected = _tag(key, Purpose.BOUNCE.value.encode() + body, "")[:BOUNCE_TAG_BYTES]
            if hmac.compare_digest(expected, tag):
                try:
                    day = EPOCH + timedelta(days=int.from_bytes(body[REF_BYTES:], "big"))
                except OverflowError:
                    return None
                if generation and (today - day).days > self.grace_days:
                    return None
                return Verified(body[:REF_BYTES], generation, day)
        return None


def _derive(secret: str) -> bytes:
    return hashlib.sha256(b"paper-digest tokens\0" + secret.encode()).digest()


def _tag(key: bytes, body: bytes, subject: str) -> bytes:
    message = body + b"\0" + subject.encode()
    return hmac.new(key, message, hashlib.sha256).digest()[:TAG_BYTES]
