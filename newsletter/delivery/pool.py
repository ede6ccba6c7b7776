"""Sending from several threads at once, one backend (one connection) per thread.

    pool = Pool(backend, backend.divide(share), local=open_store, close_local=close_store)
    for reader in readers:
        pool.submit(task)        # task(backend, local); waits while a task already waits
    pool.close()                 # the tasks in flight finish; the first error is raised here

Threads start on demand: another one only when a task had to wait for the busy ones and the
backend's `window` allows one more, so a relay that answers at once keeps a single connection;
and never more than one per `WORTH` tasks (`expected`): a connection costs several round trips
and a login before its first message, so a few readers share one. A thread beyond the window
(the relay asked for fewer) closes its connection and idles until the window grows again. Each
thread has its own `local` (the state database: an SQLite connection belongs to one thread)
and its own copy of the backend.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable
from functools import partial
from typing import Generic, TypeVar

from newsletter.delivery.base import Backend
from newsletter.errors import DeliveryError

log = logging.getLogger(__name__)

L = TypeVar("L")
Task = Callable[[Backend, L], None]
WORTH = 10  # tasks (messages) per thread, at least: fewer do not pay for another connection


class Pool(Generic[L]):
    """Up to `size` threads sending with copies of `first` (see the module's docstring);
    `expected`: how many tasks will be submitted at most, if known."""

    def __init__(
        self,
        first: Backend,
        size: int,
        *,
        local: Callable[[], L],
        close_local: Callable[[L], None],
        expected: int | None = None,
    ) -> None:
        worth = -(-expected // WORTH) if expected is not None else size
        self.size = max(1, min(size, worth))
        self._backends = [first]
        self._local, self._close_local = local, close_local
        self._tasks: deque[Task[L]] = deque()
        self._threads: list[threading.Thread] = []
        self._busy = 0
        self._closing = False
        self._failure: BaseException | None = None
        self._changed = threading.Condition()

    def submit(self, task: Task[L]) -> None:
        """Hand `task` to a thread; return once at most one task waits for a thread."""
        with self._changed:
            if self._failure is None:
                self._tasks.append(task)
                self._grow()
                self._changed.notify_all()
                self._changed.wait_for(lambda: len(self._tasks) <= 1 or self._failure is not None)

    def close(self) -> None:
        """Wait for every task handed over; close the threads' backends (and locals)."""
        with self._changed:
            self._closing = True
            self._changed.notify_all()
        for thread in self._threads:
            thread.join()
        if self._failure is not None:
            raise self._failure

    @property
    def threads(self) -> int:
        return len(self._threads)

    def _allowed(self) -> int:
        return min(self.size, self._backends[0].window())

    def _grow(self) -> None:
        """Start a thread when there is none, or when a task waits while every thread that
        may send is busy (called with the lock held)."""
        started = len(self._threads)
        if started and not (len(self._tasks) > 1 and started < self._allowed()):
            return
        if started:
            self._backends.append(self._backends[0].copy())
            log.debug("sending over %d connections", started + 1)
        thread = threading.Thread(
            target=self._run, args=(started,), name=f"sender-{started}", daemon=True
        )
        self._threads.append(thread)
        thread.start()

    def _run(self, index: int) -> None:
        backend, local = self._backends[index], None
        try:
            local = self._local()
            while (task := self._next(index, backend)) is not None:
                try:
                    task(backend, local)
                finally:
                    with self._changed:
                        self._busy -= 1
                        self._changed.notify_all()
        except BaseException as exc:  # raised again in the caller's thread, by `close`
            with self._changed:
                self._failure = self._failure or exc
                self._changed.notify_all()
        finally:
            backend.close()
            if local is not None:
                self._close_local(local)

    def _next(self, index: int, backend: Backend) -> Task[L] | None:
        """The next task for thread `index`, once it may send and has a connection; None when
        the pool is closing and nothing is left."""
        connected = index == 0  # the first backend came open
        while True:
            with self._changed:
                self._changed.wait_for(partial(self._wakes, index, connected))
                if self._failure is not None or (self._closing and not self._tasks):
                    return None
                allowed = index < self._allowed()
                if allowed and connected:
                    self._busy += 1
                    self._changed.notify_all()
                    return self._tasks.popleft()
            if not allowed:
                backend.close()  # beyond the window: the relay asked for fewer connections
                connected = False
                continue
            try:
                backend.ready()
            except DeliveryError as exc:
                log.info("another connection could not be opened: %s", exc)
                # the relay's limit lowered the window; any other reason, the task's send tells
                connected = index < self._allowed()
                continue
            connected = True

    def _wakes(self, index: int, connected: bool) -> bool:
        """Whether thread `index` has something to do (called with the lock held)."""
        if self._failure is not None or (self._closing and not self._tasks):
            return True
        allowed = index < self._allowed()
        return (bool(self._tasks) and allowed) or (connected and not allowed)
