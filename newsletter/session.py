"""A session: what a day's work opens, opened in one place and closed together.

    with Session.open(config) as session:      # the state, an HTTP client, a fetcher
        report = run_once(session, day, readers, SendOptions())

`online=False` opens no HTTP client (worker processes, which select from the store the parent
filled); the delivery backend is named here and created per use (`session.backend()`), since
each worker process needs its own connection (`make_backend` builds one in this process).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

from newsletter.config import Config
from newsletter.store import Store

FETCH_BUDGET = 900.0  # seconds a session may spend reading sources, all together

if TYPE_CHECKING:
    from newsletter.delivery.base import Backend
    from newsletter.sources.http import Fetcher


@dataclass
class Session:
    config: Config
    store: Store
    fetcher: Fetcher | None = None  # None: offline, nothing is read from the network
    backend_name: str | None = None  # None: the config's (smtp with an smtp block, else file)
    make_backend: Callable[[], Backend] | None = None  # a backend made here (tests, embedding)

    @classmethod
    @contextmanager
    def open(
        cls,
        config: Config,
        *,
        backend: str | None = None,
        make_backend: Callable[[], Backend] | None = None,
        online: bool = True,
    ) -> Iterator[Session]:
        with ExitStack() as stack:
            store = stack.enter_context(Store(config.state))
            fetcher = None
            if online:
                from newsletter.sources.http import Fetcher, make_client

                client = stack.enter_context(make_client(config.newsletter.contact))
                fetcher = Fetcher(client, store, budget=FETCH_BUDGET)
            yield cls(config, store, fetcher, backend, make_backend)

    def backend(self) -> Backend:
        """A new, unopened delivery backend of the session's kind."""
        from newsletter.delivery import backend_for

        if self.make_backend is not None:
            return self.make_backend()
        return backend_for(self.config, self.backend_name)

    @property
    def backend_kind(self) -> str:
        """The backend's registry name, without creating it."""
        if self.make_backend is not None:
            return "given"  # an object of this process: it cannot go to worker processes
        from newsletter.delivery.registry import chosen_backend

        return chosen_backend(self.config, self.backend_name)
