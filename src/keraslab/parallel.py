"""``parallel_apply``: map a function over a stream in worker processes, in bounded memory.

bert4keras's ``parallel_apply(func, iterable, workers, max_queue_size, callback, ordered)``
(techniques.md §9), rebuilt on :class:`keraslab.process_pool.WorkerPool` so that it works with
the ``spawn`` start method, raises a worker's exception instead of hanging, and leaves no process
behind. Typical use, tokenizing a corpus with a module-level ``encode`` function::

    for ids in parallel_apply(encode, lines, workers=2, max_queue_size=16, chunksize=256):
        ...

Whatever the caller does with each result (merging counts, say) runs in one process: when that
is as costly as ``func``, use ``parallel_fold``, where each worker accumulates over all the items
it is handed and returns once (``keraslab.wordcount.counting.parallel_balanced``).
"""

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, wait
from contextlib import closing
from dataclasses import dataclass
from itertools import islice

from keraslab.process_pool import (
    RemoteTraceback,
    WorkerDiedError,
    WorkerPool,
    check_options,
    dumps,
    worker_index,
)

__all__ = ["RemoteTraceback", "WorkerDiedError", "parallel_apply", "parallel_fold", "worker_index"]


def parallel_apply(
    func: Callable,
    iterable: Iterable,
    workers: int,
    max_queue_size: int,
    ordered: bool = True,
    callback: Callable | None = None,
    seed: int | None = None,
    chunksize: int = 1,
) -> Iterator | None:
    """``func`` on every item of ``iterable`` in ``workers`` processes started with ``spawn``.

    Returns a generator of the results when ``callback`` is None. Otherwise calls ``callback``
    on each result here, in the calling process (to merge them, say), and returns None.

    - Streams: items are taken from ``iterable`` only as work is handed out, ``chunksize`` items
      a message; at most ``max_queue_size`` chunks are in flight, plus those whose results are
      being handed back. Memory does not grow with the length of ``iterable``.
    - ``ordered=True`` gives the results in the order of the items, as ``map(func, iterable)``;
      ``ordered=False`` gives each chunk's results as soon as it is done (the same multiset).
    - ``seed``: worker ``i`` seeds ``random`` and ``numpy.random`` with ``seed + i`` before its
      first item, so each worker's draws are reproducible and differ between workers. Which
      items a worker gets depends on timing, so results that must not depend on scheduling
      should draw from a generator seeded by the item instead. ``keraslab.parallel
      .worker_index()`` tells ``func`` which worker it runs in.
    - ``func`` and the items must be picklable (a module-level function or class instance):
      otherwise ``TypeError`` names the object.
    - An exception in ``func`` is raised here, with its type, message and the worker's
      traceback as ``__cause__``; a worker that dies raises ``WorkerDiedError``. Either way,
      and on Ctrl-C or when the generator is closed early, the workers are stopped and nothing
      they started outlives the call (see :class:`~keraslab.process_pool.WorkerPool`).
    - ``func`` may itself start processes (a nested pool): workers are not daemonic.
    """
    check_options(workers, seed)
    _check_sizes(max_queue_size, chunksize)
    dumps(func, "func")
    if callback is not None and not callable(callback):
        raise TypeError(f"callback must be callable or None, got {callback!r}")
    results = _results(func, iterable, workers, max_queue_size, ordered, seed, chunksize)
    if callback is None:
        return results
    with closing(results):
        for result in results:
            callback(result)
    return None


