"""Delivery backends: one contract (open, send, close; a context manager) for SMTP, a Maildir of
.eml files, the console and memory. `backend_for` picks the one a config asks for.

Light on purpose: this runs whenever any backend module is imported, so it imports only the
contract and the registry, and neither of them imports a backend."""

from newsletter.delivery.base import Backend, Outcome, Result
from newsletter.delivery.registry import BACKENDS, backend_for

__all__ = ["BACKENDS", "Backend", "Outcome", "Result", "backend_for"]
