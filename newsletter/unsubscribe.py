"""How a reader unsubscribes: a link in every issue and, later, the List-Unsubscribe header.

With `newsletter.unsubscribe_url` and a secret in `$NEWSLETTER_UNSUBSCRIBE_SECRET`, the link is
`URL?t=TOKEN`: a short opaque token (no address in the URL, not guessable without the secret)
that the endpoint maps back to the reader with `token(email, secret)`. Otherwise it is a mailto
link to the sender, which every mail client understands.
"""

from __future__ import annotations

import hashlib
import os
from email.utils import parseaddr
from urllib.parse import quote

from newsletter.addresses import reader_key
from newsletter.mail import uri_address

SECRET_ENV = "NEWSLETTER_UNSUBSCRIBE_SECRET"


def token(email: str, secret: str) -> str:
    """24 hex characters derived from the address and the secret."""
    key = hashlib.sha256(secret.encode()).digest()
    return hashlib.blake2b(reader_key(email).encode(), key=key, digest_size=12).hexdigest()


def mailto(sender: str, email: str | None = None, secret: str | None = None) -> str:
    """`mailto:SENDER?subject=unsubscribe TOKEN` (the token only with a secret)."""
    secret = secret if secret is not None else os.environ.get(SECRET_ENV)
    address = uri_address(parseaddr(sender)[1])
    subject = "unsubscribe" if not (email and secret) else f"unsubscribe {token(email, secret)}"
    return f"mailto:{address}?subject={quote(subject)}"


def https(email: str, url: str | None, secret: str | None = None) -> str | None:
    """The one-click https link, when an endpoint and a secret are configured."""
    secret = secret if secret is not None else os.environ.get(SECRET_ENV)
    if not (url and secret):
        return None
    separator = "&" if "?" in url else "?"
    return f"{url}{separator}t={token(email, secret)}"


def link(email: str, sender: str, url: str | None, secret: str | None = None) -> str:
    """The reader's unsubscribe link: the https endpoint when one is set up, else mailto."""
    return https(email, url, secret) or mailto(sender, email, secret)
