"""The fields of a POST: read with a size cap, urlencoded or multipart, standard library only.

Every form of the app is a button and a field or two, and RFC 8058's one-click POST is the one
field `List-Unsubscribe=One-Click`; mail providers send it as
`application/x-www-form-urlencoded` or `multipart/form-data`. A body larger than `MAX_BODY`
is refused before it is read whole (413), so no request can make the app hold much.
"""

from __future__ import annotations

import email.parser
import email.policy
from collections.abc import AsyncIterator, Mapping
from urllib.parse import parse_qsl

MAX_BODY = 4096  # bytes
MAX_FIELDS = 20
ONE_CLICK = ("List-Unsubscribe", "One-Click")  # RFC 8058 section 3.1


class BodyTooLarge(Exception):
    """The request's body is over `MAX_BODY`."""


async def read_capped(
    declared: str | None, chunks: AsyncIterator[bytes], limit: int = MAX_BODY
) -> bytes:
    """The body from its `chunks`, refusing (`BodyTooLarge`) a declared or actual length over
    `limit` as soon as it is known."""
    if declared is not None and (not declared.isdigit() or int(declared) > limit):
        raise BodyTooLarge(declared)
    body = bytearray()
    async for chunk in chunks:
        body += chunk
        if len(body) > limit:
            raise BodyTooLarge(len(body))
    return bytes(body)


def form_fields(body: bytes, content_type: str | None) -> dict[str, str]:
    """The fields of a form body (the first value of each name); anything unreadable gives no
    fields. A body without a content type is read as urlencoded, as some clients send it."""
    kind = (content_type or "").split(";", 1)[0].strip().lower()
    if kind == "multipart/form-data":
        return _multipart(body, content_type or "")
    if kind not in ("", "application/x-www-form-urlencoded", "text/plain"):
        return {}
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return {}
    fields: dict[str, str] = {}
    for name, value in parse_qsl(text, keep_blank_values=True)[:MAX_FIELDS]:
        fields.setdefault(name.strip(), value.strip())
    return fields


def _multipart(body: bytes, content_type: str) -> dict[str, str]:
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode("latin-1", "ignore")
    parser = email.parser.BytesParser(policy=email.policy.HTTP)
    message = parser.parsebytes(head + body)
    if not message.is_multipart():
        return {}
    fields: dict[str, str] = {}
    for part in list(message.iter_parts())[:MAX_FIELDS]:
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True)
        if isinstance(name, str) and isinstance(payload, bytes) and not part.get_filename():
            fields.setdefault(name.strip(), payload.decode("utf-8", "replace").strip())
    return fields


def is_one_click(fields: Mapping[str, str]) -> bool:
    """Whether the fields carry RFC 8058's `List-Unsubscribe=One-Click`."""
    name, value = ONE_CLICK
    return fields.get(name) == value
