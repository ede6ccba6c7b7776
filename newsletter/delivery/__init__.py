"""Delivery backends: one contract (open, send, close; a context manager) for SMTP, a Maildir of
.eml files, the console and memory. `backend_for` picks the one a config asks for."""

from newsletter.delivery.base import Backend, Outcome, Result, backend_for

__all__ = ["Backend", "Outcome", "Result", "backend_for"]
