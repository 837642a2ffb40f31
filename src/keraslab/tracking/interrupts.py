"""Ctrl-C held back while a tracking call runs, so it cannot cut a write to the store in half.

A ``KeyboardInterrupt`` raised inside a write to MLflow's SQLite store leaves that write's
transaction open, and with it the database's write lock: the next write, the one that marks the
run KILLED, then waits for the lock and fails with "database is locked", and the run stays
RUNNING. :func:`interrupts_deferred` lets the call finish and raises the interrupt after it.
:func:`interrupts_never_dropped` covers a whole tracked run: a Ctrl-C that code inside it
swallowed is raised again when the run's work ends, so the run still ends KILLED.
"""

import functools
import signal
import threading
from collections.abc import Callable, Iterator
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

    def hold(previous, pending):
        def handle(signum, frame):
            if pending:
                previous(signum, frame)
            pending.append(frame)

        return handle

    with _sigint_handled(hold) as pending:
        yield pending


@contextmanager
def interrupts_never_dropped() -> Iterator[list]:
    """Run the block with Ctrl-C raised at once, and raised again when the block ends if code
    inside dropped it.

    Code that catches every exception swallows the ``KeyboardInterrupt`` a Ctrl-C raises in it:
    Keras converts the logs of every training, evaluation and prediction step inside a bare
    ``try: ... except: pass``, and the run would go on as if no key was pressed. Each SIGINT in
    the block is recorded and handed to the previous handler at once; should the block still end
    without an exception, the first one is handed over again. Yields the record (empty: no
    Ctrl-C yet); outside the main thread the block runs as it is, as for
    :func:`interrupts_deferred`.
    """

    def record(previous, pending):
        def handle(signum, frame):
            pending.append(frame)
            previous(signum, frame)

        return handle

    with _sigint_handled(record) as pending:
        yield pending


@contextmanager
def _sigint_handled(handler: Callable[[Callable, list], Callable]) -> Iterator[list]:
    """The block with SIGINT going to ``handler(previous, pending)``; once the block ends
    without an exception, the first SIGINT recorded in ``pending`` goes to the previous handler.
    Nothing changes outside the main thread or where SIGINT has no Python handler."""
    pending = []
    previous = signal.getsignal(signal.SIGINT)
    if threading.current_thread() is not threading.main_thread() or not callable(previous):
        yield pending
        return
    signal.signal(signal.SIGINT, handler(previous, pending))
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