def parallel_fold(
    step: Callable,
    initial: Callable,
    iterable: Iterable,
    workers: int,
    max_queue_size: int,
    seed: int | None = None,
    chunksize: int = 1,
) -> list:
    """Fold ``iterable`` in ``workers`` processes and return the workers' accumulators.

    Each worker starts from ``acc = initial()`` and, for every item it is handed, sets
    ``acc = step(acc, item)``; when the items run out, each hands its ``acc`` back once. The
    result is the list of the ``workers`` accumulators (a worker handed nothing gives
    ``initial()``), for the caller to combine: the total is ``step`` folded over every item
    whenever combining two accumulators is associative and commutative (adding counts, say).

    Use it instead of :func:`parallel_apply` when combining per-item results would cost about
    as much as computing them: only ``workers`` results cross back, however many items. Items
    are handed out as ``parallel_apply(..., ordered=False)`` hands them out: ``chunksize`` a
    message, at most ``max_queue_size`` messages in flight, each to the worker with the fewest
    unfinished, so a worker on a slower core is handed fewer. Which worker folds which item
    depends on timing. ``seed``, picklability, errors, Ctrl-C and clean-up are as in
    :func:`parallel_apply`; ``step`` and ``initial`` must be picklable.
    """
    check_options(workers, seed)
    _check_sizes(max_queue_size, chunksize)
    dumps(step, "step")
    dumps(initial, "initial")
    chunks = _chunks(iterable, chunksize)
    name = getattr(step, "__qualname__", type(step).__qualname__)
    with WorkerPool(FoldInWorker(step, initial), workers, seed, "keraslab-fold", name) as pool:
        for _ in _in_completion_order(pool, chunks, max_queue_size):
            pass
        handed_back = [pool.submit(None, worker=index) for index in range(workers)]
        return [future.result() for future in handed_back]


def _check_sizes(max_queue_size, chunksize) -> None:
    """``ValueError`` naming ``max_queue_size`` or ``chunksize`` unless each is an int >= 1."""
    for name, value in (("max_queue_size", max_queue_size), ("chunksize", chunksize)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{name} must be an integer >= 1, got {value!r}")


class FoldInWorker:
    """A worker's side of :func:`parallel_fold`: a chunk of items is folded into the worker's
    accumulator (nothing is returned); ``None`` hands the accumulator back and starts anew.
    Unpickled once per worker, so the accumulator lasts from one message to the next."""

    def __init__(self, step: Callable, initial: Callable):
        self.step, self.initial = step, initial
        self.accumulator, self.started = None, False

    def __call__(self, chunk: list | None):
        if not self.started:
            self.accumulator, self.started = self.initial(), True
        if chunk is None:
            self.started = False
            return self.accumulator
        for item in chunk:
            self.accumulator = self.step(self.accumulator, item)
        return None


@dataclass(frozen=True)
class ApplyToChunk:
    """``[func(item) for item in chunk]``: what a worker runs for one message."""

    func: Callable

    def __call__(self, chunk: list) -> list:
        return [self.func(item) for item in chunk]


def _chunks(iterable: Iterable, size: int) -> Iterator[list]:
    items = iter(iterable)
    while chunk := list(islice(items, size)):
        yield chunk


def _results(func, iterable, workers, max_queue_size, ordered, seed, chunksize) -> Iterator:
    chunks = _chunks(iterable, chunksize)
    name = getattr(func, "__qualname__", type(func).__qualname__)
    with WorkerPool(ApplyToChunk(func), workers, seed, "keraslab-parallel", name) as pool:
        if not ordered:
            for results in _in_completion_order(pool, chunks, max_queue_size):
                yield from results
            return
        pending = deque(pool.submit(chunk) for chunk in islice(chunks, max_queue_size))
        while pending:
            results = pending.popleft().result()
            pending.extend(pool.submit(chunk) for chunk in islice(chunks, 1))
            yield from results


def _in_completion_order(pool: WorkerPool, chunks: Iterator, max_queue_size: int) -> Iterator:
    """The results of ``chunks`` as they finish, at most ``max_queue_size`` in flight, each
    submitted to the worker with the fewest unfinished tasks. A worker's error is raised here."""
    unfinished = {pool.submit(chunk) for chunk in islice(chunks, max_queue_size)}
    while unfinished:
        done, unfinished = wait(unfinished, return_when=FIRST_COMPLETED)
        unfinished |= {pool.submit(chunk) for chunk in islice(chunks, len(done))}
        for future in done:
            yield future.result()
