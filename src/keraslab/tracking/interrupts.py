"""Ctrl-C held back while a tracking call runs, so it cannot cut a write to the store in half.

A ``KeyboardInterrupt`` raised inside a write to MLflow's SQLite store leaves that write's
transaction open, and with it the database's write lock: the next write, the one that marks the
run KILLED, then waits for the lock and fails with "database is locked", and the run stays
RUNNING. :func:`interrupts_deferred` lets the call finish and raises the interrupt after it.
"""

import functools
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def interrupts_deferred() -> Iterator[list]:
    """Run the block with SIGINT held back, then act on it as the previous handler would.

    The first Ctrl-C inside the block is recorded and handed to the previous handler (Python's
    default raises ``KeyboardInterrupt``) once the block ends; a second one is handed over at
    once, so a call that hangs can still be interrupted. Yields the list the Ctrl-C is recorded
    in (empty: none yet). Outside the main thread, or where SIGINT has no Python handler, the
    block runs as it is: only the main thread can set one.
    """
    pending = []
    previous = signal.getsignal(signal.SIGINT)
    if threading.current_thread() is not threading.main_thread() or not callable(previous):
        yield pending
        return

    def hold(signum, frame):
        if pending:
            previous(signum, frame)
        pending.append(frame)

    signal.signal(signal.SIGINT, hold)
    try:
        yield pending
    finally:
        signal.signal(signal.SIGINT, previous)
    if pending:
        previous(signal.SIGINT, pending[0])


class Uninterrupted:
    """``target`` with every method call run under :func:`interrupts_deferred`."""

    def __init__(self, target):
        self._target = target

    def __getattr__(self, name):
        if name == "_target":  # not set yet: an instance being unpickled
            raise AttributeError(name)
        attribute = getattr(self._target, name)
        if not callable(attribute):
            return attribute

        @functools.wraps(attribute)
        def call(*args, **kwargs):
            with interrupts_deferred():
                return attribute(*args, **kwargs)

        return call
